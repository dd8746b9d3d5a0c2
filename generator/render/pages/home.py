"""The home page: the study's claims tested on every run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from generator.render import figures as registry
from generator.render import findings, fmt
from generator.render.data import Run
from generator.render.load import LoadedRecord
from generator.render.pages.common import Link, Table, figures_path, hardware_path, rel, scope_records, scopes
from generator.render.pages.compare import HomeComparison


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
    verdicts: Table  # claims × hardware: verdict and key number in each cell
    runs: list[RunFindings]
    density: FindingView | None
    failed: list[str]
    empty: bool
    short_title: str = "Home"  # browser tab and navigation; the heading shows ``title``
    # Filled by site.py from pages/compare.py (one line per run, the fastest run): kept apart from the findings.
    comparison: HomeComparison | None = None


def _figure_name(figure_id: str) -> str:
    figure = registry.BY_ID.get(figure_id)
    return figure.name if figure is not None else figure_id


def _finding_view(finding: findings.Finding, page: str, run: Run | None) -> FindingView:
    if run is None:
        return FindingView(finding.title, finding.claim, finding.verdict, finding.sentences, finding.criterion, [])
    scope = scopes(run)[0]
    figures_page = figures_path(run, scope)
    records = scope_records(run, scope)
    links = [Link(_figure_name(figure_id), rel(page, figures_page) + f"#{figure_id}") for figure_id in finding.figures]
    images = []
    if finding.verdict != "cannot be tested":
        for figure_id in finding.figures[:1]:  # the figure that shows the claim best comes first
            figure = registry.BY_ID.get(figure_id)
            # The registry knows, from the records alone, whether the figures page draws this figure.
            if figure is not None and figure.drawable(records):
                images.append(
                    FigureImage(
                        figure.name,
                        rel(page, registry.chart_stem(run, scope, figure_id) + ".svg"),
                        rel(page, figures_page) + f"#{figure_id}",
                    )
                )
    return FindingView(
        finding.title, finding.claim, finding.verdict, finding.sentences, finding.criterion, links, images
    )


def _verdicts(runs: Sequence[Run], per_run: list[list[findings.Finding]]) -> Table:
    """The claims x hardware table as findings computes it: verdict and the number behind it per cell."""
    table = findings.claims_table(runs, per_run)
    rows: list[list[str | Link]] = [
        [row.title, *(cell.verdict + (f": {cell.effect}" if cell.effect else "") for cell in row.cells)]
        for row in table.rows
    ]
    return Table(["claim", *table.runs], rows)


def home_page(
    items: Sequence[LoadedRecord],
    runs: Sequence[Run],
    findings_of: Callable[[Run], list[findings.Finding]] = findings.run_findings,
) -> HomePage:
    """``findings_of``: the claims' verdicts of a run (the render computes each run's once, for every page)."""
    page = "index.md"
    records = [item.record for item in items]
    models = sorted({record.model.name for record in records})
    run_views = []
    per_run = [findings_of(run) for run in runs]
    for run, found in zip(runs, per_run, strict=True):
        first_scope = scopes(run)[0]
        figures_page = figures_path(run, first_scope)
        run_views.append(
            RunFindings(
                label=run.label,
                figures=Link(
                    f"figures ({'the study' if first_scope == 'study' else 'all models'})", rel(page, figures_page)
                ),
                hardware=Link("hardware and software", rel(page, hardware_path(run.hardware_slug))),
                findings=[_finding_view(f, page, run) for f in found],
            )
        )
    density_finding = findings.information_density(records) if records else None
    density = None if density_finding is None else _finding_view(density_finding, page, runs[0] if runs else None)
    failed = [
        f"{record.model.name} on {run.machine_name} ({record.config.slug}): {record.error or 'no message recorded'}"
        for run in runs
        for record in run.records
        if record.status != "ok"
    ]
    summary = (
        f"{fmt.plural(len(records), 'record')}: {fmt.plural(len(models), 'model')} measured on "
        f"{fmt.plural(len({r.hardware_slug for r in runs}), 'machine')} in "
        f"{fmt.plural(len(runs), 'hardware × configuration run')}."
    )
    return HomePage(
        "Deep network models for practical applications, re-measured",
        summary,
        _verdicts(runs, per_run),
        run_views,
        density,
        failed,
        not records,
    )
