"""The roofline of one run: each model and batch size's achieved GFLOP/s against its arithmetic intensity.

The two ceilings are the run's own measurements (``machine.json``, generator.ceilings):
the flat roof is the peak matmul GFLOP/s of a large GEMM in the run's precision,
the slanted one memory bandwidth x intensity (a large copy, read + write
counted). Conventions (``data.arithmetic_intensity``): operations are
2 x fvcore GMACs per image x batch size; bytes are the parameter and buffer bytes
once per batch plus fvcore's activation count x batch size x bytes per element.
Both axes are logarithmic, as rooflines are drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt

from generator.render import charts, data
from generator.render.charts import WIDE, Layout, Palette, Row
from generator.schema import MachineCeilings, Record


def roofline_rows(records: Sequence[Record], ceilings: MachineCeilings | None) -> list[Row]:
    """One row per model and measured batch size with an intensity and an achieved rate."""
    names = charts.display_names(records)
    found: list[Row] = []
    for record in records:
        for result in record.batches:
            achieved = data.achieved_gflops(record, result)
            intensity = data.arithmetic_intensity(record, result.batch_size)
            if achieved is None or intensity is None:
                continue
            fraction = data.fraction_of_peak(record, result, ceilings)
            found.append(
                {
                    "model": names.get(record.model.name, record.model.name),
                    "registry_name": record.model.name,
                    "family": record.model.family,
                    "study": record.model.study_name,
                    "batch_size": result.batch_size,
                    "intensity": intensity,
                    "achieved": achieved,
                    "fraction_percent": None if fraction is None else fraction * 100,
                }
            )
    return sorted(found, key=lambda row: (str(row["registry_name"]), int(row["batch_size"])))


def _roof(ceilings: MachineCeilings, x: charts.Axis) -> list[Row]:
    """The roof as a polyline over the x domain: bandwidth x intensity up to the ridge, then the peak."""
    peak, bandwidth = ceilings.matmul.gflops, ceilings.bandwidth.gb_per_s
    ridge = peak / bandwidth
    xs = [x.low, *([ridge] if x.low < ridge < x.high else []), x.high]
    return [{"rx": value, "ry": data.roofline_gflops(ceilings, value)} for value in xs]


def roofline(
    records: Sequence[Record], ceilings: MachineCeilings | None, pal: Palette, lay: Layout = WIDE
) -> charts.VegaLite:
    """Achieved GFLOP/s vs FLOPs per byte, log-log, one colour per model, with the run's two ceilings."""
    found = roofline_rows(records, ceilings)
    if not found:
        return charts._empty()
    xs = [float(r["intensity"]) for r in found]
    ys = [float(r["achieved"]) for r in found]
    if ceilings is not None:
        xs.append(ceilings.matmul.gflops / ceilings.bandwidth.gb_per_s)  # the ridge point is on the chart
        ys.append(ceilings.matmul.gflops)
    margin = 10.0
    x = charts.fit_axis(xs, lay.width, True, False, margin)
    y = charts.fit_axis(ys, lay.height, True, True, margin)
    tooltip = charts._tooltip(
        alt.Tooltip("batch_size:Q", title="batch size"),
        alt.Tooltip("intensity:Q", title="FLOPs per byte", format=".3g"),
        alt.Tooltip("achieved:Q", title="achieved GFLOP/s", format=".4g"),
        alt.Tooltip("fraction_percent:Q", title="% of peak", format=".3g"),
    )
    points = (
        alt.Chart(charts._data(found), width=lay.width, height=lay.height)
        .mark_circle(size=charts.POINT_AREA * 0.6, opacity=0.8)
        .encode(
            x=x.encode("intensity", "Arithmetic intensity (FLOPs per byte of weights + activations)", "x"),
            y=y.encode("achieved", "Achieved GFLOP/s (2 × GMACs × batch / time)", "y"),
            color=pal.encoding(found, lay.legend_columns),
            tooltip=tooltip,
        )
    )
    layers: list[alt.Chart] = []
    if ceilings is not None:
        roof = _roof(ceilings, x)
        layers.append(
            alt.Chart(charts._data(roof))
            .mark_line(style="fit", strokeWidth=1.5, clip=True)
            .encode(x=alt.X("rx:Q", scale=x.scale()), y=alt.Y("ry:Q", scale=y.scale()))
        )
        # The ceilings are named in the caption, not inside the plot: a name on the roof
        # collided with the models' labels, whose places the label layout chooses.
    # One label per model, at its largest batch size (the point furthest along its path).
    last: dict[str, Row] = {}
    for row in found:
        last[str(row["registry_name"])] = row
    radius = charts._area_to_radius(charts.POINT_AREA * 0.6)
    labels = charts._label_layers(
        found,
        x,
        y,
        "intensity",
        "achieved",
        lay.font_size,
        lambda _row: radius,
        placed_rows=charts._labelled(list(last.values())),
    )
    chart = alt.LayerChart(
        layer=[*layers, points.add_params(charts._zoom("zoom_roofline")), *labels], width=lay.width, height=lay.height
    )
    return charts._finish(chart, charts._colours(found, pal))
