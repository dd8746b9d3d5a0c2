"""Relations every record a measurement writes must satisfy, whatever the machine measured.

The schema's ``record_problems`` checks numbers against each other (per-image
time against per-batch time and batch size, summaries against samples, net
power against its parts); this adds what only a freshly measured record must
hold (memory read for every measured batch size, the device's own clock). The
measuring tests run every record they read through ``check_record``.
"""

from __future__ import annotations

import json

from generator import backends
from generator.schema import Record, parse_record, record_problems, record_to_json


def check_record(record: Record) -> None:
    """Assert the invariants of a measured record, and that it reads back unchanged."""
    name = record.model.name
    problems = record_problems(record)
    assert not problems, f"{name}: " + "; ".join(f"{p.field}: {p.message}" for p in problems)
    assert parse_record(json.loads(record_to_json(record))) == record, f"{name}: does not round-trip through JSON"
    sizes = [b.batch_size for b in record.batches]
    assert sizes == sorted(sizes), f"{name}: batch sizes {sizes} out of order"
    if record.status == "ok":
        assert any(b.status == "ok" for b in record.batches), f"{name}: status ok without a measured batch size"
    clock = backends.get(record.config.device).clock
    for result in record.batches:
        where = f"{name} batch {result.batch_size}"
        if result.status != "ok":
            assert result.error and result.latency is None, f"{where}: {result.status} needs an error, no latency"
            continue
        assert result.latency is not None and result.latency.clock == clock, f"{where}: latency on the wrong clock"
        memory = result.memory
        assert memory is not None, f"{where}: measured without its memory"
        if memory.peak_rss_bytes is not None and memory.baseline_rss_bytes is not None:
            assert memory.peak_rss_bytes >= memory.baseline_rss_bytes, f"{where}: peak RSS below its baseline"
        if memory.cuda_peak_reserved_bytes is not None and memory.cuda_peak_allocated_bytes is not None:
            assert memory.cuda_peak_reserved_bytes >= memory.cuda_peak_allocated_bytes, f"{where}: reserved < allocated"
        power = result.power
        if power is not None and not power.available:
            assert power.unavailable_reason and power.mean_w is None, f"{where}: no power and no reason"
        elif power is not None:
            assert power.mean_w is not None and power.window_s, f"{where}: available power without mean or window"
