"""The home page: the study's claims tested on every run."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.render import findings, fmt
from generator.render.data import Run
from generator.render.load import LoadedRecord
from generator.render.pages.common import Link, rel, figures_path, hardware_path, scopes
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
    runs: list[RunFindings]
    density: FindingView | None
    failed: list[str]
    empty: bool
    short_title: str = "Home"  # browser tab and navigation; the heading shows ``title``
    # Filled by site.py from pages/compare.py (one line per run, the fastest run): kept apart from the findings.
    comparison: HomeComparison | None = None


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
        f"{fmt.plural(len(records), 'record')}: {fmt.plural(len(models), 'model')} measured on "
        f"{fmt.plural(len({r.hardware_slug for r in runs}), 'machine')} in "
        f"{fmt.plural(len(runs), 'hardware × configuration run')}."
    )
    return HomePage("Deep network models for practical applications, re-measured", summary, run_views, density,
                    failed, not records)
