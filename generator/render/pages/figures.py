"""The figures pages: the study's figures per hardware and configuration, and the limit tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import altair as alt

from generator.render import charts, data, fmt
from generator.render.data import Run
from generator.schema import Record
from generator.render.pages.common import (
    Link, Table, ChartRef, ChartJob, SiteModel, IndexPage, rel, label, model_path, figures_path, hardware_path, scopes, scope_records,
)



SPEED_LIMITS_IPS = (15, 30, 60)  # images/s at batch 1, the limits of Bianco et al. 2018
MEMORY_LIMITS_GB = (0.7, 1.0, 1.4)  # GB at batch 1, the limits of Bianco et al. 2018
BEST_UNDER_LIMIT = 3  # models listed per limit


@dataclass(frozen=True)
class LimitTable:
    title: str
    table: Table | None
    missing: str | None


@dataclass(frozen=True)
class FiguresPage:
    title: str
    run_label: str
    scope_text: str
    other_scope: Link | None
    hardware: Link
    charts: list[ChartRef]
    limits: list[LimitTable]


FigureFn = Callable[[Sequence[Record], charts.Palette], alt.TopLevelMixin]

ALL_BATCHES: tuple[int, ...] = ()  # marker: the figure draws every batch size
NO_BATCHES: tuple[int, ...] = (0,)  # marker: the figure draws no per-batch value
STUDY_PAIR: tuple[int, ...] = (1, 16)  # marker: batch 1 and 16, or 16's stand-in (data.large_batch)
# id, title, caption, chart function, what must be present for the chart to draw,
# batch sizes it draws (for the note on what it leaves out)
FIGURES: tuple[tuple[str, str, str, FigureFn, Callable[[Record], bool], tuple[int, ...]], ...] = (
    ("fig1", "Fig. 1: top-1 accuracy per network",
     "ImageNet-1K validation, single centre crop; the published figure for the weights named in each record "
     "(measured where none is published). Models are built with random weights for timing.",
     charts.top1_bars, lambda r: data.top1(r) is not None, NO_BATCHES),
    ("fig1-top5", "Top-5 accuracy per network (where known)",
     "As Fig. 1, for top-5; models without a published top-5 are left out.",
     lambda rs, p: charts.top1_bars(rs, p, top5=True), lambda r: data.top5(r) is not None, NO_BATCHES),
    ("fig2", "Fig. 2: top-1 vs operations, bubble area ∝ parameters",
     "Operations are GFLOPs per image at batch 1 = 2 × GMACs counted by fvcore (the study's G-Ops also count "
     "ReLU and pooling). Log x axis. Drag to pan, scroll to zoom.",
     charts.accuracy_vs_operations, lambda r: data.top1(r) is not None and data.gflops(r) is not None, NO_BATCHES),
    ("fig3", "Fig. 3: time per image vs batch size (log-log)",
     "Median of the timed iterations of one forward pass of a whole batch, divided by the batch size.",
     charts.time_vs_batch, lambda r: any(data.ms_per_image(b) is not None for b in r.batches), ALL_BATCHES),
    ("fig4", "Fig. 4: net power vs batch size",
     "Mean power while running minus the idle power recorded with it, in watts.",
     charts.power_vs_batch, lambda r: any(data.net_power_w(b) is not None for b in r.batches), ALL_BATCHES),
    ("fig5", "Fig. 5: peak memory vs batch size",
     "Peak memory while running each batch size, in MB (10^6 bytes); GPU: device memory in use (NVML) "
     "including the CUDA context; CPU: peak resident set size of the process.",
     charts.memory_vs_batch, lambda r: any(data.memory_bytes(b) is not None for b in r.batches), ALL_BATCHES),
    ("fig6", "Fig. 6: peak memory at batch 1 vs parameter size",
     "Parameter bytes in the measured precision against peak memory at batch 1; dashed: least-squares line.",
     charts.memory_vs_parameters, lambda r: data.memory_bytes(data.ok_batch(r, 1)) is not None, (1,)),
    ("fig7", "Fig. 7: operations vs time per image at batch 1 and 16",
     "GFLOPs per image against median time per image; bubble area ∝ parameters; dashed: least-squares line.",
     charts.operations_vs_time, lambda r: data.gflops(r) is not None and (
         data.ok_batch(r, 1) is not None or any(b.status == "ok" for b in r.batches)), STUDY_PAIR),
    ("fig8", "Fig. 8: operations vs net power at batch 1 and 16",
     "GFLOPs per image against net power above idle.",
     charts.operations_vs_power, lambda r: data.gflops(r) is not None and (
         any(data.net_power_w(b) is not None for b in r.batches)), STUDY_PAIR),
    ("fig9", "Fig. 9: top-1 vs images per second at batch 1 and 16, bubble area ∝ operations",
     "Throughput = batch size / median time per batch. Log x axis.",
     charts.accuracy_vs_throughput, lambda r: data.top1(r) is not None and data.images_per_s(
         data.ok_batch(r, 1)) is not None, STUDY_PAIR),
    ("fig10", "Fig. 10: accuracy per parameter (information density)",
     "Top-1 percentage points per million parameters.",
     charts.density_bars, lambda r: data.density(r) is not None, NO_BATCHES),
    ("pareto", "Top-1 vs time per image at batch 1, with the Pareto front",
     "Diamonds: no other model is both faster and more accurate. Log x axis.",
     charts.accuracy_latency_front, lambda r: data.top1(r) is not None and data.ok_batch(r, 1) is not None, (1,)),
    ("energy", "Top-1 vs energy per image at batch 1, with the Pareto front",
     "Energy per image from the energy counter (or integrated power samples) over the timed window.",
     charts.accuracy_energy_front, lambda r: data.top1(r) is not None and data.energy_j(
         data.ok_batch(r, 1)) is not None, (1,)),
)
POWER_FIGURES = {"fig4", "fig8", "energy"}


def _missing_reason(run: Run, figure_id: str) -> str:
    if figure_id in POWER_FIGURES:
        reasons = data.power_unavailable_reasons(run.records)
        if reasons:
            return "Power not measurable on this hardware: " + "; ".join(reasons) + "."
        return "Power not measured in any record of this run."
    return "Not measured: no model in this set has the values this figure needs."


def _timing_cells(record: Record) -> list[str | Link]:
    """Interval, iterations, rounds and stop reason of a record's batch-1 throughput."""
    result = data.ok_batch(record, 1)
    point = data.timing_point(record, result)
    if point is None:
        return ["no interval", "not measured"]
    plural = "s" if point.rounds != 1 else ""
    how = f"{point.timed_iterations:,} in {point.rounds} round{plural}, {point.stop_reason.replace('_', ' ')}"
    return [fmt.interval(point.images_per_s_low, point.images_per_s_high), how]


def limit_tables(records: Sequence[Record], page: str) -> list[LimitTable]:
    tables = []
    speed_rows = [(r, data.images_per_s(data.ok_batch(r, 1)), data.top1(r)) for r in records]
    for limit in SPEED_LIMITS_IPS:
        title = f"Best top-1 at ≥ {limit} images/s at batch 1"
        fits = sorted(((r, ips, acc) for r, ips, acc in speed_rows if ips is not None and acc is not None
                       and ips >= limit), key=lambda row: (-row[2], row[0].model.name))  # type: ignore[operator]
        if not fits:
            tables.append(LimitTable(title, None, f"No model with a known top-1 reaches {limit} images/s at batch 1."))
            continue
        tables.append(LimitTable(title, Table(
            ["model", "top-1", "images/s at batch 1", "95 % interval", "timed iterations, rounds, stopped on"],
            [[Link(label(r), rel(page, model_path(r))), fmt.percent(acc, 2), fmt.sig(ips), *_timing_cells(r)]
             for r, ips, acc in fits[:BEST_UNDER_LIMIT]],
        ), None))
    memory_rows = [(r, data.memory_bytes(data.ok_batch(r, 1)), data.top1(r)) for r in records]
    for limit in MEMORY_LIMITS_GB:
        title = f"Best top-1 within {limit} GB peak memory at batch 1"
        fits = sorted(((r, m, acc) for r, m, acc in memory_rows if m is not None and acc is not None
                       and m <= limit * 1e9), key=lambda row: (-row[2], row[0].model.name))  # type: ignore[operator]
        if not fits:
            tables.append(LimitTable(title, None, f"No model with a known top-1 stays within {limit} GB at batch 1."))
            continue
        tables.append(LimitTable(title, Table(
            ["model", "top-1", "peak memory at batch 1"],
            [[Link(label(r), rel(page, model_path(r))), fmt.percent(acc, 2), fmt.megabytes(m)]
             for r, m, acc in fits[:BEST_UNDER_LIMIT]],
        ), None))
    return tables


def figures_page(run: Run, scope: str, palette: charts.Palette, site: SiteModel) -> FiguresPage:
    page = figures_path(run, scope)
    records = scope_records(run, scope)
    chart_dir = f"figures/{run.hardware_slug}/{run.config_slug}/charts"
    refs = []
    for figure_id, title, caption, function, needs, sizes in FIGURES:
        if not any(needs(record) for record in records):
            refs.append(ChartRef(figure_id, title, caption, None, None, missing=_missing_reason(run, figure_id)))
            continue
        spec_path = f"{chart_dir}/{scope}-{figure_id}.vl.json"
        svg_path = f"{chart_dir}/{scope}-{figure_id}.svg"
        drawn = [r for r in records if needs(r)]
        site.charts.append(ChartJob(spec_path, svg_path, function(records, palette.restricted(drawn))))
        # Models that failed outright are already in the exclusions; list the rest once.
        missing_models = [label(r) for r in records if not needs(r) and r.status == "ok"]
        if sizes == STUDY_PAIR:
            large = data.large_batch(records)
            sizes = (1,) if large is None else (1, large)
            if large is not None and large != data.STUDY_LARGE_BATCH:
                caption += (f" The study's batch 16 was not measured on this hardware: the second panel shows "
                            f"batch {large}, the largest measured below it.")
        notes = charts.exclusions(records, None if sizes == ALL_BATCHES else sizes)
        if missing_models:
            notes.append("not measured or not known, left out: " + ", ".join(sorted(missing_models)))
        refs.append(ChartRef(figure_id, title, caption, rel(page, spec_path), rel(page, svg_path), notes))
    others = [s for s in scopes(run) if s != scope]
    study_count = len(run.study_records())
    scope_text = (
        f"The study's networks measured on this hardware ({study_count} of its 14)."
        if scope == "study" else f"All {len(records)} models measured on this hardware."
    )
    other = Link("all models" if others[0] == "all" else "the study's networks only",
                 rel(page, figures_path(run, others[0]))) if others else None
    return FiguresPage(
        title=f"Figures: {run.label}" + (" (the study's networks)" if scope == "study" else " (all models)"),
        run_label=run.label, scope_text=scope_text, other_scope=other,
        hardware=Link(run.hardware.name, rel(page, hardware_path(run.hardware_slug))),
        charts=refs, limits=limit_tables(records, page),
    )




def figures_index(runs: Sequence[Run]) -> IndexPage:
    page = "figures/index.md"
    rows: list[list[str | Link]] = []
    for run in runs:
        # One row per scope: a second link column would have no header of its own.
        for s in scopes(run):
            rows.append([run.hardware.name, run.config_slug, str(len(scope_records(run, s))),
                         Link("the study's networks" if s == "study" else "all models", rel(page, figures_path(run, s)))])
    return IndexPage(
        "Figures", "The study's ten figures, redrawn for every hardware and configuration measured.",
        Table(["hardware", "configuration", "records", "figures"], rows) if rows else None,
    )
