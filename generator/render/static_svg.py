"""The static SVG of a model page's batch chart, drawn here instead of by vl-convert.

vl-convert takes about 80 ms to draw this chart; a zoo of a thousand models has a
thousand of them, over a minute of drawing on two cores. The chart is simple
(lines with points and interval rules on two axes, and a legend), so it is drawn
from the very axes, ticks, colours and rows its Vega-Lite spec is built from
(``charts.model_batches``), in a fraction of a millisecond. A browser replaces
it with the interactive chart; the SVG is what GitHub and a feed reader show.

Text is placed with ``transform`` as Vega's own SVGs do, so ``layout.text_problems``
checks these images the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

from generator.render import layout

TICK_FONT, TITLE_FONT = 10.0, 11.0
POINT_RADIUS = 3.1  # px: Vega's default point (30 px²)
GAP = 24.0  # px between two panels
LEGEND_ROW = 16.0  # px


class PixelAxis(Protocol):
    @property
    def length(self) -> float: ...

    def pixel(self, value: float) -> float: ...


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    points: Sequence[tuple[float, float, float | None, float | None]]  # x, y, interval low, interval high


@dataclass(frozen=True)
class Panel:
    x: PixelAxis
    x_ticks: Sequence[float]
    x_format: Callable[[float], str]
    x_title: str
    y: PixelAxis
    y_ticks: Sequence[float]
    y_format: Callable[[float], str]
    y_title: str
    series: Sequence[Series]


def _f(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, size: float, anchor: str = "start", bold: bool = False, angle: int = 0) -> str:
    rotate = f" rotate({angle})" if angle else ""
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text transform="translate({_f(x)},{_f(y)}){rotate}" font-size="{size:g}px" text-anchor="{anchor}"'
        f'{weight} fill="#222222">{escape(text)}</text>'
    )


def _y_labels_width(panel: Panel) -> float:
    return max((layout.text_width(panel.y_format(v), TICK_FONT) for v in panel.y_ticks), default=0.0)


def _panel(panel: Panel) -> list[str]:
    """One panel in its own coordinates: (0, 0) is the plot's top left corner."""
    width, height = panel.x.length, panel.y.length
    out = [f'<rect width="{_f(width)}" height="{_f(height)}" fill="none" stroke="#dddddd"/>']
    for value in panel.y_ticks:
        y = panel.y.pixel(value)
        out.append(f'<line x1="0" y1="{_f(y)}" x2="{_f(width)}" y2="{_f(y)}" stroke="#dddddd"/>')
        out.append(f'<line x1="-5" y1="{_f(y)}" x2="0" y2="{_f(y)}" stroke="#888888"/>')
        out.append(_text(-7, y + TICK_FONT * 0.35, panel.y_format(value), TICK_FONT, "end"))
    for value in panel.x_ticks:
        x = panel.x.pixel(value)
        out.append(f'<line x1="{_f(x)}" y1="{_f(height)}" x2="{_f(x)}" y2="{_f(height + 5)}" stroke="#888888"/>')
        out.append(_text(x, height + 7 + TICK_FONT, panel.x_format(value), TICK_FONT, "middle"))
    out.append(f'<line x1="0" y1="{_f(height)}" x2="{_f(width)}" y2="{_f(height)}" stroke="#888888"/>')
    out.append(f'<line x1="0" y1="0" x2="0" y2="{_f(height)}" stroke="#888888"/>')
    out.append(_text(width / 2, height + 34, panel.x_title, TITLE_FONT, "middle", bold=True))
    out.append(_text(-_y_labels_width(panel) - 14, height / 2, panel.y_title, TITLE_FONT, "middle", True, -90))
    for series in panel.series:
        pixels = [(panel.x.pixel(x), panel.y.pixel(y), low, high) for x, y, low, high in series.points]
        for x, _, low, high in pixels:
            if low is not None and high is not None:
                top, bottom = panel.y.pixel(high), panel.y.pixel(low)
                out.append(
                    f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(bottom)}" '
                    f'stroke="{series.colour}" stroke-width="1.2"/>'
                )
        if len(pixels) > 1:
            path = " ".join(f"{_f(x)},{_f(y)}" for x, y, _, _ in pixels)
            out.append(f'<polyline points="{path}" fill="none" stroke="{series.colour}" stroke-width="2"/>')
        for x, y, _, _ in pixels:
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{POINT_RADIUS}" fill="{series.colour}"/>')
    return out


def panels_svg(panels: Sequence[Panel], stacked: bool, legend_title: str, legend: Sequence[tuple[str, str]]) -> str:
    """Panels side by side (or one above the other) sharing one legend of (label, colour) below them."""
    body: list[str] = []
    left_margins = [_y_labels_width(panel) + 30 for panel in panels]
    x, y, right, bottom = 0.0, 8.0, 0.0, 0.0
    for panel, margin in zip(panels, left_margins, strict=True):
        if stacked:
            x = max(left_margins)
        else:
            x += margin
        body.append(f'<g transform="translate({_f(x)},{_f(y)})">')
        body.extend(_panel(panel))
        body.append("</g>")
        right = max(right, x + panel.x.length)
        bottom = max(bottom, y + panel.y.length + 44)
        if stacked:
            y += panel.y.length + 44 + GAP / 2
        else:
            x += panel.x.length + GAP
    legend_top = bottom + 6
    body.append(_text(max(left_margins[0], 0), legend_top + TITLE_FONT, legend_title, TITLE_FONT, bold=True))
    widest = 0.0
    for index, (text, colour) in enumerate(legend):
        row_y = legend_top + TITLE_FONT + 8 + index * LEGEND_ROW
        left = left_margins[0]
        body.append(f'<circle cx="{_f(left + 5)}" cy="{_f(row_y)}" r="{POINT_RADIUS + 1}" fill="{colour}"/>')
        body.append(_text(left + 14, row_y + TICK_FONT * 0.35, text, TICK_FONT))
        widest = max(widest, left + 14 + layout.text_width(text, TICK_FONT))
    total_width = max(right, widest) + 8
    total_height = legend_top + TITLE_FONT + 8 + len(legend) * LEGEND_ROW
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(total_width)}" height="{_f(total_height)}" '
        f'viewBox="0 0 {_f(total_width)} {_f(total_height)}" font-family="{escape(layout.FONT)}">'
        f'<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(body) + "</svg>\n"
    )
