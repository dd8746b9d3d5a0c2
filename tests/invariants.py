"""Relations every record the worker writes must satisfy, whatever the machine measured.

The schema checks each field on its own; these check the numbers against each
other (per-image time against per-batch time and batch size, power against its
parts), which is where a wrong argument in the worker shows. The measuring
tests run every record they read through ``check_record``.
"""

from __future__ import annotations

import json
import math
import statistics

from generator import backends
from generator.schema import BatchResult, Record, parse_record, record_to_json


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _check_batch(result: BatchResult, where: str) -> None:
    if result.status != "ok":
        assert result.error, f"{where}: status {result.status} without an error message"
        assert result.latency is None, f"{where}: a {result.status} batch size has a latency"
        return
    latency = result.latency
    assert latency is not None and result.memory is not None, f"{where}: ok without latency or memory"
    size = result.batch_size
    assert _close(latency.median_ms_per_image * size, latency.median_ms_per_batch), (
        f"{where}: {latency.median_ms_per_image} ms per image x {size} != {latency.median_ms_per_batch} ms per batch"
    )
    assert _close(latency.throughput_images_per_s, size * 1000.0 / latency.median_ms_per_batch), (
        f"{where}: throughput {latency.throughput_images_per_s} != {size} x 1000 / {latency.median_ms_per_batch}"
    )
    assert latency.p10_ms_per_batch <= latency.p90_ms_per_batch, f"{where}: p10 above p90"
    rounds = getattr(latency, "rounds", None)
    samples_sets = [r.samples_ms_per_batch for r in rounds] if rounds else [latency.samples_ms_per_batch]
    samples = [s for group in samples_sets for s in group]
    assert len(samples) == latency.timed_iterations, f"{where}: {len(samples)} samples, {latency.timed_iterations} timed"
    assert min(samples) <= latency.median_ms_per_batch <= max(samples), f"{where}: median outside the samples"
    if not rounds:
        assert _close(statistics.median(samples), latency.median_ms_per_batch), f"{where}: median of the samples"
    memory = result.memory
    if memory.peak_rss_bytes is not None and memory.baseline_rss_bytes is not None:
        assert memory.peak_rss_bytes >= memory.baseline_rss_bytes, f"{where}: peak RSS below its baseline"
    if memory.cuda_peak_reserved_bytes is not None and memory.cuda_peak_allocated_bytes is not None:
        assert memory.cuda_peak_reserved_bytes >= memory.cuda_peak_allocated_bytes, f"{where}: reserved < allocated"
    power = result.power
    if power is not None:
        if not power.available:
            assert power.unavailable_reason and power.mean_w is None, f"{where}: unavailable power without a reason"
        else:
            assert power.mean_w is not None and power.mean_w > 0, f"{where}: available power without a mean"
            assert power.window_s is not None and power.window_s > 0, f"{where}: power without a window"
            if power.idle_w is not None:
                assert power.net_w is not None and _close(power.net_w, power.mean_w - power.idle_w), (
                    f"{where}: net power is not mean - idle"
                )


def check_record(record: Record) -> None:
    """Assert the cross-field invariants of a worker-written record (and that it reads back unchanged)."""
    name = record.model.name
    assert parse_record(json.loads(record_to_json(record))) == record, f"{name}: does not round-trip through JSON"
    sizes = [b.batch_size for b in record.batches]
    assert sizes == sorted(set(sizes)), f"{name}: batch sizes {sizes} not increasing and unique"
    if record.status == "ok":
        assert any(b.status == "ok" for b in record.batches), f"{name}: status ok without a measured batch size"
    if record.operations is not None:
        assert _close(record.operations.gflops, 2 * record.operations.gmacs), f"{name}: gflops != 2 x gmacs"
    clock = backends.get(record.config.device).clock
    for result in record.batches:
        assert result.latency is None or result.latency.clock == clock, f"{name}: clock {result.latency.clock}"
        _check_batch(result, f"{name} batch {result.batch_size}")
