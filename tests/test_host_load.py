"""Other processes' share of the CPUs while a model is timed: measured, validated, shown.

A model timed while other processes take the CPUs can come out many times
slower (torch's threads wait at barriers for the one that was preempted). The
record says how busy the rest of the machine was, measure lists what was timed
on a busy machine, and the pages say so beside the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.factory import CPU, STUDY_MODELS, make_record, write_records

from generator.cli import main
from generator.schema import (
    OTHER_PROCESSES_CPU_SHARE_FLAGGED,
    Record,
    RecordError,
    load_record,
    parse_record,
    record_to_json,
)
from tests.invariants import check_record

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "measurements"
HAS_PROC_STAT = Path("/proc/stat").is_file() and hasattr(os, "sched_getaffinity")


@pytest.fixture
def busy_cpus() -> Iterator[int]:
    """A Python busy loop on every CPU this process may use, for the test's duration; stopped by pid after."""
    count = len(os.sched_getaffinity(0))
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield count
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


@pytest.mark.skipif(not HAS_PROC_STAT, reason="needs Linux /proc/stat")
def test_a_model_timed_beside_busy_processes_records_their_share(
    tmp_path: Path, busy_cpus: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # Above the threshold now, the load average stays above it while the busy loops run.
    loaded = os.getloadavg()[0] >= 0.5
    # A window of about a second: long enough for /proc/stat's 10 ms ticks (host_load.MIN_WINDOW_S).
    # Batch 16: a batch of one converged in under half a second once, and its window went unmeasured.
    # One thread: several would wait for each other at every operator while the loops hold
    # the CPUs (that stall is the finding), and five iterations could take minutes.
    code = main(["measure", "--models", "mobilenet_v3_small", "--device", "cpu", "--out", str(tmp_path),
                 "--batch-sizes", "16", "--time-budget", "1", "--rounds", "1", "--power-window", "0.05",
                 "--threads", "1", "--no-progress", "--no-ceilings"])
    assert code == 0
    (path,) = [p for p in tmp_path.rglob("*.json") if p.name != "machine.json"]
    record = load_record(path)
    check_record(record)
    (one,) = record.batches[0].latency.rounds
    # busy_cpus loops on every CPU: at least their fair share of the CPUs went to them.
    assert one.other_processes_cpu_share is not None and one.other_processes_cpu_share > 0.2
    policy = os.sched_getscheduler(0) & ~0x40000000  # the worker inherits this process's policy
    assert one.scheduling_policy == {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_BATCH: "SCHED_BATCH",
                                     os.SCHED_IDLE: "SCHED_IDLE", os.SCHED_FIFO: "SCHED_FIFO",
                                     os.SCHED_RR: "SCHED_RR"}[policy]
    err = capsys.readouterr().err
    # The end of the run names the model and batch size timed on a busy machine, with the share.
    assert f"other processes used more than {OTHER_PROCESSES_CPU_SHARE_FLAGGED:.0%} of the CPUs" in err
    assert f"  mobilenet_v3_small: batch 16 ({one.other_processes_cpu_share:.0%})" in err
    # The start warns when the 1-minute load average says other work is running.
    if loaded:
        assert "warning: the 1-minute load average is" in err and "chrt -f 1" in err


def _document(share: object) -> dict[str, object]:
    document = json.loads(record_to_json(make_record(STUDY_MODELS[0], CPU, batch_sizes=(1, 2))))
    document["batches"][0]["latency"]["rounds"][0]["other_processes_cpu_share"] = share
    return document


@pytest.mark.parametrize("share", [1.5, -0.1])
def test_a_share_outside_0_to_1_is_refused_naming_the_field(share: float) -> None:
    with pytest.raises(RecordError) as caught:
        parse_record(_document(share), "bad.json")
    assert caught.value.field == "batches.0.latency.rounds.0.other_processes_cpu_share"
    assert "bad.json" in str(caught.value)


def test_records_written_before_the_field_read_it_as_not_measured() -> None:
    document = json.loads(next(FIXTURES.rglob("alexnet.json")).read_text())
    for batch in document["batches"]:
        for one in (batch["latency"] or {}).get("rounds", []):
            del one["other_processes_cpu_share"], one["scheduling_policy"]  # as written before the fields
    older = parse_record(document)
    rounds = [one for batch in older.batches if batch.latency for one in batch.latency.rounds]
    assert rounds and all(one.other_processes_cpu_share is None and one.scheduling_policy is None for one in rounds)
    assert parse_record(_document(0.35)).batches[0].latency.rounds[0].other_processes_cpu_share == 0.35


def _with_shares(record: Record, shares: dict[int, float | None]) -> Record:
    document = json.loads(record_to_json(record))
    for batch in document["batches"]:
        for one in batch["latency"]["rounds"]:
            one["other_processes_cpu_share"] = shares.get(batch["batch_size"])
    return parse_record(document)


def test_a_time_measured_beside_busy_processes_says_so_on_the_pages(tmp_path: Path) -> None:
    alexnet, googlenet = (next(m for m in STUDY_MODELS if m.name == name) for name in ("alexnet", "googlenet"))
    records = [
        # Batch 1 timed while others used 35 % of the CPUs; batch 2 on a quiet machine (5 %, under the flag).
        _with_shares(make_record(alexnet, CPU, batch_sizes=(1, 2)), {1: 0.35, 2: 0.05}),
        make_record(googlenet, CPU, batch_sizes=(1, 2)),  # written before the field: nothing to say
    ]
    write_records(records, tmp_path / "m")
    assert main(["render", "--measurements", str(tmp_path / "m"), "--out", str(tmp_path / "site")]) == 0
    note = "measured while other processes used 35 % of the CPUs"
    page = (tmp_path / "site" / "models" / f"{alexnet.name}.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if "| ok |" in line}
    assert note in rows["1"]
    assert "other processes" not in rows["2"]
    assert page.count("other processes") == 1
    quiet = (tmp_path / "site" / "models" / f"{googlenet.name}.md").read_text()
    assert "other processes" not in quiet
    board = (tmp_path / "site" / "models" / "index.md").read_text()
    (alexnet_row,) = [line for line in board.splitlines() if f"({alexnet.name}.md)" in line]
    (googlenet_row,) = [line for line in board.splitlines() if f"({googlenet.name}.md)" in line]
    assert note in alexnet_row and "other processes" not in googlenet_row
