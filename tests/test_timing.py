"""Adaptive timing: the median's confidence interval, stopping, and the summary statistics."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from generator.timing import (
    TimingResult,
    TimingSettings,
    median_ci_ranks,
    median_ci_relative,
    perf_counter_timer,
    summarize,
    time_forward,
)


def test_median_ci_ranks_match_binomial_tables() -> None:
    assert median_ci_ranks(5) is None  # [x(1), x(5)] covers only 93.75%
    assert median_ci_ranks(6) == (1, 6)  # 96.9%
    assert median_ci_ranks(10) == (2, 9)
    assert median_ci_ranks(100) == (40, 61)
    low, high = median_ci_ranks(1000)
    assert (low, high) == (469, 532)


def test_median_ci_relative() -> None:
    assert median_ci_relative([1.0] * 5) is None
    assert median_ci_relative([10.0] * 6) == 0.0
    assert median_ci_relative([9.0, 10.0, 10.0, 10.0, 10.0, 12.0]) == pytest.approx(0.2)


def _fake_timer(values: list[float]) -> tuple[list[int], object]:
    calls = [0]
    cycle = itertools.cycle(values)

    def timer() -> float:
        calls[0] += 1
        return next(cycle)

    return calls, timer


def test_stable_timings_converge_at_the_first_possible_iteration() -> None:
    calls, timer = _fake_timer([5.0])
    settings = TimingSettings(time_budget_s=60.0, warmup_min_iterations=2, warmup_s=0.0)
    result = time_forward(timer, settings)
    assert result.stop_reason == "converged"
    assert len(result.samples_ms) == 6  # the first n with a 95% interval
    assert result.warmup_iterations == 2
    assert calls[0] == 8


def test_noisy_timings_stop_on_the_budget_after_the_minimum() -> None:
    _, timer = _fake_timer([1.0, 10.0, 3.0])
    result = time_forward(timer, TimingSettings(time_budget_s=0.0, min_iterations=5, warmup_s=0.0))
    assert result.stop_reason == "time_budget"
    assert len(result.samples_ms) == 5


def test_summary_statistics() -> None:
    samples = [float(v) for v in range(1, 12)]  # 1..11 ms
    latency = summarize(TimingResult(samples, 3, "time_budget", 0.1), batch_size=4, clock="perf_counter")
    assert latency.median_ms_per_batch == 6.0
    assert latency.median_ms_per_image == 1.5
    assert latency.p10_ms_per_batch == pytest.approx(2.0)
    assert latency.p90_ms_per_batch == pytest.approx(10.0)
    assert latency.iqr_ms_per_batch == pytest.approx(5.0)
    assert latency.throughput_images_per_s == pytest.approx(4 * 1000 / 6)
    assert latency.timed_iterations == 11 and latency.rounds[0].warmup_iterations == 3
    assert latency.rounds[0].samples_ms_per_batch == samples
    # One round: the order-statistics interval of the median, ranks 2 and 10 of 11 at 95%.
    assert (latency.ci95_low_ms_per_batch, latency.ci95_high_ms_per_batch) == (2.0, 10.0)


def test_times_a_real_model() -> None:
    model = nn.Sequential(nn.Linear(32, 32), nn.ReLU()).eval()
    x = torch.zeros(8, 32)
    with torch.inference_mode():
        result = time_forward(perf_counter_timer(lambda: model(x)), TimingSettings(time_budget_s=0.05))
    assert len(result.samples_ms) >= 5
    assert all(sample > 0 for sample in result.samples_ms)
    assert result.warmup_iterations >= 1
