"""``measure --executor slurm`` against a real one-node Slurm cluster (Debian's slurm-wlm and munge).

The cluster is started as root by ``tests/slurm_cluster.py`` and stopped by
its daemons' pids. Without root or the packages the tests skip with the reason;
in CI (CI=true) they must run, so there a cluster that cannot start fails them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_cluster import Cluster, ClusterUnavailable, start_cluster

REPO = Path(__file__).resolve().parent.parent
# Small and fast: each job builds and times one model at batch 1 with one thread.
MEASURE = ["--models", "quick", "--device", "cpu", "--batch-sizes", "1", "--time-budget", "0.1",
           "--power-window", "0.05", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    pytest.importorskip("submitit", reason="pip install '.[fleet]'")
    try:
        running = start_cluster(tmp_path_factory.mktemp("slurm"))
    except ClusterUnavailable as why:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI must run the Slurm test, but the cluster cannot start: {why}")
        pytest.skip(f"one-node Slurm cluster cannot start: {why}")
    try:
        yield running
    finally:
        running.stop()
    assert not running.processes


def _generator(cluster: Cluster, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**cluster.env(), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "generator", *argv], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, check=False)


def _allocations(cluster: Cluster) -> list[str]:
    # The main scheduler logs "sched: Allocate JobId=…", the backfill scheduler "_start_job: Started JobId=…".
    log = cluster.controller_log.read_text(errors="replace")
    return re.findall(r"(?:sched: Allocate|_start_job: Started) JobId=(\d+_\d+)", log)


def test_quick_models_as_a_job_array_then_check_merge_render(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    started = time.perf_counter()
    done = _generator(cluster, "measure", "--executor", "slurm", "--out", str(out), "--slurm-parallelism", "2",
                      *MEASURE)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "submitted job array" in done.stderr and "3 records arrived" in done.stderr, done.stderr
    records = sorted(path.name for path in out.rglob("*.json") if ".slurm" not in path.parts)
    assert records == ["mobilenet_v3_small.json", "shufflenet_v2_x0_5.json", "squeezenet1_1.json"]
    allocated = _allocations(cluster)
    array = re.search(r"submitted job array (\d+)", done.stderr)
    assert array is not None
    assert sorted(job for job in allocated if job.startswith(f"{array.group(1)}_")) == \
        [f"{array.group(1)}_{index}" for index in range(3)]  # the controller's log shows every job it allocated
    print(f"\nslurm quick models: {elapsed:.0f} s for the whole command; {done.stderr.strip().splitlines()[-1]}")

    again = _generator(cluster, "measure", "--executor", "slurm", "--out", str(out), *MEASURE)
    assert again.returncode == 0, again.stderr
    assert "3 have a record, 0 still queued, 0 to submit" in again.stderr
    assert len(_allocations(cluster)) == len(allocated)  # nothing submitted twice

    checked = _generator(cluster, "check", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    measurements = tmp_path / "measurements"
    merged = _generator(cluster, "merge", str(out), "--measurements", str(measurements))
    assert merged.returncode == 0 and "3 new" in merged.stdout, merged.stdout + merged.stderr
    rendered = _generator(cluster, "render", "--measurements", str(measurements), "--out", str(tmp_path / "site"))
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "site" / "models" / "squeezenet1_1.md").is_file()


def test_queued_jobs_are_not_resubmitted_and_failures_name_their_log(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    # The jobs cannot start for an hour: the first command is interrupted while they wait.
    held = ["--executor", "slurm", "--out", str(out), "--slurm-option", "begin=now+3600", *MEASURE]
    env = {**cluster.env(), "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-m", "generator", "measure", *held], env=env, cwd=REPO,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / ".slurm" / "jobs.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    first.send_signal(signal.SIGINT)
    _, said = first.communicate(timeout=60)
    assert first.returncode == 130 and "the jobs keep running" in said, said
    queued = cluster.run("squeue", "-h", "-r", "-o", "%i").stdout.split()
    assert len(queued) == 3

    second = subprocess.Popen([sys.executable, "-m", "generator", "measure", *held], env=env, cwd=REPO,
                              stderr=subprocess.PIPE, text=True)
    assert second.stderr is not None
    plan = second.stderr.readline()  # the command plans first, then waits
    assert "0 have a record, 3 still queued, 0 to submit" in plan, plan
    for job in queued:  # the jobs die before they run: the summary must name each with its log
        cluster.run("scancel", job)
    _, said = second.communicate(timeout=300)
    assert second.returncode == 1, said
    assert "3 failed" in said and said.count("left the queue without a result") == 3
    assert said.count("log: ") == 3 and ".slurm/logs/" in said


def test_without_slurm_the_command_says_so(tmp_path: Path) -> None:
    # No cluster needed: a machine without sbatch is told what is missing, before anything is written.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": str(bin_dir)}
    done = subprocess.run([sys.executable, "-m", "generator", "measure", "--executor", "slurm", "--out",
                           str(tmp_path / "runs"), *MEASURE], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2 and "needs Slurm's sbatch and squeue on PATH" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_extra_sbatch_options_are_checked() -> None:
    from generator.errors import CliError
    from generator.fleet import parse_additional

    assert parse_additional(["reservation=lab", "--mail-type=END"]) == {"reservation": "lab", "mail_type": "END"}
    with pytest.raises(CliError, match="KEY=VALUE"):
        parse_additional(["exclusive"])
