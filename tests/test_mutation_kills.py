"""Exact numbers through the public functions of the modules that compute them.

Written against the mutants that survived ``benchmarks/bench_mutation.sh`` (see
benchmarks/MUTATION.md): each assertion pins a number a figure rests on, so a
changed comparison, constant or operator in timing, rounds or stats fails here.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Iterable

import pytest

from generator.render import stats
from generator.rounds import merge_records, merge_rounds
from generator.schema import LatencyRound
from generator.timing import (
    IterationTimer,
    TimingResult,
    TimingSettings,
    median_ci_ranks,
    median_ci_relative,
    perf_counter_timer,
    summarize_round,
    time_forward,
)
from tests.fixtures.factory import CPU, STUDY_MODELS, make_record

# --- generator.timing -------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "ranks_95", "ranks_90"), [
    # Exact binomial ranks of the median's interval (Conover's table; 0.90 for the confidence argument).
    (6, (1, 6), (1, 6)), (7, (1, 7), (1, 7)), (8, (1, 8), (2, 7)), (9, (2, 8), (2, 8)), (11, (2, 10), (3, 9)),
    (12, (3, 10), (3, 10)), (13, (3, 11), (4, 10)), (16, (4, 13), (5, 12)), (17, (5, 13), (5, 13)),
    (20, (6, 15), (6, 15)), (300, (133, 168), (136, 165)),
    # Above 300 the normal approximation takes over; it must continue the exact table smoothly.
    (301, (133, 169), (136, 166)), (1000, (469, 532), (473, 528)),
])
def test_median_interval_ranks(n: int, ranks_95: tuple[int, int], ranks_90: tuple[int, int]) -> None:
    assert median_ci_ranks(n) == ranks_95
    assert median_ci_ranks(n, confidence=0.90) == ranks_90


def test_no_interval_below_six_samples_at_95_percent() -> None:
    assert [median_ci_ranks(n) for n in range(0, 6)] == [None] * 6
    assert median_ci_ranks(5, confidence=0.90) == (1, 5)  # 93.75% coverage is enough for 90%
    assert median_ci_ranks(4, confidence=0.875) == (1, 4)  # coverage exactly 1 - 2/16 = 87.5%: reaching it is enough


def test_median_interval_takes_the_larger_side() -> None:
    # Ranks 1 and 6 of 6: median 10, low side 9 (0.1), high side 15 (0.5).
    assert median_ci_relative([15.0, 10.0, 10.0, 9.0, 10.0, 10.0]) == pytest.approx(0.5)
    assert median_ci_relative([5.0, 10.0, 10.0, 10.0, 10.0, 11.0]) == pytest.approx(0.5)
    # Ranks 2 and 9 of 10: the extremes 1 and 100 do not count.
    assert median_ci_relative([1.0, 9.0, 10, 10, 10, 10, 10, 10, 12.0, 100.0]) == pytest.approx(0.2)


def test_median_interval_of_a_non_positive_median_is_none() -> None:
    assert median_ci_relative([0.0] * 6) is None
    assert median_ci_relative([-1.0] * 6) is None


def _sequence(first: Iterable[float], then: float) -> IterationTimer:
    values = itertools.chain(first, itertools.repeat(then))
    return lambda: next(values)


@pytest.mark.parametrize(("noisy", "first_converged", "stopped"), [
    # `noisy` samples alternating 1 and 10 ms, then 5 ms: the interval first fits within 2% at
    # `first_converged`, but above 50 the check runs only when n is a multiple of n // 20.
    (36, 51, 52),  # 51 // 20 = 2: 51 is skipped, 52 checked
    (44, 61, 63),  # 61 // 20 = 3: 61 and 62 are skipped
    (50, 67, 69),
])
def test_convergence_is_checked_every_iteration_up_to_50_then_every_5_percent(
    noisy: int, first_converged: int, stopped: int
) -> None:
    samples = [1.0, 10.0] * (noisy // 2) + [5.0] * 20
    assert median_ci_relative(samples[: first_converged - 1]) != 0.0
    assert median_ci_relative(samples[:first_converged]) == 0.0
    settings = TimingSettings(time_budget_s=5.0, warmup_min_iterations=0, warmup_s=0.0, warmup_max_iterations=0)
    result = time_forward(_sequence([1.0, 10.0] * (noisy // 2), 5.0), settings)
    assert (len(result.samples_ms), result.stop_reason, result.warmup_iterations) == (stopped, "converged", 0)


def test_converged_on_the_last_sample_before_the_budget_says_so() -> None:
    # n = 61 is not a checking point (61 % 3 != 0): only the last look sees the convergence.
    settings = TimingSettings(time_budget_s=0.0, min_iterations=61, warmup_s=0.0)
    result = time_forward(_sequence([], 5.0), settings)
    assert (len(result.samples_ms), result.stop_reason) == (61, "converged")
    noisy = time_forward(_sequence([1.0, 10.0] * 40, 5.0), settings)
    assert (len(noisy.samples_ms), noisy.stop_reason) == (61, "time_budget")


def test_an_interval_exactly_at_the_target_has_converged() -> None:
    # Relative half-width exactly 0.5 at n = 6 (ranks 1 and 6: 9, 10, 15): "within the target" includes it.
    settings = TimingSettings(time_budget_s=2.0, target_relative=0.5, warmup_s=0.0)
    result = time_forward(_sequence([15.0, 10.0, 10.0, 9.0, 10.0, 10.0], 15.0), settings)
    assert (len(result.samples_ms), result.stop_reason) == (6, "converged")
    # The same on the last look: 30 samples of 9 and 31 of 10 give exactly (10 - 9) / 10 at n = 61.
    last = TimingSettings(time_budget_s=0.0, min_iterations=61, target_relative=0.1, warmup_s=0.0)
    result = time_forward(_sequence([9.0] * 30, 10.0), last)
    assert median_ci_relative(result.samples_ms) == 0.1
    assert (len(result.samples_ms), result.stop_reason) == (61, "converged")


def test_warm_up_bounds() -> None:
    def count(settings: TimingSettings) -> int:
        return time_forward(_sequence([], 5.0), settings).warmup_iterations

    assert count(TimingSettings(warmup_min_iterations=0, warmup_s=0.0)) == 0
    assert count(TimingSettings(warmup_min_iterations=4, warmup_s=0.0)) == 4
    assert count(TimingSettings(warmup_min_iterations=1, warmup_s=60.0, warmup_max_iterations=7)) == 7
    assert count(TimingSettings(warmup_min_iterations=9, warmup_s=60.0, warmup_max_iterations=7)) == 7


def test_warm_up_and_timed_wall_times_are_measured() -> None:
    def slow() -> float:
        time.sleep(0.002)
        return 5.0

    result = time_forward(slow, TimingSettings(warmup_min_iterations=3, warmup_s=0.0, time_budget_s=60.0))
    assert result.warmup_iterations == 3 and len(result.samples_ms) == 6
    assert 0.006 <= result.warmup_s < 5.0
    assert 0.012 <= result.timed_s < 5.0


def test_perf_counter_timer_converts_seconds_to_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.25])
    monkeypatch.setattr("generator.timing.time.perf_counter", lambda: next(clock))
    assert perf_counter_timer(lambda: None)() == 250.0


def test_perf_counter_timer_returns_milliseconds() -> None:
    calls: list[int] = []
    timer = perf_counter_timer(lambda: (calls.append(1), time.sleep(0.02)))
    elapsed_ms = timer()
    assert calls == [1]
    assert 20.0 <= elapsed_ms < 2000.0


def test_round_summary_keeps_every_field() -> None:
    one = summarize_round(TimingResult([3.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0], 4, "time_budget", 0.5, 0.1))
    assert (one.median_ms_per_batch, one.timed_iterations, one.warmup_iterations) == (4.0, 7, 4)
    assert one.p10_ms_per_batch == pytest.approx(1.6) and one.p90_ms_per_batch == pytest.approx(6.4)
    assert one.ci95_half_width_relative == pytest.approx(0.75)  # ranks 1 and 7: (7 - 4) / 4
    assert one.stop_reason == "time_budget"
    assert one.samples_ms_per_batch == [3.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0]  # in timing order


# --- generator.rounds -------------------------------------------------------------------------------


def _round(samples: list[float], reason: str = "converged") -> LatencyRound:
    return summarize_round(TimingResult(samples, 2, reason, 0.1))  # type: ignore[arg-type]


ROUND_A = [10.0, 11, 12, 13, 14, 15, 16, 17]
ROUND_B = [20.0, 21, 22, 23, 24, 25, 26, 27]
BARE = LatencyRound(median_ms_per_batch=40.0, p10_ms_per_batch=40.0, p90_ms_per_batch=40.0, timed_iterations=3,
                    warmup_iterations=0, ci95_half_width_relative=None, stop_reason="converged")


def test_merge_rounds_needs_a_round() -> None:
    with pytest.raises(ValueError, match=r"^merge_rounds needs at least one round$"):
        merge_rounds([], 1, "perf_counter")


def test_two_rounds_golden_bootstrap_interval() -> None:
    # Fixed seed and 2000 draws: the interval is a function of the samples alone (golden values).
    latency = merge_rounds([_round(ROUND_A), _round(ROUND_B, "time_budget")], 2, "x")
    assert latency.median_ms_per_batch == 18.5
    assert (latency.ci95_low_ms_per_batch, latency.ci95_high_ms_per_batch) == (12.0, 25.0)
    assert latency.p10_ms_per_batch == pytest.approx(11.5) and latency.p90_ms_per_batch == pytest.approx(25.5)
    assert latency.iqr_ms_per_batch == pytest.approx(9.5)
    assert latency.median_ms_per_image == 9.25
    assert latency.throughput_images_per_s == pytest.approx(2 * 1000 / 18.5)
    assert latency.timed_iterations == 16 and latency.stop_reason == "time_budget" and latency.clock == "x"
    assert [one.samples_ms_per_batch for one in latency.rounds] == [ROUND_A, ROUND_B]


def test_four_rounds_golden_bootstrap_interpolates() -> None:
    # Rounds of different lengths whose resampled medians are averages: the interval's ends are
    # interpolated percentiles, so the seed, the draws and the 2.5/97.5 tails each show in the digits.
    rounds = [
        [10 + (i * 7 % 11) * 0.37 for i in range(10)],
        [12 + (i * 5 % 13) * 0.29 for i in range(12)],
        [9 + (i * 3 % 7) * 0.61 for i in range(6)],
        [11 + (i * 3 % 17) * 0.13 for i in range(14)],
    ]
    latency = merge_rounds([_round(samples) for samples in rounds], 1, "c")
    assert latency.median_ms_per_batch == pytest.approx(11.94)
    assert latency.ci95_low_ms_per_batch == pytest.approx(10.4468125, rel=1e-12)
    assert latency.ci95_high_ms_per_batch == pytest.approx(13.6213125, rel=1e-12)


def test_three_rounds_one_without_samples() -> None:
    latency = merge_rounds([_round(ROUND_A), _round(ROUND_B), BARE], 4, "c")
    assert latency.median_ms_per_batch == 23.5
    assert (latency.ci95_low_ms_per_batch, latency.ci95_high_ms_per_batch) == (11.5, 40.0)
    # Spread from the pooled samples only (the bare round has none to give).
    assert latency.p10_ms_per_batch == pytest.approx(11.5) and latency.p90_ms_per_batch == pytest.approx(25.5)
    assert latency.median_ms_per_image == 5.875
    assert latency.timed_iterations == 19 and latency.stop_reason == "converged"


def test_rounds_without_samples_spread_over_their_medians() -> None:
    other = BARE.model_copy(update={"median_ms_per_batch": 50.0, "p10_ms_per_batch": 50.0, "p90_ms_per_batch": 50.0})
    latency = merge_rounds([BARE, other, BARE], 5, "c")
    assert latency.median_ms_per_batch == 40.0
    assert latency.p10_ms_per_batch == pytest.approx(40.0) and latency.p90_ms_per_batch == pytest.approx(48.0)
    assert latency.iqr_ms_per_batch == pytest.approx(5.0)
    assert latency.ci95_low_ms_per_batch == 40.0 and latency.ci95_high_ms_per_batch == 50.0
    assert latency.throughput_images_per_s == pytest.approx(125.0)


def test_one_round_too_short_for_an_interval_has_none() -> None:
    latency = merge_rounds([_round([2.0, 3.0, 4.0])], 1, "c")
    assert latency.ci95_low_ms_per_batch is None and latency.ci95_high_ms_per_batch is None
    assert latency.median_ms_per_batch == 3.0


def test_one_round_interval_is_its_order_statistics() -> None:
    latency = merge_rounds([_round([float(v) for v in range(1, 21)])], 1, "c")  # ranks 6 and 15 of 20
    assert (latency.ci95_low_ms_per_batch, latency.ci95_high_ms_per_batch) == (6.0, 15.0)


def test_merge_records_adds_rounds_and_keeps_what_only_one_has() -> None:
    model = STUDY_MODELS[0]
    earlier = make_record(model, CPU, (1, 2))
    later = make_record(model, CPU, (2, 4))
    later = later.model_copy(update={"run": later.run.model_copy(update={"date": "2026-02-02T00:00:00Z"}),
                                     "parameters": None, "operations": None})
    merged = merge_records(earlier, later)
    assert [batch.batch_size for batch in merged.batches] == [1, 2, 4]
    rounds = [len(batch.latency.rounds) for batch in merged.batches if batch.latency]
    assert rounds == [2, 4, 2]  # the fixture's CPU records carry two rounds per batch size
    assert merged.run.date == "2026-02-02T00:00:00Z"
    assert merged.parameters == earlier.parameters and merged.operations == earlier.operations
    assert merged.status == "ok" and merged.error is None
    two = merged.batches[1].latency
    assert two is not None and two.timed_iterations == 40


def test_merge_records_keeps_the_working_rounds_and_joins_errors() -> None:
    model = STUDY_MODELS[0]
    earlier = make_record(model, CPU, (1,))
    failed = earlier.batches[0].model_copy(update={"status": "error", "latency": None, "memory": None,
                                                   "power": None, "error": "crashed"})
    later = earlier.model_copy(update={"batches": [failed], "status": "error", "error": "round 2 crashed"})
    merged = merge_records(earlier, later)
    assert merged.batches[0].latency == earlier.batches[0].latency
    assert merged.status == "ok" and merged.error == "round 2 crashed"
    both_failed = merge_records(later, later.model_copy(update={"error": "round 3 crashed"}))
    assert both_failed.status == "error" and both_failed.error == "round 2 crashed; round 3 crashed"
    assert both_failed.batches[0].error == "crashed"
    same = merge_records(later, later)
    assert same.error == "round 2 crashed"  # repeated notes once


def test_merge_records_takes_what_the_earlier_record_lacks() -> None:
    model = STUDY_MODELS[0]
    working = make_record(model, CPU, (1, 2))
    failed_batch = working.batches[0].model_copy(
        update={"status": "error", "latency": None, "memory": None, "power": None, "error": "crashed"}
    )
    earlier = working.model_copy(update={"batches": [failed_batch], "status": "error", "error": "round 1 crashed",
                                         "parameters": None, "operations": None})
    merged = merge_records(earlier, working)
    # The batch that failed before and worked now takes the working round; the record is ok again.
    assert merged.batches[0].latency == working.batches[0].latency and merged.batches[0].status == "ok"
    assert merged.status == "ok" and merged.error == "round 1 crashed"
    assert merged.parameters == working.parameters and merged.operations == working.operations
    assert merged.parameters is not None and merged.operations is not None
    assert not (merged.model_extra or {})


# --- generator.render.stats -------------------------------------------------------------------------


def test_linear_fit_exact() -> None:
    fit = stats.linear_fit([1.0, 2.0, 3.0, 4.0], [3.0, 5.0, 7.0, 10.0])
    assert fit is not None and fit.n == 4
    assert fit.slope == pytest.approx(2.3) and fit.intercept == pytest.approx(0.5)
    assert fit.r2 == pytest.approx(1 - 0.3 / 26.75)
    assert fit.predict(10.0) == pytest.approx(23.5)
    assert fit.predict(100.0, stats.log_x) == pytest.approx(0.5 + 2.3 * math.log(100.0))


def test_linear_fit_refuses_too_few_or_flat_or_mismatched() -> None:
    assert stats.linear_fit([1.0, 2.0], [1.0, 2.0]) is None
    assert stats.linear_fit([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) is None
    assert stats.linear_fit([1.0, 2.0, 3.0], [1.0, 2.0]) is None
    # A spread in y below 1 (sum of squares 0.2675) still gets its R² computed, not 1.
    small = stats.linear_fit([1.0, 2.0, 3.0, 4.0], [0.3, 0.5, 0.7, 1.0])
    assert small is not None and small.r2 == pytest.approx(1 - 0.003 / 0.2675)
    flat = stats.linear_fit([1.0, 2.0, 3.0], [4.0, 4.0, 4.0])
    assert flat is not None and flat.r2 == 1.0 and flat.slope == 0.0 and flat.intercept == 4.0


def test_transformed_fit_and_transforms() -> None:
    fit = stats.transformed_fit([1.0, 2.0, 4.0], [1.0, 0.5, 0.25], stats.inverse_x)
    assert fit is not None and fit.slope == pytest.approx(1.0) and fit.intercept == pytest.approx(0.0, abs=1e-12)
    assert fit.r2 == pytest.approx(1.0)
    assert stats.inverse_x(4.0) == 0.25 and stats.log_x(math.e) == pytest.approx(1.0)


def test_mean_stdev_median() -> None:
    assert stats.mean([1.0, 2.0, 6.0]) == 3.0
    assert stats.stdev([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(math.sqrt(32 / 7))
    assert stats.stdev([5.0]) == 0.0
    assert stats.stdev([1.0, 3.0]) == pytest.approx(math.sqrt(2.0))
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_spearman_with_ties() -> None:
    assert stats.spearman([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]) == pytest.approx(1.0)
    assert stats.spearman([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    # Ties share their mean rank: x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3, 4).
    assert stats.spearman([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    # x ranks (4, 1, 4, 4, 2): three tied values share rank 4.
    assert stats.spearman([3.0, 1.0, 3.0, 3.0, 2.0], [1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(-1 / math.sqrt(80))
    assert stats.spearman([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]) == pytest.approx(0.5)  # three points are enough
    assert stats.spearman([1.0, 2.0], [1.0, 2.0]) is None
    with pytest.raises(ValueError):  # never truncated to the shorter series
        stats.spearman([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0])
    assert stats.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
    assert stats.spearman([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) is None


def test_pareto_front_exact() -> None:
    points = [("f", 1.0, 1.0), ("b", 2.0, 3.0), ("c", 2.0, 2.0), ("d", 3.0, 3.0), ("e", 4.0, 5.0),
              ("a", 1.0, 1.0), ("g", 0.5, 0.5)]
    # c and d are dominated by b; a and f tie (neither strictly better): both stay, by name.
    assert stats.pareto_front(points) == ["g", "a", "f", "b", "e"]
    assert stats.pareto_front([("x", 1.0, 2.0), ("y", 1.0, 3.0)]) == ["y"]


def test_percentile_interpolates() -> None:
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert stats.percentile(values, 0.0) == 1.0 and stats.percentile(values, 1.0) == 5.0
    assert stats.percentile(values, 0.5) == 3.0
    assert stats.percentile(values, 0.1) == pytest.approx(1.4)
    assert stats.percentile(values, 0.975) == pytest.approx(4.9)
    assert stats.percentile([7.0], 0.3) == 7.0
    with pytest.raises(ValueError, match=r"^percentile of no values$"):
        stats.percentile([], 0.5)


def test_interval_sides() -> None:
    inside = stats.Interval(1.0, 0.5, 2.0)
    assert inside.known and inside.above(0.4) and not inside.above(0.5) and inside.below(2.1)
    assert not inside.below(2.0)
    half = stats.Interval(1.0, 0.5, None)
    assert not half.known and half.above(0.0) and not half.below(10.0)
    other = stats.Interval(1.0, None, 2.0)
    assert not other.known and not other.above(-1.0) and other.below(3.0)


BOOTSTRAP_MEAN = (1.8, 7.2)
BOOTSTRAP_MEAN_50 = (2.0, 6.465)


def test_bootstrap_golden_interval() -> None:
    def mean_of(sample: list[float], rng: random.Random) -> float:
        return sum(sample) / len(sample)

    assert stats.bootstrap([1.0, 2.0, 3.0, 4.0, 10.0], mean_of) == pytest.approx(BOOTSTRAP_MEAN)
    assert stats.bootstrap([1.0, 2.0, 3.0, 4.0, 10.0], mean_of, draws=50, seed=1) == pytest.approx(BOOTSTRAP_MEAN_50)


def test_bootstrap_drops_draws_without_a_value() -> None:
    def every_other(sample: list[float], rng: random.Random) -> float | None:
        every_other.calls += 1  # type: ignore[attr-defined]
        return None if every_other.calls % 2 else math.inf if every_other.calls % 4 == 0 else 1.0  # type: ignore

    every_other.calls = 0  # type: ignore[attr-defined]
    # Half the draws give None, a quarter infinity: fewer than half are usable.
    assert stats.bootstrap([1.0, 2.0], every_other, draws=8) is None

    def half(sample: list[float], rng: random.Random) -> float | None:
        half.calls += 1  # type: ignore[attr-defined]
        return None if half.calls % 2 else 2.0  # type: ignore[attr-defined]

    half.calls = 0  # type: ignore[attr-defined]
    assert stats.bootstrap([1.0, 2.0], half, draws=8) == (2.0, 2.0)  # exactly half is enough

    def third(sample: list[float], rng: random.Random) -> float | None:
        third.calls += 1  # type: ignore[attr-defined]
        return 2.0 if third.calls % 3 == 0 else None  # type: ignore[attr-defined]

    third.calls = 0  # type: ignore[attr-defined]
    assert stats.bootstrap([1.0, 2.0], third, draws=9) is None  # a third of the draws is not enough


def test_wilson_interval() -> None:
    low, high = stats.wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert stats.wilson(0, 10)[0] == 0.0 and stats.wilson(10, 10)[1] == pytest.approx(1.0)
    assert stats.wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    # 16 of 16: rounding puts centre + half at 1.0000000000000002; a proportion's interval stops at 1.
    assert stats.wilson(16, 16)[1] == 1.0


def test_ratio_interval() -> None:
    ratio = stats.ratio_interval(stats.Interval(10.0, 8.0, 12.0), stats.Interval(2.0, 1.0, 4.0))
    assert (ratio.value, ratio.low, ratio.high) == (5.0, 2.0, 12.0)
    assert stats.ratio_interval(stats.Interval(10.0, None, None), stats.Interval(2.0, 1.0, 4.0)) == stats.Interval(
        5.0, None, None)
    assert stats.ratio_interval(stats.Interval(10.0, 8.0, 12.0), stats.Interval(2.0, 0.0, 4.0)).low is None
    assert stats.ratio_interval(stats.Interval(10.0, 8.0, 12.0), stats.Interval(2.0, -1.0, 4.0)).high is None
    assert stats.ratio_interval(stats.Interval(10.0, 8.0, 12.0), stats.Interval(2.0, 1.0, None)).low is None
