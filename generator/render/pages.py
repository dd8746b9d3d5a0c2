"""The page model: plain data for every page, computed from records.

Templates only lay this out. Every number here is formatted with its unit by
``fmt`` from a record field or from a computation over records; nothing is typed
by hand.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import altair as alt

from generator.render import charts, data, findings, fmt
from generator.render.data import Run
from generator.render.load import LoadedRecord
from generator.schema import SCHEMA_VERSION, Record, model_file_stem, safe_slug

SPEED_LIMITS_IPS = (15, 30, 60)  # images/s at batch 1: Bianco et al. 2018, Table 3
MEMORY_LIMITS_GB = (0.7, 1.0, 1.4)  # GB at batch 1: Bianco et al. 2018, Table 4
BEST_UNDER_LIMIT = 3  # models listed per limit


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # relative to the page that shows it


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str | Link]]


@dataclass(frozen=True)
class ChartRef:
    id: str
    title: str
    caption: str
    spec_href: str | None  # None: nothing to draw, see ``missing``
    svg_href: str | None
    exclusions: list[str] = field(default_factory=list)
    missing: str | None = None


@dataclass(frozen=True)
class ChartJob:
    """A chart to serialise: spec always, SVG when the page shows a static image."""

    spec_path: str
    svg_path: str | None
    chart: alt.TopLevelMixin


@dataclass(frozen=True)
class Page:
    path: str  # relative to the site root, e.g. 'models/resnet50.md'
    template: str
    model: Any


@dataclass
class SiteModel:
    pages: list[Page] = field(default_factory=list)
    charts: list[ChartJob] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # data downloads: path -> content


def rel(page: str, target: str) -> str:
    """Link from one site path to another, relative, as MkDocs and GitHub both resolve it."""
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


def label(record: Record) -> str:
    return record.model.study_name or record.model.name


def model_path(record: Record) -> str:
    return f"models/{model_file_stem(record.model.name)}.md"


def figures_path(run: Run, scope: str) -> str:
    return f"figures/{run.hardware_slug}/{run.config_slug}/{scope}.md"


def hardware_path(slug: str) -> str:
    return f"hardware/{safe_slug(slug)}.md"


def scopes(run: Run) -> list[str]:
    """'study' when any of the study's networks were measured; 'all' when more models were."""
    study = run.study_records()
    found = ["study"] if study else []
    if len(run.records) > len(study):
        found.append("all")
    return found


def scope_records(run: Run, scope: str) -> list[Record]:
    return run.study_records() if scope == "study" else run.records


# --- Home -----------------------------------------------------------------


@dataclass(frozen=True)
class FigureImage:
    """A static figure shown beside a finding, linking to its interactive version."""

    title: str
    svg: str
    target: str


@dataclass(frozen=True)
class FindingView:
    title: str
    claim: str
    verdict: str
    sentences: list[str]
    criterion: str
    figures: list[Link]
    images: list[FigureImage] = field(default_factory=list)


@dataclass(frozen=True)
class RunFindings:
    label: str
    figures: Link
    hardware: Link
    findings: list[FindingView]


@dataclass(frozen=True)
class HomePage:
    title: str
    summary: str
    runs: list[RunFindings]
    density: FindingView | None
    failed: list[str]
    empty: bool
    short_title: str = "Home"  # browser tab and navigation; the heading shows ``title``


FIGURE_NAMES = {
    "fig1": "Fig. 1", "fig1-top5": "top-5", "fig2": "Fig. 2", "fig3": "Fig. 3", "fig4": "Fig. 4", "fig5": "Fig. 5",
    "fig6": "Fig. 6", "fig7": "Fig. 7", "fig8": "Fig. 8", "fig9": "Fig. 9", "fig10": "Fig. 10",
    "pareto": "accuracy vs time front", "energy": "accuracy vs energy front",
}


def _finding_view(finding: findings.Finding, page: str, figures_page: str | None,
                  drawn: frozenset[str] = frozenset()) -> FindingView:
    links = [Link(FIGURE_NAMES.get(figure_id, figure_id), rel(page, f"{figures_page}") + f"#{figure_id}")
             for figure_id in finding.figures] if figures_page else []
    images = []
    if figures_page and finding.verdict != "cannot be tested":
        folder, scope = posixpath.split(figures_page)
        for figure_id in finding.figures[:1]:  # the figure that shows the claim best comes first
            svg = f"{folder}/charts/{scope.removesuffix('.md')}-{figure_id}.svg"
            if svg in drawn:
                images.append(FigureImage(FIGURE_NAMES.get(figure_id, figure_id), rel(page, svg),
                                          rel(page, figures_page) + f"#{figure_id}"))
    return FindingView(finding.title, finding.claim, finding.verdict, finding.sentences, finding.criterion, links,
                       images)


def home_page(items: Sequence[LoadedRecord], runs: Sequence[Run], drawn: frozenset[str] = frozenset()) -> HomePage:
    """``drawn``: SVG paths the figures pages produced, so the home page shows only figures that exist."""
    page = "index.md"
    records = [item.record for item in items]
    models = sorted({record.model.name for record in records})
    run_views = []
    for run in runs:
        first_scope = scopes(run)[0]
        figures_page = figures_path(run, first_scope)
        run_views.append(RunFindings(
            label=run.label,
            figures=Link(f"figures ({'the study' if first_scope == 'study' else 'all models'})", rel(page, figures_page)),
            hardware=Link("hardware and software", rel(page, hardware_path(run.hardware_slug))),
            findings=[_finding_view(f, page, figures_page, drawn) for f in findings.run_findings(run)],
        ))
    density = None
    if records:
        first = runs[0]
        density = _finding_view(findings.information_density(records), page, figures_path(first, scopes(first)[0]),
                                drawn)
    failed = [
        f"{record.model.name} on {record.hardware.name} ({record.config.slug}): {record.error or 'no message recorded'}"
        for record in records if record.status != "ok"
    ]
    summary = (
        f"{len(records)} records: {len(models)} models measured on {len({r.hardware_slug for r in runs})} "
        f"hardware in {len(runs)} hardware × configuration runs."
    )
    return HomePage("Deep network models for practical applications, re-measured", summary, run_views, density,
                    failed, not records)


# --- Figures ---------------------------------------------------------------


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
         data.ok_batch(r, 1) is not None or data.ok_batch(r, 16) is not None), (1, 16)),
    ("fig8", "Fig. 8: operations vs net power at batch 1 and 16",
     "GFLOPs per image against net power above idle.",
     charts.operations_vs_power, lambda r: data.gflops(r) is not None and (
         data.net_power_w(data.ok_batch(r, 1)) is not None or data.net_power_w(data.ok_batch(r, 16)) is not None), (1, 16)),
    ("fig9", "Fig. 9: top-1 vs images per second at batch 1 and 16, bubble area ∝ operations",
     "Throughput = batch size / median time per batch. Log x axis.",
     charts.accuracy_vs_throughput, lambda r: data.top1(r) is not None and data.images_per_s(
         data.ok_batch(r, 1)) is not None, (1, 16)),
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


def _limit_tables(records: Sequence[Record], page: str) -> list[LimitTable]:
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
            ["model", "top-1", "images/s at batch 1"],
            [[Link(label(r), rel(page, model_path(r))), fmt.percent(acc, 2), fmt.sig(ips)]
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
        charts=refs, limits=_limit_tables(records, page),
    )


@dataclass(frozen=True)
class IndexPage:
    title: str
    intro: str
    table: Table | None
    links: list[Link] = field(default_factory=list)


def figures_index(runs: Sequence[Run]) -> IndexPage:
    page = "figures/index.md"
    rows: list[list[str | Link]] = []
    for run in runs:
        links = [Link("the study's networks" if s == "study" else "all models", rel(page, figures_path(run, s)))
                 for s in scopes(run)]
        rows.append([run.hardware.name, run.config_slug, str(len(run.records)), *links, *([""] * (2 - len(links)))])
    return IndexPage(
        "Figures", "The study's ten figures, redrawn for every hardware and configuration measured.",
        Table(["hardware", "configuration", "records", "figures", ""], rows) if rows else None,
    )


# --- Models ----------------------------------------------------------------


@dataclass(frozen=True)
class RunResults:
    label: str
    hardware: Link
    record: Link
    memory_kind: str
    table: Table
    ranks: list[str]
    failures: list[str]


@dataclass(frozen=True)
class ModelPage:
    title: str
    about: Table
    accuracy: Table
    accuracy_note: str
    size: Table
    operations: Table | None
    by_operator: Table | None
    by_module: Table | None
    uncounted: str | None
    operations_note: str
    runs: list[RunResults]
    chart: ChartRef | None


def _breakdown(values: dict[str, float], total: float) -> Table:
    rows: list[list[str | Link]] = [
        [name, fmt.sig(value, 4), "n/a" if not total else f"{value / total * 100:.1f} %"]
        for name, value in sorted(values.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Table(["part", "GMACs per image", "share of all GMACs"], rows)


def _batch_table(record: Record) -> Table:
    rows: list[list[str | Link]] = []
    for result in sorted(record.batches, key=lambda b: b.batch_size):
        if result.status != "ok":
            rows.append([str(result.batch_size), f"{result.status}: {result.error or 'no message'}",
                         *(["—"] * 6)])
            continue
        latency = result.latency
        power = result.power
        if power is None:
            watts = energy = "not measured"
        elif not power.available:
            watts = energy = "not measurable"
        else:
            watts = fmt.with_unit(power.net_w, "W")
            energy = fmt.with_unit(power.energy_j_per_image, "J")
        rows.append([
            str(result.batch_size), "ok",
            "not measured" if latency is None else
            f"{fmt.sig(latency.median_ms_per_batch, 4)} ({fmt.sig(latency.p10_ms_per_batch, 4)}–"
            f"{fmt.sig(latency.p90_ms_per_batch, 4)})",
            fmt.sig(data.ms_per_image(result), 4), fmt.sig(data.images_per_s(result), 4),
            fmt.megabytes(data.memory_bytes(result)), watts, energy,
        ])
    return Table(["batch", "status", "ms per batch: median (p10–p90)", "ms per image", "images/s",
                  "peak memory", "net power", "energy per image"], rows)


def _rank(value: float | None, values: Sequence[float], higher_is_better: bool) -> str:
    if value is None:
        return "not ranked (not measured)"
    better = sum(1 for v in values if (v > value if higher_is_better else v < value))
    return f"{better + 1} of {len(values)}"


def model_page(records_by_run: Sequence[tuple[Run, LoadedRecord]], all_records: Sequence[Record],
               site: SiteModel) -> ModelPage:
    records = [item.record for _, item in records_by_run]
    first = records[0]
    page = model_path(first)
    info = first.model
    # Counting and accuracy do not depend on the hardware: take them from the
    # first record that has them (a failed run's record may lack them).
    counted = next((r for r in records if r.operations is not None), first)
    sized = next((r for r in records if r.parameters is not None), first)
    evaluated = next((r for r in records if r.accuracy.measured is not None), first)
    about = Table(["", ""], [
        ["registry name", info.name], ["family", info.family], ["source library", info.source],
        ["builder", info.builder], ["weights whose metadata applies", info.weights or "none named"],
        ["input resolution", f"{info.input_size_px} px"], ["architecture source", info.architecture_source],
        ["in the study as", info.study_name or "not one of the study's 14 networks"],
    ])
    published = first.accuracy.published
    measured = evaluated.accuracy.measured
    accuracy_rows: list[list[str | Link]] = [[
        "published",
        fmt.percent(published.top1_percent if published else None, 2),
        fmt.percent(published.top5_percent if published else None, 2),
        f"{published.source}; {published.dataset}" if published else "no published figure recorded",
    ]]
    if measured is not None:
        difference = ""
        if published is not None and published.top1_percent is not None:
            difference = f"; top-1 {fmt.signed(measured.top1_percent - published.top1_percent)} points vs published"
        accuracy_rows.append([
            "measured", fmt.percent(measured.top1_percent, 2), fmt.percent(measured.top5_percent, 2),
            f"{measured.images:,} images of {measured.dataset_dir}, weights {measured.weights_file}, "
            f"{measured.date}{difference}",
        ])
    params = sized.parameters
    size = Table(["", ""], [
        ["parameters", fmt.count(params.count if params else None)],
        ["parameter bytes (measured precision)", fmt.megabytes(params.parameters_bytes if params else None)],
        ["buffer bytes", fmt.megabytes(params.buffers_bytes if params else None)],
        ["published checkpoint", fmt.megabytes(params.checkpoint_bytes if params else None, "not known")],
        ["accuracy per parameter", fmt.with_unit(data.density(sized), "top-1 % per million parameters")],
    ])
    ops = counted.operations
    operations = by_operator = by_module = None
    uncounted = None
    if ops is not None:
        operations = Table(["convention", "value per image at batch 1"], [
            ["GMACs, all operators fvcore counts (10^9 multiply-accumulates)", fmt.sig(ops.gmacs, 4)],
            ["GFLOPs = 2 × GMACs", fmt.sig(ops.gflops, 4)],
            ["GMACs of convolution, linear and matmul only (torchvision's _ops)",
             fmt.sig(ops.gmacs_conv_linear_matmul, 4)],
            ["GFLOPs by torch.utils.flop_counter (cross-check, 2 × conv/linear/matmul MACs)",
             fmt.sig(ops.flop_counter_gflops, 4)],
            ["activations (10^6 elements, fvcore)", fmt.sig(ops.activations_millions, 4)],
        ])
        by_operator = _breakdown(ops.by_operator_gmacs, ops.gmacs)
        by_module = _breakdown(ops.by_module_gmacs, ops.gmacs)
        if ops.uncounted_operators:
            uncounted = ", ".join(f"{name} × {n}" for name, n in sorted(ops.uncounted_operators.items()))
    run_views = []
    chart_records, chart_labels = [], []
    for run, item in records_by_run:
        record = item.record
        b1 = [data.ms_per_image(data.ok_batch(r, 1)) for r in run.records]
        # Accuracy and density belong to the model, not the run: rank among distinct models.
        distinct = {r.model.name: r for r in all_records}
        tops = [v for r in distinct.values() if (v := data.top1(r)) is not None]
        densities = [v for r in distinct.values() if (v := data.density(r)) is not None]
        ranks = [
            f"time per image at batch 1: {_rank(data.ms_per_image(data.ok_batch(record, 1)), [v for v in b1 if v is not None], False)} "
            "on this hardware (1 = fastest)",
            f"top-1: {_rank(data.top1(record), tops, True)} models with a top-1 (1 = most accurate)",
            f"accuracy per parameter: {_rank(data.density(record), densities, True)} models (1 = most accurate per parameter)",
        ]
        run_views.append(RunResults(
            label=run.label,
            hardware=Link(run.hardware.name, rel(page, hardware_path(run.hardware_slug))),
            record=Link(f"record ({str(item.site_path).split('/')[-1]})", rel(page, str(item.site_path))),
            memory_kind=data.memory_kind(record),
            table=_batch_table(record),
            ranks=ranks,
            failures=[f"{'model' if s is None else f'batch {s}'}: {status} ({message})"
                      for s, status, message in data.failures(record)],
        ))
        if record.batches:
            chart_records.append(record)
            chart_labels.append(run.label)
    chart = None
    if chart_records:
        spec_path = f"models/charts/{model_file_stem(info.name)}.vl.json"
        site.charts.append(ChartJob(spec_path, None, charts.model_batches(chart_records, chart_labels)))
        chart = ChartRef("batches", "Time per image and peak memory vs batch size",
                         "One line per hardware and configuration; failed batch sizes are left out (see the tables).",
                         rel(page, spec_path), None)
    return ModelPage(
        title=label(first) + (f" ({info.name})" if info.study_name else ""),
        about=about,
        accuracy=Table(["", "top-1", "top-5", "source"], accuracy_rows),
        accuracy_note="Timing uses random weights: accuracy belongs to the weights named above, not to the timed model.",
        size=size, operations=operations, by_operator=by_operator, by_module=by_module, uncounted=uncounted,
        operations_note=f"Counted by {ops.counter}." if ops else "Operations not counted: " + (first.error or "no count in the record") + ".",
        runs=run_views, chart=chart,
    )


def models_index(items: Sequence[LoadedRecord]) -> IndexPage:
    page = "models/index.md"
    first_by_model: dict[str, Record] = {}
    runs_by_model: dict[str, int] = {}
    for item in items:
        first_by_model.setdefault(item.record.model.name, item.record)
        runs_by_model[item.record.model.name] = runs_by_model.get(item.record.model.name, 0) + 1
    rows: list[list[str | Link]] = []
    for name in sorted(first_by_model):
        record = first_by_model[name]
        rows.append([Link(name, rel(page, model_path(record))), record.model.family,
                     record.model.study_name or "—", fmt.percent(data.top1(record), 2),
                     fmt.sig(data.params_millions(record)), fmt.sig(data.gflops(record)),
                     str(runs_by_model[name])])
    return IndexPage("Models", "Every model with a record. Top-1: published (measured where none is published); "
                     "GFLOPs = 2 × GMACs per image at batch 1.",
                     Table(["model", "family", "in the study as", "top-1", "parameters (M)", "GFLOPs",
                            "hardware runs"], rows) if rows else None)


# --- Hardware --------------------------------------------------------------


@dataclass(frozen=True)
class RunSection:
    label: str
    figures: list[Link]
    fingerprint: Table
    results: Table
    varies: list[str]


@dataclass(frozen=True)
class HardwarePage:
    title: str
    sections: list[RunSection]


def _fingerprint(run: Run) -> tuple[Table, list[str]]:
    hw, sw, config = run.hardware, run.software, run.config
    gpu = hw.gpu
    rows: list[list[str | Link]] = [
        ["hardware name", hw.name], ["hardware slug", hw.slug],
        ["CPU", hw.cpu_model or "not recorded"], ["CPU logical cores", fmt.count(hw.cpu_logical_cores, "not recorded")],
        ["RAM", fmt.megabytes(hw.ram_bytes, "not recorded")],
    ]
    if gpu is not None:
        rows += [
            ["GPU", gpu.name], ["GPU memory", fmt.megabytes(gpu.memory_bytes, "not recorded")],
            ["driver", gpu.driver_version or "not recorded"],
            ["compute capability", gpu.compute_capability or "not recorded"],
            ["power limit", fmt.with_unit(gpu.power_limit_w, "W", missing="not recorded")],
            ["energy counter", "not recorded" if gpu.energy_counter_available is None
             else ("available" if gpu.energy_counter_available else "not available")],
        ]
    rows += [
        ["device", config.device], ["precision", config.precision],
        ["channels last", "yes" if config.channels_last else "no"], ["torch.compile", "yes" if config.compile else "no"],
        ["threads", str(config.threads)], ["TF32", "allowed" if config.tf32 else "off"],
        ["cuDNN benchmark", "on" if config.cudnn_benchmark else "off"],
        ["Python", sw.python], ["torch", sw.torch or "not installed"], ["torchvision", sw.torchvision or "not installed"],
        ["fvcore", sw.fvcore or "not installed"], ["timm", sw.timm or "not installed"],
        ["CUDA", sw.cuda or "none"], ["cuDNN", sw.cudnn or "none"], ["platform", sw.platform],
    ]
    varies = []
    for name, getter in (("software", lambda r: r.software), ("hardware", lambda r: r.hardware),
                         ("configuration", lambda r: r.config)):
        if len({getter(r).model_dump_json() for r in run.records}) > 1:
            varies.append(f"The {name} fields differ between records of this run; shown: those of "
                          f"{run.records[0].model.name}. See each record for its own.")
    return Table(["field", "value"], rows), varies


def _results_table(run: Run, page: str) -> Table:
    largest = max(run.batch_sizes) if run.batch_sizes else None
    rows: list[list[str | Link]] = []
    for record in run.records:
        b1 = data.ok_batch(record, 1)
        best_ips = max((v for b in record.batches if (v := data.images_per_s(b)) is not None), default=None)
        failed = data.failures(record)
        rows.append([
            Link(label(record), rel(page, model_path(record))), fmt.percent(data.top1(record), 2),
            fmt.sig(data.ms_per_image(b1), 4), fmt.sig(best_ips, 4), fmt.megabytes(data.memory_bytes(b1)),
            fmt.with_unit(data.net_power_w(b1), "W", missing="not measured"),
            "; ".join(f"{'model' if s is None else f'batch {s}'}: {status}" for s, status, _ in failed) or "none",
        ])
    return Table(["model", "top-1", "ms per image at batch 1", "best images/s (any batch)",
                  "peak memory at batch 1", "net power at batch 1",
                  f"failures (batch sizes up to {largest})"], rows)


def hardware_page(slug: str, runs: Sequence[Run]) -> HardwarePage:
    page = hardware_path(slug)
    sections = []
    for run in runs:
        fingerprint, varies = _fingerprint(run)
        sections.append(RunSection(
            label=f"configuration {run.config_slug}",
            figures=[Link("the study's networks" if s == "study" else "all models", rel(page, figures_path(run, s)))
                     for s in scopes(run)],
            fingerprint=fingerprint, results=_results_table(run, page), varies=varies,
        ))
    return HardwarePage(f"Hardware: {runs[0].hardware.name}", sections)


def hardware_index(runs: Sequence[Run]) -> IndexPage:
    page = "hardware/index.md"
    rows: list[list[str | Link]] = [
        [Link(run.hardware.name, rel(page, hardware_path(run.hardware_slug))), run.config_slug,
         run.config.device, str(len(run.records))] for run in runs
    ]
    links = [Link("speed-up between them", rel(page, "hardware/compare.md"))] if len(runs) > 1 else []
    return IndexPage("Hardware", "Every machine and configuration measured.",
                     Table(["hardware", "configuration", "device", "records"], rows) if rows else None, links)


@dataclass(frozen=True)
class ComparisonPage:
    title: str
    reference: str
    table: Table


def comparison_page(runs: Sequence[Run]) -> ComparisonPage:
    page = "hardware/compare.md"
    reference = runs[0]
    times: dict[tuple[str, str], dict[str, float]] = {
        run.key: {r.model.name: t for r in run.records if (t := data.ms_per_image(data.ok_batch(r, 1))) is not None}
        for run in runs
    }
    records = {r.model.name: r for run in runs for r in run.records}
    rows: list[list[str | Link]] = []
    for name in sorted(records):
        ref = times[reference.key].get(name)
        row: list[str | Link] = [Link(label(records[name]), rel(page, model_path(records[name])))]
        for run in runs:
            t = times[run.key].get(name)
            row.append(fmt.sig(t, 4))
            if run is not reference:
                row.append("not comparable" if t is None or ref is None else f"{fmt.sig(ref / t)}×")
        rows.append(row)
    headers = ["model"]
    for run in runs:
        headers.append(f"ms per image at batch 1: {run.label}")
        if run is not reference:
            headers.append(f"speed-up vs {reference.label}")
    return ComparisonPage("Hardware comparison", reference.label, Table(headers, rows))


# --- Methodology and data --------------------------------------------------


@dataclass(frozen=True)
class MethodologyPage:
    title: str
    schema_version: int
    counters: list[str]
    clocks: list[str]
    memory_kinds: list[str]
    power_counters: list[str]
    vega_versions: str
    ops_example: str | None  # one record's counts in each convention, to make the conventions concrete


def methodology_page(records: Sequence[Record], vega_versions: str) -> MethodologyPage:
    counters = sorted({r.operations.counter for r in records if r.operations is not None})
    clocks = sorted({b.latency.clock for r in records for b in r.batches if b.latency is not None})
    kinds = sorted({data.memory_kind(r) for r in records})
    power = sorted({b.power.counter for r in records for b in r.batches if b.power is not None and b.power.counter})
    counted = sorted((r for r in records if r.operations is not None),
                     key=lambda r: (r.model.name != "resnet50", r.model.name))
    example = None
    if counted:
        ops = counted[0].operations
        assert ops is not None
        example = (
            f"For example, {counted[0].model.name} in these records: {fmt.sig(ops.gmacs, 4)} GMACs (fvcore, all "
            f"operators), {fmt.sig(ops.gflops, 4)} GFLOPs, {fmt.sig(ops.gmacs_conv_linear_matmul, 4)} GMACs of "
            f"convolution, linear and matmul only, {fmt.sig(ops.flop_counter_gflops, 4)} GFLOPs by "
            "torch.utils.flop_counter."
        )
    return MethodologyPage("Methodology", SCHEMA_VERSION, counters or ["none recorded"], clocks or ["none recorded"],
                           kinds or ["none recorded"], power or ["none: power not measured"], vega_versions, example)


@dataclass(frozen=True)
class DataPage:
    title: str
    csv: Link
    json: Link
    columns: list[str]
    records: Table | None


def data_page(items: Sequence[LoadedRecord], columns: Sequence[str]) -> DataPage:
    page = "data.md"
    rows: list[list[str | Link]] = [
        [item.record.hardware.name, item.record.config.slug, item.record.model.name, item.record.status,
         Link(str(item.site_path).split("/")[-1], rel(page, str(item.site_path)))]
        for item in items
    ]
    return DataPage("Data", Link("records.csv", "data/records.csv"), Link("records.json", "data/records.json"),
                    list(columns),
                    Table(["hardware", "configuration", "model", "status", "record"], rows) if rows else None)

