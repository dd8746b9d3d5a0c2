"""The study's claims, tested on the records of each run.

Every sentence is assembled from numbers computed here; the thresholds that turn
a number into a verdict are stated beside it (``criterion``) so a reader can
disagree with the threshold without distrusting the number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from generator.render import data, fmt, stats
from generator.render.data import MB, Run
from generator.schema import Record

Verdict = Literal["supported", "not supported", "mixed", "cannot be tested", "shown"]

# Thresholds (judgement calls, printed on the home page with each verdict).
R2_SUPPORTED = 0.8
POWER_CV_SUPPORTED = 0.10
MEMORY_FLAT_TOLERANCE = 0.10
MEMORY_SHARE_SUPPORTED = 0.75
SPEARMAN_SUPPORTED = 0.5
ACCURACY_R2_MIN = 0.5


@dataclass(frozen=True)
class Finding:
    key: str
    title: str
    claim: str  # what the study says, in words
    verdict: Verdict
    sentences: list[str]
    criterion: str
    figures: list[str] = field(default_factory=list)  # figure ids on the run's figures page


def _name(record: Record) -> str:
    return record.model.study_name or record.model.name


def _points(records: Sequence[Record], x_of, y_of) -> list[tuple[Record, float, float]]:  # type: ignore[no-untyped-def]
    points = []
    for record in records:
        x, y = x_of(record), y_of(record)
        if x is not None and y is not None and x > 0:
            points.append((record, float(x), float(y)))
    return points


def _agree(n: int, singular_verb: str, plural_verb: str) -> str:
    """'1 stays', '3 stay': the count and its verb in agreement."""
    return f"{n} {singular_verb if n == 1 else plural_verb}"


def _not_testable(run: Run, what: str, shortfall: str) -> str:
    """Why a power claim cannot be tested: the records' own reason when power was not measurable."""
    reasons = data.power_unavailable_reasons(run.records)
    if reasons:
        return f"Cannot be tested on this run: {what} not measurable ({'; '.join(reasons)})."
    return f"Cannot be tested on this run: {shortfall}."


def operations_predict_time(run: Run) -> Finding:
    claim = "Operation count is a reliable estimate of inference time (a linear relation)."
    sentences: list[str] = []
    r2s: list[float] = []
    for size in (1, data.large_batch(run.records) or data.STUDY_LARGE_BATCH):
        pts = _points(run.records, data.gflops, lambda r, s=size: data.ms_per_image(data.ok_batch(r, s)))
        fit = stats.linear_fit([x for _, x, _ in pts], [y for _, _, y in pts])
        if fit is None:
            sentences.append(
                f"At {data.batch_title(size)}: cannot be tested, {len(pts)} model(s) have both an operation count "
                "and a time at this batch size (3 needed)."
            )
            continue
        r2s.append(fit.r2)
        sentences.append(
            f"At {data.batch_title(size)}, time per image ≈ {fmt.sig(fit.slope)} ms per GFLOP × GFLOPs "
            f"{fmt.signed(fit.intercept)} ms, R² = {fit.r2:.3f} over {fit.n} models."
        )
    timed = _points(run.records, lambda r: data.ms_per_image(data.ok_batch(r, 1)), data.gflops)
    if timed:
        # The study singles out VGG as the most expensive network (about 0.2 s per image on the TX1).
        record, ms, gflops = max(timed, key=lambda item: (item[1], item[0].model.name))
        sentences.append(
            f"Slowest at batch 1: {_name(record)}, {fmt.sig(ms)} ms per image for {fmt.sig(gflops)} GFLOPs."
        )
    if not r2s:
        verdict: Verdict = "cannot be tested"
    elif all(r2 >= R2_SUPPORTED for r2 in r2s):
        verdict = "supported"
    elif any(r2 >= R2_SUPPORTED for r2 in r2s):
        verdict = "mixed"
    else:
        verdict = "not supported"
    return Finding(
        "operations-time", "Operations predict inference time", claim, verdict, sentences,
        f"supported when a straight line through the models has R² ≥ {R2_SUPPORTED} at both batch 1 and 16 (or "
        "the largest batch size measured below 16) (GFLOPs = 2 × GMACs as counted by fvcore; time = median per image)",
        ["fig7"],
    )


def batching_speedup(run: Run) -> Finding:
    """Fig. 3's message: time per image falls as the batch grows."""
    claim = ("Time per image falls as the batch size grows; AlexNet runs about 3× faster per image at batch 64 than "
             "at batch 1 (TX1).")
    ratios: list[tuple[Record, int, float]] = []
    for record in run.records:
        single = data.ms_per_image(data.ok_batch(record, 1))
        larger = [(b.batch_size, ms) for b in record.batches if b.batch_size > 1
                  and (ms := data.ms_per_image(b)) is not None]
        if single is not None and larger:
            size, ms = max(larger)
            ratios.append((record, size, single / ms))
    if not ratios:
        return Finding(
            "batching", "Time per image vs batch size", claim, "cannot be tested",
            ["Cannot be tested: no model has a time at batch 1 and at a larger batch size."],
            "needs time per image at batch 1 and at least one larger batch size", ["fig3"],
        )
    values = [ratio for _, _, ratio in ratios]
    slowest = min(ratios, key=lambda item: (item[2], item[0].model.name))
    fastest = max(ratios, key=lambda item: (item[2], item[0].model.name))
    sentences = [
        f"From batch 1 to the largest batch size each model ran, time per image falls by a median "
        f"{fmt.sig(stats.median(values))}× over {len(values)} models, from {fmt.sig(slowest[2])}× "
        f"({_name(slowest[0])}, batch {slowest[1]}) to {fmt.sig(fastest[2])}× ({_name(fastest[0])}, batch {fastest[1]})."
    ]
    for record, size, ratio in ratios:
        if record.model.study_name == "AlexNet":
            sentences.append(f"AlexNet: {fmt.sig(ratio)}× from batch 1 to batch {size}.")
    verdict: Verdict = "supported" if stats.median(values) > 1 else "not supported"
    return Finding(
        "batching", "Time per image vs batch size", claim, verdict, sentences,
        "supported when the median model is faster per image at its largest batch size than at batch 1 "
        "(speed-up = time per image at batch 1 / at the larger batch, medians of the timed iterations)",
        ["fig3"],
    )


def power_independent(run: Run) -> Finding:
    claim = "Power consumption is independent of batch size and architecture (11.8 ± 0.7 W above idle on the TX1)."
    figures = ["fig4", "fig8"]
    values = [
        (record, result.batch_size, watts)
        for record in run.records
        for result in record.batches
        if (watts := data.net_power_w(result)) is not None
    ]
    if len(values) < 2:
        return Finding(
            "power", "Power vs batch size and architecture", claim, "cannot be tested",
            [_not_testable(run, "power", "fewer than two model × batch points carry a net power")],
            "needs net power (mean minus idle) at two or more points", figures,
        )
    watts = [w for _, _, w in values]
    average, spread = stats.mean(watts), stats.stdev(watts)
    cv = spread / average if average else float("inf")
    sentences = [
        f"Net power above idle is {fmt.sig(average)} ± {fmt.sig(spread)} W (mean ± standard deviation over "
        f"{len(watts)} model × batch points), {cv * 100:.1f} % of the mean; "
        f"from {fmt.sig(min(watts))} W to {fmt.sig(max(watts))} W."
    ]
    by_model: dict[str, list[float]] = {}
    for record, _, w in values:
        by_model.setdefault(record.model.name, []).append(w)
    ranges = [max(ws) - min(ws) for ws in by_model.values() if len(ws) > 1]
    if ranges:
        typical = stats.median(ranges)
        sentences.append(
            f"Across batch sizes, one model's power moves by {fmt.sig(typical)} W (median over {len(ranges)} "
            f"models of max − min), {typical / average * 100:.1f} % of the mean."
        )
    smallest = min(size for _, size, _ in values)
    at_smallest = [w for _, size, w in values if size == smallest]
    if len(at_smallest) > 1:
        width = max(at_smallest) - min(at_smallest)
        sentences.append(
            f"Across architectures at batch {smallest}, power spans {fmt.sig(width)} W "
            f"({width / average * 100:.1f} % of the mean) over {len(at_smallest)} models."
        )
    verdict: Verdict = "supported" if cv <= POWER_CV_SUPPORTED else "not supported"
    return Finding(
        "power", "Power vs batch size and architecture", claim, verdict, sentences,
        f"supported when the standard deviation of net power is at most {POWER_CV_SUPPORTED * 100:.0f} % of its mean "
        "(the study's ± 0.7 W on 11.8 W is 6 %)",
        figures,
    )


@dataclass(frozen=True)
class MemoryShape:
    model: str
    knee_batch: int  # last batch size still within the flat tolerance of the smallest
    smallest_batch: int
    largest_batch: int
    slope_mb_per_image: float | None  # least squares from the knee on; None if no growth points
    flat_then_grows: bool
    tail_r2: float | None = None  # straight-line fit from the knee on (3+ points)


def memory_shape(record: Record) -> MemoryShape | None:
    points = sorted(
        (result.batch_size, value / MB)
        for result in record.batches
        if (value := data.memory_bytes(result)) is not None
    )
    if len(points) < 3:
        return None
    floor = points[0][1]
    knee = points[0][0]
    for size, megabytes in points:
        if megabytes <= floor * (1 + MEMORY_FLAT_TOLERANCE):
            knee = size
        else:
            break
    tail = [(s, m) for s, m in points if s >= knee]
    fit = stats.linear_fit([s for s, _ in tail], [m for _, m in tail]) if len(tail) >= 3 else None
    if fit is None and len(tail) == 2:
        (s0, m0), (s1, m1) = tail
        slope: float | None = (m1 - m0) / (s1 - s0)
    else:
        slope = fit.slope if fit is not None else None
    flat = knee > points[0][0]
    grows = slope is not None and slope > 0 and knee < points[-1][0]
    return MemoryShape(_name(record), knee, points[0][0], points[-1][0], slope, flat and grows,
                       None if fit is None else fit.r2)


def memory_flat_then_linear(run: Run) -> Finding:
    claim = "Memory stays flat up to some batch size, then grows linearly with it."
    shapes = [shape for record in run.records if (shape := memory_shape(record)) is not None]
    figures = ["fig5", "fig6"]
    if not shapes:
        return Finding(
            "memory", "Memory vs batch size", claim, "cannot be tested",
            ["Cannot be tested: no model has peak memory at three or more batch sizes."],
            "needs memory at three or more batch sizes per model", figures,
        )
    share = sum(shape.flat_then_grows for shape in shapes) / len(shapes)
    knee_then_growth = [shape for shape in shapes if shape.flat_then_grows]
    flat_throughout = [shape for shape in shapes if shape.knee_batch == shape.largest_batch]
    grows_at_once = [shape for shape in shapes if shape.knee_batch == shape.smallest_batch
                     and shape.slope_mb_per_image is not None and shape.slope_mb_per_image > 0]
    other = len(shapes) - len(knee_then_growth) - len(flat_throughout) - len(grows_at_once)
    sentences = [
        f"Of {fmt.plural(len(shapes), 'model')} with memory at three or more batch sizes, "
        f"{_agree(len(knee_then_growth), 'stays', 'stay')} within "
        f"{MEMORY_FLAT_TOLERANCE * 100:.0f} % of {'its' if len(knee_then_growth) == 1 else 'their'} smallest-batch "
        f"memory up to a knee and {'grows' if len(knee_then_growth) == 1 else 'grow'} after it, "
        f"{_agree(len(flat_throughout), 'stays', 'stay')} flat up to the largest batch size measured, "
        f"{'' if other else 'and '}{_agree(len(grows_at_once), 'grows', 'grow')} "
        f"from the smallest batch size on"
        + (f", and {_agree(other, 'does', 'do')} neither (memory falls after the knee)." if other else ".")
    ]
    if knee_then_growth:
        knees = [shape.knee_batch for shape in knee_then_growth]
        slopes = [shape.slope_mb_per_image for shape in knee_then_growth if shape.slope_mb_per_image is not None]
        sentences.append(
            f"The knee is at batch {stats.median(knees):g} (median; from {min(knees)} to {max(knees)}); beyond it "
            f"memory grows by {fmt.sig(stats.median(slopes))} MB per image (median slope; from "
            f"{fmt.sig(min(slopes))} to {fmt.sig(max(slopes))} MB per image)."
        )
        linearity = [shape.tail_r2 for shape in knee_then_growth if shape.tail_r2 is not None]
        if linearity:
            sentences.append(
                f"A straight line fits the growth beyond the knee with R² {stats.median(linearity):.3f} (median over "
                f"{len(linearity)} models with three or more points past it; lowest {min(linearity):.3f})."
            )
    pts = _points(
        run.records,
        lambda r: None if r.parameters is None else r.parameters.parameters_bytes / MB,
        lambda r: None if (m := data.memory_bytes(data.ok_batch(r, 1))) is None else m / MB,
    )
    fit = stats.linear_fit([x for _, x, _ in pts], [y for _, _, y in pts])
    if fit is not None:
        sentences.append(
            f"At batch 1, memory ≈ {fmt.sig(fit.intercept)} MB + {fmt.sig(fit.slope)} × parameter MB "
            f"(R² = {fit.r2:.3f}, {fit.n} models; the study found a floor of about 200 MB and a slope of about 1.3)."
        )
    if share >= MEMORY_SHARE_SUPPORTED:
        verdict: Verdict = "supported"
    elif share > 0:
        verdict = "mixed"
    else:
        verdict = "not supported"
    return Finding(
        "memory", "Memory vs batch size", claim, verdict, sentences,
        f"supported when at least {MEMORY_SHARE_SUPPORTED * 100:.0f} % of models are flat (within "
        f"{MEMORY_FLAT_TOLERANCE * 100:.0f} %) for two or more batch sizes and then grow; memory is "
        f"{data.memory_kind(run.records[0]) if run.records else 'not measured'}",
        figures,
    )


def accuracy_time(run: Run) -> Finding:
    claim = "Accuracy and inference time are in a hyperbolic relationship (a little more accuracy costs a lot more time)."
    pts = _points(run.records, lambda r: data.ms_per_image(data.ok_batch(r, 1)), data.top1)
    figures = ["fig9", "pareto"]
    xs, ys = [x for _, x, _ in pts], [y for _, _, y in pts]
    linear = stats.linear_fit(xs, ys)
    logarithmic = stats.transformed_fit(xs, ys, stats.log_x)
    hyperbolic = stats.transformed_fit(xs, ys, stats.inverse_x)
    if linear is None or logarithmic is None or hyperbolic is None:
        return Finding(
            "accuracy-time", "Accuracy vs inference time", claim, "cannot be tested",
            [f"Cannot be tested: {len(pts)} model(s) have both a top-1 figure and a time at batch 1 (3 needed)."],
            "needs top-1 and batch-1 time for three or more models", figures,
        )
    fits = {"straight line": linear, "logarithm of time": logarithmic, "hyperbola a − b/time": hyperbolic}
    best = max(fits, key=lambda name: fits[name].r2)
    sentences = [
        f"Over {linear.n} models at batch 1, top-1 against time per image: hyperbola top-1 = "
        f"{fmt.sig(hyperbolic.intercept)} {fmt.signed(hyperbolic.slope)} / (ms per image), R² = {hyperbolic.r2:.3f}; "
        f"logarithm R² = {logarithmic.r2:.3f}; straight line R² = {linear.r2:.3f}. Best fit: {best}."
    ]
    front = stats.pareto_front([(_name(r), x, y) for r, x, y in pts])
    sentences.append(
        "Pareto front (no other model is both faster at batch 1 and more accurate): " + ", ".join(front) + "."
    )
    saturating = hyperbolic.slope < 0 or logarithmic.slope > 0
    if fits[best].r2 < ACCURACY_R2_MIN:
        verdict: Verdict = "not supported"
    elif best != "straight line" and saturating:
        verdict = "supported"
    elif saturating:
        verdict = "mixed"
    else:
        verdict = "not supported"
    return Finding(
        "accuracy-time", "Accuracy vs inference time", claim, verdict, sentences,
        "supported when the hyperbola or the logarithm fits better (higher R² in top-1 %) than a straight line, "
        f"accuracy rises with time and the best fit has R² ≥ {ACCURACY_R2_MIN} (otherwise time explains too little "
        "of accuracy for any shape to be claimed); top-1 is the published figure (measured where none is published)",
        figures,
    )


def energy_bounds_accuracy(run: Run) -> Finding:
    claim = "An energy constraint sets an upper bound on achievable accuracy and model complexity."
    figures = ["energy"]
    energy = lambda r: data.energy_j(data.ok_batch(r, 1))  # noqa: E731
    pts_acc = _points(run.records, energy, data.top1)
    pts_ops = _points(run.records, energy, data.gflops)
    if len(pts_acc) < 3:
        return Finding(
            "energy", "Energy bounds accuracy", claim, "cannot be tested",
            [_not_testable(run, "energy", f"{len(pts_acc)} model(s) have energy per image at batch 1 and a top-1 "
                                          "(3 needed)")],
            "needs energy per image at batch 1 for three or more models", figures,
        )
    rho_acc = stats.spearman([x for _, x, _ in pts_acc], [y for _, _, y in pts_acc])
    rho_ops = stats.spearman([x for _, x, _ in pts_ops], [y for _, _, y in pts_ops])
    front = stats.pareto_front([(_name(r), x, y) for r, x, y in pts_acc])
    by_name = {_name(r): (x, y) for r, x, y in pts_acc}
    steps = "; ".join(f"{name} {fmt.sig(by_name[name][0])} J → {by_name[name][1]:.1f} %" for name in front)
    sentences = [
        f"Best top-1 reachable within an energy budget per image at batch 1 (Pareto front): {steps}.",
        f"Rank correlation of energy per image with top-1: {fmt.sig(rho_acc, 2, 'undefined')}; "
        f"with GFLOPs: {fmt.sig(rho_ops, 2, 'undefined')} ({len(pts_acc)} models).",
    ]
    if rho_acc is not None and rho_ops is not None and rho_acc >= SPEARMAN_SUPPORTED and rho_ops >= SPEARMAN_SUPPORTED:
        verdict: Verdict = "supported"
    elif (rho_acc or 0) > 0 or (rho_ops or 0) > 0:
        verdict = "mixed"
    else:
        verdict = "not supported"
    return Finding(
        "energy", "Energy bounds accuracy", claim, verdict, sentences,
        f"supported when energy per image rises with both top-1 and GFLOPs (Spearman ρ ≥ {SPEARMAN_SUPPORTED}), so "
        "a budget caps both",
        figures,
    )


def information_density(records: Sequence[Record]) -> Finding:
    """Across all records (density does not depend on the hardware): best top-1 per parameter."""
    claim = "ENet has the best information density: about 13× AlexNet and 24× VGG-19 in accuracy per parameter."
    best_by_model: dict[str, tuple[float, Record]] = {}
    for record in records:
        value = data.density(record)
        if value is not None:
            best_by_model.setdefault(record.model.name, (value, record))
    if not best_by_model:
        return Finding(
            "density", "Information density", claim, "cannot be tested",
            ["Cannot be tested: no record has both top-1 and a parameter count."],
            "needs top-1 and parameters", ["fig10"],
        )
    ranked = sorted(best_by_model.values(), key=lambda item: (-item[0], item[1].model.name))
    top_value, top = ranked[0]
    sentences = [
        f"Best accuracy per parameter: {_name(top)} with {fmt.sig(top_value)} top-1 % per million parameters "
        f"({len(ranked)} models)."
    ]
    by_study = {record.model.study_name: value for value, record in ranked if record.model.study_name}
    for reference in ("AlexNet", "VGG-19"):
        if reference in by_study:
            sentences.append(f"That is {fmt.sig(top_value / by_study[reference])}× {reference}.")
    if "ENet" in by_study:
        verdict: Verdict = "supported" if top.model.study_name == "ENet" else "not supported"
    else:
        verdict = "shown"
        enet_measured = any(record.model.study_name == "ENet" for record in records)
        reason = (
            "ENet has no top-1 (none published, none measured here)"
            if enet_measured
            else "ENet was not measured"
        )
        sentences.append(f"{reason}, so the study's ranking cannot be checked; the best model with a top-1 is shown.")
    return Finding(
        "density", "Information density", claim, verdict, sentences,
        "top-1 (published) divided by parameters in millions; supported when ENet ranks first",
        ["fig10"],
    )


def run_findings(run: Run) -> list[Finding]:
    return [
        operations_predict_time(run),
        batching_speedup(run),
        power_independent(run),
        memory_flat_then_linear(run),
        accuracy_time(run),
        energy_bounds_accuracy(run),
    ]
