"""Merging timing rounds into one latency per batch size, with an interval that carries both spreads.

``measure`` times each model in rounds interleaved across models (round 1 over
every model, then round 2, ...), each round in a fresh worker, so that a machine
that drifts shows up as spread between rounds instead of as a difference
between models. Each round keeps its own median and samples; this module turns
them into the batch-level figures of a record:

- the point estimate is the median over rounds of the round medians;
- its 95% interval: with one round, the distribution-free interval of that
  round's median (order statistics and the binomial, as the stopping rule
  uses); with two or more, a two-level (hierarchical) bootstrap: draw the
  rounds with replacement, then each drawn round's samples with replacement,
  take the median of the resampled rounds' medians, and keep the 2.5th and
  97.5th percentiles of ``BOOTSTRAP_DRAWS`` such estimates. Drawing rounds
  carries the across-round spread, drawing samples the within-round spread. The
  seed is fixed, so the same samples always give the same interval.

Runs in the measuring parent (and the worker for one round); numpy only for
two rounds or more. Render never imports it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from generator.schema import BatchResult, Latency, LatencyRound, Record, sample_summary

BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20170524  # fixed: the interval is a function of the samples alone
CONFIDENCE = 0.95


def _order_statistics_interval(one: LatencyRound) -> tuple[float, float] | None:
    from generator.timing import median_ci_ranks

    samples = sorted(one.samples_ms_per_batch)
    ranks = median_ci_ranks(len(samples), CONFIDENCE)
    if ranks is None:
        return None
    return samples[ranks[0] - 1], samples[ranks[1] - 1]


def _bootstrap_interval(rounds: Sequence[LatencyRound]) -> tuple[float, float]:
    import numpy as np

    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = BOOTSTRAP_DRAWS
    # For each round, the medians of `draws` resamples of its own samples (the
    # within-round level); a round without samples contributes its median as is.
    resampled_medians = []
    for one in rounds:
        samples = np.asarray(one.samples_ms_per_batch or [one.median_ms_per_batch], dtype=float)
        picks = rng.integers(0, samples.size, size=(draws, samples.size))
        resampled_medians.append(np.median(samples[picks], axis=1))
    per_round = np.stack(resampled_medians)  # rounds x draws
    # The across-round level: each estimate draws len(rounds) rounds with replacement.
    chosen = rng.integers(0, len(rounds), size=(draws, len(rounds)))
    estimates = np.median(per_round[chosen, np.arange(draws)[:, None]], axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def merge_rounds(rounds: Sequence[LatencyRound], batch_size: int, clock: str) -> Latency:
    """The batch-level latency of ``rounds`` (at least one) of one batch size."""
    if not rounds:
        raise ValueError("merge_rounds needs at least one round")
    median = statistics.median(one.median_ms_per_batch for one in rounds)
    interval: tuple[float, float] | None
    if len(rounds) == 1:
        interval = _order_statistics_interval(rounds[0])
    else:
        interval = _bootstrap_interval(rounds)
    if interval is not None:
        # Percentiles of a bootstrap can miss the point estimate by rounding; the interval must hold it.
        interval = (min(interval[0], median), max(interval[1], median))
    pooled = [sample for one in rounds for sample in one.samples_ms_per_batch]
    spread = sample_summary(pooled) if pooled else sample_summary([one.median_ms_per_batch for one in rounds])
    return Latency(
        median_ms_per_batch=median,
        ci95_low_ms_per_batch=interval[0] if interval else None,
        ci95_high_ms_per_batch=interval[1] if interval else None,
        p10_ms_per_batch=spread["p10"],
        p90_ms_per_batch=spread["p90"],
        iqr_ms_per_batch=spread["iqr"],
        median_ms_per_image=median / batch_size,
        throughput_images_per_s=batch_size * 1000.0 / median,
        timed_iterations=sum(one.timed_iterations for one in rounds),
        stop_reason="converged" if all(one.stop_reason == "converged" for one in rounds) else "time_budget",
        clock=clock,
        rounds=list(rounds),
    )


def _merge_batch(earlier: BatchResult, later: BatchResult) -> BatchResult:
    if earlier.latency is None or later.latency is None:
        # A batch size that failed in one round keeps the rounds that worked; if
        # none did, the latest failure says why.
        return earlier if earlier.latency is not None else later
    latency = merge_rounds([*earlier.latency.rounds, *later.latency.rounds], later.batch_size, later.latency.clock)
    # Memory and power are measured in the first round only (power windows cost time).
    return earlier.model_copy(update={"latency": latency})


def merge_records(earlier: Record, later: Record) -> Record:
    """``earlier`` (rounds so far) with the rounds of ``later`` (one more round of the same model) added."""
    by_size = {batch.batch_size: batch for batch in earlier.batches}
    for batch in later.batches:
        by_size[batch.batch_size] = (
            _merge_batch(by_size[batch.batch_size], batch) if batch.batch_size in by_size else batch
        )
    batches = [by_size[size] for size in sorted(by_size)]
    ok = any(batch.status == "ok" for batch in batches)
    notes = [note for note in (earlier.error, later.error) if note]
    return earlier.model_copy(
        update={
            "batches": batches,
            "status": "ok" if ok else "error",
            "error": "; ".join(dict.fromkeys(notes)) or None,
            "parameters": earlier.parameters or later.parameters,
            "operations": earlier.operations or later.operations,
            "run": later.run,
        }
    )
