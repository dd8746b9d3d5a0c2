"""``measure --executor slurm``: one Slurm job per model, as a job array, through submitit.

Each job runs ``generator.measure.measure`` for its one model with the very
arguments a local run would get, so a record made on the cluster is made by
the same code as one made at a desk, and is written atomically into the shared
``--out`` folder (the cluster's file system) as the model finishes. The
submitting command shows a progress bar of jobs and waits; it keeps a small
state file (``<out>/.slurm/jobs.json``) so that a second run of the same
command skips models that already have a valid record and does not submit again
the jobs still queued or running, only the ones that failed or were never sent.

The state of a job is read from submitit's result file and from ``squeue``:
``sacct`` needs Slurm's accounting database, which small clusters (and the
one-node cluster of the tests) do not run.

submitit is imported only here: ``--executor local`` (the default) does not
need it (``pip install .[fleet]``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import interrupts
from generator.errors import CliError
from generator.files import write_text_atomic
from generator.safe_read import walk_json_files
from generator.schema import Record, RecordError, load_record, model_file_stem
from generator.store import relative_path

STATE_FOLDER = ".slurm"  # hidden: render and check skip it
POLL_S = 2.0
# A job that has left the queue gets this long for its result file to appear
# on a shared file system before it counts as failed.
RESULT_GRACE_S = 10.0


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    gpus_per_job: int | None = None  # None: 1 when measuring on CUDA, else 0
    cpus_per_job: int | None = None
    time_min: int = 60
    parallelism: int = 256
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    mem: str | None = None
    additional: Mapping[str, str] = field(default_factory=dict)  # any other sbatch option, KEY=VALUE
    poll_s: float = POLL_S


@dataclass
class JobResult:
    model: str
    job_id: str
    status: str  # 'recorded', 'failed'
    message: str = ""
    log: str = ""


def measure_one(model: str, measure_kwargs: dict[str, Any]) -> dict[str, Any]:
    """What one Slurm job runs: the local measure, for one model, then its record moved into the shared folder.

    The job measures into a folder of its own (``<out>/.slurm/work/<job>``), so
    that jobs running side by side never contend for the measure lock of the
    shared folder, then renames each record into its place under ``--out``: one
    atomic step on the shared file system, so a reader sees a whole record or none.
    """
    from generator import measure

    started = time.perf_counter()
    out_dir = Path(measure_kwargs["out_dir"])
    job = "_".join(filter(None, (os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID"))))
    work = out_dir / STATE_FOLDER / "work" / f"{job or os.getpid()}-{model_file_stem(model)}"
    shutil.rmtree(work, ignore_errors=True)  # a requeued job starts clean
    try:
        # A job measures one model in a scratch folder: the machine's ceilings belong to
        # the shared run folder ('python -m generator ceilings' on a node), not to each job.
        code = measure.measure(
            selectors=[model], show_progress=False, **{**measure_kwargs, "out_dir": work, "ceilings": False}
        )
        placed = [str(publish(path, out_dir)) for path in walk_json_files(work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "model": model,
        "exit_code": code,
        "records": placed,
        "host": socket.gethostname(),
        "seconds": time.perf_counter() - started,
    }


def publish(path: Path, out_dir: Path) -> Path:
    """Move a record made by a job into its place under ``out_dir`` (same file system: one rename)."""
    record = load_record(path)
    target = out_dir / relative_path(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def find_record(out_dir: Path, model: str, precision: str, channels_last: bool, compile_model: bool) -> Path | None:
    """A valid record of ``model`` in this configuration anywhere under ``out_dir`` (any machine)."""
    stem = f"{model_file_stem(model)}.json"
    if not out_dir.is_dir():
        return None
    for path in walk_json_files(out_dir):
        if path.name != stem:
            continue
        try:
            record = load_record(path)
        except RecordError:
            continue
        if record.model.name == model and _same_configuration(record, precision, channels_last, compile_model):
            return path
    return None


def _same_configuration(record: Record, precision: str, channels_last: bool, compile_model: bool) -> bool:
    config = record.config
    return (config.precision, config.channels_last, config.compile) == (precision, channels_last, compile_model)


def _queued(job_ids: Sequence[str]) -> set[str]:
    """Those of ``job_ids`` (array elements '12_3') still pending or running, from squeue."""
    if not job_ids:
        return set()
    arrays = sorted({job_id.split("_")[0] for job_id in job_ids})
    done = subprocess.run(
        ["squeue", "-h", "-r", "-o", "%i", "-j", ",".join(arrays)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:
            return set()  # every array has left the queue
        raise CliError(f"squeue failed: {done.stderr.strip() or done.returncode}")
    return {line.strip() for line in done.stdout.splitlines() if line.strip()}


class _State:
    """``<out>/.slurm/jobs.json``: the job of each model, so a re-run re-attaches instead of resubmitting."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "jobs.json"
        self.jobs: dict[str, dict[str, str]] = {}
        if self.path.is_file() and not self.path.is_symlink():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                self.jobs = {
                    str(k): {"job_id": str(v["job_id"]), "folder": str(v["folder"])}
                    for k, v in loaded.get("jobs", {}).items()
                }
            except (ValueError, KeyError, TypeError, AttributeError, OSError):
                self.jobs = {}  # a damaged state file only costs a resubmission

    def save(self) -> None:
        write_text_atomic(self.path, json.dumps({"jobs": self.jobs}, indent=2, sort_keys=True) + "\n")


def _require_slurm() -> None:
    """Say what is missing before anything is written."""
    try:
        import submitit  # noqa: F401 - only whether it is installed
    except ImportError:
        raise CliError("--executor slurm needs submitit: pip install '.[fleet]'") from None
    missing = [name for name in ("sbatch", "squeue") if shutil.which(name) is None]
    if missing:
        raise CliError(
            f"--executor slurm needs Slurm's {' and '.join(missing)} on PATH (run it on a login node of the cluster)"
        )


def _executor(logs: Path, options: SlurmOptions, gpus: int, name: str) -> Any:
    import submitit

    executor = submitit.SlurmExecutor(folder=logs / "%j")
    parameters: dict[str, Any] = {
        "job_name": name,
        "time": options.time_min,
        "array_parallelism": options.parallelism,
        "nodes": 1,
        "ntasks_per_node": 1,
        # NVML power is board-level: a job owns whole GPUs, never shares one.
        **({"gpus_per_node": gpus} if gpus else {}),
        **({"partition": options.partition} if options.partition else {}),
        **({"cpus_per_task": options.cpus_per_job} if options.cpus_per_job else {}),
        **({"account": options.account} if options.account else {}),
        **({"qos": options.qos} if options.qos else {}),
        **({"constraint": options.constraint} if options.constraint else {}),
        **({"mem": options.mem} if options.mem else {}),
        "additional_parameters": dict(options.additional),
        # The job is one process: no srun step needed (and none that could fail to launch).
        "use_srun": False,
    }
    executor.update_parameters(**parameters)
    return executor


def _default_gpus(device: str) -> int:
    if device == "cuda":
        return 1
    if device == "auto":
        try:
            import torch

            return 1 if torch.cuda.is_available() else 0
        except ImportError:
            return 0
    return 0


# Ctrl-C stops the wait (the jobs keep running), and SIGTERM now does the same, even when this
# command was started deaf to them (in a script's background: generator.interrupts).
@interrupts.stoppable()
def measure_on_slurm(
    models: Sequence[str], measure_kwargs: dict[str, Any], options: SlurmOptions, show_progress: bool = True
) -> int:
    """Submit one job per model (a job array), wait for all, print a summary; the exit code.

    ``measure_kwargs`` are the keyword arguments of ``generator.measure.measure``
    (without ``selectors`` and ``show_progress``), passed unchanged to each job.
    """
    _require_slurm()
    out_dir = Path(measure_kwargs["out_dir"]).absolute()
    kwargs = {**measure_kwargs, "out_dir": out_dir}
    config = (kwargs.get("precision", "fp32"), bool(kwargs.get("channels_last")), bool(kwargs.get("compile_model")))
    state_folder = out_dir / STATE_FOLDER
    state_folder.mkdir(parents=True, exist_ok=True)
    state = _State(state_folder)
    force = bool(kwargs.get("force"))

    skipped = [] if force else [m for m in models if find_record(out_dir, m, *config) is not None]
    remaining = [m for m in models if m not in skipped]
    known = {m: state.jobs[m]["job_id"] for m in remaining if m in state.jobs}
    still_queued = _queued(list(known.values()))
    attach = [m for m in remaining if m in known and known[m] in still_queued]
    submit = [m for m in remaining if m not in attach]
    print(
        f"slurm: {len(models)} models: {len(skipped)} have a record, {len(attach)} still queued, "
        f"{len(submit)} to submit",
        file=sys.stderr,
    )

    import submitit

    gpus = options.gpus_per_job if options.gpus_per_job is not None else _default_gpus(kwargs.get("device", "auto"))
    jobs: dict[str, Any] = {}
    for model in attach:
        entry = state.jobs[model]
        jobs[model] = submitit.SlurmJob(folder=entry["folder"], job_id=entry["job_id"])
    submitted_at = time.time()
    if submit:
        executor = _executor(state_folder / "logs", options, gpus, "canziani-measure")
        submitted = executor.map_array(measure_one, submit, [kwargs] * len(submit))
        for model, job in zip(submit, submitted, strict=True):
            jobs[model] = job
            state.jobs[model] = {"job_id": str(job.job_id), "folder": str(state_folder / "logs" / "%j")}
        state.save()
        arrays = sorted({str(job.job_id).split("_")[0] for job in submitted})
        print(
            f"slurm: submitted job array {', '.join(arrays)} ({len(submit)} jobs, at most "
            f"{options.parallelism} at once, {gpus} GPU(s) per job); logs in {state_folder / 'logs'}",
            file=sys.stderr,
        )
    try:
        results = _wait(jobs, options.poll_s, show_progress)
    except KeyboardInterrupt:
        print(
            "slurm: stopped waiting; the jobs keep running. Run the same command again to wait for them "
            "(finished models are skipped, queued jobs are not submitted twice)",
            file=sys.stderr,
        )
        return 130
    wall = time.time() - submitted_at
    return _summary(results, skipped, out_dir, config, wall)


def _wait(jobs: Mapping[str, Any], poll_s: float, show_progress: bool) -> list[JobResult]:
    pending = dict(jobs)
    results: list[JobResult] = []
    left_queue_at: dict[str, float] = {}
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="job", desc="slurm jobs", file=sys.stderr, dynamic_ncols=True)
    try:
        while pending:
            queued = _queued([str(job.job_id) for job in pending.values()])
            now = time.time()
            for model, job in list(pending.items()):
                job_id = str(job.job_id)
                log = str(job.paths.stderr)
                if job.paths.result_pickle.exists():
                    results.append(_result(model, job))
                elif job_id not in queued:
                    first = left_queue_at.setdefault(model, now)
                    if now - first < RESULT_GRACE_S:
                        continue
                    results.append(
                        JobResult(
                            model,
                            job_id,
                            "failed",
                            "left the queue without a result (killed, out of time or memory, or node failure)",
                            log,
                        )
                    )
                else:
                    continue
                del pending[model]
                if bar is not None:
                    bar.update(1)
            if pending:
                time.sleep(poll_s)
    finally:
        if bar is not None:
            bar.close()
    return results


def _result(model: str, job: Any) -> JobResult:
    job_id, log = str(job.job_id), str(job.paths.stderr)
    try:
        outcome = job.result()
    except Exception as error:
        last = str(error).strip().splitlines()
        return JobResult(model, job_id, "failed", last[-1] if last else type(error).__name__, log)
    if not isinstance(outcome, dict) or outcome.get("exit_code") != 0:
        code = outcome.get("exit_code") if isinstance(outcome, dict) else outcome
        return JobResult(model, job_id, "failed", f"measure exited with {code}", log)
    return JobResult(model, job_id, "recorded", f"{outcome.get('seconds', 0):.0f} s on {outcome.get('host')}", log)


def _summary(
    results: Sequence[JobResult], skipped: Sequence[str], out_dir: Path, config: tuple[str, bool, bool], wall_s: float
) -> int:
    failed = [r for r in results if r.status == "failed"]
    missing = [r for r in results if r.status == "recorded" and find_record(out_dir, r.model, *config) is None]
    for result in missing:
        result.status, result.message = "failed", "the job finished but no valid record arrived"
        failed.append(result)
    arrived = len(results) - len(failed)
    print(
        f"slurm: {arrived} records arrived, {len(skipped)} already there, {len(failed)} failed, "
        f"{wall_s:.0f} s from submit to the last job -> {out_dir}",
        file=sys.stderr,
    )
    for result in sorted(failed, key=lambda r: r.model):
        print(f"  {result.model}: job {result.job_id}: {result.message}; log: {result.log}", file=sys.stderr)
    return 1 if failed else 0


def parse_additional(values: Sequence[str] | None) -> dict[str, str]:
    """``--slurm-option KEY=VALUE`` (repeatable) -> sbatch options, e.g. 'reservation=lab'."""
    found: dict[str, str] = {}
    for value in values or []:
        key, separator, setting = value.partition("=")
        if not separator or not key.strip():
            raise CliError(f"--slurm-option expects KEY=VALUE (an sbatch option without '--'), got {value!r}")
        found[key.strip().lstrip("-").replace("-", "_")] = setting
    return found
