"""Altair charts of the study's figures: each function takes records, returns a chart.

Conventions shared by every chart: one colour per model family from a fixed
mapping (``Palette``), tooltips naming the model and the value with its unit,
zoom and pan on scatter plots, log axes where the study used them (Fig. 3) or
where values span decades. Points that were not measured or failed (oom,
error) are left out; ``exclusions`` lists them for the note under the figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import altair as alt

from generator.render import data, stats
from generator.render.data import MB
from generator.schema import Record

# Sized to fit Material's text column (about 540 px at a 1280 px window) with
# the legends underneath; wider content scrolls sideways.
WIDTH, HEIGHT, PANEL_WIDTH = 500, 320, 240
PAD = 18  # px kept free at the ends of bubble-chart axes, so the largest bubbles are not cut off
LABEL_LIMIT = 20  # name the points on scatter plots of at most this many models

# Selections are named explicitly: Altair otherwise numbers them from a global
# counter, and the same chart would serialise differently on each call.

# Fixed colours for the families the registry knows, so that a family keeps its
# colour when other families come and go. Tableau-20 order, then extra hues.
KNOWN_FAMILY_COLOURS: dict[str, str] = {
    "alexnet": "#1f77b4",
    "vgg": "#d62728",
    "resnet": "#2ca02c",
    "inception": "#9467bd",
    "googlenet": "#ff7f0e",
    "enet": "#8c564b",
    "nin": "#e377c2",
    "mobilenet": "#17becf",
    "efficientnet": "#bcbd22",
    "densenet": "#7f7f7f",
    "squeezenet": "#aec7e8",
    "shufflenet": "#ffbb78",
    "mnasnet": "#98df8a",
    "regnet": "#ff9896",
    "resnext": "#c5b0d5",
    "wide_resnet": "#c49c94",
    "convnext": "#f7b6d2",
    "vit": "#dbdb8d",
    "swin": "#9edae5",
    "maxvit": "#393b79",
}
SPARE_COLOURS: tuple[str, ...] = (
    "#637939", "#8c6d31", "#843c39", "#7b4173", "#5254a3", "#8ca252", "#bd9e39", "#ad494a",
    "#a55194", "#6b6ecf", "#b5cf6b", "#e7ba52", "#d6616b", "#ce6dbd", "#9c9ede", "#cedb9c",
)


@dataclass(frozen=True)
class Palette:
    """Family -> colour for one site: known families fixed, others in sorted order from spare hues."""

    families: tuple[str, ...]
    colours: tuple[str, ...]
    shown: tuple[str, ...] | None = None  # families the legend lists (those on the chart)

    @classmethod
    def for_records(cls, records: Iterable[Record]) -> Palette:
        families = sorted({record.model.family for record in records})
        spare = iter(SPARE_COLOURS * (1 + len(families) // len(SPARE_COLOURS)))
        colours = [KNOWN_FAMILY_COLOURS.get(family) or next(spare) for family in families]
        return cls(tuple(families), tuple(colours))

    def restricted(self, records: Iterable[Record]) -> Palette:
        """Same colours, legend limited to the families of ``records``."""
        present = sorted({record.model.family for record in records})
        return Palette(self.families, self.colours, tuple(present))

    def colour(self, title: str = "family") -> alt.Color:
        # The whole site's domain keeps each family's colour fixed; the legend
        # lists only the families drawn.
        legend = alt.Legend(values=list(self.shown), orient="bottom", columns=4) if self.shown is not None \
            else alt.Legend(orient="bottom", columns=4)
        return alt.Color(
            "family:N", title=title, legend=legend,
            scale=alt.Scale(domain=list(self.families), range=list(self.colours)),
        )

    def of(self, family: str) -> str:
        return dict(zip(self.families, self.colours, strict=True)).get(family, "#000000")


def _label(record: Record) -> str:
    return record.model.study_name or record.model.name


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


def _base_row(record: Record, names: dict[str, str]) -> dict[str, object]:
    return {
        "model": names.get(record.model.name, record.model.name),
        "registry_name": record.model.name,
        "family": record.model.family,
        "top1": data.top1(record),
        "top5": data.top5(record),
        "params_m": data.params_millions(record),
        "gflops": data.gflops(record),
    }


def _rows(records: Iterable[Record], **fields: Callable[[Record], float | None]) -> list[dict[str, object]]:
    """One row per record holding every field; records missing any field are left out."""
    records = list(records)
    names = display_names(records)
    rows = []
    for record in records:
        row = _base_row(record, names)
        row.update({name: getter(record) for name, getter in fields.items()})
        if all(row[name] is not None for name in fields):
            rows.append(row)
    return sorted(rows, key=lambda row: str(row["registry_name"]))


def _batch_rows(records: Iterable[Record], value: Callable[[data.BatchResult], float | None]) -> list[dict[str, object]]:
    records = list(records)
    names = display_names(records)
    rows = []
    for record in records:
        for result in record.batches:
            y = value(result)
            if y is not None:
                rows.append({**_base_row(record, names), "batch_size": result.batch_size, "value": y})
    return sorted(rows, key=lambda row: (str(row["registry_name"]), int(row["batch_size"])))  # type: ignore[call-overload]


def _tooltip(*extra: alt.Tooltip) -> list[alt.Tooltip]:
    return [alt.Tooltip("model:N", title="model"), alt.Tooltip("family:N", title="family"), *extra]


def _labels(base: alt.Chart, rows: Sequence[object]) -> list[alt.Chart]:
    if len(rows) > LABEL_LIMIT:
        return []
    return [base.mark_text(align="left", dx=7, dy=-7, fontSize=10).encode(text="model:N")]


def _fit_line(fit: stats.Fit | None, xs: Sequence[float], x_field: str, y_field: str) -> list[alt.Chart]:
    """The least-squares line between the smallest and largest x, drawn as a dashed rule."""
    if fit is None or not xs:
        return []
    ends = [{x_field: x, y_field: fit.predict(x), "fit": f"least squares, R² = {fit.r2:.3f}"} for x in (min(xs), max(xs))]
    return [
        alt.Chart(alt.Data(values=ends))
        .mark_line(strokeDash=[6, 4], color="#444444")
        .encode(x=f"{x_field}:Q", y=f"{y_field}:Q", tooltip=[alt.Tooltip("fit:N", title="fit")])
    ]


def top1_bars(records: Sequence[Record], palette: Palette, top5: bool = False) -> alt.Chart:
    """Fig. 1: top-1 (or top-5) accuracy per network, best first."""
    field, title = ("top5", "Top-5 accuracy (%)") if top5 else ("top1", "Top-1 accuracy (%)")
    rows = _rows(records, **{field: data.top5 if top5 else data.top1})
    return (
        alt.Chart(alt.Data(values=rows), width=WIDTH, height=alt.Step(16))
        .mark_bar()
        .encode(
            y=alt.Y("model:N", sort=alt.EncodingSortField(field=field, order="descending"), title=None),
            x=alt.X(f"{field}:Q", title=title, scale=alt.Scale(zero=False, domain=[0, 100])),
            color=palette.colour(),
            tooltip=_tooltip(alt.Tooltip(f"{field}:Q", title=title, format=".2f")),
        )
    )


def accuracy_vs_operations(records: Sequence[Record], palette: Palette) -> alt.LayerChart:
    """Fig. 2: top-1 vs GFLOPs per image, bubble area proportional to parameters."""
    rows = _rows(records, top1=data.top1, gflops=data.gflops, params_m=data.params_millions)
    base = alt.Chart(alt.Data(values=rows), width=WIDTH, height=HEIGHT).encode(
        x=alt.X("gflops:Q", title="Operations (GFLOPs per image, = 2 × GMACs)", scale=alt.Scale(type="log", padding=PAD)),
        y=alt.Y("top1:Q", title="Top-1 accuracy (%)", scale=alt.Scale(zero=False, padding=PAD)),
    )
    points = base.mark_circle(opacity=0.6, stroke="#333333", strokeWidth=0.5).encode(
        size=alt.Size("params_m:Q", title="Parameters (millions)", scale=alt.Scale(range=[20, 2500], zero=True)),
        color=palette.colour(),
        tooltip=_tooltip(
            alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"),
            alt.Tooltip("gflops:Q", title="GFLOPs", format=".3f"),
            alt.Tooltip("params_m:Q", title="parameters (M)", format=".2f"),
        ),
    )
    return alt.layer(points.interactive(name="zoom"), *_labels(base, rows))


def _per_batch_lines(
    records: Sequence[Record], palette: Palette, value: Callable[[data.BatchResult], float | None],
    y_title: str, tooltip_format: str, log_x: bool, log_y: bool,
) -> alt.LayerChart:
    rows = _batch_rows(records, value)
    base = alt.Chart(alt.Data(values=rows), width=WIDTH, height=HEIGHT).encode(
        x=alt.X("batch_size:Q", title="Batch size (images)",
                scale=alt.Scale(type="log", base=2) if log_x else alt.Scale()),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(type="log") if log_y else alt.Scale(zero=False)),
    )
    lines = base.mark_line(point=True, strokeWidth=1.5).encode(
        color=palette.colour(),
        detail="registry_name:N",
        tooltip=_tooltip(alt.Tooltip("batch_size:Q", title="batch size"),
                         alt.Tooltip("value:Q", title=y_title, format=tooltip_format)),
    ).interactive(name="zoom")
    if len({row["registry_name"] for row in rows}) > LABEL_LIMIT:
        return alt.layer(lines)
    # Name each line at its largest measured batch size: families share a colour.
    ends = (
        base.transform_joinaggregate(last="max(batch_size)", groupby=["registry_name"])
        .transform_filter("datum.batch_size == datum.last")
        .mark_text(align="left", dx=5, fontSize=9)
        .encode(text="model:N")
    )
    return alt.layer(lines, ends)


def time_vs_batch(records: Sequence[Record], palette: Palette) -> alt.LayerChart:
    """Fig. 3: median time per image vs batch size, log-log as in the study."""
    return _per_batch_lines(records, palette, data.ms_per_image, "Time per image (ms, median)", ".4g", True, True)


def power_vs_batch(records: Sequence[Record], palette: Palette) -> alt.LayerChart:
    """Fig. 4: net power (mean minus idle) vs batch size."""
    return _per_batch_lines(records, palette, data.net_power_w, "Net power above idle (W)", ".1f", True, False)


def memory_vs_batch(records: Sequence[Record], palette: Palette) -> alt.LayerChart:
    """Fig. 5: peak memory vs batch size (see ``data.memory_bytes`` for which memory)."""
    return _per_batch_lines(
        records, palette, lambda r: None if (m := data.memory_bytes(r)) is None else m / MB,
        "Peak memory (MB)", ",.0f", True, False,
    )


def memory_vs_parameters(records: Sequence[Record], palette: Palette) -> alt.LayerChart:
    """Fig. 6: peak memory at batch 1 vs parameter size, with a least-squares line."""
    rows = _rows(
        records,
        param_mb=lambda r: None if r.parameters is None else r.parameters.parameters_bytes / MB,
        memory_mb=lambda r: None if (m := data.memory_bytes(data.ok_batch(r, 1))) is None else m / MB,
    )
    xs = [float(row["param_mb"]) for row in rows]  # type: ignore[arg-type]
    fit = stats.linear_fit(xs, [float(row["memory_mb"]) for row in rows])  # type: ignore[arg-type]
    base = alt.Chart(alt.Data(values=rows), width=WIDTH, height=HEIGHT).encode(
        x=alt.X("param_mb:Q", title="Parameters (MB in the measured precision)"),
        y=alt.Y("memory_mb:Q", title="Peak memory at batch 1 (MB)", scale=alt.Scale(zero=False)),
    )
    points = base.mark_circle(size=90, opacity=0.8).encode(
        color=palette.colour(),
        tooltip=_tooltip(alt.Tooltip("param_mb:Q", title="parameters (MB)", format=",.1f"),
                         alt.Tooltip("memory_mb:Q", title="peak memory (MB)", format=",.0f")),
    )
    return alt.layer(points.interactive(name="zoom"), *_labels(base, rows), *_fit_line(fit, xs, "param_mb", "memory_mb"))


def _two_batches(
    records: Sequence[Record], palette: Palette, panel: Callable[[Sequence[Record], Palette, int], alt.LayerChart],
) -> alt.HConcatChart:
    """Batch 1 beside the study's batch 16 (or its stand-in, see ``data.large_batch``)."""
    large = data.large_batch(records)
    sizes = (1,) if large is None else (1, large)
    return alt.hconcat(*(panel(records, palette, size) for size in sizes)).resolve_scale(color="shared")


def _operations_time_panel(records: Sequence[Record], palette: Palette, size: int) -> alt.LayerChart:
    rows = _rows(records, gflops=data.gflops, ms=lambda r: data.ms_per_image(data.ok_batch(r, size)))
    xs = [float(row["gflops"]) for row in rows]  # type: ignore[arg-type]
    fit = stats.linear_fit(xs, [float(row["ms"]) for row in rows])  # type: ignore[arg-type]
    base = alt.Chart(alt.Data(values=rows), width=PANEL_WIDTH, height=HEIGHT, title=data.batch_title(size).capitalize()).encode(
        x=alt.X("gflops:Q", title="Operations (GFLOPs per image)", scale=alt.Scale(padding=PAD)),
        y=alt.Y("ms:Q", title="Time per image (ms, median)", scale=alt.Scale(padding=PAD)),
    )
    points = base.mark_circle(opacity=0.7).encode(
        size=alt.Size("params_m:Q", title="Parameters (millions)", scale=alt.Scale(range=[20, 1500], zero=True)),
        color=palette.colour(),
        tooltip=_tooltip(alt.Tooltip("gflops:Q", title="GFLOPs", format=".3f"),
                         alt.Tooltip("ms:Q", title="ms per image", format=".4g")),
    )
    return alt.layer(points.interactive(name=f"zoom_batch_{size}"), *_labels(base, rows), *_fit_line(fit, xs, "gflops", "ms"))


def operations_vs_time(records: Sequence[Record], palette: Palette) -> alt.HConcatChart:
    """Fig. 7: operations vs time per image at batch 1 and 16 (or its stand-in), with the least-squares line."""
    return _two_batches(records, palette, _operations_time_panel)


def _operations_power_panel(records: Sequence[Record], palette: Palette, size: int) -> alt.LayerChart:
    rows = _rows(records, gflops=data.gflops, watts=lambda r: data.net_power_w(data.ok_batch(r, size)))
    base = alt.Chart(alt.Data(values=rows), width=PANEL_WIDTH, height=HEIGHT, title=data.batch_title(size).capitalize()).encode(
        x=alt.X("gflops:Q", title="Operations (GFLOPs per image)", scale=alt.Scale(padding=PAD)),
        y=alt.Y("watts:Q", title="Net power above idle (W)", scale=alt.Scale(zero=False, padding=PAD)),
    )
    points = base.mark_circle(size=90, opacity=0.8).encode(
        color=palette.colour(),
        tooltip=_tooltip(alt.Tooltip("gflops:Q", title="GFLOPs", format=".3f"),
                         alt.Tooltip("watts:Q", title="net power (W)", format=".1f")),
    )
    return alt.layer(points.interactive(name=f"zoom_batch_{size}"), *_labels(base, rows))


def operations_vs_power(records: Sequence[Record], palette: Palette) -> alt.HConcatChart:
    """Fig. 8: operations vs net power at batch 1 and 16."""
    return _two_batches(records, palette, _operations_power_panel)


def _accuracy_throughput_panel(records: Sequence[Record], palette: Palette, size: int) -> alt.LayerChart:
    rows = _rows(records, top1=data.top1, ips=lambda r: data.images_per_s(data.ok_batch(r, size)),
                 gflops=data.gflops)
    base = alt.Chart(alt.Data(values=rows), width=PANEL_WIDTH, height=HEIGHT, title=data.batch_title(size).capitalize()).encode(
        x=alt.X("ips:Q", title="Throughput (images per second)", scale=alt.Scale(type="log", padding=PAD)),
        y=alt.Y("top1:Q", title="Top-1 accuracy (%)", scale=alt.Scale(zero=False, padding=PAD)),
    )
    points = base.mark_circle(opacity=0.6, stroke="#333333", strokeWidth=0.5).encode(
        size=alt.Size("gflops:Q", title="GFLOPs per image", scale=alt.Scale(range=[20, 1500], zero=True)),
        color=palette.colour(),
        tooltip=_tooltip(alt.Tooltip("ips:Q", title="images/s", format=",.4g"),
                         alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f")),
    )
    return alt.layer(points.interactive(name=f"zoom_batch_{size}"), *_labels(base, rows))


def accuracy_vs_throughput(records: Sequence[Record], palette: Palette) -> alt.HConcatChart:
    """Fig. 9: top-1 vs images per second at batch 1 and 16, bubble area proportional to operations."""
    return _two_batches(records, palette, _accuracy_throughput_panel)


def density_bars(records: Sequence[Record], palette: Palette) -> alt.Chart:
    """Fig. 10: top-1 percentage points per million parameters."""
    rows = _rows(records, density=data.density)
    return (
        alt.Chart(alt.Data(values=rows), width=WIDTH, height=alt.Step(16))
        .mark_bar()
        .encode(
            y=alt.Y("model:N", sort=alt.EncodingSortField(field="density", order="descending"), title=None),
            x=alt.X("density:Q", title="Accuracy per parameter (top-1 % per million parameters)"),
            color=palette.colour(),
            tooltip=_tooltip(alt.Tooltip("density:Q", title="top-1 % per M params", format=".3g"),
                             alt.Tooltip("params_m:Q", title="parameters (M)", format=".2f")),
        )
    )


def _front_chart(
    records: Sequence[Record], palette: Palette, cost: Callable[[Record], float | None], cost_title: str,
    cost_format: str,
) -> alt.LayerChart:
    rows = _rows(records, top1=data.top1, cost=cost)
    names = set(stats.pareto_front([(str(r["registry_name"]), float(r["cost"]), float(r["top1"])) for r in rows]))  # type: ignore[arg-type]
    for row in rows:
        row["front"] = "on the front" if row["registry_name"] in names else "dominated"
    base = alt.Chart(alt.Data(values=rows), width=WIDTH, height=HEIGHT).encode(
        x=alt.X("cost:Q", title=cost_title, scale=alt.Scale(type="log")),
        y=alt.Y("top1:Q", title="Top-1 accuracy (%)", scale=alt.Scale(zero=False, padding=PAD)),
    )
    front = base.transform_filter(alt.datum.front == "on the front").mark_line(
        interpolate="step-after", color="#444444", strokeDash=[4, 3]
    ).encode(order="cost:Q")
    points = base.mark_point(filled=True, size=80).encode(
        color=palette.colour(),
        shape=alt.Shape("front:N", title="Pareto front", scale=alt.Scale(domain=["on the front", "dominated"],
                                                                           range=["diamond", "circle"])),
        tooltip=_tooltip(alt.Tooltip("cost:Q", title=cost_title, format=cost_format),
                         alt.Tooltip("top1:Q", title="top-1 (%)", format=".2f"), alt.Tooltip("front:N", title="front")),
    )
    return alt.layer(front, points.interactive(name="zoom"), *_labels(base, rows))


def accuracy_latency_front(records: Sequence[Record], palette: Palette) -> alt.LayerChart:
    """Top-1 vs time per image at batch 1 with the Pareto front (faster and more accurate is better)."""
    return _front_chart(records, palette, lambda r: data.ms_per_image(data.ok_batch(r, 1)),
                        "Time per image at batch 1 (ms, median)", ".4g")


def accuracy_energy_front(records: Sequence[Record], palette: Palette) -> alt.LayerChart:
    """The energy claim: top-1 vs energy per image at batch 1 with the Pareto front."""
    return _front_chart(records, palette, lambda r: data.energy_j(data.ok_batch(r, 1)),
                        "Energy per image at batch 1 (J)", ".4g")


def model_batches(records: Sequence[Record], run_labels: Sequence[str]) -> alt.HConcatChart:
    """A model page's light chart: time per image and peak memory vs batch size, one line per run."""
    rows = []
    for record, label in zip(records, run_labels, strict=True):
        for result in record.batches:
            memory = data.memory_bytes(result)
            rows.append({
                "run": label, "batch_size": result.batch_size, "ms": data.ms_per_image(result),
                "memory_mb": None if memory is None else memory / MB,
            })
    rows.sort(key=lambda row: (str(row["run"]), int(row["batch_size"])))  # type: ignore[call-overload]

    def panel(field: str, title: str, log_y: bool, fmt: str) -> alt.Chart:
        return (
            alt.Chart(alt.Data(values=rows), width=PANEL_WIDTH, height=260)
            .transform_filter(f"isValid(datum.{field})")
            .mark_line(point=True)
            .encode(
                x=alt.X("batch_size:Q", title="Batch size (images)", scale=alt.Scale(type="log", base=2)),
                y=alt.Y(f"{field}:Q", title=title, scale=alt.Scale(type="log") if log_y else alt.Scale(zero=False)),
                color=alt.Color("run:N", title="hardware, configuration",
                                legend=alt.Legend(orient="bottom", columns=1, labelLimit=400)),
                tooltip=[alt.Tooltip("run:N"), alt.Tooltip("batch_size:Q", title="batch size"),
                         alt.Tooltip(f"{field}:Q", title=title, format=fmt)],
            )
        )

    return alt.hconcat(panel("ms", "Time per image (ms, median)", True, ".4g"),
                       panel("memory_mb", "Peak memory (MB)", False, ",.0f"))


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
