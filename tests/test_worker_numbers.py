"""The numbers a real measurement writes, checked against each other on a small real model.

Each of these failed against a deliberate error that left the rest of the
suite green (issue 9): the worker passing batch size 1 to the latency summary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cli import main
from generator.schema import load_record
from tests.invariants import check_record


def test_per_image_time_and_throughput_follow_the_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator import power

    def no_power_in_the_parent(*args: object, **kwargs: object) -> None:
        raise AssertionError("the parent process read power: only the measuring worker may")

    # The workers come from a fork server that imported generator.power before
    # this patch, so only the parent process sees it.
    for name in ("cpu_meter", "idle_power_w", "load_nvml", "power_window"):
        monkeypatch.setattr(power, name, no_power_in_the_parent)
    assert main(["measure", "--models", "squeezenet1_1", "--device", "cpu", "--out", str(tmp_path),
                 "--batch-sizes", "1,4", "--time-budget", "0.1", "--power-window", "0.05",
                 "--threads", "1", "--no-progress"]) == 0
    (path,) = (p for p in tmp_path.rglob("*.json") if p.name != "machine.json")  # not the run's ceilings
    record = load_record(path)
    check_record(record)
    one, four = record.batches
    assert (one.batch_size, four.batch_size) == (1, 4) and one.status == four.status == "ok"
    assert one.latency is not None and four.latency is not None
    # Four images take longer than one (the input really has the batch size)...
    assert four.latency.median_ms_per_batch > one.latency.median_ms_per_batch
    # ...and the per-image figures divide by it.
    assert four.latency.median_ms_per_image == pytest.approx(four.latency.median_ms_per_batch / 4)
    assert four.latency.throughput_images_per_s == pytest.approx(4000.0 / four.latency.median_ms_per_batch)
    assert one.latency.median_ms_per_image == pytest.approx(one.latency.median_ms_per_batch)
    assert one.power is not None and four.power is None  # not a study network: power windows at 1 and 16 only
