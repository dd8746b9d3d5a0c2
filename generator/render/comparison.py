"""Run against run: which is faster, by how much, and whether the difference is real.

A *run* here is one machine, one configuration and one software stack, as asv
keys results on machine + environment. Hardware against hardware, fp32 against
bf16 on one machine, and torch 2.14 against 2.15 on one machine are all the
same question, answered by ``compare``.

Rules, stated on the page with the numbers:
- Only models measured on both runs, at batch sizes both measured ('ok' on
  both), are compared; everything else is listed with the reason it was left out.
- A time's uncertainty is its record's 95 % interval (``time_interval``). The
  speed-up of one model is the ratio of the two times, with the interval of
  that ratio from the two intervals combined on a log scale; "faster" or
  "slower" only when that interval excludes 1, "indistinguishable" when it
  contains 1, "no interval" when either record has none (too few samples).
- The geometric-mean speed-up over the common models has a bootstrap interval
  with a fixed seed: the models are resampled with replacement (spread across
  models) and each model's own uncertainty (within and across rounds, from its
  interval) is drawn around it.

Pure Python like ``stats``: the render install stays light.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from generator.render import data
from generator.render.data import Run
from generator.render.load import LoadedRecord
from generator.render.order import model_key
from generator.schema import BatchResult, Record, safe_slug

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
BOOTSTRAP_REPLICATES = 2000
BOOTSTRAP_SEED = 20170  # fixed: the same records always give the same interval
MIN_MODELS_FOR_INTERVAL = 3  # resampling fewer models than this says nothing about the spread across models

Verdict = Literal["faster", "slower", "indistinguishable", "no interval"]
IntervalBasis = Literal["within and across rounds", "within one round", "none"]


# --------------------------------------------------------------------------- runs


SOFTWARE_FIELDS = ("python", "torch", "torchvision", "timm", "cuda", "cudnn")


def software_of(record: Record) -> tuple[tuple[str, str], ...]:
    """What a new run is keyed on besides machine and configuration: the stack that can change timings.

    fvcore (counting only) and the platform string (kernel builds) are left out:
    they do not change a timing, and keying on them would split one run in two.
    """
    fields = [(name, str(getattr(record.software, name) or "none")) for name in SOFTWARE_FIELDS]
    driver = record.hardware.gpu.driver_version if record.hardware.gpu is not None else None
    if driver is not None:
        fields.append(("driver", driver))
    return tuple(fields)


def software_text(software: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {value}" for name, value in software if value != "none" or name == "torch")


def software_difference(old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...]) -> list[str]:
    """'torch 2.14.1 → 2.15.0' for every field that differs."""
    before, after = dict(old), dict(new)
    return [
        f"{name} {before.get(name, 'none')} → {after.get(name, 'none')}"
        for name in dict.fromkeys([*before, *after])
        if before.get(name) != after.get(name)
    ]


@dataclass(frozen=True)
class RunRef:
    """One run as the comparison sees it: a machine, a configuration and a software stack."""

    run: Run
    software: tuple[tuple[str, str], ...]
    id: str  # 'hardware/configuration', plus '/software' when the machine has several stacks for it
    date: str  # earliest record date: when the run was measured

    @property
    def records(self) -> list[Record]:
        return self.run.records

    @property
    def hardware_slug(self) -> str:
        return self.run.hardware_slug

    @property
    def config_slug(self) -> str:
        return self.run.config_slug

    @property
    def label(self) -> str:
        extra = f", {dict(self.software).get('torch', 'torch none')}" if self.id.count("/") > 1 else ""
        return f"{self.run.label}{extra}"


def _software_slug(software: tuple[tuple[str, str], ...]) -> str:
    values = dict(software)
    parts = [f"torch-{values.get('torch', 'none')}", f"tv-{values.get('torchvision', 'none')}"]
    if values.get("cuda", "none") != "none":
        parts.append(f"cuda-{values['cuda']}")
    if "driver" in values:
        parts.append(f"driver-{values['driver']}")
    return safe_slug("_".join(parts))


def run_refs(runs: Sequence[Run]) -> list[RunRef]:
    """Every run split by software stack (oldest first within a machine and configuration).

    Records of one (hardware, configuration) measured under different software
    are different runs: an upgrade starts a new run beside the old one. When the
    store keys runs on software itself, each Run already holds one stack and
    this only labels it.
    """
    refs: list[RunRef] = []
    for run in runs:
        stacks: dict[tuple[tuple[str, str], ...], list[LoadedRecord]] = {}
        for item in run.items:
            stacks.setdefault(software_of(item.record), []).append(item)
        dated = sorted(stacks.items(), key=lambda kv: (min(i.record.run.date for i in kv[1]), kv[0]))
        for software, items in dated:
            base = f"{run.hardware_slug}/{run.config_slug}"
            ident = base if len(stacks) == 1 else f"{base}/{_software_slug(software)}"
            part = replace(run, items=list(items))  # keeps the run's name
            refs.append(RunRef(part, software, ident, min(i.record.run.date for i in items)))
    return refs


class BaselineError(ValueError):
    """``--baseline`` names no run; the message lists the runs there are."""


DEFAULT_CONFIG = "fp32"  # what 'measure' runs unless told otherwise


def choose_baseline(refs: Sequence[RunRef], wanted: str | None) -> RunRef:
    """The run named '<hardware>/<configuration>' (newest software if several).

    Default: the first machine in name order, in fp32 when it has it (bf16
    sorts before fp32, but the plain configuration is the natural reference),
    newest software.
    """
    if not refs:
        raise BaselineError("no runs to compare")
    if wanted is None:
        first = refs[0].hardware_slug
        machine = [ref for ref in refs if ref.hardware_slug == first]
        plain = [ref for ref in machine if ref.config_slug == DEFAULT_CONFIG] or machine[:1]
        return max(plain, key=lambda ref: ref.date)
    text = wanted.strip().strip("/")
    matches = [ref for ref in refs if ref.id == text or f"{ref.hardware_slug}/{ref.config_slug}" == text]
    if not matches:
        raise BaselineError(f"--baseline {wanted!r} names no run; runs: {', '.join(ref.id for ref in refs)}")
    return max(matches, key=lambda ref: ref.date)


# --------------------------------------------------------------------------- one value with its interval


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float | None
    high: float | None
    basis: IntervalBasis

    @property
    def log_se(self) -> float | None:
        """Standard error of log(value) implied by the 95 % interval (None: no interval)."""
        if self.low is None or self.high is None or self.low <= 0 or self.high <= 0:
            return None
        return (math.log(self.high) - math.log(self.low)) / (2 * Z95)


def time_interval(result: BatchResult | None) -> Estimate | None:
    """Time per image with its 95 % interval, or None when not timed.

    Schema 2 records carry the interval of the point estimate (within- and
    across-round spread); a schema 1 record only the relative half width of its
    single round, which covers no drift between runs and is labelled so.
    Fields are read by name so the same code reads both.
    """
    ms = data.ms_per_image(result)
    if ms is None or result is None or result.latency is None:
        return None
    latency = result.latency
    low = getattr(latency, "ci95_low_ms_per_batch", None)
    high = getattr(latency, "ci95_high_ms_per_batch", None)
    if low is not None and high is not None:
        # One round (every migrated schema 1 record): the interval knows nothing of the drift between runs.
        rounds = getattr(latency, "rounds", None)
        basis: IntervalBasis = (
            "within one round" if rounds is not None and len(rounds) < 2 else "within and across rounds"
        )
        return Estimate(ms, low / result.batch_size, high / result.batch_size, basis)
    half = getattr(latency, "ci95_half_width_relative", None)
    if half is not None and getattr(latency, "rounds", None) is None:
        return Estimate(ms, ms * (1 - half), ms * (1 + half), "within one round")
    return Estimate(ms, None, None, "none")


def throughput_interval(result: BatchResult | None) -> Estimate | None:
    """Images per second: the time interval turned round (the slow end bounds the throughput below)."""
    time = time_interval(result)
    if time is None or result is None:
        return None
    ips = data.images_per_s(result)
    if ips is None:
        return None
    low = None if time.high is None else 1000.0 / time.high
    high = None if time.low is None or time.low <= 0 else 1000.0 / time.low
    return Estimate(ips, low, high, time.basis)


@dataclass(frozen=True)
class Ratio:
    """other / baseline (or baseline / other for a speed-up) with its 95 % interval and verdict."""

    value: float
    low: float | None
    high: float | None
    verdict: Verdict


def ratio(numerator: Estimate, denominator: Estimate, better_when_above: bool = True) -> Ratio:
    """numerator / denominator; the interval combines both log standard errors.

    ``better_when_above``: a ratio above 1 means the other run is faster (a
    speed-up or a throughput ratio); the verdict is said from the other run's side.
    """
    value = numerator.value / denominator.value
    se_a, se_b = numerator.log_se, denominator.log_se
    if se_a is None or se_b is None:
        return Ratio(value, None, None, "no interval")
    se = math.hypot(se_a, se_b)
    low, high = value * math.exp(-Z95 * se), value * math.exp(Z95 * se)
    if low <= 1.0 <= high:
        verdict: Verdict = "indistinguishable"
    else:
        verdict = "faster" if (low > 1.0) == better_when_above else "slower"
    return Ratio(value, low, high, verdict)


def geometric_mean_ratio(
    pairs: Sequence[tuple[Estimate, Estimate]], better_when_above: bool = True, seed: int = BOOTSTRAP_SEED
) -> Ratio | None:
    """See ``_geometric_mean_ratio``; cached, as the home page asks again what the comparison page asked."""
    return _geometric_mean_ratio(tuple(pairs), better_when_above, seed)


@functools.lru_cache(maxsize=4096)
def _geometric_mean_ratio(
    pairs: tuple[tuple[Estimate, Estimate], ...], better_when_above: bool, seed: int
) -> Ratio | None:
    """Geometric mean of numerator/denominator over models, with a bootstrap 95 % interval.

    Each replicate draws the models with replacement and adds the models' own
    uncertainty: the mean of independent normal deviates on the log scale is
    one normal deviate with sd sqrt(sum se²) / n, so one draw per replicate is
    exact. A model without an interval adds only its place in the spread.
    """
    if not pairs:
        return None
    logs = [math.log(a.value / b.value) for a, b in pairs]
    ses = [math.hypot(a.log_se or 0.0, b.log_se or 0.0) for a, b in pairs]
    n = len(logs)
    centre = math.exp(sum(logs) / n)
    if n < MIN_MODELS_FOR_INTERVAL:
        return Ratio(centre, None, None, "no interval")
    picks_per_replicate, normals = _draws(n, seed)
    variances = [se * se for se in ses]
    replicates = [
        sum(map(logs.__getitem__, picks)) / n + z * math.sqrt(sum(map(variances.__getitem__, picks))) / n
        for picks, z in zip(picks_per_replicate, normals, strict=True)
    ]
    replicates.sort()
    low = math.exp(_quantile(replicates, 0.025))
    high = math.exp(_quantile(replicates, 0.975))
    if low <= 1.0 <= high:
        verdict: Verdict = "indistinguishable"
    else:
        verdict = "faster" if (low > 1.0) == better_when_above else "slower"
    return Ratio(centre, low, high, verdict)


@functools.lru_cache(maxsize=64)
def _draws(n: int, seed: int) -> tuple[tuple[tuple[int, ...], ...], tuple[float, ...]]:
    """The bootstrap's random draws for ``n`` models: the same for every comparison (common random numbers).

    Drawing them once per model count instead of once per call makes the
    interval of 14 comparisons × 7 batch sizes cost milliseconds, not seconds.
    Each replicate's picks are the first ``n`` of its stream (``_streams``) that
    fall below ``n``: uniform on the ``n`` models, and drawn once for every count
    a page compares (a zoo's batch sizes each have a different one).
    """
    bucket = 1 << (n - 1).bit_length()  # the least power of two >= n
    picks = []
    for replicate, stream in enumerate(_streams(bucket, seed)):
        found = tuple(itertools.islice(filter(n.__gt__, stream), n))
        if len(found) < n:  # too few of the stream's draws fell below n: never seen, but possible
            extra = random.Random(f"{seed}-{n}-{replicate}").choices(range(n), k=n - len(found))
            found += tuple(extra)
        picks.append(found)
    rng = random.Random(seed * 1000 + n)
    return tuple(picks), tuple(rng.gauss(0.0, 1.0) for _ in range(BOOTSTRAP_REPLICATES))


@functools.lru_cache(maxsize=16)
def _streams(bucket: int, seed: int) -> tuple[tuple[int, ...], ...]:
    """Per replicate, uniform draws from ``range(bucket)``: enough that the first ``n`` below any
    ``n`` > ``bucket / 2`` are found, all but always (a quarter more than ``bucket``, and some)."""
    rng = random.Random(seed * 1000 + bucket)
    indices = range(bucket)
    length = bucket + bucket // 4 + 32
    return tuple(tuple(rng.choices(indices, k=length)) for _ in range(BOOTSTRAP_REPLICATES))


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


# --------------------------------------------------------------------------- two runs


@dataclass(frozen=True)
class TimeRow:
    """One model at one batch size on both runs."""

    model: str
    label: str
    family: str
    batch_size: int
    baseline: Estimate
    other: Estimate
    speedup: Ratio  # baseline time / other time: above 1, the other run is faster


@dataclass(frozen=True)
class BatchComparison:
    batch_size: int
    rows: list[TimeRow]
    speedup: Ratio | None  # geometric mean over the rows

    def count(self, verdict: Verdict) -> int:
        return sum(1 for row in self.rows if row.speedup.verdict == verdict)


@dataclass(frozen=True)
class Measured:
    """A value on one run (None: not measured) and at which batch size it was taken."""

    value: float | None
    batch_size: int | None
    note: str = ""


@dataclass(frozen=True)
class ModelExtras:
    """Throughput at the best batch size, peak memory and energy per image, for one model on both runs."""

    model: str
    label: str
    throughput: tuple[Estimate, int, Estimate, int] | None  # (baseline, its best batch, other, its best batch)
    throughput_ratio: Ratio | None  # other / baseline: above 1, the other run is faster
    memory: tuple[Measured, Measured]
    memory_comparable: str | None  # None, or why the two memories cannot be set side by side
    energy: tuple[Measured, Measured]
    attained_gflops: tuple[float | None, float | None]  # at each run's best batch size


@dataclass(frozen=True)
class Comparison:
    baseline: RunRef
    other: RunRef
    kind: str  # 'hardware', 'configuration', 'software', 'hardware and configuration'
    differences: list[str]  # what differs between the two runs, in words
    common_models: list[str]
    common_batch_sizes: list[int]
    batches: list[BatchComparison]
    extras: list[ModelExtras]
    throughput_speedup: Ratio | None  # geometric mean over models of other/baseline best throughput
    left_out: list[str]
    peak_fraction: str  # the roofline sentence (a hook until records carry a machine's peak)

    def batch(self, size: int) -> BatchComparison | None:
        return next((b for b in self.batches if b.batch_size == size), None)


def machine_peak_gflops(ref: RunRef) -> float | None:
    """The machine's own peak GFLOP/s at the run's precision, where a record carries it.

    Hook: no record field holds a roofline peak yet, so this is None and the
    page says "not measured"; when one exists, read it here and the fraction of
    peak appears beside the attained GFLOP/s.
    """
    for record in ref.records:
        peak = getattr(record.hardware, "peak_gflops", None)
        if isinstance(peak, int | float) and peak > 0:
            return float(peak)
    return None


def _describe_difference(baseline: RunRef, other: RunRef) -> tuple[str, list[str]]:
    parts: list[str] = []
    kinds: list[str] = []
    if baseline.hardware_slug != other.hardware_slug:
        kinds.append("hardware")
        parts.append(f"hardware: {baseline.run.machine_name} → {other.run.machine_name}")
    a, b = baseline.run.config, other.run.config
    config_changes = [
        f"{name}: {getattr(a, name)} → {getattr(b, name)}"
        for name in ("device", "precision", "channels_last", "compile", "threads", "tf32", "cudnn_benchmark")
        if getattr(a, name) != getattr(b, name)
    ]
    if config_changes:
        kinds.append("configuration")
        parts.extend(config_changes)
    software = software_difference(baseline.software, other.software)
    if software:
        kinds.append("software")
        parts.extend(software)
    return (", ".join(kinds) or "nothing recorded"), parts


def _best_throughput(record: Record, sizes: Sequence[int]) -> tuple[Estimate, int] | None:
    best: tuple[Estimate, int] | None = None
    for size in sizes:
        estimate = throughput_interval(data.ok_batch(record, size))
        if estimate is not None and (best is None or estimate.value > best[0].value):
            best = (estimate, size)
    return best


def _at_first_common(
    record: Record, sizes: Sequence[int], value: Callable[[BatchResult | None], float | None]
) -> Measured:
    for size in sizes:
        result = data.ok_batch(record, size)
        if result is not None:
            return Measured(value(result), size)
    return Measured(None, None)


def compare(baseline: RunRef, other: RunRef) -> Comparison:
    """Everything the comparison page says about two runs."""
    kind, differences = _describe_difference(baseline, other)
    base_records = {r.model.name: r for r in baseline.records}
    other_records = {r.model.name: r for r in other.records}
    left_out: list[str] = []
    for name in sorted(set(base_records) - set(other_records)):
        left_out.append(f"{name}: measured only on {baseline.label}")
    for name in sorted(set(other_records) - set(base_records)):
        left_out.append(f"{name}: measured only on {other.label}")
    common: list[str] = []
    for name in sorted(set(base_records) & set(other_records), key=lambda n: model_key(base_records[n])):
        for side, record in ((baseline, base_records[name]), (other, other_records[name])):
            if record.status != "ok":
                left_out.append(f"{name}: could not be measured on {side.label} ({record.error or 'no message'})")
                break
        else:
            common.append(name)
    base_sizes = set(baseline.run.batch_sizes)
    other_sizes = set(other.run.batch_sizes)
    for size in sorted(base_sizes ^ other_sizes):
        only = baseline if size in base_sizes else other
        left_out.append(f"batch {size}: measured only on {only.label}")
    sizes = sorted(base_sizes & other_sizes)
    batches: list[BatchComparison] = []
    for size in sizes:
        rows: list[TimeRow] = []
        for name in common:
            a, b = base_records[name], other_records[name]
            ta, tb = time_interval(data.ok_batch(a, size)), time_interval(data.ok_batch(b, size))
            if ta is None or tb is None:
                why = (
                    "; ".join(
                        f"{status} on {side.label}"
                        for side, rec in ((baseline, a), (other, b))
                        for s, status, _ in data.failures(rec)
                        if s == size
                    )
                    or "not timed on one side"
                )
                left_out.append(f"{name} at batch {size}: {why}")
                continue
            rows.append(TimeRow(name, a.model.study_name or name, a.model.family, size, ta, tb, ratio(ta, tb)))
        batches.append(BatchComparison(size, rows, geometric_mean_ratio([(r.baseline, r.other) for r in rows])))
    extras: list[ModelExtras] = []
    throughput_pairs: list[tuple[Estimate, Estimate]] = []
    for name in common:
        a, b = base_records[name], other_records[name]
        best_a, best_b = _best_throughput(a, sizes), _best_throughput(b, sizes)
        throughput = None if best_a is None or best_b is None else (best_a[0], best_a[1], best_b[0], best_b[1])
        throughput_ratio = None
        if best_a is not None and best_b is not None:
            throughput_ratio = ratio(best_b[0], best_a[0])
            throughput_pairs.append((best_b[0], best_a[0]))
        kind_a, kind_b = data.memory_kind(a), data.memory_kind(b)
        memory_note = (
            None
            if kind_a == kind_b or "not measured" in (kind_a, kind_b)
            else f"{kind_a} against {kind_b}: not the same quantity"
        )
        gflops = data.gflops(a)
        attained = tuple(
            None if best is None or gflops is None else gflops * best[0].value for best in (best_a, best_b)
        )
        extras.append(
            ModelExtras(
                name,
                a.model.study_name or name,
                throughput,
                throughput_ratio,
                (_at_first_common(a, sizes, data.memory_bytes), _at_first_common(b, sizes, data.memory_bytes)),
                memory_note,
                (_at_first_common(a, sizes, data.energy_j), _at_first_common(b, sizes, data.energy_j)),
                (attained[0], attained[1]),
            )
        )
    peaks = (machine_peak_gflops(baseline), machine_peak_gflops(other))
    if None in peaks:
        missing = [ref.label for ref, peak in zip((baseline, other), peaks, strict=True) if peak is None]
        peak_fraction = (
            f"Fraction of each machine's own peak: not measured (no peak GFLOP/s recorded for {' or '.join(missing)})."
        )
    else:
        peak_fraction = ""  # filled per model by the page when peaks exist
    return Comparison(
        baseline,
        other,
        kind,
        differences,
        common,
        sizes,
        batches,
        extras,
        geometric_mean_ratio(throughput_pairs),
        sorted(set(left_out), key=left_out.index),
        peak_fraction,
    )


# --------------------------------------------------------------------------- which pairs


def pairs_to_compare(refs: Sequence[RunRef], baseline: RunRef) -> list[tuple[RunRef, RunRef]]:
    """Baseline against each run, not every run against every other.

    Across machines only the same configuration is compared (fp32 with fp32);
    a configuration the baseline's machine lacks is compared on its own machine
    against that machine's run in the baseline's configuration (or its first
    run). So 5 machines × 3 configurations give 14 pairs, each answering one
    question: "how much faster is this machine" or "what does bf16 buy here".
    """
    direct: list[tuple[RunRef, RunRef]] = []  # against the baseline itself, listed first
    anchored: list[tuple[RunRef, RunRef]] = []
    for ref in refs:
        if ref is baseline:
            continue
        if ref.hardware_slug == baseline.hardware_slug or ref.config_slug == baseline.config_slug:
            direct.append((baseline, ref))
            continue
        machine = [r for r in refs if r.hardware_slug == ref.hardware_slug]
        anchor = next((r for r in machine if r.config_slug == baseline.config_slug), machine[0])
        (direct if anchor is ref else anchored).append((baseline if anchor is ref else anchor, ref))
    return direct + anchored


# --------------------------------------------------------------------------- history of one machine


@dataclass(frozen=True)
class Change:
    model: str
    label: str
    batch_size: int
    before_ms: float
    after_ms: float
    speedup: Ratio  # before / after: above 1, faster after the change


@dataclass(frozen=True)
class HistoryStep:
    """Two consecutive runs of one machine and configuration: what the software change did."""

    before: RunRef
    after: RunRef
    software: list[str]
    regressions: list[Change]  # slower beyond the combined uncertainty
    improvements: list[Change]  # faster beyond it
    within_noise: int  # (model, batch) points whose change the intervals cannot tell from noise
    no_interval: int  # points where a record had no interval
    compared_points: int
    left_out: list[str] = field(default_factory=list)


def history(refs: Sequence[RunRef]) -> list[HistoryStep]:
    """Consecutive runs (by date) of each machine and configuration, and what moved between them."""
    steps: list[HistoryStep] = []
    groups: dict[tuple[str, str], list[RunRef]] = {}
    for ref in refs:
        groups.setdefault((ref.hardware_slug, ref.config_slug), []).append(ref)
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda r: r.date)
        for before, after in itertools.pairwise(ordered):
            comparison = compare(before, after)
            regressions, improvements = [], []
            within = missing = total = 0
            for batch in comparison.batches:
                for row in batch.rows:
                    total += 1
                    change = Change(
                        row.model, row.label, row.batch_size, row.baseline.value, row.other.value, row.speedup
                    )
                    if row.speedup.verdict == "slower":
                        regressions.append(change)
                    elif row.speedup.verdict == "faster":
                        improvements.append(change)
                    elif row.speedup.verdict == "no interval":
                        missing += 1
                    else:
                        within += 1
            steps.append(
                HistoryStep(
                    before,
                    after,
                    software_difference(before.software, after.software),
                    regressions,
                    improvements,
                    within,
                    missing,
                    total,
                    comparison.left_out,
                )
            )
    return steps
