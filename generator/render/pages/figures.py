"""The figures pages: the study's figures per hardware and configuration, and the limit tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from generator.render import charts, data, fmt
from generator.render import figures as registry
from generator.render.data import Run
from generator.render.pages.common import (
    STATIC_IMAGE_MAX_MODELS,
    ChartJob,
    ChartRef,
    IndexPage,
    Link,
    SiteModel,
    Table,
    figures_path,
    hardware_path,
    label,
    model_path,
    rel,
    scope_records,
    scopes,
)
from generator.schema import Record

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
    static_images: bool  # whether any figure here has a static image (a zoo's are interactive only)


def _missing_reason(run: Run, figure: registry.Figure) -> str:
    if figure.needs_power:
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
        fits = sorted(
            ((r, ips, acc) for r, ips, acc in speed_rows if ips is not None and acc is not None and ips >= limit),
            key=lambda row: (-row[2], row[0].model.name),
        )
        if not fits:
            tables.append(LimitTable(title, None, f"No model with a known top-1 reaches {limit} images/s at batch 1."))
            continue
        tables.append(
            LimitTable(
                title,
                Table(
                    ["model", "top-1", "images/s at batch 1", "95 % interval", "timed iterations, rounds, stopped on"],
                    [
                        [Link(label(r), rel(page, model_path(r))), fmt.percent(acc, 2), fmt.sig(ips), *_timing_cells(r)]
                        for r, ips, acc in fits[:BEST_UNDER_LIMIT]
                    ],
                ),
                None,
            )
        )
    memory_rows = [(r, data.memory_bytes(data.ok_batch(r, 1)), data.top1(r)) for r in records]
    for gigabytes in MEMORY_LIMITS_GB:
        title = f"Best top-1 within {gigabytes} GB peak memory at batch 1"
        fits = sorted(
            ((r, m, acc) for r, m, acc in memory_rows if m is not None and acc is not None and m <= gigabytes * 1e9),
            key=lambda row: (-row[2], row[0].model.name),
        )
        if not fits:
            tables.append(
                LimitTable(title, None, f"No model with a known top-1 stays within {gigabytes} GB at batch 1.")
            )
            continue
        tables.append(
            LimitTable(
                title,
                Table(
                    ["model", "top-1", "peak memory at batch 1"],
                    [
                        [Link(label(r), rel(page, model_path(r))), fmt.percent(acc, 2), fmt.megabytes(m)]
                        for r, m, acc in fits[:BEST_UNDER_LIMIT]
                    ],
                ),
                None,
            )
        )
    return tables


def figure_charts(run: Run, scope: str, palette: charts.Palette, site: SiteModel) -> list[ChartRef]:
    """Every figure of the registry for one run and scope: its chart jobs queued on ``site``, its reference returned."""
    page = figures_path(run, scope)
    records = scope_records(run, scope)
    refs = []
    for figure in registry.FIGURES:
        drawn = figure.drawable(records)
        if not drawn:
            refs.append(
                ChartRef(
                    figure.id,
                    figure.title,
                    figure.caption(records, run.ceilings),
                    None,
                    None,
                    missing=_missing_reason(run, figure),
                )
            )
            continue
        stem = registry.chart_stem(run, scope, figure.id)
        static = len(records) <= STATIC_IMAGE_MAX_MODELS
        for lay in charts.LAYOUTS:
            spec_path = f"{stem}.vl.json" if lay is charts.WIDE else f"{stem}.{lay.name}.vl.json"
            # The static image is the wide chart: what GitHub and a browser without JavaScript show.
            site.charts.append(
                ChartJob(
                    spec_path,
                    f"{stem}.svg" if static and lay is charts.WIDE else None,
                    figure.draw(records, run.ceilings, palette, lay),
                )
            )
        # Models that failed outright are already in the exclusions; list the rest once.
        missing_models = [label(r) for r in records if not figure.needs(r) and r.status == "ok"]
        notes = charts.exclusions(records, figure.batch_sizes(records))
        if missing_models:
            notes.append("not measured or not known, left out: " + ", ".join(sorted(missing_models)))
        caption = figure.caption(records, run.ceilings)
        if not static:
            caption += (
                f" Interactive only: a static image of {len(records)} models would be unreadable "
                f"(one is drawn up to {STATIC_IMAGE_MAX_MODELS})."
            )
        refs.append(
            ChartRef(
                figure.id,
                figure.title,
                caption,
                rel(page, f"{stem}.vl.json"),
                rel(page, f"{stem}.svg") if static else None,
                notes,
                narrow_spec_href=rel(page, f"{stem}.narrow.vl.json"),
            )
        )
    return refs


def figures_page(run: Run, scope: str, palette: charts.Palette, site: SiteModel) -> FiguresPage:
    page = figures_path(run, scope)
    records = scope_records(run, scope)
    refs = figure_charts(run, scope, palette, site)
    others = [s for s in scopes(run) if s != scope]
    study_count = len(run.study_records())
    scope_text = (
        f"The study's networks measured on this hardware ({study_count} of its 14)."
        if scope == "study"
        else f"All {fmt.plural(len(records), 'model')} measured on this hardware."
    )
    other = (
        Link(
            "all models" if others[0] == "all" else "the study's networks only", rel(page, figures_path(run, others[0]))
        )
        if others
        else None
    )
    return FiguresPage(
        title=f"Figures: {run.label}" + (" (the study's networks)" if scope == "study" else " (all models)"),
        run_label=run.label,
        scope_text=scope_text,
        other_scope=other,
        hardware=Link(run.machine_name, rel(page, hardware_path(run.hardware_slug))),
        charts=refs,
        limits=limit_tables(records, page),
        static_images=any(ref.svg_href for ref in refs),
    )


def figures_index(runs: Sequence[Run]) -> IndexPage:
    page = "figures/index.md"
    rows: list[list[str | Link]] = []
    for run in runs:
        # One row per scope: a second link column would have no header of its own.
        for s in scopes(run):
            rows.append(
                [
                    run.machine_name,
                    run.config_slug,
                    str(len(scope_records(run, s))),
                    Link("the study's networks" if s == "study" else "all models", rel(page, figures_path(run, s))),
                ]
            )
    return IndexPage(
        "Figures",
        "The study's ten figures, redrawn for every hardware and configuration measured.",
        Table(["hardware", "configuration", "records", "figures"], rows) if rows else None,
    )
