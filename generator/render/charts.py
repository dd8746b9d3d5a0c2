"""Altair charts of the study's figures: each function takes records, returns a chart.

Conventions shared by every chart:
- one colour per network (``palette``), the same on every chart; charts of the
  whole zoo colour by family and label the study's networks;
- every axis domain and tick is computed here (``Axis``), so a quantity that
  cannot be negative never gets a negative range, log axes are where the study
  has them (Fig. 3) or where values span decades, and tick labels are spaced so
  they never run together;
- data labels are placed here (``layout``), in the chart's own pixels, so they
  never overlap each other or leave the picture; each chart is built for a
  ``Layout`` (wide, or narrow for phones) and the page picks the one that fits;
- times and throughputs carry their 95 % interval as a rule through the point;
- tooltips name the model and the value with its unit; scatter plots pan by
  drag and zoom with shift + wheel only (the wheel alone scrolls the page).
Points that were not measured or failed (oom, error) are left out;
``exclusions`` lists them for the note under the figure.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import altair as alt

from generator.render import data, layout, palette, static_svg, stats
from generator.render.data import MB
from generator.render.names import label as _label
from generator.schema import Record

Row = dict[str, Any]


@functools.cache
def _vegalite_schema() -> dict[str, Any]:
    from altair.vegalite.v6.schema import core

    return core.load_schema()


class VegaLite:
    """A Vega-Lite spec held as plain data, for the charts drawn once per model page.

    Building and serialising an Altair chart costs tens of milliseconds; a zoo of a
    thousand models on three machines has thousands of these charts, so they are
    assembled from parts serialised once (``HighlightBase``) or written as data
    (``model_batches``). ``to_dict`` validates like Altair's when asked (the tests
    ask; the render does not). The spec's parts are shared between charts: never
    modify what ``to_dict`` returns.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def to_dict(self, validate: bool = True) -> dict[str, Any]:
        if validate:
            # Through JSON: the schema knows arrays, not tuples.
            alt.utils.schemapi.validate_jsonschema(json.loads(json.dumps(self.spec)), _vegalite_schema())
        return self.spec


@dataclass(frozen=True)
class Layout:
    """The pixel sizes one version of every chart is built for."""

    name: str
    width: int  # plot width of a one-panel chart, px
    panel_width: int  # plot width of each panel of a two-panel figure
    height: int
    stack_panels: bool  # two-panel figures: one above the other instead of side by side
    legend_columns: int
    font_size: int = 10  # data labels


WIDE = Layout("wide", 560, 290, 320, False, 4)
NARROW = Layout("narrow", 280, 280, 260, True, 2)  # fits a 360 px column (a phone) with its axes
LAYOUTS = (WIDE, NARROW)
LABEL_LIMIT = 20  # label every point of a chart of at most this many models; beyond, only the study's networks

# Colours of the marks that are not data (labels, leader lines, fits, intervals): named
# styles, so that charts.js can swap them for the dark scheme in one place.
STYLE_LIGHT: dict[str, Any] = {
    "data-label": {"color": "#222222"},
    "leader": {"color": "#888888"},
    "fit": {"color": "#444444"},
    "interval": {"color": "#555555"},
    "front": {"color": "#444444"},
}
BUBBLE_AREA = (20.0, 1500.0)  # px², the smallest and largest bubble
POINT_AREA = 80.0  # px², points of charts without a size channel


def _area_to_radius(area: float) -> float:
    return math.sqrt(area / math.pi)


@dataclass(frozen=True)
class Palette:
    """Colours of one site: the study's networks by name, other models by family (see ``palette``)."""

    family_colours: tuple[tuple[str, str], ...]

    @classmethod
    def for_records(cls, records: Iterable[Record]) -> Palette:
        return cls(tuple(palette.family_colours(r.model.family for r in records).items()))

    def by_network(self, rows: Sequence[Row]) -> bool:
        """Colour by network when every row is one of the study's networks (and few enough to tell apart)."""
        return bool(rows) and all(row["study"] for row in rows) and len({r["model"] for r in rows}) <= LABEL_LIMIT

    def mapping(self, rows: Sequence[Row]) -> tuple[str, str, list[str], list[str]]:
        """(field, legend title, domain, colours) for these rows."""
        if self.by_network(rows):
            order = list(palette.STUDY_NETWORK_COLOURS)
            names = sorted(
                {(str(r["model"]), str(r["study"])) for r in rows},
                key=lambda pair: (order.index(pair[1]) if pair[1] in order else len(order), pair[0]),
            )
            return "model", "network", [n for n, _ in names], [palette.network_colour(s) for _, s in names]
        families = dict(self.family_colours)
        domain = sorted({str(r["family"]) for r in rows})
        return "family", "family", domain, [families.get(f, palette.UNKNOWN_NETWORK) for f in domain]

    def encoding(self, rows: Sequence[Row], columns: int, legend: bool = True) -> alt.Color:
        field, title, domain, colours = self.mapping(rows)
        return alt.Color(
            f"{field}:N",
            title=title,
            scale=alt.Scale(domain=domain, range=colours),
            legend=alt.Legend(orient="bottom", columns=columns, labelLimit=400, symbolType="circle")
            if legend
            else None,
        )

    def colour_of(self, record: Record) -> str:
        """A model's own colour: its network's for the study's networks, else its family's."""
        if record.model.study_name:
            return palette.network_colour(record.model.study_name)
        return dict(self.family_colours).get(record.model.family, palette.UNKNOWN_NETWORK)

    def restricted(self, records: Iterable[Record]) -> Palette:
        """Kept for callers that narrow the legend: the legend already lists only what is drawn."""
        return self


def display_names(records: Iterable[Record]) -> dict[str, str]:
    """Registry name -> chart label: the study's name where it is unique in this set.

    Two records may carry the same study name (e.g. two weights of ResNet-50);
    a shared label would merge their bars and points, so those keep their
    registry names.
    """
    records = list(records)
    counts: dict[str, int] = {}
    for record in records:
        counts[_label(record)] = counts.get(_label(record), 0) + 1
    return {r.model.name: _label(r) if counts[_label(r)] == 1 else r.model.name for r in records}


def _base_row(record: Record, names: dict[str, str]) -> Row:
    return {
        "model": names.get(record.model.name, record.model.name),
        "registry_name": record.model.name,
        "family": record.model.family,
        "study": record.model.study_name,
        "top1": data.top1(record),
        "top5": data.top5(record),
        "params_m": data.params_millions(record),
        "gflops": data.gflops(record),
    }


def rows(records: Iterable[Record], **fields: Callable[[Record], float | None]) -> list[Row]:
    """One row per record holding every field; records missing any field are left out."""
    records = list(records)
    names = display_names(records)
    found = []
    for record in records:
        row = _base_row(record, names)
        row.update({name: getter(record) for name, getter in fields.items()})
        if all(row[name] is not None for name in fields):
            found.append(row)
    return sorted(found, key=lambda row: str(row["registry_name"]))


def batch_rows(
    records: Iterable[Record],
    value: Callable[[data.BatchResult], float | None],
    low: Callable[[data.BatchResult], float | None] | None = None,
    high: Callable[[data.BatchResult], float | None] | None = None,
) -> list[Row]:
    """One row per record and measured batch size: ``value`` and, where given and recorded, its interval."""
    records = list(records)
    names = display_names(records)
    found = []
    for record in records:
        for result in record.batches:
            y = value(result)
            if y is not None:
                found.append(
                    {
                        **_base_row(record, names),
                        "batch_size": result.batch_size,
                        "value": y,
                        "low": None if low is None else low(result),
                        "high": None if high is None else high(result),
                    }
                )
    return sorted(found, key=lambda row: (str(row["registry_name"]), int(row["batch_size"])))


def number(value: object) -> float:
    """A row's numeric field as a float (rows are loosely typed dicts; a non-number is a bug, said so)."""
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _tooltip(*extra: alt.Tooltip) -> list[alt.Tooltip]:
    return [alt.Tooltip("model:N", title="model"), alt.Tooltip("family:N", title="family"), *extra]


def _with_interval(value: str, title: str, fmt: str) -> tuple[alt.Tooltip, alt.Tooltip, alt.Tooltip]:
    """A value's tooltip and its 95 % interval's ends (fields ``<value>_low`` and ``<value>_high``)."""
    return (
        alt.Tooltip(f"{value}:Q", title=title, format=fmt),
        alt.Tooltip(f"{value}_low:Q", title="95 % interval, low", format=fmt),
        alt.Tooltip(f"{value}_high:Q", title="95 % interval, high", format=fmt),
    )


# --- axes ---------------------------------------------------------------------------------------------------------


def _format(value: float) -> str:
    """What d3's ',~g' writes for a tick value (used to size tick labels)."""
    text = f"{value:,.6g}"
    return text


# d3: 0.5, 15, 1,200, never 1e+2; the precision must be explicit, or Vega picks one from the
# tick spacing and writes the legend value 15 as "20".
TICK_FORMAT = ",.6~r"
AXIS_FONT = 10.0


@dataclass(frozen=True)
class Axis:
    """A quantitative axis with an explicit domain, so value -> pixel is known here exactly."""

    low: float
    high: float
    log: bool
    length: float  # px
    vertical: bool  # y axes grow upwards

    def _t(self, value: float) -> float:
        return math.log10(value) if self.log else value

    def pixel(self, value: float) -> float:
        share = (self._t(value) - self._t(self.low)) / (self._t(self.high) - self._t(self.low))
        return self.length * (1 - share) if self.vertical else self.length * share

    def value(self, pixel: float) -> float:
        share = (1 - pixel / self.length) if self.vertical else pixel / self.length
        t = self._t(self.low) + share * (self._t(self.high) - self._t(self.low))
        return 10**t if self.log else t

    def ticks(self) -> list[float]:
        """Round values inside the domain, as many as fit without their labels touching."""
        spacing = AXIS_FONT * 1.6 if self.vertical else 0.0
        if self.log:
            lo, hi = math.floor(math.log10(self.low)), math.ceil(math.log10(self.high))
            candidates = [
                [10.0**k for k in range(lo, hi + 1)],
                [m * 10.0**k for k in range(lo, hi + 1) for m in (1, 2, 5)],
                [m * 10.0**k for k in range(lo, hi + 1) for m in (1, 2, 3, 5)],
            ]
            options = [sorted(v for v in c if self.low <= v <= self.high) for c in reversed(candidates)]
        else:
            span = self.high - self.low
            options = []
            for exponent in range(math.floor(math.log10(span)) - 2, math.floor(math.log10(span)) + 2):
                for mantissa in (1, 2, 2.5, 5):
                    step = mantissa * 10.0**exponent
                    first = math.ceil(self.low / step - 1e-9) * step
                    values = []
                    v = first
                    while v <= self.high + 1e-9 * step:
                        values.append(round(v, 12))
                        v += step
                    if 2 <= len(values) <= 12:
                        options.append(values)
            options.sort(key=len, reverse=True)
        for values in options:
            if self._fits(values, spacing) and len(values) >= 2:
                return values
        return [self.low, self.high] if not self.log else [v for v in options[-1]][:2] if options else []

    def _fits(self, values: Sequence[float], spacing: float) -> bool:
        if self.vertical:
            positions = sorted(self.pixel(v) for v in values)
            return all(b - a >= spacing for a, b in itertools.pairwise(positions))
        boxes = []
        for v in values:
            width = layout.text_width(_format(v), AXIS_FONT)
            centre = self.pixel(v)
            # Vega's labelFlush pulls the end labels inside the axis.
            left = min(max(centre - width / 2, 0), self.length - width)
            boxes.append((left, left + width))
        boxes.sort()
        return all(b[0] - a[1] >= 6 for a, b in itertools.pairwise(boxes))

    def scale_spec(self) -> dict[str, Any]:
        return {"type": "log" if self.log else "linear", "domain": [self.low, self.high], "nice": False, "zero": False}

    def _axis_spec(self, title: str) -> dict[str, Any]:
        return {
            "values": self.ticks(),
            "format": TICK_FORMAT,
            "labelFlush": True,
            "labelOverlap": True,
            "title": title,
            "titleFontSize": 11,
            "labelFontSize": AXIS_FONT,
        }

    def spec(self, field: str, title: str) -> dict[str, Any]:
        """The channel as Vega-Lite data (``encode``'s twin, for charts written without Altair)."""
        return {"field": field, "type": "quantitative", "scale": self.scale_spec(), "axis": self._axis_spec(title)}

    def scale(self) -> alt.Scale:
        return alt.Scale(**self.scale_spec())

    def encode(self, field: str, title: str, channel: Literal["x", "y"]) -> alt.X | alt.Y:
        axis = alt.Axis(**self._axis_spec(title))
        if channel == "x":
            return alt.X(f"{field}:Q", scale=self.scale(), axis=axis)
        return alt.Y(f"{field}:Q", scale=self.scale(), axis=axis)


def fit_axis(
    values: Sequence[float],
    length: float,
    log: bool,
    vertical: bool,
    margin_px: float = 8.0,
    non_negative: bool = True,
    include_zero: bool = False,
) -> Axis:
    """The tightest domain that keeps ``margin_px`` free at both ends (bubbles are not cut off).

    A quantity that cannot be negative never gets a negative range: the low end
    stops at 0 (``include_zero`` starts it there, as for power and memory).
    """
    if not values:  # nothing to draw: any valid axis keeps the spec valid
        values = [1.0, 10.0]
    lo, hi = min(values), max(values)
    if log:
        a, b = math.log10(lo), math.log10(hi)
        if b - a < 0.3:  # less than a factor of 2: still show a readable range around the values
            a, b = (a + b) / 2 - 0.15, (a + b) / 2 + 0.15
        share = margin_px / length
        span = (b - a) / max(1 - 2 * share, 0.2)
        return Axis(10 ** (a - share * span), 10 ** (b + share * span), True, length, vertical)
    if include_zero:
        lo = min(lo, 0.0)
    if hi - lo <= 0:
        hi, lo = hi + (abs(hi) or 1) * 0.5, lo - (abs(lo) or 1) * 0.5
    share = margin_px / length
    span = (hi - lo) / max(1 - 2 * share, 0.2)
    low = lo if include_zero and lo == 0 else lo - share * span
    if non_negative and low < 0 <= lo:
        low = 0.0
    return Axis(low, hi + share * span, False, length, vertical)


# Rows of the charts being built, by placeholder URL (see ``_data``); ``_finish`` puts them in.
_PENDING_ROWS: dict[str, tuple[Row, ...]] = {}
_ROWS_KEYS = itertools.count()


def _data(rows: Sequence[Row]) -> alt.UrlData:
    """A chart's inline data, held back from Altair until the spec is built.

    Altair walks, validates and deep-copies every value of inline data on each layer,
    concat and serialisation: for a zoo's figures (a thousand rows, several layers,
    two layouts) that was most of the render's time. So Altair sees a placeholder
    URL, and ``_finish`` swaps the rows in once the spec is plain data."""
    key = f"pending-rows:{next(_ROWS_KEYS)}"
    _PENDING_ROWS[key] = tuple(rows)
    return alt.UrlData(url=key)


def _with_rows(spec: Any, used: set[str]) -> Any:
    """``spec`` with every placeholder of ``_data`` replaced by its rows (inline values); ``used`` collects
    the placeholders, so that ``_finish`` can forget their rows once the spec holds them."""
    if isinstance(spec, dict):
        url = spec.get("url")
        if isinstance(url, str) and url in _PENDING_ROWS and len(spec) == 1:
            used.add(url)
            return {"values": list(_PENDING_ROWS[url])}
        return {key: _with_rows(value, used) for key, value in spec.items()}
    if isinstance(spec, list):
        return [_with_rows(value, used) for value in spec]
    return spec


def _empty() -> VegaLite:
    """Nothing measured: the registry does not draw such a figure; this keeps a direct call's spec valid."""
    return _finish(alt.Chart(alt.Data(values=[])).mark_point(), [])


# --- shared pieces ------------------------------------------------------------------------------------------------


def _finish(chart: alt.TopLevelMixin, colours: Iterable[str]) -> VegaLite:
    """Site-wide configuration (font, label styles, the dark-scheme colours for charts.js), then the spec as data."""
    # Set in place: .configure() and .properties() would copy the whole chart each.
    chart.config = alt.Config(  # type: ignore[attr-defined]
        font=layout.FONT,
        style=STYLE_LIGHT,
        legend=alt.LegendConfig(labelFontSize=10, titleFontSize=11),
    )
    chart.usermeta = {"darkColours": palette.dark_variants(colours)}  # type: ignore[attr-defined]
    # Validation is the tests' job (VegaLite.to_dict validates, as Altair's would).
    with alt.utils.schemapi.debug_mode(False):
        spec = chart.to_dict(validate=False)
    used: set[str] = set()
    finished = VegaLite(_with_rows(spec, used))
    for key in used:  # a long-lived process (a server, the tests) would otherwise keep every chart's rows
        del _PENDING_ROWS[key]
    return finished


def _frame(colours: Iterable[str]) -> dict[str, Any]:
    """``_finish``'s settings as Vega-Lite data, for the charts written without Altair."""
    return {
        "$schema": alt.SCHEMA_URL,
        "config": {
            "font": layout.FONT,
            "style": STYLE_LIGHT,
            "legend": {"labelFontSize": 10, "titleFontSize": 11},
            "view": {"continuousHeight": 300, "continuousWidth": 300},
        },
        "usermeta": {"darkColours": palette.dark_variants(colours)},
    }


def _colours(rows: Sequence[Row], pal: Palette) -> list[str]:
    return pal.mapping(rows)[3]


def _labelled(rows: Sequence[Row]) -> list[Row]:
    """The rows that carry a name on the chart: all of a small set, else the study's networks."""
    if len({row["registry_name"] for row in rows}) <= LABEL_LIMIT:
        return list(rows)
    return [row for row in rows if row["study"]]


def _zoom(name: str) -> alt.Parameter:
    # Drag pans, shift + wheel zooms: the wheel alone keeps scrolling the page.
    return alt.selection_interval(bind="scales", name=name, zoom="wheel![event.shiftKey]")


def _label_layers(
    rows: Sequence[Row],
    x: Axis,
    y: Axis,
    x_field: str,
    y_field: str,
    font_size: int,
    radius: Callable[[Row], float],
    placed_rows: Sequence[Row] | None = None,
    extra: Sequence[layout.Point] = (),
) -> list[alt.Chart]:
    """Text and leader lines for the labelled rows, placed in pixels and written back in data units.

    ``extra``: further labelled points (e.g. the later recipe's markers), placed together with the
    names so that no two labels overlap.
    """
    targets = _labelled(rows) if placed_rows is None else placed_rows
    width = x.length
    points = [
        layout.Point(
            str(row["registry_name"]),
            x.pixel(float(row[x_field])),
            y.pixel(float(row[y_field])),
            radius(row),
            str(row["model"]),
        )
        for row in targets
    ]
    # Unlabelled points still take space: labels avoid covering them where they can.
    others = [
        layout.Point("", x.pixel(float(r[x_field])), y.pixel(float(r[y_field])), radius(r), "")
        for r in rows
        if r not in targets
    ]
    placed = layout.place_labels([*points, *extra], width, y.length, font_size, obstacles=others)
    texts, leaders = [], []
    named = [(str(row["registry_name"]), str(row["model"])) for row in targets] + [(p.key, p.text) for p in extra]
    for key, text in named:
        found = placed.get(key)
        if found is None:
            continue
        texts.append({"model": text, "label_x": x.value(found.x), "label_y": y.value(found.baseline)})
        if found.leader is not None:
            x1, y1, x2, y2 = found.leader
            leaders.append({"x1": x.value(x1), "y1": y.value(y1), "x2": x.value(x2), "y2": y.value(y2)})
    layers = []
    if leaders:
        layers.append(
            alt.Chart(_data(leaders))
            .mark_rule(style="leader", strokeWidth=0.8)
            .encode(
                x=alt.X("x1:Q", scale=x.scale()), y=alt.Y("y1:Q", scale=y.scale()), x2=alt.X2("x2"), y2=alt.Y2("y2")
            )
        )
    if texts:
        layers.append(
            alt.Chart(_data(texts))
            .mark_text(style="data-label", align="left", baseline="alphabetic", fontSize=font_size)
            .encode(
                x=alt.X("label_x:Q", scale=x.scale()), y=alt.Y("label_y:Q", scale=y.scale()), text=alt.Text("model:N")
            )
        )
    return layers


def _fit_line(fit: stats.Fit | None, xs: Sequence[float], x: Axis, y: Axis) -> list[alt.Chart]:
    """The least-squares line between the smallest and largest x, drawn as a dashed rule."""
    if fit is None or not xs:
        return []
    ends = [{"fx": v, "fy": fit.predict(v), "fit": f"least squares, R² = {fit.r2:.3f}"} for v in (min(xs), max(xs))]
    return [
        alt.Chart(_data(ends))
        .mark_line(style="fit", strokeDash=[6, 4], clip=True)
        .encode(
            x=alt.X("fx:Q", scale=x.scale()),
            y=alt.Y("fy:Q", scale=y.scale()),
            tooltip=[alt.Tooltip("fit:N", title="fit")],
        )
    ]


@dataclass(frozen=True)
class Scatter:
    """One scatter panel's description; ``_scatter`` draws it."""

    rows: list[Row]
    x_field: str
    x_title: str
    x_log: bool
    y_field: str
    y_title: str
    y_log: bool
    tooltip: list[alt.Tooltip]
    size_field: str | None = None
    size_title: str = ""
    size_max: float | None = None  # the size domain's top, shared by the panels of one figure
    x_interval: tuple[str, str] | None = None  # (low field, high field) of an interval drawn through each point
    y_interval: tuple[str, str] | None = None
    fit: bool = False
    y_from_zero: bool = False
    title: str | None = None
    zoom: str = "zoom"
    # Second markers of the same networks (the later training recipe): rows holding ``x_field``,
    # ``later_field``, the size field and 'gain_text'; drawn hollow, joined to the row's point.
    later: tuple[Row, ...] = ()
    later_field: str = "later_top1"


def _radius_fn(spec: Scatter) -> Callable[[Row], float]:
    if spec.size_field is None:
        return lambda row: _area_to_radius(POINT_AREA)
    top = spec.size_max or max(float(r[spec.size_field]) for r in spec.rows)
    low, high = BUBBLE_AREA
    return lambda row: _area_to_radius(low + (high - low) * float(row[spec.size_field]) / top)  # type: ignore[index]


def _size_legend_values(top: float) -> list[float]:
    """Three round sizes up to the largest: enough to read a bubble's size, few enough to fit a phone."""
    exponent = math.floor(math.log10(top))
    step = 10.0**exponent
    largest = math.floor(top / step) * step
    return sorted({round(largest / 10, 12) or step / 10, round(largest / 2, 12), largest})


def _values(rows: Sequence[Row], field: str, interval: tuple[str, str] | None) -> list[float]:
    found = [float(r[field]) for r in rows]
    if interval is not None:
        found += [float(r[f]) for r in rows for f in interval if r.get(f) is not None]
    return found


def _scatter(spec: Scatter, pal: Palette, lay: Layout, width: int) -> alt.LayerChart:
    return _scatter_axes(spec, pal, lay, width)[0]


def _scatter_axes(spec: Scatter, pal: Palette, lay: Layout, width: int) -> tuple[alt.LayerChart, Axis, Axis]:
    rows = spec.rows
    radius = _radius_fn(spec)
    margin = max((radius(r) for r in rows), default=4) + 3
    x = fit_axis(_values(rows, spec.x_field, spec.x_interval), width, spec.x_log, False, margin)
    y = fit_axis(
        _values(rows, spec.y_field, spec.y_interval) + [float(r[spec.later_field]) for r in spec.later],
        lay.height,
        spec.y_log,
        True,
        margin,
        include_zero=spec.y_from_zero,
    )
    base = alt.Chart(
        _data(rows), width=width, height=lay.height, title=alt.Undefined if spec.title is None else spec.title
    )
    encoding: dict[str, Any] = {
        "x": x.encode(spec.x_field, spec.x_title, "x"),
        "y": y.encode(spec.y_field, spec.y_title, "y"),
        "color": pal.encoding(rows, lay.legend_columns),
        "tooltip": spec.tooltip,
    }
    if spec.size_field is not None:
        top = spec.size_max or max(float(r[spec.size_field]) for r in rows)
        encoding["size"] = alt.Size(
            f"{spec.size_field}:Q",
            title=spec.size_title,
            scale=alt.Scale(domain=[0, top], range=list(BUBBLE_AREA), zero=True),
            # Mid grey: the size legend's bubbles stand out in both colour schemes.
            legend=alt.Legend(
                orient="top",
                direction="horizontal",
                format=TICK_FORMAT,
                values=_size_legend_values(top),
                symbolFillColor="#9e9e9e",
                symbolStrokeColor="#757575",
            ),
        )
        points = base.mark_circle(opacity=0.65, stroke="#333333", strokeWidth=0.5).encode(**encoding)
    else:
        points = base.mark_circle(size=POINT_AREA, opacity=0.85).encode(**encoding)
    layers: list[alt.Chart] = []
    for interval, channel in ((spec.x_interval, "x"), (spec.y_interval, "y")):
        if interval is None:
            continue
        low, high = interval
        with_interval = [r for r in rows if r.get(low) is not None and r.get(high) is not None]
        if not with_interval:
            continue
        other = spec.y_field if channel == "x" else spec.x_field
        other_axis = y if channel == "x" else x
        this_axis = x if channel == "x" else y
        rule = alt.Chart(_data(with_interval)).mark_rule(style="interval", strokeWidth=1.2)
        if channel == "x":
            rule = rule.encode(
                x=alt.X(f"{low}:Q", scale=this_axis.scale()),
                x2=alt.X2(high),
                y=alt.Y(f"{other}:Q", scale=other_axis.scale()),
            )
        else:
            rule = rule.encode(
                y=alt.Y(f"{low}:Q", scale=this_axis.scale()),
                y2=alt.Y2(high),
                x=alt.X(f"{other}:Q", scale=other_axis.scale()),
            )
        layers.append(rule)
    fit_layers: list[alt.Chart] = []
    if spec.fit:
        xs = [float(r[spec.x_field]) for r in rows]
        fit_layers = _fit_line(stats.linear_fit(xs, [float(r[spec.y_field]) for r in rows]), xs, x, y)
    later_layers, gain_points = _later_layers(spec, encoding, x, y, radius)
    labels = _label_layers(rows, x, y, spec.x_field, spec.y_field, lay.font_size, radius, extra=gain_points)
    chart = alt.LayerChart(
        layer=[*fit_layers, *layers, *later_layers, points.add_params(_zoom(spec.zoom)), *labels],
        width=width,
        height=lay.height,
    )
    return chart, x, y


def _later_layers(
    spec: Scatter, encoding: dict[str, Any], x: Axis, y: Axis, radius: Callable[[Row], float]
) -> tuple[list[alt.Chart], list[layout.Point]]:
    """The later training recipe: a thin line from each network's point to a hollow marker of the same
    colour and size, and the marker's gain label as a point for ``layout`` to place with the names."""
    if not spec.later:
        return [], []
    later = list(spec.later)
    join = (
        alt.Chart(_data(later))
        .mark_rule(style="leader", strokeWidth=1)
        .encode(
            x=alt.X(f"{spec.x_field}:Q", scale=x.scale()),
            y=alt.Y(f"{spec.y_field}:Q", scale=y.scale()),
            y2=alt.Y2(spec.later_field),
        )
    )
    hollow = {
        **encoding,
        "y": y.encode(spec.later_field, spec.y_title, "y"),
        "tooltip": [
            alt.Tooltip("model:N", title="model"),
            alt.Tooltip("later_weights:N", title="later recipe"),
            alt.Tooltip(f"{spec.later_field}:Q", title="top-1 (%), later recipe", format=".2f"),
            alt.Tooltip(f"{spec.y_field}:Q", title="top-1 (%), original recipe", format=".2f"),
            alt.Tooltip("gain_points:Q", title="gain (points)", format="+.2f"),
        ],
    }
    marks = alt.Chart(_data(later)).mark_point(
        shape="circle",
        filled=False,
        strokeWidth=1.5,
        opacity=0.9,
        size=POINT_AREA if spec.size_field is None else alt.Undefined,
    )
    gains = [
        layout.Point(
            f"later:{row['registry_name']}",
            x.pixel(float(row[spec.x_field])),
            y.pixel(float(row[spec.later_field])),
            radius(row),
            str(row["gain_text"]),
        )
        for row in later
    ]
    return [join, marks.encode(**hollow)], gains


def later_recipe_rows(found: Sequence[Row], records: Sequence[Record]) -> tuple[Row, ...]:
    """The drawn rows of the networks that also have a later recipe, with its top-1 and gain."""
    by_name = {str(g["registry_name"]): g for g in data.recipe_gain_points(records)}
    later = []
    for row in found:
        gain = by_name.get(str(row["registry_name"]))
        if gain is not None:
            later.append(
                {
                    **row,
                    "later_top1": gain["later_top1"],
                    "gain_points": gain["gain_points"],
                    "later_weights": gain["later_weights"],
                    "gain_text": f"{number(gain['gain_points']):+.1f} (later recipe)",
                }
            )
    return tuple(later)


def _panels(panels: Sequence[alt.LayerChart], lay: Layout) -> alt.ConcatChart | alt.HConcatChart | alt.VConcatChart:
    # One colour and size legend for both panels; given to the constructor, since
    # .resolve_scale() would copy the whole chart again.
    resolve = alt.Resolve(scale=alt.ScaleResolveMap(color="shared", size="shared"))
    if lay.stack_panels:
        return alt.vconcat(*panels, resolve=resolve)
    return alt.hconcat(*panels, resolve=resolve)


# --- the figures --------------------------------------------------------------------------------------------------


def _bars(
    records: Sequence[Record],
    pal: Palette,
    lay: Layout,
    field: str,
    getter: Callable[[Record], float | None],
    title: str,
    fmt: str,
    domain_max: float | None,
    recipes: bool = False,
) -> VegaLite:
    """Horizontal bars, best first; ``recipes``: a hollow marker at the later recipe's top-1 of the same network."""
    found = rows(records, **{field: getter})
    top = domain_max if domain_max is not None else max((float(r[field]) for r in found), default=1) * 1.05
    x = Axis(0.0, top, False, lay.width - 120 if lay is NARROW else lay.width, False)
    # An explicit order: the layers below share the y scale, and Vega-Lite drops a sort that layers disagree on.
    order = [str(r["model"]) for r in sorted(found, key=lambda r: (-float(r[field]), str(r["model"])))]
    y = alt.Y("model:N", sort=order, title=None, axis=alt.Axis(labelLimit=400, labelFontSize=AXIS_FONT))
    colour = pal.encoding(found, lay.legend_columns, legend=not pal.by_network(found))
    bars = (
        alt.Chart(_data(found), width=x.length, height=alt.Step(16))
        .mark_bar()
        .encode(
            y=y,
            x=x.encode(field, title, "x"),
            color=colour,
            tooltip=_tooltip(
                alt.Tooltip(f"{field}:Q", title=title, format=fmt),
                alt.Tooltip("params_m:Q", title="parameters (M)", format=".2f"),
            ),
        )
    )
    later = list(later_recipe_rows(found, records)) if recipes else []
    if not later:
        return _finish(bars, _colours(found, pal))
    join = (
        alt.Chart(_data(later))
        .mark_rule(style="leader", strokeWidth=1)
        .encode(y=y, x=alt.X(f"{field}:Q", scale=x.scale()), x2=alt.X2("later_top1"))
    )
    hollow = (
        alt.Chart(_data(later))
        .mark_point(shape="circle", filled=False, strokeWidth=1.5, size=50)
        .encode(
            y=y,
            x=alt.X("later_top1:Q", scale=x.scale()),
            color=colour,
            tooltip=[
                alt.Tooltip("model:N", title="model"),
                alt.Tooltip("later_weights:N", title="later recipe"),
                alt.Tooltip("later_top1:Q", title="top-1 (%), later recipe", format=".2f"),
                alt.Tooltip(f"{field}:Q", title="top-1 (%), original recipe", format=".2f"),
                alt.Tooltip("gain_points:Q", title="gain (points)", format="+.2f"),
            ],
        )
    )
    # The gain in points right of the marker, where it fits inside the plot (else the tooltip has it).
    gap = 7.0
    labelled = [
        {**r, "gain_label": f"{float(r['gain_points']):+.1f}"}
        for r in later
        if x.pixel(float(r["later_top1"])) + gap + layout.text_width(f"{float(r['gain_points']):+.1f}", lay.font_size)
        <= x.length
    ]
    layers: list[alt.Chart] = [bars, join, hollow]
    if labelled:
        layers.append(
            alt.Chart(_data(labelled))
            .mark_text(style="data-label", align="left", baseline="middle", dx=gap, fontSize=lay.font_size)
            .encode(y=y, x=alt.X("later_top1:Q", scale=x.scale()), text=alt.Text("gain_label:N"))
        )
    return _finish(alt.layer(*layers), _colours(found, pal))


def top1_bars(records: Sequence[Record], pal: Palette, lay: Layout = WIDE, top5: bool = False) -> VegaLite:
    """Fig. 1: top-1 (or top-5) accuracy per network, best first."""
    if top5:
        return _bars(records, pal, lay, "top5", data.top5, "Top-5 accuracy (%)", ".2f", 100.0)
    return _bars(records, pal, lay, "top1", data.top1, "Top-1 accuracy (%)", ".2f", 100.0, recipes=True)


def top5_bars(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    return top1_bars(records, pal, lay, top5=True)


def density_bars(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 10: top-1 percentage points per million parameters."""
    return _bars(
        records,
        pal,
        lay,
        "density",
        data.density,
        "Accuracy per parameter (top-1 % per million parameters)",
        ".3g",
        None,
    )


def accuracy_vs_operations_rows(records: Sequence[Record]) -> list[Row]:
    return rows(records, top1=data.top1, gflops=data.gflops, params_m=data.params_millions)


def accuracy_vs_operations(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 2: top-1 vs GFLOPs per image, bubble area proportional to parameters."""
    found = accuracy_vs_operations_rows(records)
    chart = _scatter(
        Scatter(
            found,
            "gflops",
            "Operations (GFLOPs per image, = 2 × GMACs)",
            True,
            "top1",
            "Top-1 accuracy (%)",
            False,
            _tooltip(
                alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
                alt.Tooltip("gflops:Q", title="GFLOPs", format=".3f"),
                alt.Tooltip("params_m:Q", title="parameters (M)", format=".2f"),
            ),
            size_field="params_m",
            size_title="Parameters (millions)",
            later=later_recipe_rows(found, records),
        ),
        pal,
        lay,
        lay.width,
    )
    return _finish(chart, _colours(found, pal))


def _lines(
    found: list[Row], pal: Palette, lay: Layout, y_title: str, tooltip_format: str, y_log: bool, interval: bool
) -> VegaLite:
    """Value vs batch size, one line per model, named at its end in a column right of the lines."""
    if not found:
        return _empty()
    size = lay.font_size
    labelled = _labelled(found)
    ends: dict[str, Row] = {}
    for row in labelled:
        if str(row["registry_name"]) not in ends or row["batch_size"] > ends[str(row["registry_name"])]["batch_size"]:
            ends[str(row["registry_name"])] = row
    gutter = max((layout.text_width(str(r["model"]), size) for r in ends.values()), default=0) + 16
    sizes = [float(r["batch_size"]) for r in found]
    plot = lay.width
    # The x domain runs past the largest batch size far enough to hold the label column.
    log_lo, log_hi = math.log2(min(sizes)) - 0.3, math.log2(max(sizes))
    per_px = (log_hi - log_lo) / max(plot - gutter - 6, 40)
    x = Axis(2**log_lo, 2 ** (log_hi + (gutter + 6) * per_px), True, plot, False)
    y_values = _values(found, "value", ("low", "high") if interval else None)
    y = fit_axis(y_values, lay.height, y_log, True, 6, include_zero=not y_log)
    batches = sorted({int(s) for s in sizes})
    x_enc = alt.X(
        "batch_size:Q",
        scale=alt.Scale(type="log", base=2, domain=[x.low, x.high], nice=False),
        axis=alt.Axis(
            values=batches,
            format="d",
            title="Batch size (images)",
            labelFlush=True,
            labelOverlap=True,
            labelFontSize=AXIS_FONT,
        ),
    )
    base = alt.Chart(_data(found), width=plot, height=lay.height)
    colour = pal.encoding(found, lay.legend_columns)
    lines = base.mark_line(point=alt.OverlayMarkDef(size=30), strokeWidth=1.5).encode(
        x=x_enc,
        y=y.encode("value", y_title, "y"),
        color=colour,
        detail=alt.Detail("registry_name:N"),
        tooltip=_tooltip(
            alt.Tooltip("batch_size:Q", title="batch size"),
            alt.Tooltip("value:Q", title=y_title, format=tooltip_format),
            *(
                [
                    alt.Tooltip("low:Q", title="95 % interval, low", format=tooltip_format),
                    alt.Tooltip("high:Q", title="95 % interval, high", format=tooltip_format),
                ]
                if interval
                else []
            ),
        ),
    )
    layers: list[alt.Chart] = []
    if interval:
        with_interval = [r for r in found if r["low"] is not None and r["high"] is not None]
        if with_interval:
            layers.append(
                alt.Chart(_data(with_interval))
                .mark_rule(style="interval", strokeWidth=1.2)
                .encode(
                    x=alt.X("batch_size:Q", scale=alt.Scale(type="log", base=2, domain=[x.low, x.high], nice=False)),
                    y=alt.Y("low:Q", scale=y.scale()),
                    y2=alt.Y2("high"),
                    color=colour,
                )
            )
    baselines = layout.stack_end_labels([(k, y.pixel(float(r["value"]))) for k, r in ends.items()], 0, lay.height, size)
    column = plot - gutter + 10  # px: the label column's left edge
    texts, leaders = [], []
    for key, baseline in baselines.items():
        row = ends[key]
        centre = baseline - (layout.ASCENT - layout.DESCENT) / 2 * size
        texts.append({"model": row["model"], "label_x": x.value(column), "label_y": y.value(baseline)})
        leaders.append(
            {
                "x1": float(row["batch_size"]),
                "y1": float(row["value"]),
                "x2": x.value(column - 2),
                "y2": y.value(centre),
                "model": row["model"],
                "family": row["family"],
            }
        )
    x_scale = alt.Scale(type="log", base=2, domain=[x.low, x.high], nice=False)
    if leaders:
        layers.append(
            alt.Chart(_data(leaders))
            .mark_rule(style="leader", strokeWidth=0.8, strokeDash=[2, 2])
            .encode(x=alt.X("x1:Q", scale=x_scale), y=alt.Y("y1:Q", scale=y.scale()), x2=alt.X2("x2"), y2=alt.Y2("y2"))
        )
        layers.append(
            alt.Chart(_data(texts))
            .mark_text(style="data-label", align="left", baseline="alphabetic", fontSize=size)
            .encode(
                x=alt.X("label_x:Q", scale=x_scale), y=alt.Y("label_y:Q", scale=y.scale()), text=alt.Text("model:N")
            )
        )
    return _finish(alt.layer(lines, *layers), _colours(found, pal))


def time_rows(records: Sequence[Record]) -> list[Row]:
    return batch_rows(records, data.ms_per_image, data.ms_per_image_low, data.ms_per_image_high)


def time_vs_batch(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 3: median time per image vs batch size, log-log as in the study, with each point's 95 % interval."""
    return _lines(time_rows(records), pal, lay, "Time per image (ms, median)", ".4g", True, True)


def power_rows(records: Sequence[Record]) -> list[Row]:
    return batch_rows(records, data.net_power_w)


def power_vs_batch(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 4: net power (mean minus idle) vs batch size."""
    return _lines(power_rows(records), pal, lay, "Net power above idle (W)", ".1f", False, False)


def memory_rows(records: Sequence[Record]) -> list[Row]:
    return batch_rows(records, lambda r: None if (m := data.memory_bytes(r)) is None else m / MB)


def memory_vs_batch(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 5: peak memory vs batch size (see ``data.memory_bytes`` for which memory)."""
    return _lines(memory_rows(records), pal, lay, "Peak memory (MB)", ",.0f", False, False)


def memory_parameters_rows(records: Sequence[Record]) -> list[Row]:
    return rows(
        records,
        param_mb=lambda r: None if r.parameters is None else r.parameters.parameters_bytes / MB,
        memory_mb=lambda r: None if (m := data.memory_bytes(data.ok_batch(r, 1))) is None else m / MB,
    )


def memory_vs_parameters(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 6: peak memory at batch 1 vs parameter size, with a least-squares line."""
    found = memory_parameters_rows(records)
    chart = _scatter(
        Scatter(
            found,
            "param_mb",
            "Parameters (MB in the measured precision)",
            False,
            "memory_mb",
            "Peak memory at batch 1 (MB)",
            False,
            _tooltip(
                alt.Tooltip("param_mb:Q", title="parameters (MB)", format=",.1f"),
                alt.Tooltip("memory_mb:Q", title="peak memory (MB)", format=",.0f"),
            ),
            fit=True,
            y_from_zero=True,
        ),
        pal,
        lay,
        lay.width,
    )
    return _finish(chart, _colours(found, pal))


def study_pair(records: Sequence[Record]) -> tuple[int, ...]:
    """Batch 1 beside the study's batch 16 (or its stand-in, see ``data.large_batch``)."""
    large = data.large_batch(records)
    return (1,) if large is None else (1, large)


def operations_time_rows(records: Sequence[Record], size: int) -> list[Row]:
    return rows(
        records,
        gflops=data.gflops,
        ms=lambda r: data.ms_per_image(data.ok_batch(r, size)),
        ms_low=lambda r: data.ms_per_image_low(data.ok_batch(r, size)) or 0.0,
        ms_high=lambda r: data.ms_per_image_high(data.ok_batch(r, size)) or 0.0,
    )


def _two_panels(
    records: Sequence[Record],
    pal: Palette,
    lay: Layout,
    panel: Callable[[int], Scatter],
    size_field: str | None,
) -> VegaLite:
    specs = [panel(size) for size in study_pair(records)]
    if size_field:
        # One bubble scale for both panels: the largest size in either.
        top = max((float(r[size_field]) for s in specs for r in s.rows), default=1.0)
        specs = [replace(s, size_max=top) for s in specs]
    drawn = [s for s in specs if s.rows]
    if not drawn:
        return _empty()
    charts = [_scatter(s, pal, lay, lay.panel_width) for s in drawn]
    all_rows = [r for s in drawn for r in s.rows]
    return _finish(_panels(charts, lay), _colours(all_rows, pal))


def _clean_interval(found: list[Row], low: str, high: str) -> list[Row]:
    """A 0.0 placeholder means 'no interval recorded': the rule is not drawn for that point."""
    for row in found:
        if not row[low] or not row[high]:
            row[low] = row[high] = None
    return found


def operations_vs_time(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 7: operations vs time per image at batch 1 and 16 (or its stand-in), with the least-squares line."""

    def panel(size: int) -> Scatter:
        found = _clean_interval(operations_time_rows(records, size), "ms_low", "ms_high")
        return Scatter(
            found,
            "gflops",
            "Operations (GFLOPs per image)",
            False,
            "ms",
            "Time per image (ms, median)",
            False,
            _tooltip(
                alt.Tooltip("gflops:Q", title="GFLOPs", format=".3f"),
                *_with_interval("ms", "ms per image", ".4g"),
            ),
            size_field="params_m",
            size_title="Parameters (millions)",
            y_interval=("ms_low", "ms_high"),
            fit=True,
            y_from_zero=True,
            title=data.batch_title(size).capitalize(),
            zoom=f"zoom_batch_{size}",
        )

    return _two_panels(records, pal, lay, panel, "params_m")


def operations_power_rows(records: Sequence[Record], size: int) -> list[Row]:
    return rows(records, gflops=data.gflops, watts=lambda r: data.net_power_w(data.ok_batch(r, size)))


def operations_vs_power(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 8: operations vs net power at batch 1 and 16."""

    def panel(size: int) -> Scatter:
        return Scatter(
            operations_power_rows(records, size),
            "gflops",
            "Operations (GFLOPs per image)",
            False,
            "watts",
            "Net power above idle (W)",
            False,
            _tooltip(
                alt.Tooltip("gflops:Q", title="GFLOPs", format=".3f"),
                alt.Tooltip("watts:Q", title="net power (W)", format=".1f"),
            ),
            y_from_zero=True,
            title=data.batch_title(size).capitalize(),
            zoom=f"zoom_batch_{size}",
        )

    return _two_panels(records, pal, lay, panel, None)


def accuracy_throughput_rows(records: Sequence[Record], size: int) -> list[Row]:
    return rows(
        records,
        top1=data.top1,
        ips=lambda r: data.images_per_s(data.ok_batch(r, size)),
        gflops=data.gflops,
        ips_low=lambda r: data.images_per_s_low(data.ok_batch(r, size)) or 0.0,
        ips_high=lambda r: data.images_per_s_high(data.ok_batch(r, size)) or 0.0,
    )


def accuracy_vs_throughput(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Fig. 9: top-1 vs images per second at batch 1 and 16, bubble area proportional to operations."""

    def panel(size: int) -> Scatter:
        found = _clean_interval(accuracy_throughput_rows(records, size), "ips_low", "ips_high")
        return Scatter(
            found,
            "ips",
            "Throughput (images per second)",
            True,
            "top1",
            "Top-1 accuracy (%)",
            False,
            _tooltip(
                *_with_interval("ips", "images/s", ",.4g"),
                alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
            ),
            size_field="gflops",
            size_title="GFLOPs per image",
            x_interval=("ips_low", "ips_high"),
            title=data.batch_title(size).capitalize(),
            zoom=f"zoom_batch_{size}",
        )

    return _two_panels(records, pal, lay, panel, "gflops")


def _front_chart(
    records: Sequence[Record],
    pal: Palette,
    lay: Layout,
    cost: Callable[[Record], float | None],
    cost_title: str,
    cost_format: str,
) -> VegaLite:
    found = rows(records, top1=data.top1, cost=cost)
    names = set(stats.pareto_front([(str(r["registry_name"]), float(r["cost"]), float(r["top1"])) for r in found]))
    for row in found:
        row["front"] = "on the front" if row["registry_name"] in names else "dominated"
    scatter, x, y = _scatter_axes(
        Scatter(
            found,
            "cost",
            cost_title,
            True,
            "top1",
            "Top-1 accuracy (%)",
            False,
            _tooltip(
                alt.Tooltip("cost:Q", title=cost_title, format=cost_format),
                alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
                alt.Tooltip("front:N", title="front"),
            ),
        ),
        pal,
        lay,
        lay.width,
    )
    front_rows = sorted((r for r in found if r["front"] == "on the front"), key=lambda r: float(r["cost"]))
    step = (
        alt.Chart(_data(front_rows))
        .mark_line(interpolate="step-after", style="front", strokeDash=[4, 3])
        .encode(x=alt.X("cost:Q", scale=x.scale()), y=alt.Y("top1:Q", scale=y.scale()), order=alt.Order("cost:Q"))
    )
    chart = alt.layer(step, *scatter.layer).properties(width=lay.width, height=lay.height)
    return _finish(chart, _colours(found, pal))


def accuracy_latency_front(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """Top-1 vs time per image at batch 1 with the Pareto front (faster and more accurate is better)."""
    return _front_chart(
        records,
        pal,
        lay,
        lambda r: data.ms_per_image(data.ok_batch(r, 1)),
        "Time per image at batch 1 (ms, median)",
        ".4g",
    )


def accuracy_energy_front(records: Sequence[Record], pal: Palette, lay: Layout = WIDE) -> VegaLite:
    """The energy claim: top-1 vs energy per image at batch 1 with the Pareto front."""
    return _front_chart(
        records, pal, lay, lambda r: data.energy_j(data.ok_batch(r, 1)), "Energy per image at batch 1 (J)", ".4g"
    )


# Vega's default colours of a nominal field (tableau10), given explicitly so the static SVG
# (static_svg) and the interactive chart colour each run alike.
RUN_COLOURS = (
    "#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
)  # fmt: skip


@dataclass(frozen=True)
class _BatchPanel:
    field: str
    title: str
    fmt: str
    interval: bool
    rows: list[Row]
    x: Axis
    sizes: list[int]
    y: Axis


def _batch_rows(records: Sequence[Record], run_labels: Sequence[str]) -> list[Row]:
    found: list[Row] = []
    for record, run in zip(records, run_labels, strict=True):
        for result in record.batches:
            memory = data.memory_bytes(result)
            found.append(
                {
                    "run": run,
                    "batch_size": result.batch_size,
                    "ms": data.ms_per_image(result),
                    "ms_low": data.ms_per_image_low(result),
                    "ms_high": data.ms_per_image_high(result),
                    "memory_mb": None if memory is None else memory / MB,
                }
            )
    found.sort(key=lambda row: (str(row["run"]), int(row["batch_size"])))
    return found


def _batch_panels(found: Sequence[Row], lay: Layout) -> list[_BatchPanel]:
    panels = []
    for field, title, log_y, fmt, interval in (
        ("ms", "Time per image (ms, median)", True, ".4g", True),
        ("memory_mb", "Peak memory (MB)", False, ",.0f", False),
    ):
        present = [r for r in found if r[field] is not None]
        values = _values(present, field, ("ms_low", "ms_high") if interval else None) or [1.0]
        y = fit_axis([v for v in values if v is not None], lay.height - 40, log_y, True, 6, include_zero=not log_y)
        sizes = sorted({int(r["batch_size"]) for r in present}) or [1]
        # Log base 2 in the spec; the pixel of a value is the same for any base.
        x = Axis(min(sizes) / 1.3, max(sizes) * 1.3, True, lay.panel_width, False)
        panels.append(_BatchPanel(field, title, fmt, interval, present, x, sizes, y))
    return panels


def _run_colours(found: Sequence[Row]) -> dict[str, str]:
    runs = sorted({str(r["run"]) for r in found})
    return {run: RUN_COLOURS[i % len(RUN_COLOURS)] for i, run in enumerate(runs)}


def model_batches(records: Sequence[Record], run_labels: Sequence[str], lay: Layout = WIDE) -> VegaLite:
    """A model page's chart: time per image (with its 95 % interval) and peak memory vs batch size, one line per run.

    Written as plain Vega-Lite (no Altair objects): one per model page and layout.
    """
    found = _batch_rows(records, run_labels)
    colours = _run_colours(found)
    colour = {
        "field": "run",
        "type": "nominal",
        "title": "hardware, configuration",
        "scale": {"domain": list(colours), "range": list(colours.values())},
        "legend": {"orient": "bottom", "columns": 1, "labelLimit": 400},
    }

    def panel(spec: _BatchPanel) -> dict[str, Any]:
        x_scale = {"type": "log", "base": 2, "domain": [spec.x.low, spec.x.high], "nice": False}
        x = {
            "field": "batch_size",
            "type": "quantitative",
            "scale": x_scale,
            "axis": {"values": spec.sizes, "format": "d", "labelFlush": True, "title": "Batch size (images)"},
        }
        tooltip = [
            {"field": "run", "type": "nominal"},
            {"field": "batch_size", "type": "quantitative", "title": "batch size"},
            {"field": spec.field, "type": "quantitative", "title": spec.title, "format": spec.fmt},
        ]
        if spec.interval:
            tooltip += [
                {"field": "ms_low", "type": "quantitative", "title": "95 % interval, low", "format": spec.fmt},
                {"field": "ms_high", "type": "quantitative", "title": "95 % interval, high", "format": spec.fmt},
            ]
        layers: list[dict[str, Any]] = [
            {
                "data": {"values": spec.rows},
                "mark": {"type": "line", "point": True},
                "encoding": {"x": x, "y": spec.y.spec(spec.field, spec.title), "color": colour, "tooltip": tooltip},
            }
        ]
        with_interval = [r for r in spec.rows if spec.interval and r["ms_low"] is not None and r["ms_high"] is not None]
        if with_interval:
            layers.append(
                {
                    "data": {"values": with_interval},
                    "mark": {"type": "rule", "style": "interval", "strokeWidth": 1.2},
                    "encoding": {
                        "x": {"field": "batch_size", "type": "quantitative", "scale": x_scale},
                        "y": {"field": "ms_low", "type": "quantitative", "scale": spec.y.scale_spec()},
                        "y2": {"field": "ms_high"},
                        "color": colour,
                    },
                }
            )
        return {"layer": layers, "width": lay.panel_width, "height": lay.height - 40}

    spec = _frame(colours.values())
    spec["vconcat" if lay.stack_panels else "hconcat"] = [panel(p) for p in _batch_panels(found, lay)]
    spec["resolve"] = {"scale": {"color": "shared", "size": "shared"}}
    return VegaLite(spec)


def model_batches_svg(records: Sequence[Record], run_labels: Sequence[str], lay: Layout = WIDE) -> str:
    """The static image of ``model_batches`` (same rows, axes, ticks and colours), drawn in Python."""
    found = _batch_rows(records, run_labels)
    colours = _run_colours(found)
    panels = []
    for spec in _batch_panels(found, lay):
        by_run: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
        for r in spec.rows:
            low, high = (r["ms_low"], r["ms_high"]) if spec.interval else (None, None)
            by_run.setdefault(str(r["run"]), []).append((float(r["batch_size"]), float(r[spec.field]), low, high))
        panels.append(
            static_svg.Panel(
                spec.x,
                spec.sizes,
                lambda v: f"{v:.0f}",
                "Batch size (images)",
                spec.y,
                spec.y.ticks(),
                _format,
                spec.title,
                [static_svg.Series(run, colours[run], points) for run, points in by_run.items()],
            )
        )
    return static_svg.panels_svg(panels, lay.stack_panels, "hardware, configuration", list(colours.items()))


def exclusions(records: Sequence[Record], batch_sizes: Sequence[int] | None = None) -> list[str]:
    """Human-readable list of what a figure leaves out and why (oom, error, not measured)."""
    notes = []
    for record in sorted(records, key=lambda r: r.model.name):
        for size, status, message in data.failures(record):
            if size is None:
                notes.append(f"{_label(record)}: whole model {status} ({message})")
            elif batch_sizes is None or size in batch_sizes:
                notes.append(f"{_label(record)} at batch {size}: {status} ({message})")
    return notes


# --- small figures of a model page: one model among all the others -------------------------------------------------

SMALL = Layout("small", 280, 280, 200, True, 1)  # fits a phone's column and sits beside the tables on a wide page
GREY = "#9e9e9e"
HIGHLIGHT_AREA = 110.0  # px², the highlighted model's point
OTHER_AREA = 28.0  # px², every other model's point


@dataclass(frozen=True)
class HighlightBase:
    """What every model page's copy of one small figure shares: the points, axes and serialised layers.

    Built once per figure and record set, so each model page only fills in its own
    point and places one label (against the others' points, known in pixels):
    ``frame`` is the top-level spec without layers, ``parts`` every kind of layer
    serialised once with empty data (its encoding and mark do not depend on the model).
    """

    rows: tuple[Row, ...]
    x_field: str
    y_field: str
    x: Axis
    y: Axis
    obstacles: layout.PointGrid  # every model's point, for the label of the one in colour to avoid
    later: dict[str, Row]  # registry name -> its later-recipe row (``later_recipe_rows``): a second, hollow marker
    frame: dict[str, Any]
    parts: dict[str, dict[str, Any]]  # 'grey' (with every point), 'this', 'later_rule', 'later_point', ...

    @functools.cached_property
    def by_name(self) -> dict[str, Row]:
        """Each point's row by registry name: a thousand model pages look their own up."""
        return {str(row["registry_name"]): row for row in self.rows}

    @functools.cached_property
    def by_y(self) -> tuple[list[float], list[float], list[str]]:
        """Every point as numbers, highest y first: (-y, x, registry name) as three lists. What each page
        compares its own point with: the points above it are a prefix, found by bisecting the first."""
        points = sorted((-float(r[self.y_field]), float(r[self.x_field]), str(r["registry_name"])) for r in self.rows)
        return [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]

    def part(self, name: str, values: Sequence[Row], colour: str | None = None) -> dict[str, Any]:
        """Layer ``name`` with ``values`` as its data (and the highlighted colour on its mark)."""
        layer = {**self.parts[name], "data": {"values": list(values)}}
        if colour is not None:
            layer["mark"] = {**layer["mark"], "color": colour}
        return layer


_PLACEHOLDER_COLOUR = "#000000"


def _highlight_parts(
    x: Axis, y: Axis, x_field: str, y_field: str, grey: alt.Chart, tooltip: Sequence[alt.Tooltip], lay: Layout
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Every layer a model page's small figure can have, serialised once by Altair (valid Vega-Lite)."""
    empty = _data(())
    x_enc = alt.X(f"{x_field}:Q", scale=x.scale())
    text_mark: dict[str, Any] = {"style": "data-label", "align": "left", "baseline": "alphabetic"}
    labels = {"x": alt.X("label_x:Q", scale=x.scale()), "y": alt.Y("label_y:Q", scale=y.scale())}
    layers = {
        "grey": grey,
        "later_rule": alt.Chart(empty)
        .mark_rule(style="leader", strokeWidth=1)
        .encode(x=x_enc, y=alt.Y(f"{y_field}:Q", scale=y.scale()), y2=alt.Y2("later_top1")),
        "later_point": alt.Chart(empty)
        .mark_point(shape="circle", filled=False, size=HIGHLIGHT_AREA, color=_PLACEHOLDER_COLOUR, strokeWidth=1.5)
        .encode(
            x=x_enc,
            y=alt.Y("later_top1:Q", scale=y.scale()),
            tooltip=[
                alt.Tooltip("model:N", title="model"),
                alt.Tooltip("later_weights:N", title="later recipe"),
                alt.Tooltip("later_top1:Q", title="top-1 (%), later recipe", format=".2f"),
                alt.Tooltip("gain_points:Q", title="gain (points)", format="+.2f"),
            ],
        ),
        "this": alt.Chart(empty)
        .mark_circle(size=HIGHLIGHT_AREA, color=_PLACEHOLDER_COLOUR, opacity=1, stroke="#333333", strokeWidth=0.8)
        .encode(x=x_enc, y=alt.Y(f"{y_field}:Q", scale=y.scale()), tooltip=list(tooltip)),
        "gain_label": alt.Chart(empty)
        .mark_text(**text_mark, fontSize=lay.font_size)
        .encode(**labels, text=alt.Text("text:N")),
        "leader": alt.Chart(empty)
        .mark_rule(style="leader", strokeWidth=0.8)
        .encode(x=alt.X("x1:Q", scale=x.scale()), y=alt.Y("y1:Q", scale=y.scale()), x2=alt.X2("x2"), y2=alt.Y2("y2")),
        "label": alt.Chart(empty)
        .mark_text(**text_mark, fontSize=lay.font_size, fontWeight="bold")
        .encode(**labels, text=alt.Text("model:N")),
    }
    spec = _finish(alt.LayerChart(layer=list(layers.values()), width=lay.width, height=lay.height), []).spec
    frame = {key: value for key, value in spec.items() if key not in ("layer", "usermeta")}
    return frame, dict(zip(layers, spec["layer"], strict=True))


def highlight_base(
    found: Sequence[Row],
    x_field: str,
    x_title: str,
    x_log: bool,
    y_field: str,
    y_title: str,
    tooltip: Sequence[alt.Tooltip],
    lay: Layout = SMALL,
    later: Sequence[Row] = (),
) -> HighlightBase | None:
    if not found:
        return None
    margin = _area_to_radius(HIGHLIGHT_AREA) + 3
    x = fit_axis([float(r[x_field]) for r in found], lay.width, x_log, False, margin)
    y = fit_axis(
        [float(r[y_field]) for r in found] + [float(r["later_top1"]) for r in later], lay.height, False, True, margin
    )
    grey = (
        alt.Chart(_data(found), width=lay.width, height=lay.height)
        .mark_circle(size=OTHER_AREA, color=GREY, opacity=0.7)
        .encode(x=x.encode(x_field, x_title, "x"), y=y.encode(y_field, y_title, "y"), tooltip=list(tooltip))
    )
    obstacles = layout.PointGrid(
        [
            layout.Point(
                str(r["registry_name"]),
                x.pixel(float(r[x_field])),
                y.pixel(float(r[y_field])),
                _area_to_radius(OTHER_AREA),
                "",
            )
            for r in found
        ]
    )
    frame, parts = _highlight_parts(x, y, x_field, y_field, grey, tooltip, lay)
    return HighlightBase(
        tuple(found), x_field, y_field, x, y, obstacles, {str(r["registry_name"]): r for r in later}, frame, parts
    )


def highlighted(base: HighlightBase, registry_name: str, colour: str, lay: Layout = SMALL) -> VegaLite | None:
    """The small figure with ``registry_name`` in its colour and named; None when it is not among the points."""
    row = base.by_name.get(registry_name)
    if row is None:
        return None
    point = layout.Point(
        registry_name,
        base.x.pixel(float(row[base.x_field])),
        base.y.pixel(float(row[base.y_field])),
        _area_to_radius(HIGHLIGHT_AREA),
        str(row["model"]),
    )
    labelled = [point]
    layers = [base.parts["grey"]]
    later = base.later.get(registry_name)
    if later is not None:
        # The same network with its later training recipe: hollow, joined to the original's point.
        layers.append(base.part("later_rule", [later]))
        layers.append(base.part("later_point", [later], colour))
        labelled.append(
            layout.Point(
                f"later:{registry_name}",
                point.x,
                base.y.pixel(float(later["later_top1"])),
                _area_to_radius(HIGHLIGHT_AREA),
                str(later["gain_text"]),
            )
        )
    layers.append(base.part("this", [row], colour))
    # Its own grey point lies under its coloured one: not in the way of its labels.
    placed = layout.place_labels(
        labelled,
        base.x.length,
        base.y.length,
        lay.font_size,
        obstacles=base.obstacles,
        ignored=frozenset([registry_name]),
    )
    for extra in labelled[1:]:
        gain = placed.get(extra.key)
        if gain is not None:
            at = {"label_x": base.x.value(gain.x), "label_y": base.y.value(gain.baseline)}
            layers.append(base.part("gain_label", [{"text": extra.text, **at}]))
    found = placed.get(registry_name)
    if found is not None:
        if found.leader is not None:
            x1, y1, x2, y2 = found.leader
            ends = {"x1": base.x.value(x1), "y1": base.y.value(y1), "x2": base.x.value(x2), "y2": base.y.value(y2)}
            layers.append(base.part("leader", [ends]))
        at = {"label_x": base.x.value(found.x), "label_y": base.y.value(found.baseline)}
        layers.append(base.part("label", [{"model": row["model"], **at}]))
    usermeta = {"darkColours": palette.dark_variants([colour, GREY])}
    return VegaLite({**base.frame, "layer": layers, "usermeta": usermeta})


def operations_highlight_base(records: Sequence[Record]) -> HighlightBase | None:
    """Small Fig. 2: top-1 vs GFLOPs of every model with both."""
    found = accuracy_vs_operations_rows(records)
    return highlight_base(
        found,
        "gflops",
        "Operations (GFLOPs per image)",
        True,
        "top1",
        "Top-1 accuracy (%)",
        _tooltip(
            alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
            alt.Tooltip("gflops:Q", title="GFLOPs", format=".3f"),
        ),
        later=later_recipe_rows(found, records),
    )


def throughput_highlight_base(records: Sequence[Record], size: int = 1) -> HighlightBase | None:
    """Small Fig. 9: top-1 vs images per second at ``size`` of every model of one run."""
    return highlight_base(
        rows(records, top1=data.top1, ips=lambda r: data.images_per_s(data.ok_batch(r, size))),
        "ips",
        f"Images per second at batch {size}",
        True,
        "top1",
        "Top-1 accuracy (%)",
        _tooltip(
            alt.Tooltip("ips:Q", title="images/s", format=",.4g"),
            alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
        ),
    )
