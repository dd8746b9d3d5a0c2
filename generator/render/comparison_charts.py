"""The comparison scatter: time per image on the baseline (x) against the other run (y), log-log.

One panel per common batch size, each point a model with its 95 % interval on
both axes and the y = x line: below the line the other run is faster. Colour
and shape say the verdict, so the static SVG reads without colour too.
"""

from __future__ import annotations

import altair as alt

from generator.render.comparison import Comparison

PANEL = 175  # px: three panels fit Material's text column
COLUMNS = 3
LABEL_LIMIT = 8  # name the points when a panel holds at most this many (more overlap; tooltips name them)

# Fixed, so a verdict keeps its colour on every chart (colour-blind safe pair for faster/slower).
VERDICT_STYLE: dict[str, tuple[str, str]] = {
    "faster": ("#1b9e77", "triangle-down"),  # below y = x: less time on the other run
    "slower": ("#d95f02", "triangle-up"),
    "indistinguishable": ("#666666", "circle"),
    "no interval": ("#aaaaaa", "square"),
}


def comparison_scatter(comparison: Comparison) -> alt.FacetChart:
    base_label, other_label = comparison.baseline.label, comparison.other.label
    rows: list[dict[str, object]] = []
    for batch in comparison.batches:
        values: list[float] = []
        for row in batch.rows:
            a, b = row.baseline, row.other
            rows.append(
                {
                    "kind": "model",
                    "batch_size": batch.batch_size,
                    "model": row.label,
                    "verdict": row.speedup.verdict,
                    "x": a.value,
                    "x_low": a.low,
                    "x_high": a.high,
                    "y": b.value,
                    "y_low": b.low,
                    "y_high": b.high,
                    "speedup": row.speedup.value,
                }
            )
            values += [v for v in (a.value, a.low, a.high, b.value, b.low, b.high) if v is not None and v > 0]
        if values:
            # The y = x line across the panel's whole range, drawn from the same data as the points.
            for end in (min(values), max(values)):
                rows.append({"kind": "diagonal", "batch_size": batch.batch_size, "x": end, "y": end})
    # Short axis titles (the page's heading names both runs); the tooltip repeats the full names.
    x_title, y_title = "baseline: ms per image", "other run: ms per image"
    x_scale, y_scale = alt.Scale(type="log", nice=False), alt.Scale(type="log", nice=False)
    # Log ticks crowd (…, 40, 50, …): Vega hides those closer than 4 px (its check counts 10 px of height per
    # label, the drawn line box is 11.2 px), and keeps the end labels inside.
    axis = alt.Axis(labelOverlap="greedy", labelSeparation=4, labelFlush=True)
    x = alt.X("x:Q", title=x_title, scale=x_scale, axis=axis)
    y = alt.Y("y:Q", title=y_title, scale=y_scale, axis=axis)
    verdicts = list(VERDICT_STYLE)
    colour_scale = alt.Scale(domain=verdicts, range=[VERDICT_STYLE[v][0] for v in verdicts])
    colour = alt.Color(
        "verdict:N", title="other run is", scale=colour_scale, legend=alt.Legend(orient="bottom", columns=4)
    )
    shape = alt.Shape(
        "verdict:N",
        title="other run is",
        scale=alt.Scale(domain=verdicts, range=[VERDICT_STYLE[v][1] for v in verdicts]),
    )
    models = alt.Chart().transform_filter("datum.kind == 'model'")
    diagonal = (
        alt.Chart()
        .transform_filter("datum.kind == 'diagonal'")
        .mark_line(color="#999999", strokeDash=[4, 3], strokeWidth=1)
        .encode(x=x, y=y)
    )
    x_bars = (
        models.transform_filter("isValid(datum.x_low) && isValid(datum.x_high)")
        .mark_rule(strokeWidth=1, opacity=0.7)
        .encode(
            x=alt.X("x_low:Q", title=x_title, scale=x_scale),
            x2="x_high:Q",
            y=y,
            color=alt.Color("verdict:N", scale=colour_scale, title="other run is"),
        )
    )
    y_bars = (
        models.transform_filter("isValid(datum.y_low) && isValid(datum.y_high)")
        .mark_rule(strokeWidth=1, opacity=0.7)
        .encode(
            x=x,
            y=alt.Y("y_low:Q", title=y_title, scale=y_scale),
            y2="y_high:Q",
            color=alt.Color("verdict:N", scale=colour_scale, title="other run is"),
        )
    )
    points = models.mark_point(filled=True, size=45, opacity=0.9).encode(
        x=x,
        y=y,
        color=colour,
        shape=shape,
        tooltip=[
            alt.Tooltip("model:N"),
            alt.Tooltip("batch_size:Q", title="batch size"),
            alt.Tooltip("x:Q", title=f"ms/image {base_label}", format=".4g"),
            alt.Tooltip("y:Q", title=f"ms/image {other_label}", format=".4g"),
            alt.Tooltip("speedup:Q", title="speed-up (×)", format=".3g"),
            alt.Tooltip("verdict:N", title="other run is"),
        ],
    )
    layers: list[alt.Chart] = [diagonal, x_bars, y_bars, points]
    if max((len(b.rows) for b in comparison.batches), default=0) <= LABEL_LIMIT:
        layers.append(models.mark_text(align="left", dx=6, dy=-6, fontSize=9).encode(x=x, y=y, text="model:N"))
    return (
        alt.layer(*layers, data=alt.Data(values=rows))
        .properties(width=PANEL, height=PANEL)
        .facet(facet=alt.Facet("batch_size:O", title="batch size (images)"), columns=COLUMNS)
        .properties(title=alt.TitleParams(f"x: {base_label} (baseline)", subtitle=f"y: {other_label}", anchor="start"))
    )
