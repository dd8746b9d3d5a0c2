"""End to end: `python -m generator measure` on small real models, with real faults.

Each model runs in its own worker process, so these tests start real
subprocesses; batch sizes and budgets are tiny to keep them quick.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.backends import FAULT_ENV
from generator.cli import main
from generator.schema import Record, load_record, record_to_json
from tests.invariants import check_record

FAST = ["--batch-sizes", "1,2,4", "--time-budget", "0.05", "--power-window", "0.05", "--threads", "1", "--no-progress"]


def _record_files(out: Path) -> list[Path]:
    """Record files: every *.json but a run's machine.json (the machine's ceilings, generator.store)."""
    return sorted(p for p in out.rglob("*.json") if p.name != "machine.json")


def _records(out: Path) -> dict[str, Record]:
    records = {p.stem: load_record(p) for p in _record_files(out)}
    for record in records.values():
        check_record(record)  # every record the worker (or the parent, for a dead worker) wrote
    return records


def test_oom_and_segfault_are_recorded_and_others_still_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Real faults inside the worker: an allocation beyond a lowered RLIMIT_AS at
    # batch 2 of squeezenet, a SIGSEGV at batch 2 of shufflenet.
    monkeypatch.setenv(FAULT_ENV, "squeezenet1_1=oom@2,shufflenet_v2_x0_5=segfault@2")
    code = main(["measure", "--models", "quick", "--device", "cpu", "--out", str(tmp_path), *FAST])
    assert code == 0
    records = _records(tmp_path)
    assert set(records) == {"mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5"}
    # <machine>/<config>/<software>/<model>.json (generator.store)
    assert all(p.parent.parent.name == "fp32" and p.parent.parent.parent.name.startswith("cpu-")
               and p.parent.name.startswith("torch-") for p in tmp_path.rglob("*.json"))

    healthy = records["mobilenet_v3_small"]
    assert healthy.status == "ok" and healthy.error is None
    assert [b.status for b in healthy.batches] == ["ok", "ok", "ok"]
    assert healthy.parameters.count == 2_542_856
    assert healthy.operations.gmacs_conv_linear_matmul == pytest.approx(0.057, rel=0.01)
    # The cross-check from torch's flop counter: 2 x the conv/linear/matmul MACs.
    assert healthy.operations.flop_counter_gflops == pytest.approx(2 * healthy.operations.gmacs_conv_linear_matmul)
    first = healthy.batches[0]
    assert first.latency.timed_iterations >= 5 and len(first.latency.rounds[0].samples_ms_per_batch) >= 5
    assert first.memory.peak_rss_bytes > first.memory.baseline_rss_bytes > 0
    assert healthy.config.threads == 1
    # Power where the machine has no readable counter: unavailable with a reason, never zero.
    assert first.power is not None
    if not first.power.available:
        assert first.power.unavailable_reason and first.power.mean_w is None

    oom = records["squeezenet1_1"]
    assert [b.status for b in oom.batches] == ["ok", "oom", "skipped"]
    assert "allocate" in oom.batches[1].error
    assert oom.status == "ok"

    crashed = records["shufflenet_v2_x0_5"]
    assert [b.status for b in crashed.batches] == ["ok", "error", "skipped"]
    assert "SIGSEGV" in crashed.batches[1].error and "SIGSEGV" in crashed.error
    assert crashed.parameters is not None and crashed.parameters.count == 1_366_792  # kept from the worker
    err = capsys.readouterr().err
    assert "SIGSEGV" in err
    # Batch failures are counted in the summary: two rounds of one oom and one crash.
    assert "failed batch sizes: 2 error, 2 oom" in err


def _measure_command(out: Path) -> list[str]:
    return [sys.executable, "-m", "generator", "measure", "--models", "quick", "--device", "cpu",
            "--out", str(out), "--batch-sizes", "1", "--time-budget", "0.05", "--power-window", "0.05",
            "--threads", "1", "--no-progress", "--rounds", "1"]


def test_killed_run_leaves_no_partial_file_and_resumes(tmp_path: Path) -> None:
    process = subprocess.Popen(_measure_command(tmp_path), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while not _record_files(tmp_path):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no record appeared"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the parent and its worker, mid-measurement
        process.wait()
    before = {p: p.stat().st_mtime_ns for p in _record_files(tmp_path)}
    assert 1 <= len(before) < 3
    for path in before:
        load_record(path)  # whole files only

    rerun = subprocess.run(_measure_command(tmp_path), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "already measured" in rerun.stderr
    records = _records(tmp_path)
    assert set(records) == {"mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5"}
    assert all(r.status == "ok" for r in records.values())
    for path, mtime in before.items():
        assert path.stat().st_mtime_ns == mtime  # finished records are not measured again
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


# How measure may be started: as from a terminal, or in the background of a non-interactive shell
# (`cmd &` starts it with SIGINT ignored, as a CI script or a nohup'd sweep does; the test suite run
# that way once made measure deaf to the sweep's deadline). SIG_IGN passes through exec: this launcher
# sets it, then becomes measure. Ctrl-C must stop it the same way both times.
_LAUNCH = """
import os, signal, sys
if sys.argv[1] == "sigint-ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
os.execv(sys.argv[2], sys.argv[2:])
"""


@pytest.mark.parametrize("started", ["plain", "sigint-ignored"])
def test_ctrl_c_stops_with_130_and_keeps_finished_records(tmp_path: Path, started: str) -> None:
    # The last model hangs: the run cannot end by itself before the interrupt (no skip that hides a deaf measure).
    env = {**os.environ, FAULT_ENV: "shufflenet_v2_x0_5=hang@1"}
    process = subprocess.Popen([sys.executable, "-c", _LAUNCH, started, *_measure_command(tmp_path)],
                               start_new_session=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 240
        while not _record_files(tmp_path) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, "the run ended before the interrupt"
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    for path in tmp_path.rglob("*"):
        assert not path.name.endswith(".tmp")
        if path.suffix == ".json" and path.name != "machine.json":
            assert load_record(path).status == "ok"  # whole, and not an error record for the interrupted model


def test_stoppable_commands_hear_signals_their_parent_blocked_or_ignored() -> None:
    # A parent's mask passes through exec as SIG_IGN does (in measure the resource tracker's
    # start happens to unblock it; the Slurm waiter starts no such thing): inside stoppable()
    # both signals interrupt, and the caller's state is back afterwards.
    from generator.interrupts import STOP_SIGNALS, stoppable

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        for number in STOP_SIGNALS:
            with pytest.raises(KeyboardInterrupt), stoppable():
                os.kill(os.getpid(), number)
                time.sleep(5)  # the handler runs at the next bytecode; never reached when it does
            assert signal.getsignal(number) == signal.SIG_IGN
            assert STOP_SIGNALS <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "resnet5O"], "unknown model selector 'resnet5O'"),
        (["--models", "quick", "--threads", "0"], "--threads"),
        (["--models", "quick", "--time-budget", "-1"], "--time-budget"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["measure", "--out", str(tmp_path), "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.gpu
def test_gpu_measurement(tmp_path: Path) -> None:
    assert main(["measure", "--models", "squeezenet1_1", "--device", "cuda", "--out", str(tmp_path),
                 "--batch-sizes", "1,16", "--time-budget", "0.2", "--no-progress"]) == 0
    (record,) = _records(tmp_path).values()
    assert record.config.device == "cuda" and record.hardware.gpu is not None
    assert record.hardware.slug == record.hardware.slug.lower() and "cpu" not in record.hardware.slug
    assert not record.config.tf32 and record.config.cudnn_benchmark
    for batch in record.batches:
        assert batch.status == "ok" and batch.latency.clock == "cuda_events"
        assert batch.memory.cuda_peak_allocated_bytes > 0
        assert batch.memory.cuda_peak_reserved_bytes >= batch.memory.cuda_peak_allocated_bytes
        assert batch.power is not None  # squeezenet is not a study network: windows at 1 and 16
        if batch.power.available:
            assert batch.power.counter == "nvml" and batch.power.mean_w > 0 and batch.power.window_s >= 1.0
            assert batch.power.energy_j_per_image > 0 and batch.power.energy_method is not None
        else:
            assert batch.power.unavailable_reason


def test_operations_are_counted_once_per_model_and_reused(tmp_path: Path) -> None:
    common = ["measure", "--models", "squeezenet1_1", "--device", "cpu", "--out", str(tmp_path),
              "--batch-sizes", "1", "--time-budget", "0.05", "--threads", "1", "--no-progress"]
    assert main(common) == 0
    (first_path,) = tmp_path.rglob("squeezenet1_1.json")
    first = load_record(first_path)
    assert first.operations is not None
    # Mark the counts, so that the second configuration shows whether it reused or recounted them.
    marked = first.model_copy(update={"operations": first.operations.model_copy(update={"counter": "reused?"})})
    first_path.write_text(record_to_json(marked))
    assert main([*common, "--channels-last"]) == 0
    software = first_path.parent.name
    second = load_record(first_path.parent.parent.parent / "fp32-channels-last" / software / "squeezenet1_1.json")
    assert second.config.channels_last and second.batches[0].status == "ok"
    assert second.operations == marked.operations


def test_cuda_requested_without_cuda_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["measure", "--models", "quick", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "--device cuda" in capsys.readouterr().err


def test_prepared_workers_wait_for_go(tmp_path: Path) -> None:
    # The GPU schedule (next worker built while the current one measures), exercised on the CPU.
    from generator import registry
    from generator.measure import Runner, RunOptions

    options = RunOptions(device="cpu", batch_sizes=[1], precision="fp32", channels_last=False, compile_model=False,
                         threads=1, time_budget_s=0.05, power_window_s=0.05, power_batch_sizes=None, force=False,
                         prefetch=True)
    outcomes = Runner(tmp_path, options, show_progress=False).run_all(registry.resolve(["quick"]))
    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    assert len(_records(tmp_path)) == 3


@pytest.mark.parametrize(
    ("model", "threads", "slug"),
    [
        ("AMD EPYC 7B13 64-Core Processor", 2, "cpu-amd-epyc-7b13-2t"),
        ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 8, "cpu-intel-xeon-platinum-8375c-8t"),
        (None, 4, "cpu-unknown-4t"),
    ],
)
def test_cpu_hardware_slug(model: str | None, threads: int, slug: str) -> None:
    from generator.environment import cpu_slug, gpu_slug

    assert cpu_slug(model, threads) == slug
    assert gpu_slug("NVIDIA H200") == "nvidia-h200"


def _one(tmp_path: Path, *extra: str) -> list[str]:
    return ["measure", "--models", "squeezenet1_1", "--device", "cpu", "--measurements", str(tmp_path),
            "--time-budget", "0.05", "--power-window", "0.05", "--threads", "1", "--no-progress", *extra]


def test_rounds_are_merged_reused_and_remeasured_when_settings_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_one(tmp_path, "--batch-sizes", "1,2", "--rounds", "2")) == 0
    (path,) = tmp_path.rglob("squeezenet1_1.json")
    record = load_record(path)
    assert record.settings is not None and record.settings.rounds == 2 and record.settings.batch_sizes == [1, 2]
    for batch in record.batches:
        latency = batch.latency
        assert len(latency.rounds) == 2
        assert latency.timed_iterations == sum(r.timed_iterations for r in latency.rounds)
        # The point estimate is the median of the round medians, inside its interval.
        medians = sorted(r.median_ms_per_batch for r in latency.rounds)
        assert latency.median_ms_per_batch == pytest.approx(sum(medians) / 2)
        assert latency.ci95_low_ms_per_batch <= latency.median_ms_per_batch <= latency.ci95_high_ms_per_batch
    # Power windows belong to round 1 only; they are still there after round 2.
    assert record.batches[0].power is not None
    capsys.readouterr()

    before = path.stat().st_mtime_ns
    assert main(_one(tmp_path, "--batch-sizes", "1,2", "--rounds", "2")) == 0
    assert "already measured with these settings" in capsys.readouterr().err
    assert path.stat().st_mtime_ns == before

    # Other settings on the same software: measured again, in place.
    assert main(_one(tmp_path, "--batch-sizes", "1", "--rounds", "2")) == 0
    assert list(tmp_path.rglob("squeezenet1_1.json")) == [path]
    again = load_record(path)
    assert [b.batch_size for b in again.batches] == [1] and again.settings.batch_sizes == [1]


def test_other_software_starts_a_new_run_beside_the_old_one(tmp_path: Path) -> None:
    assert main(_one(tmp_path, "--batch-sizes", "1", "--rounds", "1")) == 0
    (path,) = tmp_path.rglob("squeezenet1_1.json")
    # Pretend the record was measured with an older torch: its run folder is that software's.
    record = load_record(path)
    older = record.model_copy(update={"software": record.software.model_copy(update={"torch": "2.13.0"})})
    old_folder = path.parent.parent / "torch-2.13.0-tv-0.29.1"
    old_folder.mkdir()
    old_path = old_folder / path.name
    old_path.write_text(record_to_json(older))
    path.unlink()
    (path.parent / "machine.json").unlink()  # the run's ceilings go with its folder
    path.parent.rmdir()
    mtime = old_path.stat().st_mtime_ns
    assert main(_one(tmp_path, "--batch-sizes", "1", "--rounds", "1")) == 0
    assert sorted(tmp_path.rglob("squeezenet1_1.json")) == sorted([path, old_path])
    assert old_path.stat().st_mtime_ns == mtime and load_record(old_path).software.torch == "2.13.0"


def test_a_failed_model_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "squeezenet1_1=segfault@1")
    assert main(_one(tmp_path, "--batch-sizes", "1", "--rounds", "2")) == 0
    (path,) = tmp_path.rglob("squeezenet1_1.json")
    failed = load_record(path)
    assert failed.status == "error" and "SIGSEGV" in failed.error
    monkeypatch.delenv(FAULT_ENV)
    assert main(_one(tmp_path, "--batch-sizes", "1", "--rounds", "2")) == 0
    retried = load_record(path)
    assert retried.status == "ok" and len(retried.batches[0].latency.rounds) == 2


def test_sigterm_stops_the_run_and_leaves_no_worker_logs(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    out = tmp_path / "m"
    command = [sys.executable, "-m", "generator", "measure", "--models", "quick", "--device", "cpu",
               "--measurements", str(out), "--batch-sizes", "1,2", "--time-budget", "0.3", "--threads", "1",
               "--no-progress", "--rounds", "2"]
    process = subprocess.Popen(command, env={**os.environ, "TMPDIR": str(temporary)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not _record_files(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)  # the parent only, as a scheduler or `kill` sends it
    _, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert process.returncode == 130 and "Traceback" not in err
    assert not list(temporary.glob("generator-worker-*.log"))
    for path in _record_files(out):
        load_record(path)  # whole records only


def test_batch_sizes_over_the_iteration_cap_are_recorded_as_skipped_with_the_estimate(tmp_path: Path) -> None:
    # Batch 1 is timed; batch 256 is estimated from it (256 x its time per image,
    # over 0.5 s unless batch 1 ran under 2 ms) and must be written down, not dropped.
    code = main(["measure", "--models", "squeezenet1_1", "--device", "cpu", "--out", str(tmp_path),
                 "--batch-sizes", "1,256", "--max-iteration-s", "0.5", "--rounds", "1", "--time-budget", "0.05",
                 "--power-window", "0.05", "--threads", "1", "--no-progress"])
    assert code == 0
    record = _records(tmp_path)["squeezenet1_1"]
    assert record.settings is not None and record.settings.max_iteration_s == 0.5
    one, big = record.batches
    assert one.status == "ok" and one.estimated_iteration_s is None
    assert big.status == "skipped" and big.latency is None
    assert one.latency is not None and big.estimated_iteration_s is not None
    assert big.estimated_iteration_s == pytest.approx(one.latency.median_ms_per_image * 256 / 1000)
    assert big.estimated_iteration_s > 0.5
    assert "above the per-iteration cap of 0.5 s" in big.error and "at batch size 1" in big.error
    # The machine's ceilings were measured once for the run, beside its records.
    (ceilings,) = tmp_path.rglob("machine.json")
    assert ceilings.parent == next(tmp_path.rglob("squeezenet1_1.json")).parent


def test_max_iteration_s_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--models", "squeezenet1_1", "--out", str(tmp_path), "--max-iteration-s", "0"]) == 2
    assert "--max-iteration-s" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))


def test_a_record_nothing_was_capped_in_is_reused_under_another_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Records measured before the cap existed (or under another one) hold every batch size a
    # new cap could allow, unless their cap skipped one: the zoo is not re-measured for a new cap.
    args = ["measure", "--models", "squeezenet1_1", "--device", "cpu", "--out", str(tmp_path), "--batch-sizes", "1",
            "--rounds", "1", "--time-budget", "0.05", "--power-window", "0.05", "--threads", "1", "--no-progress",
            "--no-ceilings"]
    assert main([*args, "--max-iteration-s", "100"]) == 0
    assert not list(tmp_path.rglob("machine.json"))  # --no-ceilings
    capsys.readouterr()
    assert main([*args, "--max-iteration-s", "50"]) == 0
    assert "1 of 1 models already measured" in capsys.readouterr().err


def test_another_machines_record_is_never_replaced_under_one_machine_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two hosts given the same --machine name: the second must not overwrite the
    # first one's measurement, even for a model it is about to measure again.
    assert main(_one(tmp_path, "--machine", "lab-a", "--batch-sizes", "1", "--rounds", "1")) == 0
    (path,) = tmp_path.rglob("squeezenet1_1.json")
    record = load_record(path)
    other = record.hardware.model_copy(update={"name": "Other CPU, 2 threads", "cpu_model": "Other CPU"})
    path.write_text(record_to_json(record.model_copy(update={"hardware": other})), encoding="utf-8")
    before = path.read_bytes()
    capsys.readouterr()
    assert main(_one(tmp_path, "--machine", "lab-a", "--batch-sizes", "1,2", "--rounds", "1")) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "hardware.name" in err and "--machine" in err
    assert path.read_bytes() == before
