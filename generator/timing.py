"""Timing one forward pass repeatedly until the median is known well enough.

Adaptive stopping: keep timing until the 95% confidence interval of the median
(distribution-free, from order statistics and the binomial distribution) lies
within ``target_relative`` (2%) of the median on both sides, or until the time
budget runs out; at least ``min_iterations`` are always timed. Which of the two
happened is recorded as ``stop_reason``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from generator.schema import Latency, LatencyRound, sample_summary

if TYPE_CHECKING:
    from generator.host_load import HostLoad, HostLoadProbe

StopReason = Literal["converged", "time_budget"]
# One timed iteration: runs the forward pass once and returns its duration in ms.
IterationTimer = Callable[[], float]


@dataclass(frozen=True)
class TimingSettings:
    time_budget_s: float = 2.0  # per batch size, timed iterations only
    min_iterations: int = 5
    target_relative: float = 0.02  # CI half-width / median
    warmup_min_iterations: int = 1
    warmup_s: float = 0.1  # keep warming up at least this long (after the minimum iterations)
    warmup_max_iterations: int = 50


@dataclass(frozen=True)
class TimingResult:
    samples_ms: list[float]
    warmup_iterations: int
    stop_reason: StopReason
    timed_s: float  # wall time inside the timed loop (for the overhead figure)
    warmup_s: float = 0.0  # wall time of the warm-up before it
    host_load: HostLoad | None = None  # the rest of the machine during the timed loop; None: not measured


def _binomial_cdf_half(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2)."""
    if k < 0:
        return 0.0
    return sum(math.comb(n, i) for i in range(min(k, n) + 1)) / 2**n


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (l, u) of the order statistics bounding the median with >= ``confidence``.

    None when n is too small for any interval to reach that coverage (n < 6 at 95%).
    Exact binomial up to n = 300, normal approximation above (where it is accurate).
    """
    alpha = 1 - confidence
    if n > 300:
        z = statistics.NormalDist().inv_cdf(1 - alpha / 2)
        half = z * math.sqrt(n) / 2
        lower = max(1, math.floor(n / 2 - half))
        return lower, n + 1 - lower
    best: int | None = None
    for rank in range(1, n // 2 + 1):
        # Coverage of [x(rank), x(n+1-rank)] is 1 - 2 P(B <= rank-1).
        if 2 * _binomial_cdf_half(rank - 1, n) <= alpha:
            best = rank
        else:
            break
    return None if best is None else (best, n + 1 - best)


def median_ci_relative(samples: Sequence[float]) -> float | None:
    """Larger side of the median's 95% confidence interval, relative to the median; None if n < 6."""
    ranks = median_ci_ranks(len(samples))
    if ranks is None:
        return None
    ordered = sorted(samples)
    median = statistics.median(ordered)
    if median <= 0:
        return None
    low, high = ordered[ranks[0] - 1], ordered[ranks[1] - 1]
    return max(median - low, high - median) / median


def _check_due(n: int) -> bool:
    # Re-sorting every iteration is wasted work once n is large: check every
    # iteration up to 50, then whenever n has grown by about 5%.
    return n <= 50 or n % max(1, n // 20) == 0


def time_forward(
    timer: IterationTimer, settings: TimingSettings, host_load: HostLoadProbe | None = None
) -> TimingResult:
    """Warm up, then time iterations of ``timer`` until converged or out of budget.

    ``host_load`` (the CPU backend's) watches the rest of the machine over the timed loop alone.
    """
    warmup = 0
    start = time.perf_counter()
    while warmup < settings.warmup_max_iterations:
        if warmup >= settings.warmup_min_iterations and time.perf_counter() - start >= settings.warmup_s:
            break
        timer()
        warmup += 1
    warmup_s = time.perf_counter() - start
    samples: list[float] = []
    if host_load is not None:
        host_load.start()
    start = time.perf_counter()
    reason: StopReason = "time_budget"
    while True:
        samples.append(timer())
        n = len(samples)
        if n < settings.min_iterations:
            continue
        if _check_due(n):
            relative = median_ci_relative(samples)
            if relative is not None and relative <= settings.target_relative:
                reason = "converged"
                break
        if time.perf_counter() - start >= settings.time_budget_s:
            # One last look, so that a run converging on its final sample says so.
            relative = median_ci_relative(samples)
            if relative is not None and relative <= settings.target_relative:
                reason = "converged"
            break
    timed_s = time.perf_counter() - start
    load = host_load.stop() if host_load is not None else None
    return TimingResult(samples, warmup, reason, timed_s, warmup_s, load)


def summarize_round(result: TimingResult) -> LatencyRound:
    """One round: median, deciles, the median's interval and the raw samples."""
    samples = result.samples_ms
    summary = sample_summary(samples)
    return LatencyRound(
        median_ms_per_batch=summary["median"],
        p10_ms_per_batch=summary["p10"],
        p90_ms_per_batch=summary["p90"],
        timed_iterations=len(samples),
        warmup_iterations=result.warmup_iterations,
        ci95_half_width_relative=median_ci_relative(samples),
        stop_reason=result.stop_reason,
        samples_ms_per_batch=list(samples),
        other_processes_cpu_share=result.host_load.other_processes_cpu_share if result.host_load else None,
        scheduling_policy=result.host_load.scheduling_policy if result.host_load else None,
    )


def summarize(result: TimingResult, batch_size: int, clock: str) -> Latency:
    """The latency of one round: per batch and per image, throughput, interval (see generator.rounds)."""
    from generator.rounds import merge_rounds

    return merge_rounds([summarize_round(result)], batch_size, clock)


def perf_counter_timer(run: Callable[[], object]) -> IterationTimer:
    """A host clock around each call: right where the call is synchronous (the CPU).

    A device whose calls return before the work is done brings its own timer
    (its backend's ``DeviceSession.timer``, e.g. CUDA events in generator.backends.cuda).
    """

    def once() -> float:
        begin = time.perf_counter()
        run()
        return (time.perf_counter() - begin) * 1000.0

    return once
