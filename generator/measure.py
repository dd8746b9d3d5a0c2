"""``python -m generator measure``: models timed in rounds, one worker process per model and round.

The parent resolves the models and the device backend (generator.backends),
describes the machine once, and runs the line-up in rounds interleaved across
models, as asv does (each worker reads its own power meter and idle power):
round 1 over every model, then round 2 over every model, ... Each round of a
model is a fresh worker (operation counts come from round 1), so a machine that
drifts shows as spread between rounds rather than as a difference between
models. generator.rounds merges each round into the model's record, which is
written (through generator.store) as soon as the model's first round is done
and updated after each later round: a kill loses at most the round in progress.

A worker that dies (segfault, kill, CUDA error) costs only its own round: the
parent writes what the worker had reported. Re-running resumes: a record
measured with the same settings, configuration and software is reused (and only
its missing rounds measured); other settings re-measure it in place; records of
models that failed are retried; ``force`` re-measures everything.

On CUDA the next worker is started while the current one measures, so that its
imports and model build overlap with timing; it touches the GPU only after the
parent says 'go' (once the GPU is free).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from generator import backends, environment, host_load, interrupts, registry
from generator.backends import Backend
from generator.errors import CliError
from generator.model_spec import ModelSpec
from generator.records import build_record, config_for
from generator.rounds import merge_records
from generator.schema import (
    OTHER_PROCESSES_CPU_SHARE_FLAGGED,
    Accuracy,
    BatchResult,
    MachineCeilings,
    MeasureSettings,
    Operations,
    Parameters,
    Record,
    RecordError,
    Software,
    load_record,
    parse_record,
    safe_slug,
)
from generator.store import MACHINE_KEYS, ResultsStore, StoreLocked, fingerprint, software_slug
from generator.timing import TimingSettings
from generator.worker import Job, serve

# Power windows for models that are not among the study's networks (the study's
# figures 8 and 9 use batch 1 and 16); the study's networks get every batch size.
NON_STUDY_POWER_BATCH_SIZES = [1, 16]


@dataclass
class RunOptions:
    device: str
    batch_sizes: list[int]
    precision: str
    channels_last: bool
    compile_model: bool
    threads: int
    time_budget_s: float
    power_window_s: float
    power_batch_sizes: list[int] | None
    force: bool
    # Start the next worker (imports, build) while the current one measures
    # (the backend's default: on a CPU the preparation would steal cores from the timing).
    prefetch: bool = False
    rounds: int = 1
    machine: str | None = None  # hardware folder name; None: derived from the hardware
    # Per-iteration cap in seconds (None: none): see generator.worker.iteration_estimate.
    max_iteration_s: float | None = None
    # Between models: wait until the GPU is at or below this temperature (°C, None:
    # no bound), at most cooldown_max_s seconds; None: no wait.
    cooldown: tuple[float | None, float] | None = None


@dataclass
class Outcome:
    """What happened to one model over all its rounds (for the summary and the overhead benchmark)."""

    name: str
    status: str  # 'ok', 'error', 'skipped' (already measured)
    path: Path
    timed_s: float = 0.0
    error: str | None = None
    warmup_s: float = 0.0
    wall_s: float = 0.0
    prepare_s: float = 0.0  # worker start to counted (fork, build, count)
    rounds: int = 0  # rounds measured in this run
    failed_batches: dict[str, int] = field(default_factory=dict)  # batch status ('oom', 'error') -> count


@dataclass
class _Progress:
    """Events a worker reported, enough to write its record if it dies."""

    parameters: dict[str, Any] | None = None
    operations: dict[str, Any] | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)
    current_batch: int | None = None
    record: dict[str, Any] | None = None
    timed_s: float = 0.0
    warmup_s: float = 0.0
    prepare_s: float = 0.0


def _parse_cooldown(text: str | None) -> tuple[float | None, float] | None:
    from generator.power import parse_cooldown

    if text is None:
        return None
    try:
        return parse_cooldown(text)
    except ValueError as error:
        raise CliError(str(error)) from None


def _validate(threads: int | None, time_budget_s: float | None, power_window_s: float) -> None:
    if threads is not None and threads <= 0:
        raise CliError(f"--threads must be a positive integer, got {threads}")
    if time_budget_s is not None and not time_budget_s > 0:
        raise CliError(f"--time-budget must be a positive number of seconds, got {time_budget_s}")
    if not power_window_s > 0:
        raise CliError(f"--power-window must be a positive number of seconds, got {power_window_s}")


def power_sizes_for(spec: ModelSpec, options: RunOptions) -> list[int]:
    if options.power_batch_sizes is not None:
        return [b for b in options.power_batch_sizes if b in options.batch_sizes]
    if spec.study_name is not None:
        return list(options.batch_sizes)
    return [b for b in NON_STUDY_POWER_BATCH_SIZES if b in options.batch_sizes]


def reusable_operations(store: ResultsStore, spec: ModelSpec, software: Software) -> dict[str, Any] | None:
    """Operation counts from a record of the same model in another configuration or on other hardware.

    Counts depend on the architecture and the input size, not on the torch that
    traced them: a record counted by the same fvcore is reused when its torch and
    torchvision are these, or else when the architecture's source is the same
    byte for byte (``Operations.architecture_sha256``).
    """
    from generator.counting import architecture_sha256

    source_sha: str | None = None
    for _path, record in store.find(spec.name):
        if (
            record.operations is None
            or record.model.input_size_px != spec.input_size_px
            or record.software.fvcore != software.fvcore
        ):
            continue
        same_versions = record.software.torch == software.torch and record.software.torchvision == software.torchvision
        if not same_versions and record.operations.architecture_sha256 is not None:
            source_sha = source_sha or architecture_sha256(spec.builder)
        if same_versions or (source_sha is not None and record.operations.architecture_sha256 == source_sha):
            return record.operations.model_dump()
    return None


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


_CONTEXT: Any = None


def _context() -> Any:
    """A fork server that has imported torch once: each worker then starts in milliseconds, not seconds."""
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            _CONTEXT = multiprocessing.get_context("forkserver")
            _CONTEXT.set_forkserver_preload(["generator.worker_preload"])
        else:  # no fork server (not POSIX): a fresh interpreter per worker
            _CONTEXT = multiprocessing.get_context("spawn")
    if _CONTEXT.get_start_method() == "forkserver":
        # Started here, not inside Process.start(), which callers wrap in interrupts.held():
        # a server started there would keep SIGINT and SIGTERM blocked and hand that mask
        # to every worker it forks (which terminate() could then not stop), and starting
        # multiprocessing's resource tracker there unblocks them, ending the hold early.
        from multiprocessing import forkserver

        forkserver.ensure_running()
    return _CONTEXT


class _WorkerProcess:
    # Every worker started and not yet stopped: whatever interrupts the parent
    # (Ctrl-C, SIGTERM) between starting and following one, run_all stops it
    # and removes its log.
    live: ClassVar[set[_WorkerProcess]] = set()

    def __init__(self, job: Job, spec: ModelSpec) -> None:
        self.job = job
        self.spec = spec
        self.progress = _Progress()
        descriptor, self.log_path = tempfile.mkstemp(prefix="generator-worker-", suffix=".log")
        os.close(descriptor)
        self.process: Any = None
        self.connection: Any = None
        _WorkerProcess.live.add(self)
        context = _context()
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=serve, args=(dataclasses.asdict(job), child, self.log_path), name=f"measure {spec.name}"
        )
        # Ctrl-C or SIGTERM in the middle of start() would leave a half-started
        # child (one that reads its job from a closed pipe and prints a traceback):
        # hold them until the worker is started, then they stop it like any other.
        with interrupts.held():
            self.process.start()
        child.close()

    def go(self) -> None:
        if self.job.wait_for_go:
            try:
                self.connection.send("go")
            except OSError:
                pass  # it already died; its exit status tells what happened

    def events(self) -> Iterator[dict[str, Any]]:
        """Events until the worker exits (EOF, or the process gone and nothing left to read)."""
        while True:
            try:
                if self.connection.poll(0.2):
                    yield self.connection.recv()
                elif not self.process.is_alive():
                    while self.connection.poll(0):
                        yield self.connection.recv()
                    return
            except (EOFError, OSError):
                return

    def log_tail(self) -> str:
        try:
            text = Path(self.log_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.pid is not None:
                if self.process.is_alive():
                    self.process.terminate()
                    self.process.join(timeout=10)
                    if self.process.is_alive():
                        self.process.kill()
                self.process.join()
            if self.connection is not None:
                self.connection.close()
        finally:
            Path(self.log_path).unlink(missing_ok=True)
            _WorkerProcess.live.discard(self)

    @classmethod
    def stop_all(cls) -> None:
        for worker in list(cls.live):
            worker.stop()


class Runner:
    def __init__(self, out_dir: Path, options: RunOptions, show_progress: bool) -> None:
        self.out_dir = out_dir
        self.store = ResultsStore(out_dir)
        self.options = options
        self.show_progress = show_progress
        self.backend: Backend = backends.get(options.device)
        hardware = self.backend.describe(options.threads)
        if options.machine:
            hardware = hardware.model_copy(update={"slug": options.machine})
        self.hardware = hardware
        self.software = environment.software()
        self.run = environment.run_info().model_dump()
        # The configuration's folder is named before any worker has read the flags back.
        flags = self.backend.intended_flags()
        self.config = config_for(
            options.device,
            options.precision,
            options.channels_last,
            options.compile_model,
            self._measuring_threads(),
            flags.tf32,
            flags.cudnn_benchmark,
        )
        self.software_folder = software_slug(self.software, self.hardware.gpu)
        # The machine's measured peak matmul rate, for the per-iteration cap's estimate
        # of a model with no batch size timed yet (None: not measured).
        self.peak_gflops: float | None = None

    def _measuring_threads(self) -> int:
        """The threads a worker measures with: all it is given on CPU, torch's default elsewhere."""
        import torch

        return self.options.threads if self.options.device == "cpu" else torch.get_num_threads()

    # ----------------------------------------------------------------- what a record must match

    def settings_for(self, spec: ModelSpec) -> MeasureSettings:
        o = self.options
        timing = TimingSettings()
        return MeasureSettings(
            batch_sizes=list(o.batch_sizes),
            rounds=o.rounds,
            time_budget_s=o.time_budget_s,
            min_iterations=timing.min_iterations,
            target_ci_relative=timing.target_relative,
            warmup_s=_warmup_s(self.backend),
            power_window_s=o.power_window_s,
            power_batch_sizes=power_sizes_for(spec, o),
            max_iteration_s=o.max_iteration_s,
        )

    def expected_fingerprint(self, spec: ModelSpec) -> dict[str, Any]:
        """The fingerprint this run's record of ``spec`` will have (generator.store.fingerprint)."""
        template = build_record(
            model=spec.model_info(),
            accuracy=Accuracy(),
            config=self.config,
            hardware=self.hardware,
            software=self.software,
            run=self.run,
            settings=None,
            status="error",
            error=None,
            parameters=None,
            operations=None,
            batches=[],
        )
        return fingerprint(template)

    def record_path(self, spec: ModelSpec) -> Path:
        return self.store.path_of(self.hardware.slug, self.config.slug, self.software_folder, spec.name)

    @property
    def run_dir(self) -> Path:
        """This run's folder: <machine>/<config>/<software> (generator.store)."""
        return self.out_dir / safe_slug(self.hardware.slug) / safe_slug(self.config.slug) / self.software_folder

    def rounds_done(self, spec: ModelSpec) -> int:
        """Rounds of ``spec`` already measured with this run's settings and software (0: measure it afresh)."""
        if self.options.force:
            return 0
        path = self.record_path(spec)
        if not path.exists():
            return 0
        try:
            record = self.store.read(path)
        except RecordError as error:
            print(f"warning: {error}; measuring again", file=sys.stderr)
            return 0
        if record.status != "ok":
            return 0  # a model that failed is retried (asv's "skip existing successful")
        if not same_settings(record, self.settings_for(spec)) or fingerprint(record) != self.expected_fingerprint(spec):
            return 0  # other settings on the same software: re-measured in place
        measured = [len(b.latency.rounds) for b in record.batches if b.latency is not None]
        return min(measured) if measured else 0

    def check_run_folder(self, specs: Sequence[ModelSpec]) -> None:
        """Refuse to add records to a run folder whose other records describe another machine or configuration."""
        chosen = {spec.name for spec in specs}
        if not self.run_dir.is_dir():
            return
        expected: dict[str, Any] | None = None
        for path in sorted(self.run_dir.glob("*.json")):
            record = self.store.read_if_valid(path)
            if record is None:
                continue
            if expected is None:
                expected = self.expected_fingerprint(specs[0])
            found = fingerprint(record)
            # A model of this run is re-measured in place, but only over a record of the
            # same machine: replacing another machine's record would lose its measurement
            # (two hosts given one --machine name).
            keys = MACHINE_KEYS if record.model.name in chosen else tuple(expected)
            different = [key for key in keys if found[key] != expected[key]]
            if different:
                key = different[0]
                raise CliError(
                    f"{path}: {key} is {found[key]!r}, this run's is {expected[key]!r}: one run folder holds one "
                    "machine, configuration and software. Another machine's record is never replaced: name this "
                    "machine with --machine NAME (or remove that record yourself). A record of this machine with "
                    "other settings is re-measured in place when its model is measured too"
                )

    # ----------------------------------------------------------------- running

    def run_all(self, specs: Sequence[ModelSpec]) -> list[Outcome]:
        from tqdm import tqdm

        rounds = self.options.rounds
        self.store.remove_stale_temporaries(self.run_dir)
        done = {spec.name: self.rounds_done(spec) for spec in specs}
        outcomes: dict[str, Outcome] = {}
        for spec in specs:
            if done[spec.name] >= rounds:
                outcomes[spec.name] = Outcome(spec.name, "skipped", self.record_path(spec))
        skipped = len(outcomes)
        if skipped:
            print(
                f"{skipped} of {len(specs)} models already measured with these settings (use --force to re-measure)",
                file=sys.stderr,
            )
        todo = [spec for spec in specs if done[spec.name] < rounds]
        if not todo:
            return [outcomes[spec.name] for spec in specs]
        total = sum(rounds - done[spec.name] for spec in todo) * len(self.options.batch_sizes)
        bar = tqdm(total=total, unit="point", file=sys.stderr, disable=not self.show_progress, dynamic_ncols=True)
        given_up: set[str] = set()
        try:
            for round_index in range(1, rounds + 1):
                due = [spec for spec in todo if done[spec.name] < round_index and spec.name not in given_up]
                self._run_round(due, round_index, outcomes, bar)
                for spec in due:
                    if self._failed_outright(spec):
                        # Nothing could be measured (it does not build, or crashed at once): once is enough.
                        given_up.add(spec.name)
                        bar.update((rounds - round_index) * len(self.options.batch_sizes))
        finally:
            bar.close()
            _WorkerProcess.stop_all()
        return [outcomes[spec.name] for spec in specs]

    def _failed_outright(self, spec: ModelSpec) -> bool:
        record = self.store.read_if_valid(self.record_path(spec))
        return record is None or record.status != "ok"

    def _run_round(self, due: Sequence[ModelSpec], round_index: int, outcomes: dict[str, Outcome], bar: Any) -> None:
        prefetch = self.options.prefetch
        pending: _WorkerProcess | None = None
        try:
            for index, spec in enumerate(due):
                current = pending or self._start(spec, round_index)
                pending = None
                if prefetch and index + 1 < len(due):
                    pending = self._start(due[index + 1], round_index)
                bar.set_description(f"round {round_index}/{self.options.rounds} {spec.name}")
                if self.options.cooldown is not None and (index > 0 or round_index > 1):
                    self._cool_down()
                outcome = self._follow(current, bar, round_index)
                outcomes[spec.name] = _combine(outcomes.get(spec.name), outcome)
        finally:
            if pending is not None:
                pending.stop()

    def _cool_down(self) -> None:
        """--cooldown: let the device cool between models (vit_h_14 before vit_l_16 would bias the second)."""
        from generator import power

        assert self.options.cooldown is not None
        bound, max_s = self.options.cooldown
        nvml = power.load_nvml() if self.options.device == "cuda" else None
        handle = power.nvml_handle_for_cuda_device(nvml, index=power.visible_gpu_index()) if nvml else None

        def read() -> float | None:
            if nvml is None:
                return None  # no sensor (a CPU run): the time bound alone
            try:
                return float(nvml.nvmlDeviceGetTemperature(handle, power.NVML_TEMPERATURE_GPU))
            except Exception:  # a missed reading: keep waiting within the time bound
                return None

        waited, temperature = power.cool_down(read, bound, max_s)
        where = f", {temperature:.0f} °C" if temperature is not None else ""
        print(f"cooldown: {waited:.1f} s{where}", file=sys.stderr)

    def _start(self, spec: ModelSpec, round_index: int) -> _WorkerProcess:
        return _WorkerProcess(self.job_for(spec, round_index), spec)

    def job_for(self, spec: ModelSpec, round_index: int) -> Job:
        """What the worker of ``spec``'s round ``round_index`` is asked to do."""
        o = self.options
        # Round 2 on adds to the rounds on disk (measured earlier in this run, or by a run that was stopped).
        earlier = self.store.read_if_valid(self.record_path(spec)) if round_index > 1 else None
        operations = earlier.operations.model_dump() if earlier is not None and earlier.operations else None
        settings = self.settings_for(spec)
        job = Job(
            model=spec.name,
            device=o.device,
            batch_sizes=list(o.batch_sizes),
            precision=o.precision,
            channels_last=o.channels_last,
            compile=o.compile_model,
            threads=o.threads,
            time_budget_s=o.time_budget_s,
            power_window_s=o.power_window_s,
            # Power windows belong to the first round: later rounds add timing only.
            power_batch_sizes=settings.power_batch_sizes if earlier is None else [],
            hardware=self.hardware.model_dump(),
            software=self.software.model_dump(),
            run=self.run,
            settings=settings.model_dump(),
            round_index=round_index,
            operations=operations or reusable_operations(self.store, spec, self.software),
            wait_for_go=o.prefetch,
            max_iteration_s=o.max_iteration_s,
            peak_gflops=self.peak_gflops,
        )
        # Empty in real runs; passed on explicitly, since the fork server's
        # environment dates from when it started.
        job.extra.update(backends.test_options_from_environment(spec.name))
        return job

    def _follow(self, worker: _WorkerProcess, bar: Any, round_index: int) -> Outcome:
        spec, progress = worker.spec, worker.progress
        path = self.record_path(spec)
        started = time.perf_counter()
        worker.go()
        try:
            for event in worker.events():
                kind = event.get("event")
                if kind == "counted":
                    progress.parameters, progress.operations = event.get("parameters"), event.get("operations")
                    progress.prepare_s = float(event.get("seconds_since_start", 0.0))
                elif kind == "batch_start":
                    progress.current_batch = event["batch_size"]
                    bar.set_description(
                        f"round {round_index}/{self.options.rounds} {spec.name} batch {event['batch_size']}"
                    )
                elif kind == "timed":
                    progress.timed_s += float(event.get("timed_s", 0.0))
                    progress.warmup_s += float(event.get("warmup_s", 0.0))
                elif kind == "batch":
                    progress.batches.append(event["result"])
                    progress.current_batch = None
                    bar.update(1)
                elif kind == "done":
                    progress.record = event.get("record")
            worker.process.join()
            code = worker.process.exitcode if worker.process.exitcode is not None else 1
        except BaseException:
            worker.stop()
            raise
        tail = worker.log_tail()
        worker.stop()
        bar.update(len(self.options.batch_sizes) - len(progress.batches))
        merge = round_index > 1
        if code == 0 and progress.record is not None:
            try:
                record = parse_record(progress.record, f"{path} (round {round_index} from the worker)")
                record = self._write(path, record, merge)
                status, error = record.status, record.error
            except RecordError as problem:
                status, error = "error", str(problem)
            return self._outcome(spec.name, status, path, progress, error, started, record_batches(progress))
        if code in (-signal.SIGINT, -signal.SIGTERM, 130, 128 + signal.SIGTERM):
            # Interrupted, not broken: leave the record as the last finished round left it.
            raise KeyboardInterrupt
        how = f"killed by {_signal_name(code)}" if code < 0 else f"exited with code {code}"
        where = f" at batch size {progress.current_batch}" if progress.current_batch is not None else ""
        message = f"worker {how}{where}" + (f": {tail}" if tail else "")
        if code == -signal.SIGKILL:
            message += " (SIGKILL: often the kernel's out-of-memory killer)"
        if round_index > 1:
            message = f"round {round_index}: {message}"
        record = self._record_from_progress(spec, progress, message)
        self._write(path, record, merge)
        return self._outcome(spec.name, "error", path, progress, message, started, record.batches)

    def _write(self, path: Path, record: Record, merge: bool) -> Record:
        """Write one round's record, merged into the rounds already on disk when there are some."""
        if merge:
            earlier = self.store.read_if_valid(path)
            if earlier is not None:
                record = merge_records(earlier, record)
        self.store.write(record, path)
        return record

    @staticmethod
    def _outcome(
        name: str,
        status: str,
        path: Path,
        progress: _Progress,
        error: str | None,
        started: float,
        batches: Sequence[BatchResult],
    ) -> Outcome:
        failed: dict[str, int] = {}
        for batch in batches:
            if batch.status in ("oom", "error"):
                failed[batch.status] = failed.get(batch.status, 0) + 1
        return Outcome(
            name,
            status,
            path,
            progress.timed_s,
            error,
            warmup_s=progress.warmup_s,
            wall_s=time.perf_counter() - started,
            prepare_s=progress.prepare_s,
            rounds=1,
            failed_batches=failed,
        )

    def _record_from_progress(self, spec: ModelSpec, progress: _Progress, message: str) -> Record:
        """The record of a worker that died: what it reported, the batch it died in, the rest skipped."""
        batches = [BatchResult.model_validate(b) for b in progress.batches]
        done = {b.batch_size for b in batches}
        died_at = progress.current_batch
        for size in self.options.batch_sizes:
            if size in done:
                continue
            if size == died_at:
                batches.append(BatchResult(batch_size=size, status="error", error=message))
            else:
                reason = f"not measured: the worker died at batch size {died_at}" if died_at else "not measured"
                batches.append(BatchResult(batch_size=size, status="skipped", error=reason))
        batches.sort(key=lambda b: b.batch_size)
        ok = any(b.status == "ok" for b in batches)
        return build_record(
            model=spec.model_info(),
            accuracy=spec.accuracy(),
            config=self.config,
            hardware=self.hardware,
            software=self.software,
            run=self.run,
            settings=self.settings_for(spec),
            status="ok" if ok else "error",
            error=message,
            parameters=Parameters.model_validate(progress.parameters) if progress.parameters else None,
            operations=Operations.model_validate(progress.operations) if progress.operations else None,
            batches=batches,
        )


def same_settings(record: Record, wanted: MeasureSettings) -> bool:
    """Whether ``record`` was measured as ``wanted`` asks, so its rounds may be reused.

    The per-iteration cap matters only where it skipped something: a record
    measured under another cap (or none, before the cap existed) that has no
    batch size skipped by its cap holds every batch size the new cap could allow.
    """
    if record.settings is None:
        return False
    if record.settings == wanted:
        return True
    capped = any(b.estimated_iteration_s is not None for b in record.batches)
    return not capped and record.settings.model_copy(update={"max_iteration_s": wanted.max_iteration_s}) == wanted


def record_batches(progress: _Progress) -> list[BatchResult]:
    return [BatchResult.model_validate(b) for b in progress.batches]


def _combine(before: Outcome | None, now: Outcome) -> Outcome:
    """One model's outcome over rounds: times add up, the latest status and error stand."""
    if before is None or before.status == "skipped":
        return now
    failed = dict(before.failed_batches)
    for status, count in now.failed_batches.items():
        failed[status] = failed.get(status, 0) + count
    return dataclasses.replace(
        now,
        timed_s=before.timed_s + now.timed_s,
        warmup_s=before.warmup_s + now.warmup_s,
        wall_s=before.wall_s + now.wall_s,
        prepare_s=before.prepare_s + now.prepare_s,
        rounds=before.rounds + now.rounds,
        error=now.error or before.error,
        failed_batches=failed,
    )


_MACHINE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _check_machine(machine: str | None) -> None:
    if machine is not None and (not _MACHINE_NAME.fullmatch(machine) or machine.lower() in ("index", "compare")):
        raise CliError(
            f"--machine {machine!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(it names a folder and a page)"
        )


def _check_out(store: ResultsStore, option: str) -> None:
    """An unusable records folder is reported before anything is measured."""
    try:
        store.check_writable()
    except OSError as error:
        reason = error.strerror or str(error)
        raise CliError(f"{option} {store.root}: cannot write records there ({reason})") from None


def _warmup_s(backend: Backend) -> float:
    """The backend's minimum warm-up per batch size, as the worker's session uses it (for the settings)."""
    import importlib

    policy = getattr(importlib.import_module(type(backend).__module__), "WARMUP", None)
    return float(policy.min_s) if policy is not None else 0.0


# Ctrl-C and SIGTERM unwind as KeyboardInterrupt (workers stopped, their logs removed, the lock
# released) even when measure was started deaf to them: in the background of a script, by a parent
# that held them blocked (generator.interrupts).
@interrupts.stoppable()
def measure(
    selectors: Sequence[str],
    out_dir: Path,
    device: str = "auto",
    batch_sizes: Sequence[int] | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    compile_model: bool = False,
    threads: int | None = None,
    force: bool = False,
    time_budget_s: float | None = None,
    power_window_s: float = 1.0,
    power_batch_sizes: Sequence[int] | None = None,
    show_progress: bool = True,
    rounds: int | None = None,
    machine: str | None = None,
    out_option: str = "--measurements",
    cooldown: str | None = None,
    max_iteration_s: float | None = None,
    ceilings: bool = True,
) -> int:
    """Measure the selected models (default: the paper line-up) into ``out_dir``; the exit code."""
    _validate(threads, time_budget_s, power_window_s)
    if max_iteration_s is not None and not (max_iteration_s > 0 and math.isfinite(max_iteration_s)):
        raise CliError(f"--max-iteration-s must be a positive number of seconds, got {max_iteration_s}")
    if rounds is not None and rounds < 1:
        raise CliError(f"--rounds must be a positive integer, got {rounds}")
    _check_machine(machine)
    store = ResultsStore(Path(out_dir))
    _check_out(store, out_option)
    backend = backends.resolve(device)
    specs = registry.resolve(list(selectors) or ["paper"])
    if not specs:
        raise CliError("no models selected")
    defaults = backend.defaults
    options = RunOptions(
        device=backend.name,
        batch_sizes=sorted(set(batch_sizes or defaults.batch_sizes)),
        precision=precision,
        channels_last=channels_last,
        compile_model=compile_model,
        threads=threads or host_load.usable_cpus(),
        time_budget_s=time_budget_s or defaults.time_budget_s,
        power_window_s=power_window_s,
        power_batch_sizes=sorted(set(power_batch_sizes)) if power_batch_sizes else None,
        force=force,
        prefetch=defaults.prefetch,
        rounds=rounds or defaults.rounds,
        machine=machine,
        cooldown=_parse_cooldown(cooldown),
        max_iteration_s=max_iteration_s if max_iteration_s is not None else defaults.max_iteration_s,
    )
    if options.power_batch_sizes is not None:
        missing = [b for b in options.power_batch_sizes if b not in options.batch_sizes]
        if missing:
            print(
                f"warning: --power-batch-sizes {','.join(map(str, missing))} not among --batch-sizes "
                f"{','.join(map(str, options.batch_sizes))}: no power window there",
                file=sys.stderr,
            )
    if options.device == "cpu":
        from generator.host_load import load_average_warning

        busy = load_average_warning()
        if busy:
            print(busy, file=sys.stderr)
    try:
        with store.lock():
            for old, new in store.adopt_old_layout():
                print(f"moved {old} -> {new} (records now live in a folder per software)", file=sys.stderr)
            started = time.perf_counter()
            runner = Runner(Path(out_dir), options, show_progress)
            runner.check_run_folder(specs)
            known = runner_ceilings(runner, measure_if_missing=ceilings)
            runner.peak_gflops = known.matmul.gflops if known is not None else None
            outcomes = runner.run_all(specs)
            wall = time.perf_counter() - started
    except StoreLocked as error:
        raise CliError(str(error), exit_code=1) from None
    return report(outcomes, runner, wall)


def _ceilings_job(runner: Runner) -> Any:
    from generator.ceilings import CeilingsJob

    return CeilingsJob(
        device=runner.options.device,
        precision=runner.options.precision,
        threads=runner.config.threads,
        hardware_slug=runner.hardware.slug,
        git_commit=runner.run.get("git_commit"),
        command=str(runner.run.get("command", "")),
    )


def runner_ceilings(runner: Runner, measure_if_missing: bool, force: bool = False) -> MachineCeilings | None:
    """The run folder's ceilings: read, or measured once and written when absent (or unusable, or ``force``).

    A failure to measure them is reported and the run goes on without them (the
    pages then say "not measured").
    """
    from generator.ceilings import measure_in_subprocess, summary

    store, run_dir = runner.store, runner.run_dir
    if not force:
        try:
            existing = store.read_ceilings(run_dir)
        except RecordError as error:
            print(f"warning: {error}; measuring the ceilings again", file=sys.stderr)
            existing = None
        if existing is not None:
            return existing
    if not measure_if_missing:
        return None
    print("measuring the machine's ceilings (peak matmul, memory bandwidth) once for this run...", file=sys.stderr)
    try:
        ceilings = measure_in_subprocess(_ceilings_job(runner))
    except CliError as error:
        print(f"warning: {error}; the run goes on without them", file=sys.stderr)
        return None
    path = store.write_ceilings(run_dir, ceilings)
    print(f"{summary(ceilings)} -> {path}", file=sys.stderr)
    return ceilings


def ceilings_command(
    out_dir: Path,
    device: str = "auto",
    precision: str = "fp32",
    channels_last: bool = False,
    compile_model: bool = False,
    threads: int | None = None,
    machine: str | None = None,
    force: bool = False,
    out_option: str = "--measurements",
) -> int:
    """``python -m generator ceilings``: give a run folder (this machine, configuration, software) its ceilings."""
    _validate(threads, None, 1.0)
    _check_machine(machine)
    store = ResultsStore(Path(out_dir))
    _check_out(store, out_option)
    backend = backends.resolve(device)
    defaults = backend.defaults
    options = RunOptions(
        device=backend.name,
        batch_sizes=list(defaults.batch_sizes),
        precision=precision,
        channels_last=channels_last,
        compile_model=compile_model,
        threads=threads or host_load.usable_cpus(),
        time_budget_s=defaults.time_budget_s,
        power_window_s=1.0,
        power_batch_sizes=None,
        force=force,
        machine=machine,
    )
    try:
        with store.lock():
            runner = Runner(Path(out_dir), options, show_progress=False)
            before = None if force else runner_ceilings(runner, measure_if_missing=False)
            if before is not None:
                from generator.ceilings import summary

                print(
                    f"{store.ceilings_path(runner.run_dir)} already holds {summary(before)} (--force measures again)",
                    file=sys.stderr,
                )
                return 0
            if runner_ceilings(runner, measure_if_missing=True, force=True) is None:
                return 1
    except StoreLocked as error:
        raise CliError(str(error), exit_code=1) from None
    return 0


def idle_drift(outcomes: Sequence[Outcome]) -> str | None:
    """The idle power each worker read at its start, for the run's first and last model: the run's idle drift."""
    readings = []
    for outcome in outcomes:
        try:
            record = load_record(outcome.path)
        except RecordError:
            continue
        power = next((b.power for b in record.batches if b.power is not None and b.power.idle_w is not None), None)
        if power is not None and power.idle_w is not None:
            readings.append((outcome.name, power.idle_w, power.temperature_c_start))
    if not readings:
        return None

    def text(reading: tuple[str, float, float | None]) -> str:
        name, watts, temperature = reading
        return f"{watts:.1f} W ({name}" + (f", {temperature:.0f} °C)" if temperature is not None else ")")

    return f"idle power: run start {text(readings[0])}, run end {text(readings[-1])}"


def contended_batches(outcomes: Sequence[Outcome]) -> dict[str, list[tuple[int, float]]]:
    """Per model, the batch sizes a round of which was timed while other processes used more than
    OTHER_PROCESSES_CPU_SHARE_FLAGGED of the CPUs, with the highest share its rounds recorded."""
    found: dict[str, list[tuple[int, float]]] = {}
    for outcome in outcomes:
        try:
            record = load_record(outcome.path)
        except RecordError:
            continue
        for batch in record.batches:
            shares = [
                one.other_processes_cpu_share
                for one in (batch.latency.rounds if batch.latency is not None else [])
                if one.other_processes_cpu_share is not None
            ]
            if shares and max(shares) > OTHER_PROCESSES_CPU_SHARE_FLAGGED:
                found.setdefault(outcome.name, []).append((batch.batch_size, max(shares)))
    return found


def report(outcomes: Sequence[Outcome], runner: Runner, wall_s: float) -> int:
    measured = [o for o in outcomes if o.status != "skipped"]
    failed = [o for o in measured if o.status == "error" or o.error]
    batch_failures: dict[str, int] = {}
    for outcome in measured:
        for status, count in outcome.failed_batches.items():
            batch_failures[status] = batch_failures.get(status, 0) + count
    failures = ", ".join(f"{count} {status}" for status, count in sorted(batch_failures.items())) or "none"
    rounds = max((o.rounds for o in measured), default=0)
    print(
        f"{len(measured)} measured ({rounds} round{'s' if rounds != 1 else ''}), "
        f"{len(outcomes) - len(measured)} already there, {len(failed)} with errors, "
        f"failed batch sizes: {failures}, in {wall_s:.0f} s -> {runner.run_dir}",
        file=sys.stderr,
    )
    for outcome in failed:
        print(f"  {outcome.name}: {outcome.status}: {outcome.error}", file=sys.stderr)
    drift = idle_drift(measured)
    if drift:
        print(drift, file=sys.stderr)
    contended = contended_batches(measured)
    if contended:
        print(
            f"warning: other processes used more than {OTHER_PROCESSES_CPU_SHARE_FLAGGED:.0%} of the CPUs while "
            "these were timed (their times may be too slow; re-measure them on a quiet machine with --force):",
            file=sys.stderr,
        )
        for name, sizes in contended.items():
            listed = ", ".join(f"batch {size} ({share:.0%})" for size, share in sizes)
            print(f"  {name}: {listed}", file=sys.stderr)
    # Errors are measurements too (recorded in the records): the run itself succeeded.
    return 0
