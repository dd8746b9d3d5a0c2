"""The comparison page (baseline against each run), a machine's run history, and the home page's lines.

Numbers come from ``comparison``; this module only chooses what to show and
formats it with its unit and interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from generator.render import comparison_charts, findings, fmt
from generator.render.comparison import (
    Comparison,
    Estimate,
    HistoryStep,
    Measured,
    Ratio,
    RunRef,
    choose_baseline,
    compare,
    history,
    pairs_to_compare,
    run_refs,
)
from generator.render.data import Run
from generator.render.pages.common import (
    STATIC_IMAGE_MAX_MODELS,
    ChartJob,
    ChartRef,
    Link,
    SiteModel,
    Table,
    hardware_path,
    model_path,
    rel,
)
from generator.schema import safe_slug

PAGE = "hardware/compare.md"
CHART_DIR = "hardware/charts"


def _times(value: float) -> str:
    return f"{fmt.sig(value, 3)}×"


def ratio_text(value: Ratio | None, with_verdict: bool = True, one_round: bool = False) -> str:
    """'1.21× [1.10–1.33], faster'; ``one_round``: the verdict rests on one-round intervals, and says so."""
    if value is None:
        return "not measured"
    if value.low is None or value.high is None:
        return f"{_times(value.value)} (no interval)"
    text = f"{_times(value.value)} [{fmt.sig(value.low, 3)}–{fmt.sig(value.high, 3)}]"
    if with_verdict:
        # '†': the verdict rests on one-round intervals (see the note above the chart); short, tables are wide.
        text += f", {value.verdict}" + ("†" if one_round and value.verdict != "indistinguishable" else "")
    return text


def _one_round(*estimates: Estimate) -> bool:
    return any(e.basis == "within one round" for e in estimates)


def estimate_text(value: Estimate | None, unit: str = "ms") -> str:
    if value is None:
        return "not measured"
    if value.low is None or value.high is None:
        return f"{fmt.sig(value.value)} {unit} (no interval)"
    return f"{fmt.sig(value.value)} {unit} [{fmt.sig(value.low)}–{fmt.sig(value.high)}]"


def _measured_pair(pair: tuple[Measured, Measured], unit: str, scale: float, digits: int = 3) -> str:
    a, b = pair
    if a.value is None and b.value is None:
        return "not measured"
    left = fmt.with_unit(None if a.value is None else a.value / scale, unit, digits)
    right = fmt.with_unit(None if b.value is None else b.value / scale, unit, digits)
    text = f"{left} → {right}"
    if a.value is not None and b.value is not None and a.value > 0:
        text += f" ({_times(b.value / a.value)}, one measurement each)"
    at = a.batch_size if a.batch_size is not None else b.batch_size
    return f"{text} at batch {at}" if at is not None else text


@dataclass(frozen=True)
class PairSection:
    anchor: str
    title: str
    kind: str
    differences: list[str]
    headline: str
    chart: ChartRef
    by_batch: Table
    by_model: Table
    extras: Table
    peak_fraction: str
    left_out: list[str]
    basis_note: str | None


@dataclass(frozen=True)
class ComparisonPage:
    title: str
    baseline: str
    baseline_id: str
    run_ids: list[str]
    summary: Table
    sections: list[PairSection]
    rules: list[str] = field(default_factory=list)


RULES = [
    (
        "Only models measured on both runs, at batch sizes measured on both (status ok on both), are compared; "
        "what was left out is listed under each comparison with the reason."
    ),
    (
        "Across machines only the same configuration is compared (precision, channels-last, compile); other "
        "configurations are compared on their own machine, so each comparison answers one question."
    ),
    (
        "Speed-up = baseline time per image / the other run's (above 1: the other run is faster), with the 95 % "
        'interval of that ratio from both records\' intervals combined on a log scale. "faster" or "slower" only '
        'when the interval excludes 1; "indistinguishable" when it contains 1; "no interval" when a record has '
        "too few timed iterations for one."
    ),
    (
        "Geometric-mean speed-up over the common models: bootstrap 95 % interval (2000 replicates, fixed seed), "
        "resampling the models and drawing each model's own timing uncertainty (its interval: within and across "
        "rounds) around it. Fewer than 3 models: no interval."
    ),
    (
        "Peak memory and energy per image are single measurements per batch size (no interval): their ratios are "
        "shown, never a verdict."
    ),
]


def _headline(c: Comparison) -> str:
    first = c.batches[0] if c.batches else None
    if first is None or first.speedup is None:
        return "Nothing to compare: no model was measured on both runs at a common batch size."
    g = first.speedup
    if g.low is None:
        verdict = "no interval"
    elif g.verdict == "indistinguishable":
        verdict = "indistinguishable from the baseline (the interval contains 1)"
    else:
        verdict = f"{g.verdict} than the baseline (the interval excludes 1)"
    return (
        f"At batch {first.batch_size}, {c.other.label} runs {ratio_text(g, with_verdict=False)} the baseline's "
        f"speed (geometric mean over {fmt.plural(len(first.rows), 'model')}): {verdict}."
    )


def _basis_note(c: Comparison) -> str | None:
    bases = {row.baseline.basis for b in c.batches for row in b.rows} | {
        row.other.basis for b in c.batches for row in b.rows
    }
    if "within one round" in bases:
        return (
            "Some records were measured in one round (schema 1): their interval covers the spread within "
            "that round only, not the drift between runs (10–25 % on shared VMs), so a verdict from them "
            "may call a difference real that a second round would not confirm. Verdicts that rest on them are "
            "marked †."
        )
    return None


def _section(c: Comparison, index: int, site: SiteModel) -> PairSection:
    anchor = f"vs-{index}-{safe_slug(c.other.id.replace('/', '-'))}"
    spec_path = f"{CHART_DIR}/compare-{index}.vl.json"
    svg_path = f"{CHART_DIR}/compare-{index}.svg"
    title = f"Time per image: {c.baseline.label} (x) against {c.other.label} (y)"
    if any(b.rows for b in c.batches):
        models = len({row.model for b in c.batches for row in b.rows})
        static = models <= STATIC_IMAGE_MAX_MODELS
        site.charts.append(ChartJob(spec_path, svg_path if static else None, comparison_charts.comparison_scatter(c)))
        caption = (
            "Log-log; one panel per batch size measured on both; bars: 95 % intervals (none drawn "
            "where a record has none); dashed: y = x. Below the line the other run is faster."
        )
        if not static:
            caption += (
                f" Interactive only: a static image of {models} models would be unreadable "
                f"(one is drawn up to {STATIC_IMAGE_MAX_MODELS})."
            )
        chart = ChartRef(
            f"{anchor}-chart", title, caption, rel(PAGE, spec_path), rel(PAGE, svg_path) if static else None
        )
    else:
        chart = ChartRef(
            f"{anchor}-chart",
            title,
            "",
            None,
            None,
            missing="Nothing to draw: no model measured on both runs at a common batch size.",
        )
    by_batch = Table(
        [
            "batch size",
            "models",
            "geometric-mean speed-up [95 % interval]",
            "faster",
            "slower",
            "indistinguishable",
            "no interval",
        ],
        [
            [
                str(b.batch_size),
                str(len(b.rows)),
                ratio_text(b.speedup),
                str(b.count("faster")),
                str(b.count("slower")),
                str(b.count("indistinguishable")),
                str(b.count("no interval")),
            ]
            for b in c.batches
        ],
    )
    records = {r.model.name: r for r in c.baseline.records}
    cells: dict[str, dict[int, str]] = {}
    for b in c.batches:
        for row in b.rows:
            cells.setdefault(row.model, {})[b.batch_size] = ratio_text(
                row.speedup, one_round=_one_round(row.baseline, row.other)
            )
    by_model = Table(
        ["model", *[f"speed-up at batch {s}" for s in c.common_batch_sizes]],
        [
            [
                Link(records[name].model.study_name or name, rel(PAGE, model_path(records[name]))),
                *[cells[name].get(s, "left out") for s in c.common_batch_sizes],
            ]
            for name in c.common_models
            if name in cells
        ],
    )
    extra_rows: list[list[str | Link]] = []
    for e in c.extras:
        if e.throughput is None:
            throughput = "not measured"
        else:
            base_ips, sa, other_ips, sb = e.throughput
            throughput = (
                f"{estimate_text(base_ips, 'images/s')} (batch {sa}) → "
                f"{estimate_text(other_ips, 'images/s')} "
                f"(batch {sb}): {ratio_text(e.throughput_ratio, one_round=_one_round(base_ips, other_ips))}"
            )
        memory = e.memory_comparable or _measured_pair(e.memory, "MB", 1e6, 4)
        attained = " → ".join(fmt.with_unit(v, "GFLOP/s") for v in e.attained_gflops)
        extra_rows.append(
            [
                Link(e.label, rel(PAGE, model_path(records[e.model]))),
                throughput,
                memory,
                _measured_pair(e.energy, "J", 1.0),
                attained,
            ]
        )
    extras = Table(
        [
            "model",
            "images/s at each run's best batch size [95 % interval]: baseline → other, ratio",
            "peak memory (MB, 10^6 bytes)",
            "energy per image",
            "attained GFLOP/s at the best batch size",
        ],
        extra_rows,
    )
    overall = (
        ""
        if c.throughput_speedup is None
        else f" Best throughput, geometric mean over models: {ratio_text(c.throughput_speedup)}."
    )
    return PairSection(
        anchor,
        f"{c.other.label} against {c.baseline.label}",
        c.kind,
        c.differences,
        _headline(c) + overall,
        chart,
        by_batch,
        by_model,
        extras,
        c.peak_fraction,
        c.left_out,
        _basis_note(c),
    )


def comparisons(runs: Sequence[Run], baseline: str | None = None) -> tuple[RunRef, list[Comparison]]:
    refs = run_refs(runs)
    chosen = choose_baseline(refs, baseline)
    return chosen, [compare(a, b) for a, b in pairs_to_compare(refs, chosen)]


def comparison_page(runs: Sequence[Run], site: SiteModel, baseline: str | None = None) -> ComparisonPage:
    chosen, compared = comparisons(runs, baseline)
    sections = [_section(c, i + 1, site) for i, c in enumerate(compared)]
    summary_rows: list[list[str | Link]] = []
    for c, section in zip(compared, sections, strict=True):
        first = c.batches[0] if c.batches else None
        summary_rows.append(
            [
                Link(c.other.label, f"#{section.anchor}"),
                c.baseline.label,
                c.kind,
                str(len(c.common_models)),
                "none" if first is None else f"batch {first.batch_size}: {ratio_text(first.speedup)}",
                "none"
                if first is None
                else (
                    f"{first.count('faster')} / {first.count('slower')} / "
                    f"{first.count('indistinguishable')} / {first.count('no interval')}"
                ),
                ratio_text(c.throughput_speedup),
            ]
        )
    summary = Table(
        [
            "run",
            "against",
            "differs in",
            "common models",
            "geometric-mean speed-up [95 % interval]",
            "faster / slower / indistinguishable / no interval",
            "best throughput, geometric mean",
        ],
        summary_rows,
    )
    return ComparisonPage(
        "Comparing runs", chosen.label, chosen.id, [r.id for r in run_refs(runs)], summary, sections, RULES
    )


# --------------------------------------------------------------------------- hardware page: runs by date


@dataclass(frozen=True)
class ChangeStep:
    title: str
    software: list[str]
    summary: str
    changes: Table | None


@dataclass(frozen=True)
class MachineHistory:
    runs: Table
    steps: list[ChangeStep]


def machine_history(runs: Sequence[Run], page: str) -> MachineHistory:
    """The machine's runs by date, and between consecutive runs of one configuration what moved beyond the noise."""
    refs = sorted(run_refs(runs), key=lambda r: (r.date, r.id))
    table = Table(
        ["measured (UTC)", "configuration", "software", "records", "run"],
        [
            [
                ref.date[:16].replace("T", " "),
                ref.config_slug,
                ", ".join(f"{k} {v}" for k, v in ref.software if v != "none"),
                str(len(ref.records)),
                ref.id,
            ]
            for ref in refs
        ],
    )
    steps = []
    for step in history(refs):
        steps.append(_change_step(step, page))
    return MachineHistory(table, steps)


def _change_step(step: HistoryStep, page: str) -> ChangeStep:
    moved = sorted(step.regressions + step.improvements, key=lambda c: (c.speedup.value, c.model, c.batch_size))
    records = {r.model.name: r for r in step.after.records}
    rows: list[list[str | Link]] = [
        [
            Link(c.label, rel(page, model_path(records[c.model]))),
            str(c.batch_size),
            f"{fmt.sig(c.before_ms)} → {fmt.sig(c.after_ms)} ms",
            f"{fmt.signed(100 * (c.after_ms / c.before_ms - 1), 2)} %",
            ratio_text(c.speedup, with_verdict=False),
            "slower (regression)" if c.speedup.verdict == "slower" else "faster",
        ]
        for c in moved
    ]
    summary = (
        f"{fmt.plural(len(step.regressions), 'model × batch point')} slower and {len(step.improvements)} faster "
        f"beyond the "
        f"combined 95 % interval of the two runs; {step.within_noise} changed less than that (not reported); "
        f"{step.no_interval} without an interval (cannot tell); {step.compared_points} compared."
    )
    return ChangeStep(
        f"{step.before.date[:10]} → {step.after.date[:10]}, configuration {step.after.config_slug}",
        step.software or ["no software difference recorded"],
        summary,
        Table(["model", "batch size", "time per image", "change", "speed-up [95 % interval]", "verdict"], rows)
        if rows
        else None,
    )


# --------------------------------------------------------------------------- home page lines


@dataclass(frozen=True)
class HomeRunLine:
    label: str
    link: Link
    text: str


@dataclass(frozen=True)
class HomeComparison:
    """The home page's block: one line per run (which claims hold there) and one comparison line."""

    runs: list[HomeRunLine]
    fastest: str | None
    link: Link | None


def home_lines(
    runs: Sequence[Run],
    baseline: str | None = None,
    findings_of: Callable[[Run], list[findings.Finding]] = findings.run_findings,
) -> HomeComparison:
    """From ``findings`` (the verdicts of each claim) and ``comparison`` (the study's networks, batch 1)."""
    page = "index.md"
    lines = []
    for ref in run_refs(runs):
        verdicts = [(f.title, f.verdict) for f in findings_of(ref.run)]
        held = [title for title, verdict in verdicts if verdict == "supported"]
        other = [f"{title}: {verdict}" for title, verdict in verdicts if verdict != "supported"]
        text = f"holds: {', '.join(held) or 'none'}" + (f"; {'; '.join(other)}" if other else "")
        lines.append(HomeRunLine(ref.label, Link("hardware", rel(page, hardware_path(ref.hardware_slug))), text))
    fastest = _fastest_line(runs, baseline)
    link = Link("comparison", rel(page, PAGE)) if len(run_refs(runs)) > 1 else None
    return HomeComparison(lines, fastest, link)


def _study_only(run: Run) -> Run:
    """The run's records of the study's networks, under the run's own name."""
    return replace(run, items=[i for i in run.items if i.record.model.study_name is not None])


def _fastest_line(runs: Sequence[Run], baseline: str | None) -> str | None:
    refs = run_refs(runs)
    if len(refs) < 2:
        return None
    chosen = choose_baseline(refs, baseline)
    best: tuple[float, Comparison] | None = None
    for ref in refs:
        if ref is chosen:
            continue
        study = replace(ref, run=_study_only(ref.run))
        base = replace(chosen, run=_study_only(chosen.run))
        c = compare(base, study)
        one = c.batch(1)
        if one is None or one.speedup is None:
            continue
        if best is None or one.speedup.value > best[0]:
            best = (one.speedup.value, c)
    if best is None:
        return None
    c = best[1]
    one = c.batch(1)
    assert one is not None and one.speedup is not None
    g = one.speedup
    over = f"geometric mean over {fmt.plural(len(one.rows), 'network')}"
    if g.verdict == "faster":
        return (
            f"Fastest run for the study's networks at batch 1: {c.other.label}, {ratio_text(g, False)} the "
            f"speed of the baseline {c.baseline.label} ({over})."
        )
    if g.verdict == "indistinguishable" or g.low is None:
        why = "its interval contains 1" if g.low is not None else "no interval"
        return (
            f"No run is distinguishably faster than the baseline {c.baseline.label} for the study's networks "
            f"at batch 1: the closest, {c.other.label}, runs {ratio_text(g, False)} its speed ({over}; {why})."
        )
    return (
        f"Fastest run for the study's networks at batch 1: the baseline, {c.baseline.label}; the next, "
        f"{c.other.label}, runs {ratio_text(g, False)} its speed ({over})."
    )
