"""The study's claims, tested on the records of each run, with three outcomes.

Every verdict is one of: supported, not supported, or inconclusive when the
effect lies within the measured uncertainty or rests on too few models (plus
"cannot be tested" when the records lack what the claim needs). Each verdict
carries its effect with a 95 % interval, the number of models or points it
rests on and the test used (``Effect``), so a reader can disagree with a
threshold without distrusting the number. Claims about each model (the
speed-up from batch 1 to the largest batch) say which models show the effect,
which contradict it and which cannot be told apart (``ModelSplit``).

Uncertainty enters from the records: each timing point's 95 % interval (within
and across measuring rounds). Fits and rank correlations get a percentile
bootstrap over models, each resampled model's time drawn within its own
interval, with a fixed seed so the same records always give the same verdict.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from generator.render import data, fmt, names, stats
from generator.render.data import MB, Run, TimingPoint
from generator.schema import Record

Verdict = Literal["supported", "not supported", "inconclusive", "cannot be tested", "cannot be tested as stated"]

# Thresholds (judgement calls, printed on the home page with each verdict).
R2_SUPPORTED = 0.8
POWER_CV_SUPPORTED = 0.10
MEMORY_FLAT_TOLERANCE = 0.10
MEMORY_SHARE_MAJORITY = 0.5
ACCURACY_R2_MIN = 0.5
MIN_MODELS = 5  # fewer models than this: any verdict would rest on too few to mean anything


@dataclass(frozen=True)
class Effect:
    """The number a verdict rests on, with its 95 % interval, sample size and test."""

    what: str  # e.g. "median speed-up per image, batch 1 to the largest batch"
    value: float
    low: float | None
    high: float | None
    unit: str  # appended to numbers: "×", " W", "" ...
    n: int
    n_of: str  # what n counts: "models", "model × batch points"
    test: str  # how the interval was obtained and what decides the verdict
    digits: int = 3
    short: str = ""  # a label for a table cell: "R² at batch 1", "median speed-up"

    def number(self, value: float) -> str:
        return f"{fmt.sig(value, self.digits)}{self.unit}"

    @property
    def interval_text(self) -> str:
        if self.low is not None and self.high is None:
            return f"95 % interval from {self.number(self.low)}, upper end unbounded"
        if self.low is None or self.high is None:
            return "exact" if self.test.startswith("exact") else "no interval"
        return f"95 % interval {self.number(self.low)}–{self.number(self.high)}"

    def above(self, threshold: float) -> bool:
        """The whole interval lies above ``threshold``."""
        return self.low is not None and self.low > threshold

    def below(self, threshold: float) -> bool:
        """The whole interval lies below ``threshold``."""
        return self.high is not None and self.high < threshold

    @property
    def text(self) -> str:
        """'1.16× (95 % interval 0.95×–1.30×, n = 14 models)'."""
        # n_of is a plural ("models", "model × batch points"): one of them is singular.
        counted = self.n_of.removesuffix("s") if self.n == 1 else self.n_of
        return f"{self.number(self.value)} ({self.interval_text}, n = {self.n} {counted})"

    @classmethod
    def percent(
        cls,
        what: str,
        fraction: float,
        interval: tuple[float, float] | None,
        n: int,
        n_of: str,
        test: str,
        *,
        digits: int,
        short: str,
    ) -> Effect:
        """An effect computed as a fraction and shown in percent: the value and both ends × 100."""
        low, high = (None, None) if interval is None else (interval[0] * 100, interval[1] * 100)
        return cls(what, fraction * 100, low, high, " %", n, n_of, test, digits=digits, short=short)


@dataclass(frozen=True)
class ModelSplit:
    """For a claim about each model: who shows the effect, who contradicts it, who cannot be told apart."""

    shows: list[str]
    contradicts: list[str]
    cannot_tell: list[str]


@dataclass(frozen=True)
class Finding:
    key: str
    title: str
    claim: str  # what the study says, in words
    verdict: Verdict
    sentences: list[str]
    criterion: str
    figures: list[str] = field(default_factory=list)  # figure ids on the run's figures page
    effects: list[Effect] = field(default_factory=list)
    split: ModelSplit | None = None

    @property
    def key_number(self) -> str:
        """The number(s) behind the verdict with interval and n, for the claims × hardware table."""
        return "; ".join(f"{e.short or e.what}: {e.text}" for e in self.effects)


@dataclass(frozen=True)
class ClaimCell:
    """One claim on one run, as the home page's claims x hardware table shows it."""

    verdict: Verdict
    effect: str  # effects with intervals and n, or why it cannot be tested
    test: str


@dataclass(frozen=True)
class ClaimRow:
    key: str
    title: str
    claim: str
    cells: list[ClaimCell]  # one per run, in ``ClaimsTable.runs`` order


@dataclass(frozen=True)
class ClaimsTable:
    runs: list[str]  # column labels: hardware, configuration
    rows: list[ClaimRow]


_name = names.label  # the one rule for a model's name on the site


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


def _draw(point: TimingPoint, rng: random.Random) -> float:
    """A time per image drawn within the point's 95 % interval (the point itself when it has none)."""
    if point.ms_per_image_low is None or point.ms_per_image_high is None:
        return point.ms_per_image
    return rng.uniform(point.ms_per_image_low, point.ms_per_image_high)


def _timed(records: Sequence[Record], size: int, x_of) -> list[tuple[Record, float, TimingPoint]]:  # type: ignore[no-untyped-def]
    """(record, x, timing at ``size``) for every record with both."""
    out = []
    for record in records:
        x = x_of(record)
        point = data.timing_point(record, data.ok_batch(record, size))
        if x is not None and point is not None:
            out.append((record, float(x), point))
    return out


def _too_few(n: int) -> str:
    return (
        f"Inconclusive: rests on {fmt.plural(n, 'model')}; at least {MIN_MODELS} are needed before a pattern across "
        "models can be claimed either way."
    )


def _threshold_verdict(effect: Effect, threshold: float, higher_supports: bool = True) -> Verdict:
    """Supported when the whole interval lies on the supporting side of ``threshold``, not supported when it
    lies wholly on the other side, inconclusive when it straddles it (or there is no interval)."""
    if effect.n < MIN_MODELS or effect.low is None or effect.high is None:
        return "inconclusive"
    above, below = effect.low >= threshold, effect.high < threshold
    if higher_supports:
        return "supported" if above else "not supported" if below else "inconclusive"
    above_strict, below_or_at = effect.low > threshold, effect.high <= threshold
    return "supported" if below_or_at else "not supported" if above_strict else "inconclusive"


def _combine(verdicts: Sequence[Verdict]) -> Verdict:
    """One verdict from several tests of one claim: any refutation wins, then any doubt."""
    tested = [v for v in verdicts if v != "cannot be tested"]
    if not tested:
        return "cannot be tested"
    if "not supported" in tested:
        return "not supported"
    if "inconclusive" in tested or len(tested) < len(verdicts):
        return "inconclusive"
    return "supported"


BOOTSTRAP_TEST = (
    f"percentile bootstrap over models ({stats.BOOTSTRAP_DRAWS:,} draws, fixed seed), each resampled "
    "model's time drawn within its own 95 % interval"
)


def operations_predict_time(run: Run) -> Finding:
    claim = "Operation count is a reliable estimate of inference time (a linear relation)."
    sentences: list[str] = []
    verdicts: list[Verdict] = []
    effects: list[Effect] = []
    for size in (1, data.large_batch(run.records) or data.STUDY_LARGE_BATCH):
        pts = _timed(run.records, size, data.gflops)
        xs = [x for _, x, _ in pts]
        fit = stats.linear_fit(xs, [p.ms_per_image for _, _, p in pts])
        if fit is None:
            sentences.append(
                f"At {data.batch_title(size)}: cannot be tested, {fmt.plural(len(pts), 'model')} "
                f"{'has' if len(pts) == 1 else 'have'} both an operation count and a time at this batch size "
                "(3 needed)."
            )
            verdicts.append("cannot be tested")
            continue

        def r2(sample: list[tuple[Record, float, TimingPoint]], rng: random.Random) -> float | None:
            resampled = stats.linear_fit([x for _, x, _ in sample], [_draw(p, rng) for _, _, p in sample])
            return None if resampled is None else resampled.r2

        interval = stats.bootstrap(pts, r2)
        effect = Effect(
            f"R² of time per image on GFLOPs at {data.batch_title(size)}",
            fit.r2,
            None if interval is None else interval[0],
            None if interval is None else interval[1],
            "",
            fit.n,
            "models",
            BOOTSTRAP_TEST,
            short=f"R² at batch {size}",
        )
        effects.append(effect)
        verdicts.append(_threshold_verdict(effect, R2_SUPPORTED))
        sentences.append(
            f"At {data.batch_title(size)}, time per image ≈ {fmt.sig(fit.slope)} ms per GFLOP × GFLOPs "
            f"{fmt.signed(fit.intercept)} ms, R² = {fit.r2:.3f} over {fit.n} models "
            f"({effect.interval_text.replace('95 % interval ', '95 % interval of R² ')})."
        )
        if fit.n < MIN_MODELS:
            sentences.append(_too_few(fit.n))
    timed = _timed(run.records, 1, data.gflops)
    if timed:
        # The study singles out VGG as the most expensive network (about 0.2 s per image on the TX1).
        record, gflops, point = max(timed, key=lambda item: (item[2].ms_per_image, item[0].model.name))
        sentences.append(
            f"Slowest at batch 1: {_name(record)}, {fmt.sig(point.ms_per_image)} ms per image "
            f"({fmt.interval(point.ms_per_image_low, point.ms_per_image_high)}) for {fmt.sig(gflops)} GFLOPs."
        )
    return Finding(
        "operations-time",
        "Operations predict inference time",
        claim,
        _combine(verdicts),
        sentences,
        f"supported when the 95 % interval of R² of a straight line through the models lies at or above "
        f"{R2_SUPPORTED} at both batch 1 and 16 (or the largest batch size measured below 16), not supported when "
        f"it lies below at either, inconclusive otherwise or with fewer than {MIN_MODELS} models; interval by "
        f"{BOOTSTRAP_TEST} (GFLOPs = 2 × GMACs as counted by fvcore; time = median per image)",
        ["fig7"],
        effects,
    )


def _median_interval(intervals: Sequence[stats.Interval]) -> stats.Interval:
    """The median of several quantities, with the range the median can take while each stays in its interval.

    The median is monotone in every argument, so the medians of the lower and
    of the upper ends bound it. A quantity without an interval can be anything:
    it enters as 0 and infinity.
    """
    value = stats.median([i.value for i in intervals])
    low = stats.median([i.low if i.low is not None else 0.0 for i in intervals])
    high = stats.median([i.high if i.high is not None else math.inf for i in intervals])
    # A bound reached only through points without an interval is no bound at all.
    return stats.Interval(value, low if low > 0 else None, None if math.isinf(high) else high)


def _speedup(record: Record) -> tuple[int, stats.Interval] | None:
    """(largest batch size timed, time per image at batch 1 / at it, with the interval of the ratio)."""
    one = data.timing_point(record, data.ok_batch(record, 1))
    larger = [
        point
        for result in record.batches
        if result.batch_size > 1 and (point := data.timing_point(record, result)) is not None
    ]
    if one is None or not larger:
        return None
    big = max(larger, key=lambda point: point.batch_size)
    ratio = stats.ratio_interval(
        stats.Interval(one.ms_per_image, one.ms_per_image_low, one.ms_per_image_high),
        stats.Interval(big.ms_per_image, big.ms_per_image_low, big.ms_per_image_high),
    )
    return big.batch_size, ratio


def _names(records: Sequence[Record]) -> str:
    return ", ".join(sorted(_name(r) for r in records)) or "none"


def batching_speedup(run: Run) -> Finding:
    """Fig. 3's message: time per image falls as the batch grows; a claim about each model."""
    claim = (
        "Time per image falls as the batch size grows; AlexNet runs about 3× faster per image at batch 64 than "
        "at batch 1 (TX1)."
    )
    ratios = [(record, *found) for record in run.records if (found := _speedup(record)) is not None]
    if not ratios:
        return Finding(
            "batching",
            "Time per image vs batch size",
            claim,
            "cannot be tested",
            ["Cannot be tested: no model has a time at batch 1 and at a larger batch size."],
            "needs time per image at batch 1 and at least one larger batch size",
            ["fig3"],
        )
    shows = [record for record, _, ratio in ratios if ratio.above(1.0)]
    contradicts = [record for record, _, ratio in ratios if ratio.below(1.0)]
    cannot_tell = [record for record, _, ratio in ratios if not ratio.above(1.0) and not ratio.below(1.0)]
    median = _median_interval([ratio for _, _, ratio in ratios])
    test = (
        "per model, speed-up = time per image at batch 1 / at its largest batch size, its interval from the "
        "ends of the two points' 95 % intervals; the median's interval is the median of the lower ends to the "
        "median of the upper ends"
    )
    effect = Effect(
        "median speed-up per image from batch 1 to the largest batch size",
        median.value,
        median.low,
        median.high,
        "×",
        len(ratios),
        "models",
        test,
        short="median speed-up",
    )
    slowest = min(ratios, key=lambda item: (item[2].value, item[0].model.name))
    fastest = max(ratios, key=lambda item: (item[2].value, item[0].model.name))
    sentences = [
        f"From batch 1 to the largest batch size each model ran, time per image falls by a median "
        f"{effect.text}, from {fmt.sig(slowest[2].value)}× ({_name(slowest[0])}, batch {slowest[1]}) to "
        f"{fmt.sig(fastest[2].value)}× ({_name(fastest[0])}, batch {fastest[1]}).",
        f"Faster per image at the larger batch (whole interval above 1×): {_names(shows)}. "
        f"Slower (whole interval below 1×): {_names(contradicts)}. "
        f"Cannot be told apart (interval includes 1×, or a point without an interval): {_names(cannot_tell)}.",
    ]
    unbounded = [record for record, _, ratio in ratios if not ratio.known]
    if unbounded:
        verb = "has" if len(unbounded) == 1 else "have"
        sentences.append(
            f"{fmt.plural(len(unbounded), 'model')} of {len(ratios)} {verb} a point without an "
            "interval (timing stopped on its budget before one could be computed): "
            f"{_names(unbounded)}; any speed-up is possible for them."
        )
    for record, size, ratio in ratios:
        if record.model.study_name == "AlexNet":
            sentences.append(
                f"AlexNet: {fmt.sig(ratio.value)}× ({fmt.interval(ratio.low, ratio.high)}) from batch 1 "
                f"to batch {size}; the study measured about 3× to batch 64 on the TX1."
            )
    if len(ratios) < MIN_MODELS:
        verdict: Verdict = "inconclusive"
        sentences.append(_too_few(len(ratios)))
    elif median.above(1.0):
        verdict = "supported"
    elif median.high is not None and median.high <= 1.0:
        verdict = "not supported"
    else:
        verdict = "inconclusive"
    return Finding(
        "batching",
        "Time per image vs batch size",
        claim,
        verdict,
        sentences,
        "supported when the interval of the median speed-up lies wholly above 1×, not supported when it lies at or "
        f"below 1×, inconclusive when it includes 1× or rests on fewer than {MIN_MODELS} models ({test})",
        ["fig3"],
        [effect],
        ModelSplit([_name(r) for r in shows], [_name(r) for r in contradicts], [_name(r) for r in cannot_tell]),
    )


def power_independent(run: Run) -> Finding:
    claim = "Power consumption is independent of batch size and architecture (11.8 ± 0.7 W above idle on the TX1)."
    figures = ["fig4", "fig8"]
    values = [
        (record, result.batch_size, net)
        for record in run.records
        for result in record.batches
        if (net := data.net_power_w(result)) is not None
    ]
    if len(values) < 2:
        return Finding(
            "power",
            "Power vs batch size and architecture",
            claim,
            "cannot be tested",
            [_not_testable(run, "power", "fewer than two model × batch points carry a net power")],
            "needs net power (mean minus idle) at two or more points",
            figures,
        )
    watts = [w for _, _, w in values]
    average, spread = stats.mean(watts), stats.stdev(watts)
    if average <= 0:
        # Load drew no more than idle on average (a meter that does not move, or idle read high): a spread
        # relative to the mean is undefined, and dividing by it would fail or flip the sign.
        return Finding(
            "power",
            "Power vs batch size and architecture",
            claim,
            "cannot be tested",
            [
                f"Cannot be tested on this run: net power above idle averages {fmt.sig(average)} W over "
                f"{fmt.plural(len(watts), 'model × batch point')}, so its spread relative to the mean is undefined."
            ],
            "needs net power (mean minus idle) averaging above 0 W",
            figures,
        )
    cv = spread / average
    sentences = [
        f"Net power above idle is {fmt.sig(average)} ± {fmt.sig(spread)} W (mean ± standard deviation over "
        f"{fmt.plural(len(watts), 'model × batch point')}), {cv * 100:.1f} % of the mean; "
        f"from {fmt.sig(min(watts))} W to {fmt.sig(max(watts))} W."
    ]
    by_model: dict[str, list[float]] = {}
    for record, _, w in values:
        by_model.setdefault(record.model.name, []).append(w)
    ranges = [max(ws) - min(ws) for ws in by_model.values() if len(ws) > 1]
    if ranges:
        typical = stats.median(ranges)
        sentences.append(
            f"Across batch sizes, one model's power moves by {fmt.sig(typical)} W (median over "
            f"{fmt.plural(len(ranges), 'model')} of max − min), {typical / average * 100:.1f} % of the mean."
        )
    smallest = min(size for _, size, _ in values)
    at_smallest = [w for _, size, w in values if size == smallest]
    if len(at_smallest) > 1:
        width = max(at_smallest) - min(at_smallest)
        sentences.append(
            f"Across architectures at batch {smallest}, power spans {fmt.sig(width)} W "
            f"({width / average * 100:.1f} % of the mean) over {len(at_smallest)} models."
        )
    # Resample models, not points: one model's batch sizes share its architecture.
    models = list(by_model.values())

    def cv_of(sample: list[list[float]], rng: random.Random) -> float | None:
        pooled = [w for ws in sample for w in ws]
        if len(pooled) < 2 or stats.mean(pooled) <= 0:
            return None
        return stats.stdev(pooled) / stats.mean(pooled)

    interval = stats.bootstrap(models, cv_of)
    test = f"percentile bootstrap over models ({stats.BOOTSTRAP_DRAWS:,} draws, fixed seed), each with all its points"
    effect = Effect.percent(
        "spread of net power (standard deviation / mean)",
        cv,
        interval,
        len(models),
        "models",
        test,
        digits=2,
        short="spread of net power",
    )
    sentences.insert(1, f"Spread (standard deviation / mean): {effect.text}.")
    if len(models) < MIN_MODELS:
        sentences.append(_too_few(len(models)))
    verdict = _threshold_verdict(effect, POWER_CV_SUPPORTED * 100, higher_supports=False)
    return Finding(
        "power",
        "Power vs batch size and architecture",
        claim,
        verdict,
        sentences,
        f"supported when the 95 % interval of the spread (standard deviation / mean of net power) lies at or below "
        f"{POWER_CV_SUPPORTED * 100:.0f} % (the study's ± 0.7 W on 11.8 W is 6 %), not supported when it lies "
        f"above, inconclusive otherwise or with fewer than {MIN_MODELS} models; interval by {test}",
        figures,
        [effect],
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
        (result.batch_size, value / MB) for result in record.batches if (value := data.memory_bytes(result)) is not None
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
    return MemoryShape(
        _name(record), knee, points[0][0], points[-1][0], slope, flat and grows, None if fit is None else fit.r2
    )


def memory_flat_then_linear(run: Run) -> Finding:
    claim = "Memory stays flat up to some batch size, then grows linearly with it."
    shapes = [shape for record in run.records if (shape := memory_shape(record)) is not None]
    figures = ["fig5", "fig6"]
    if not shapes:
        return Finding(
            "memory",
            "Memory vs batch size",
            claim,
            "cannot be tested",
            ["Cannot be tested: no model has peak memory at three or more batch sizes."],
            "needs memory at three or more batch sizes per model",
            figures,
        )
    share = sum(shape.flat_then_grows for shape in shapes) / len(shapes)
    knee_then_growth = [shape for shape in shapes if shape.flat_then_grows]
    flat_throughout = [shape for shape in shapes if shape.knee_batch == shape.largest_batch]
    grows_at_once = [
        shape
        for shape in shapes
        if shape.knee_batch == shape.smallest_batch
        and shape.slope_mb_per_image is not None
        and shape.slope_mb_per_image > 0
    ]
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
                f"{fmt.plural(len(linearity), 'model')} with three or more points past it; "
                f"lowest {min(linearity):.3f})."
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
    low, high = stats.wilson(len(knee_then_growth), len(shapes))
    test = "Wilson score interval of the share of models"
    effect = Effect.percent(
        "share of models flat up to a knee, then growing",
        share,
        (low, high),
        len(shapes),
        "models",
        test,
        digits=3,
        short="flat, then growing",
    )
    sentences.insert(1, f"Share that are flat, then grow: {effect.text}.")
    if len(shapes) < MIN_MODELS:
        verdict: Verdict = "inconclusive"
        sentences.append(_too_few(len(shapes)))
    elif low > MEMORY_SHARE_MAJORITY:
        verdict = "supported"
    elif high < MEMORY_SHARE_MAJORITY:
        verdict = "not supported"
    else:
        verdict = "inconclusive"
    return Finding(
        "memory",
        "Memory vs batch size",
        claim,
        verdict,
        sentences,
        f"supported when the 95 % interval ({test}) of the share of models that stay flat (within "
        f"{MEMORY_FLAT_TOLERANCE * 100:.0f} %) for two or more batch sizes and then grow lies above "
        f"{MEMORY_SHARE_MAJORITY * 100:.0f} % (most models), not supported when it lies below, inconclusive "
        f"otherwise or with fewer than {MIN_MODELS} models; memory is "
        f"{data.memory_kind(run.records[0]) if run.records else 'not measured'}",
        figures,
        [effect],
    )


def _recipe_sentence(records: Sequence[Record]) -> str | None:
    """Say so when the accuracies a claim rests on are not all the original training recipe."""
    later = [r for r in records if data.accuracy_recipe(r) == "later"]
    unstated = [r for r in records if data.accuracy_recipe(r) == "not stated"]
    parts = []
    if later:
        parts.append(
            f"a later training recipe for {_names(later)} (records from before the original recipe's "
            "figure was kept; the study used original recipes, so these points sit higher than its would)"
        )
    if unstated:
        parts.append(f"a recipe the records do not state for {_names(unstated)}")
    return ("Top-1 here is " + "; ".join(parts) + ".") if parts else None


def accuracy_time(run: Run) -> Finding:
    claim = (
        "Accuracy and inference time are in a hyperbolic relationship (a little more accuracy costs a lot more time)."
    )
    pts = _timed(run.records, 1, data.top1)  # (record, top-1, timing at batch 1)
    figures = ["fig9", "pareto"]
    xs, ys = [p.ms_per_image for _, _, p in pts], [top1 for _, top1, _ in pts]
    linear = stats.linear_fit(xs, ys)
    logarithmic = stats.transformed_fit(xs, ys, stats.log_x)
    hyperbolic = stats.transformed_fit(xs, ys, stats.inverse_x)
    if linear is None or logarithmic is None or hyperbolic is None:
        return Finding(
            "accuracy-time",
            "Accuracy vs inference time",
            claim,
            "cannot be tested",
            [
                f"Cannot be tested: {fmt.plural(len(pts), 'model')} {'has' if len(pts) == 1 else 'have'} both a top-1 "
                "figure and a time at batch 1 (3 needed)."
            ],
            "needs top-1 and batch-1 time for three or more models",
            figures,
        )
    fits = {"straight line": linear, "logarithm of time": logarithmic, "hyperbola a − b/time": hyperbolic}
    best = max(fits, key=lambda name: fits[name].r2)
    curved = max(logarithmic.r2, hyperbolic.r2)

    def curves(sample: list[tuple[Record, float, TimingPoint]], rng: random.Random) -> tuple[float, float] | None:
        times = [_draw(p, rng) for _, _, p in sample]
        tops = [top1 for _, top1, _ in sample]
        line = stats.linear_fit(times, tops)
        log = stats.transformed_fit(times, tops, stats.log_x)
        hyper = stats.transformed_fit(times, tops, stats.inverse_x)
        if line is None or log is None or hyper is None:
            return None
        return max(log.r2, hyper.r2), max(log.r2, hyper.r2) - line.r2

    gain = stats.bootstrap(pts, lambda s, rng: None if (c := curves(s, rng)) is None else c[1])
    fit_interval = stats.bootstrap(pts, lambda s, rng: None if (c := curves(s, rng)) is None else c[0])
    effects = [
        Effect(
            "R² gained by the better curve (hyperbola or logarithm) over a straight line",
            curved - linear.r2,
            None if gain is None else gain[0],
            None if gain is None else gain[1],
            "",
            linear.n,
            "models",
            BOOTSTRAP_TEST,
            short="R² gain of the curve over a line",
        ),
        Effect(
            "R² of the better curve",
            curved,
            None if fit_interval is None else fit_interval[0],
            None if fit_interval is None else fit_interval[1],
            "",
            linear.n,
            "models",
            BOOTSTRAP_TEST,
            short="R² of the curve",
        ),
    ]
    sentences = [
        f"Over {linear.n} models at batch 1, top-1 against time per image: hyperbola top-1 = "
        f"{fmt.sig(hyperbolic.intercept)} {fmt.signed(hyperbolic.slope)} / (ms per image), R² = {hyperbolic.r2:.3f}; "
        f"logarithm R² = {logarithmic.r2:.3f}; straight line R² = {linear.r2:.3f}. Best fit: {best}.",
        f"R² gained by the better curve over the line: {effects[0].text}; R² of that curve: {effects[1].text}.",
    ]
    front = stats.pareto_front([(_name(r), p.ms_per_image, top1) for r, top1, p in pts])
    sentences.append(
        "Pareto front (no other model is both faster at batch 1 and more accurate): " + ", ".join(front) + "."
    )
    recipes = _recipe_sentence([r for r, _, _ in pts])
    if recipes:
        sentences.append(recipes)
    saturating = hyperbolic.slope < 0 or logarithmic.slope > 0
    if linear.n < MIN_MODELS:
        verdict: Verdict = "inconclusive"
        sentences.append(_too_few(linear.n))
    elif not saturating or effects[0].below(0.0) or effects[1].below(ACCURACY_R2_MIN):
        verdict = "not supported"
    elif effects[0].above(0.0) and effects[1].low is not None and effects[1].low >= ACCURACY_R2_MIN:
        verdict = "supported"
    else:
        verdict = "inconclusive"
    return Finding(
        "accuracy-time",
        "Accuracy vs inference time",
        claim,
        verdict,
        sentences,
        "supported when accuracy rises with time, the hyperbola or the logarithm fits better than a straight line "
        f"(interval of the R² gain above 0) and that curve's R² interval lies at or above {ACCURACY_R2_MIN}; not "
        f"supported when accuracy falls with time, a line fits better (gain interval below 0) or the curve's R² "
        f"interval lies below {ACCURACY_R2_MIN}; inconclusive otherwise or with fewer than {MIN_MODELS} models; "
        f"intervals by {BOOTSTRAP_TEST}; top-1 of the original training recipe where the record has it, "
        "never a limited evaluation",
        figures,
        effects,
    )


def energy_bounds_accuracy(run: Run) -> Finding:
    claim = "An energy constraint sets an upper bound on achievable accuracy and model complexity."
    figures = ["energy"]
    rows = [
        (r, e, a, g)
        for r in run.records
        if (e := data.energy_j(data.ok_batch(r, 1))) is not None
        and e > 0
        and (a := data.top1(r)) is not None
        and (g := data.gflops(r)) is not None
    ]
    if len(rows) < 3:
        return Finding(
            "energy",
            "Energy bounds accuracy",
            claim,
            "cannot be tested",
            [
                _not_testable(
                    run,
                    "energy",
                    f"{fmt.plural(len(rows), 'model')} {'has' if len(rows) == 1 else 'have'} "
                    "energy per image at batch 1, a top-1 and GFLOPs (3 needed)",
                )
            ],
            "needs energy per image at batch 1 for three or more models",
            figures,
        )
    test = f"percentile bootstrap over models ({stats.BOOTSTRAP_DRAWS:,} draws, fixed seed)"
    effects = []
    for what, column in (("top-1", 2), ("GFLOPs", 3)):
        rho = stats.spearman([row[1] for row in rows], [row[column] for row in rows])  # type: ignore[misc]
        interval = stats.bootstrap(
            rows,
            lambda s, rng, c=column: stats.spearman([row[1] for row in s], [row[c] for row in s]),  # type: ignore[misc]
        )
        effects.append(
            Effect(
                f"Spearman ρ of energy per image with {what}",
                rho if rho is not None else math.nan,
                None if interval is None else interval[0],
                None if interval is None else interval[1],
                "",
                len(rows),
                "models",
                test,
                digits=2,
                short=f"ρ with {what}",
            )
        )
    front = stats.pareto_front([(_name(r), e, a) for r, e, a, _ in rows])
    by_name = {_name(r): (e, a) for r, e, a, _ in rows}
    steps = "; ".join(f"{name} {fmt.sig(by_name[name][0])} J → {by_name[name][1]:.1f} %" for name in front)
    sentences = [
        f"Best top-1 reachable within an energy budget per image at batch 1 (Pareto front): {steps}.",
        f"Rank correlation of energy per image with top-1: {effects[0].text}; with GFLOPs: {effects[1].text}.",
    ]
    recipes = _recipe_sentence([r for r, _, _, _ in rows])
    if recipes:
        sentences.append(recipes)
    if len(rows) < MIN_MODELS:
        verdict: Verdict = "inconclusive"
        sentences.append(_too_few(len(rows)))
    elif any(math.isnan(e.value) for e in effects) or any(e.below(0.0) for e in effects):
        verdict = "not supported" if any(e.below(0.0) for e in effects) else "inconclusive"
    elif all(e.above(0.0) for e in effects):
        verdict = "supported"
    else:
        verdict = "inconclusive"
    return Finding(
        "energy",
        "Energy bounds accuracy",
        claim,
        verdict,
        sentences,
        "supported when energy per image rises with both top-1 and GFLOPs (95 % interval of Spearman ρ above 0 for "
        "both), so a budget caps both; not supported when either interval lies below 0; inconclusive otherwise or "
        f"with fewer than {MIN_MODELS} models; intervals by {test}",
        figures,
        effects,
    )


def information_density(records: Sequence[Record]) -> Finding:
    """Best top-1 per parameter (does not depend on the hardware): the study's claim is about ENet."""
    claim = "ENet has the best information density: about 13× AlexNet and 24× VGG-19 in accuracy per parameter."
    criterion = (
        "top-1 % (original training recipe where the record has it; published, or measured on the full "
        f"{data.IMAGENET_VAL_IMAGES:,}-image validation set, never a limited evaluation) per million "
        "parameters, both exact figures (no timing noise); supported when ENet ranks first"
    )
    best_by_model: dict[str, tuple[float, Record]] = {}
    for record in records:
        value = data.density(record)
        if value is not None:
            best_by_model.setdefault(record.model.name, (value, record))
    enet = [record for record in records if record.model.study_name == "ENet"]
    ranked = sorted(best_by_model.values(), key=lambda item: (-item[0], item[1].model.name))
    sentences: list[str] = []
    effects: list[Effect] = []
    if ranked:
        top_value, top = ranked[0]
        effects.append(
            Effect(
                f"best accuracy per parameter ({_name(top)})",
                top_value,
                None,
                None,
                " top-1 % per million parameters",
                len(ranked),
                "models",
                "exact: counted parameters and a sourced top-1",
                short=f"best, {_name(top)}",
            )
        )
        sentences.append(
            f"Best accuracy per parameter among the networks with a sourced top-1: {_name(top)} with "
            f"{fmt.sig(top_value)} top-1 % per million parameters ({fmt.plural(len(ranked), 'model')})."
        )
        by_study = {record.model.study_name: value for value, record in ranked if record.model.study_name}
        for reference in ("AlexNet", "VGG-19"):
            if reference in by_study:
                sentences.append(f"That is {fmt.sig(top_value / by_study[reference])}× {reference}.")
    limited = [r for r in enet if data.limited_evaluation(r) is not None and data.top1(r) is None]
    if any(data.density(r) is not None for r in enet):
        verdict: Verdict = "supported" if ranked and ranked[0][1].model.study_name == "ENet" else "not supported"
    else:
        verdict = "cannot be tested as stated"
        if not enet:
            reason = "ENet was not measured"
        elif limited:
            images = ", ".join(f"{m.images:,}" for r in limited if (m := r.accuracy.measured) is not None)
            reason = (
                f"ENet has no sourced top-1: none is published, and its local evaluation covered only {images} "
                f"of {data.IMAGENET_VAL_IMAGES:,} validation images, too few to count"
            )
        else:
            reason = "ENet has no sourced top-1 (none published, none measured over the full validation set)"
        sentences.append(
            f"{reason}, so the claim cannot be tested as stated; the best of the networks that have one "
            "is shown beside it."
        )
    if not ranked and verdict == "cannot be tested as stated":
        sentences.insert(0, "No record has both a sourced top-1 and a parameter count.")
    return Finding("density", "Information density", claim, verdict, sentences, criterion, ["fig10"], effects)


def run_findings(run: Run) -> list[Finding]:
    run = run.claims_run(MIN_MODELS)
    return [
        operations_predict_time(run),
        batching_speedup(run),
        power_independent(run),
        memory_flat_then_linear(run),
        accuracy_time(run),
        energy_bounds_accuracy(run),
    ]


def _cell(finding: Finding) -> ClaimCell:
    return ClaimCell(finding.verdict, finding.key_number or " ".join(finding.sentences[:1]), finding.criterion)


def claims_table(runs: Sequence[Run], findings_by_run: Sequence[Sequence[Finding]] | None = None) -> ClaimsTable:
    """The study's claims (rows) on every run (columns): verdict, effect with interval and n, test.

    ``findings_by_run``: ``run_findings`` already computed for the same runs, in order, to reuse.
    """
    if findings_by_run is None:
        findings_by_run = [run_findings(run) for run in runs]
    # Density does not depend on the hardware, but each run has its own line-up: one cell per run.
    computed = [
        [*found, information_density(run.claims_run(MIN_MODELS).records)]
        for run, found in zip(runs, findings_by_run, strict=True)
    ]
    rows: list[ClaimRow] = []
    if computed:
        for index, first in enumerate(computed[0]):
            rows.append(
                ClaimRow(first.key, first.title, first.claim, [_cell(findings[index]) for findings in computed])
            )
    return ClaimsTable([run.label for run in runs], rows)
