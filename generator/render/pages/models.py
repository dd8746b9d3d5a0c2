"""The model pages and the models index."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.render import charts, data, fmt
from generator.render.data import Run
from generator.render.load import LoadedRecord, model_stem
from generator.render.pages.alternatives import Alternative, Pool, alternatives, candidates, measured_when
from generator.render.pages.common import (
    ChartJob,
    ChartRef,
    Link,
    SiteModel,
    Table,
    hardware_path,
    label,
    model_path,
    rel,
)
from generator.schema import BatchResult, Record, safe_slug


@dataclass(frozen=True)
class RunResults:
    label: str
    hardware: Link
    record: Link
    memory_kind: str
    table: Table
    interval_note: str
    ranks: list[str]
    failures: list[str]
    measured: str = ""  # date and commit of the run
    instead: list[Alternative] = field(default_factory=list)  # what to use instead, on this hardware


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
    highlights: list[ChartRef] = field(default_factory=list)  # this model among all others (small Fig. 2 and 9)
    # False for a zoo's pages: neither in the sidebar nor in the search index (the models index,
    # which names every model, is what the search finds); site.NAV_MODELS_LIMIT
    listed: bool = True


@dataclass(frozen=True)
class ModelHighlights:
    """The small figures' shared parts (points, axes, grey layer), built once for every model page."""

    palette: charts.Palette
    operations: charts.HighlightBase | None  # small Fig. 2: every distinct model
    throughput: dict[tuple[str, str], charts.HighlightBase | None]  # small Fig. 9 at batch 1, by run

    @classmethod
    def build(cls, runs: Sequence[Run], palette: charts.Palette) -> ModelHighlights:
        # Accuracy and operations belong to the model, not the run: one point per model.
        distinct: dict[str, Record] = {}
        for run in runs:
            for record in run.records:
                distinct.setdefault(record.model.name, record)
        return cls(
            palette,
            charts.operations_highlight_base(list(distinct.values())),
            {(run.hardware_slug, run.config_slug): charts.throughput_highlight_base(run.records) for run in runs},
        )


SHARED_DATA_DIR = "models/charts/data"


def _dominating(base: charts.HighlightBase, name: str, x_higher_is_better: bool) -> int:
    """How many of the other points are both more accurate and better on x (strictly)."""
    row = base.by_name[name]
    x, y = float(row[base.x_field]), float(row[base.y_field])
    minus_ys, xs, names = base.by_y
    above = bisect.bisect_left(minus_ys, -y)  # the points more accurate than this one
    if x_higher_is_better:
        return sum(1 for ox, other in zip(xs[:above], names[:above], strict=True) if ox > x and other != name)
    return sum(1 for ox, other in zip(xs[:above], names[:above], strict=True) if ox < x and other != name)


def _highlight_refs(
    highlights: ModelHighlights, records_by_run: Sequence[tuple[Run, LoadedRecord]], site: SiteModel
) -> list[ChartRef]:
    """Small Fig. 2 (once) and small Fig. 9 (per run) with this model in colour: its chart jobs and references."""
    first = records_by_run[0][1].record
    page = model_path(first)
    name = first.model.name
    colour = highlights.palette.colour_of(first)
    refs = []
    wanted: list[tuple[str, str, charts.HighlightBase | None, str, bool]] = [
        ("fig2", "Fig. 2 among all models: top-1 vs operations", highlights.operations, "cheaper in operations", False)
    ]
    for run, _ in records_by_run:
        wanted.append(
            (
                f"fig9-{run.hardware_slug}-{run.config_slug}",
                f"Fig. 9 on {run.label}: top-1 vs images per second at batch 1",
                highlights.throughput.get((run.hardware_slug, run.config_slug)),
                "faster at batch 1",
                True,
            )
        )
    for key, title, base, better, higher in wanted:
        chart = None if base is None else charts.highlighted(base, name, colour)
        if base is None or chart is None:
            continue
        count = len(base.rows)
        dominating = _dominating(base, name, higher)
        # One capped slug for model and run together: a long model name plus a run's slugs
        # would otherwise pass the file-name limit that safe_slug keeps.
        chart_stem = f"models/charts/{safe_slug(f'{model_stem(name)}-{key}')}"
        shared = (SHARED_DATA_DIR, rel(page, SHARED_DATA_DIR))  # the grey points: one file per figure
        # Interactive only: a static image would carry every model's points, once per page (a zoo of
        # a thousand models would hold thousands of such images); the sentence below and the
        # "instead" tables say in words what the figure shows. Built small enough for a phone,
        # so it needs no narrow version.
        site.charts.append(ChartJob(f"{chart_stem}.vl.json", None, chart, shared))
        refs.append(
            ChartRef(
                f"among-{key}",
                title,
                f"{label(first)} in its colour, the {count - 1} other models with both values in grey; log x axis. "
                f"{dominating} of them "
                f"{'is' if dominating == 1 else 'are'} both more accurate and {better}.",
                rel(page, f"{chart_stem}.vl.json"),
                None,
            )
        )
    return refs


def _breakdown(values: dict[str, float], total: float) -> Table:
    rows: list[list[str | Link]] = [
        [name, fmt.sig(value, 4), "n/a" if not total else f"{value / total * 100:.1f} %"]
        for name, value in sorted(values.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Table(["part", "GMACs per image", "share of all GMACs"], rows)


STOP_REASONS = {"converged": "converged", "time_budget": "time budget"}


def _batch_table(record: Record) -> Table:
    rows: list[list[str | Link]] = []
    for result in sorted(record.batches, key=lambda b: b.batch_size):
        if result.status != "ok":
            rows.append([str(result.batch_size), f"{result.status}: {result.error or 'no message'}", *(["—"] * 9)])
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
        point = data.timing_point(record, result)
        rows.append(
            [
                str(result.batch_size),
                "ok",
                "not measured"
                if latency is None
                else f"{fmt.sig(latency.median_ms_per_batch, 4)} ({fmt.sig(latency.p10_ms_per_batch, 4)}–"
                f"{fmt.sig(latency.p90_ms_per_batch, 4)})",
                _with_contention(
                    fmt.with_interval(
                        data.ms_per_image(result), data.ms_per_image_low(result), data.ms_per_image_high(result), 4
                    ),
                    result,
                ),
                fmt.with_interval(
                    data.images_per_s(result), data.images_per_s_low(result), data.images_per_s_high(result), 4
                ),
                "—" if point is None else f"{point.timed_iterations:,}",
                "—" if point is None else str(point.rounds),
                "—" if point is None else STOP_REASONS.get(point.stop_reason, point.stop_reason),
                fmt.megabytes(data.memory_bytes(result)),
                watts,
                energy,
            ]
        )
    return Table(
        [
            "batch",
            "status",
            "ms per batch: median (p10–p90)",
            "ms per image (95 % interval)",
            "images/s (95 % interval)",
            "timed iterations",
            "rounds",
            "stopped on",
            "peak memory",
            "net power",
            "energy per image",
        ],
        rows,
    )


def _with_contention(time: str, result: BatchResult) -> str:
    """A time, with a word beside it when other processes were busy while it was measured."""
    note = data.contention_note(result)
    return time if note is None else f"{time}; {note}"


def _accuracy_note(weights: str | None, any_accuracy: bool) -> str:
    """Whose accuracy the table shows: never point at weights the page does not name."""
    if weights:
        return (
            f"Timing uses random weights: accuracy belongs to the weights named above ({weights}), "
            "not to the timed model."
        )
    if any_accuracy:
        return (
            "Timing uses random weights: accuracy belongs to the trained model given as the source in the "
            "table, not to the timed model."
        )
    return "No trained weights are named for this model and no accuracy is known; timing uses random weights."


def interval_note(record: Record) -> str:
    """How the intervals of a record's table were obtained, in words."""
    bases = {data.interval_basis(result) for result in record.batches if data.ms_per_image(result) is not None}
    parts = []
    if "within and across rounds" in bases:
        parts.append("95 % intervals of the median over rounds, from the spread within and across rounds")
    if "within one round" in bases:
        parts.append(
            "95 % intervals from the spread within a single round only (timed in one round, or "
            "measured before rounds: drift between runs, 10–25 % on a shared machine, is not in them)"
        )
    if "none" in bases:
        parts.append("'no interval': the timing stopped before an interval could be computed")
    return "; ".join(parts).capitalize() + "." if parts else ""


def _accuracy_rows(first: Record, evaluated: Record) -> tuple[list[list[str | Link]], str | None]:
    """Rows of the accuracy table (original recipe, published, measured) and the recipe-gain sentence."""
    original = first.accuracy.original_recipe
    published = first.accuracy.published
    rows: list[list[str | Link]] = []
    if original is not None:
        rows.append(
            [
                "original training recipe (used in the study's figures)",
                fmt.percent(original.top1_percent, 2),
                fmt.percent(original.top5_percent, 2),
                f"{original.source}; {original.dataset}",
            ]
        )
    rows.append(
        [
            "published, later recipe" if original is not None else "published",
            fmt.percent(published.top1_percent if published else None, 2),
            fmt.percent(published.top5_percent if published else None, 2),
            f"{published.source}; {published.dataset}" if published else "no published figure recorded",
        ]
    )
    measured = evaluated.accuracy.measured
    if measured is not None:
        reference = published.top1_percent if published is not None else None
        difference = (
            "" if reference is None else f"; top-1 {fmt.signed(measured.top1_percent - reference)} points vs published"
        )
        full = data.full_evaluation(evaluated) is not None
        plural = "s" if measured.images != 1 else ""
        where = (
            f"{measured.images:,} of {data.IMAGENET_VAL_IMAGES:,} validation images in {measured.dataset_dir}, "
            f"weights {measured.weights_file}, {measured.date}{difference}"
        )
        rows.append(
            [
                "measured" if full else f"measured on {measured.images:,} image{plural} only (limited: not used)",
                fmt.percent(measured.top1_percent, 2),
                fmt.percent(measured.top5_percent, 2),
                where,
            ]
        )
    gain = None
    later = data.later_recipe_top1(first)
    if original is not None and original.top1_percent is not None and later is not None:
        named = published.weights if published is not None and published.weights else "the published weights"
        points = later - original.top1_percent
        direction = "more" if points >= 0 else "fewer"
        gain = (
            f"Recipe gain: the same network scores {abs(points):.2f} top-1 points {direction} with the later "
            f"training recipe ({named}) than with the original: a gain from training alone."
        )
    elif data.accuracy_recipe(first) == "later":
        gain = (
            "The published figure is a later training recipe's; this record predates the original recipe's "
            "figure, so the study's figures mark this network's point as a later recipe."
        )
    return rows, gain


def _rank(value: float | None, values: Sequence[float], higher_is_better: bool) -> str:
    """``values`` sorted ascending: a bisection counts the better ones (once per model page and run,
    so a zoo of N models costs N log N, not N^2)."""
    if value is None:
        return "not ranked (not measured)"
    better = len(values) - bisect.bisect_right(values, value) if higher_is_better else bisect.bisect_left(values, value)
    return f"{better + 1} of {len(values)}"


@dataclass(frozen=True)
class RankPools:
    """What each model page ranks against, sorted: built once for all model pages."""

    tops: list[float]  # top-1 of each distinct model
    densities: list[float]  # accuracy per parameter of each distinct model
    batch1_ms: dict[tuple[str, str], list[float]]  # time per image at batch 1 by run
    candidates: dict[tuple[str, str], Pool]  # what the "use instead" lists compare, by run

    @classmethod
    def build(cls, all_records: Sequence[Record], runs: Sequence[Run]) -> RankPools:
        # Accuracy and density belong to the model, not the run: rank among distinct models.
        distinct = {r.model.name: r for r in all_records}
        return cls(
            sorted(v for r in distinct.values() if (v := data.top1(r)) is not None),
            sorted(v for r in distinct.values() if (v := data.density(r)) is not None),
            {
                (run.hardware_slug, run.config_slug): sorted(
                    v for r in run.records if (v := data.ms_per_image(data.ok_batch(r, 1))) is not None
                )
                for run in runs
            },
            {(run.hardware_slug, run.config_slug): candidates(run) for run in runs},
        )


def model_page(
    records_by_run: Sequence[tuple[Run, LoadedRecord]],
    all_records: Sequence[Record],
    site: SiteModel,
    highlights: ModelHighlights | None = None,
    pools: RankPools | None = None,
) -> ModelPage:
    """One model's page; ``pools`` (built once for the site) saves ranking against every record again."""
    records = [item.record for _, item in records_by_run]
    first = records[0]
    page = model_path(first)
    info = first.model
    # Counting and accuracy do not depend on the hardware: take them from the
    # first record that has them (a failed run's record may lack them).
    counted = next((r for r in records if r.operations is not None), first)
    sized = next((r for r in records if r.parameters is not None), first)
    evaluated = next((r for r in records if r.accuracy.measured is not None), first)
    about = Table(
        ["field", "value"],
        [
            ["registry name", info.name],
            ["family", info.family],
            ["source library", info.source],
            ["builder", info.builder],
            ["weights whose metadata applies", info.weights or "none named"],
            ["input resolution", f"{info.input_size_px} px"],
            ["architecture source", info.architecture_source],
            ["in the study as", info.study_name or "not one of the study's 14 networks"],
        ],
    )
    accuracy_rows, recipe_gain = _accuracy_rows(first, evaluated)
    params = sized.parameters
    size = Table(
        ["quantity", "value"],
        [
            ["parameters", fmt.count(params.count if params else None)],
            ["parameter bytes (measured precision)", fmt.megabytes(params.parameters_bytes if params else None)],
            ["buffer bytes", fmt.megabytes(params.buffers_bytes if params else None)],
            ["published checkpoint", fmt.megabytes(params.checkpoint_bytes if params else None, "not known")],
            ["accuracy per parameter", fmt.with_unit(data.density(sized), "top-1 % per million parameters")],
        ],
    )
    ops = counted.operations
    operations = by_operator = by_module = None
    uncounted = None
    if ops is not None:
        operations = Table(
            ["convention", "value per image at batch 1"],
            [
                ["GMACs, all operators fvcore counts (10^9 multiply-accumulates)", fmt.sig(ops.gmacs, 4)],
                ["GFLOPs = 2 × GMACs", fmt.sig(ops.gflops, 4)],
                [
                    "GMACs of convolution, linear and matmul only (torchvision's _ops)",
                    fmt.sig(ops.gmacs_conv_linear_matmul, 4),
                ],
                [
                    "GFLOPs by torch.utils.flop_counter (cross-check, 2 × conv/linear/matmul MACs)",
                    fmt.sig(ops.flop_counter_gflops, 4),
                ],
                ["activations (10^6 elements, fvcore)", fmt.sig(ops.activations_millions, 4)],
            ],
        )
        by_operator = _breakdown(ops.by_operator_gmacs, ops.gmacs)
        by_module = _breakdown(ops.by_module_gmacs, ops.gmacs)
        if ops.uncounted_operators:
            uncounted = ", ".join(f"{name} × {n}" for name, n in sorted(ops.uncounted_operators.items()))
    run_views = []
    chart_records, chart_labels = [], []
    if pools is None or any((run.hardware_slug, run.config_slug) not in pools.batch1_ms for run, _ in records_by_run):
        pools = RankPools.build(all_records, [run for run, _ in records_by_run])
    for run, item in records_by_run:
        record = item.record
        b1 = pools.batch1_ms[(run.hardware_slug, run.config_slug)]
        time_rank = _rank(data.ms_per_image(data.ok_batch(record, 1)), b1, False)
        density_rank = _rank(data.density(record), pools.densities, True)
        ranks = [
            f"time per image at batch 1: {time_rank} on this hardware (1 = fastest)",
            f"top-1: {_rank(data.top1(record), pools.tops, True)} models with a top-1 (1 = most accurate)",
            f"accuracy per parameter: {density_rank} models (1 = most accurate per parameter)",
        ]
        run_views.append(
            RunResults(
                label=run.label,
                hardware=Link(run.machine_name, rel(page, hardware_path(run.hardware_slug))),
                record=Link(f"record ({str(item.site_path).split('/')[-1]})", rel(page, str(item.site_path))),
                memory_kind=data.memory_kind(record),
                table=_batch_table(record),
                interval_note=interval_note(record),
                ranks=ranks,
                failures=[
                    f"{'model' if s is None else f'batch {s}'}: {status} ({message})"
                    for s, status, message in data.failures(record)
                ],
                measured=measured_when(record),
                instead=alternatives(record, run, page, pools.candidates[(run.hardware_slug, run.config_slug)]),
            )
        )
        if record.batches:
            chart_records.append(record)
            chart_labels.append(run.label)
    chart = None
    if chart_records:
        stem = f"models/charts/{model_stem(info.name)}"
        for lay in charts.LAYOUTS:
            spec_path = f"{stem}.vl.json" if lay is charts.WIDE else f"{stem}.{lay.name}.vl.json"
            site.charts.append(ChartJob(spec_path, None, charts.model_batches(chart_records, chart_labels, lay)))
        # The static image (wide) is what GitHub shows of the page; drawn in Python (static_svg).
        site.files[f"{stem}.svg"] = charts.model_batches_svg(chart_records, chart_labels).encode("utf-8")
        chart = ChartRef(
            "batches",
            "Time per image and peak memory vs batch size",
            "One line per hardware and configuration, with each time's 95 % interval; failed batch "
            "sizes are left out (see the tables).",
            rel(page, f"{stem}.vl.json"),
            rel(page, f"{stem}.svg"),
            narrow_spec_href=rel(page, f"{stem}.narrow.vl.json"),
        )
    return ModelPage(
        title=label(first) + (f" ({info.name})" if info.study_name else ""),
        about=about,
        accuracy=Table(["", "top-1", "top-5", "source"], accuracy_rows),
        accuracy_note=" ".join(
            filter(
                None,
                [
                    recipe_gain,
                    "The study's figures and claims use the original training recipe where a network has several "
                    "(as the study did); an evaluation over fewer than "
                    f"{data.IMAGENET_VAL_IMAGES:,} validation images is shown but used nowhere.",
                    _accuracy_note(
                        info.weights, first.accuracy.published is not None or evaluated.accuracy.measured is not None
                    ),
                ],
            )
        ),
        size=size,
        operations=operations,
        by_operator=by_operator,
        by_module=by_module,
        uncounted=uncounted,
        operations_note=f"Counted by {ops.counter}."
        if ops
        else "Operations not counted: " + (first.error or "no count in the record") + ".",
        runs=run_views,
        chart=chart,
        highlights=[] if highlights is None else _highlight_refs(highlights, records_by_run, site),
    )
