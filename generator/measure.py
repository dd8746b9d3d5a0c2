"""``python -m generator measure``: one worker process per model, records written as each finishes.

The parent resolves the models and the device backend (generator.backends),
describes the machine once, and runs generator.worker for each model; each
worker reads its own power meter and idle power. A worker that dies (segfault,
kill, CUDA error) costs only its own model: the parent writes that model's
record from the progress the worker reported. Re-running resumes: models with a
valid record are skipped unless ``force``.

On CUDA the next worker is started while the current one measures, so that its
imports and model build overlap with timing; it touches the GPU only after the
parent says 'go' (once the GPU is free).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import backends, environment, registry
from generator.backends import Backend
from generator.errors import CliError
from generator.files import write_text_atomic
from generator.model_spec import ModelSpec
from generator.schema import (
    BatchResult,
    Operations,
    Parameters,
    RecordError,
    load_record,
    model_file_stem,
    record_to_json,
    safe_slug,
)
from generator.worker import Job, base_record, build_record, config_for, keep_measured_accuracy, serve

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
    # Between models: wait until the GPU is at or below this temperature (°C, None:
    # no bound), at most cooldown_max_s seconds; None: no wait.
    cooldown: tuple[float | None, float] | None = None


@dataclass
class Outcome:
    """What happened to one model (for the summary and the overhead benchmark)."""

    name: str
    status: str  # 'ok', 'error', 'skipped' (already measured)
    path: Path
    timed_s: float = 0.0
    error: str | None = None
    warmup_s: float = 0.0
    wall_s: float = 0.0
    prepare_s: float = 0.0  # worker start to counted (fork, build, count)


@dataclass
class _Progress:
    """Events a worker reported, enough to write its record if it dies."""

    parameters: dict[str, Any] | None = None
    operations: dict[str, Any] | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)
    current_batch: int | None = None
    done_path: str | None = None
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


def existing_record_ok(path: Path) -> bool:
    """A finished record: present and valid. A corrupt or foreign file is measured again."""
    if not path.exists():
        return False
    try:
        load_record(path)
    except RecordError as error:
        print(f"warning: {error}; measuring again", file=sys.stderr)
        return False
    return True


def remove_stale_temporaries(folder: Path) -> None:
    """Temporary files of atomic writes interrupted by SIGKILL (a rename never happened)."""
    if folder.is_dir():
        for stale in folder.glob(".*.json.*.tmp"):
            stale.unlink(missing_ok=True)


def reusable_operations(out_dir: Path, spec: ModelSpec, software: dict[str, Any]) -> dict[str, Any] | None:
    """Operation counts from a record of the same model in another configuration or on other hardware.

    Counts depend on the architecture and the input size, not on the torch that
    traced them: a record counted by the same fvcore is reused when its torch and
    torchvision are these, or else when the architecture's source is the same
    byte for byte (``Operations.architecture_sha256``).
    """
    from generator.counting import architecture_sha256

    stem = model_file_stem(spec.name)
    source_sha: str | None = None
    for path in sorted(out_dir.glob(f"*/*/{stem}.json")):
        try:
            record = load_record(path)
        except RecordError:
            continue
        if (
            record.operations is None
            or record.model.name != spec.name
            or record.model.input_size_px != spec.input_size_px
            or record.software.fvcore != software.get("fvcore")
        ):
            continue
        same_versions = (record.software.torch == software.get("torch")
                         and record.software.torchvision == software.get("torchvision"))
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
    return _CONTEXT


class _WorkerProcess:
    def __init__(self, job: Job, spec: ModelSpec) -> None:
        self.job = job
        self.spec = spec
        descriptor, self.log_path = tempfile.mkstemp(prefix="generator-worker-", suffix=".log")
        os.close(descriptor)
        context = _context()
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=serve, args=(dataclasses.asdict(job), child, self.log_path), name=f"measure {spec.name}"
        )
        self.process.start()
        child.close()
        self.progress = _Progress()

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
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.connection.close()
        Path(self.log_path).unlink(missing_ok=True)


class Runner:
    def __init__(self, out_dir: Path, options: RunOptions, show_progress: bool) -> None:
        self.out_dir = out_dir
        self.options = options
        self.show_progress = show_progress
        self.backend: Backend = backends.get(options.device)
        self.hardware = self.backend.describe(options.threads)
        self.software = environment.software().model_dump()
        self.run = environment.run_info().model_dump()
        # The configuration's folder is named before any worker has read the flags back.
        self.config = config_for(self._job_template(), options.threads, self.backend.intended_flags())

    def _job_template(self, spec: ModelSpec | None = None, out_path: Path | None = None) -> Job:
        o = self.options
        return Job(
            model=spec.name if spec else "",
            out_path=str(out_path or ""),
            device=o.device,
            batch_sizes=list(o.batch_sizes),
            precision=o.precision,
            channels_last=o.channels_last,
            compile=o.compile_model,
            threads=o.threads,
            time_budget_s=o.time_budget_s,
            power_window_s=o.power_window_s,
            power_batch_sizes=power_sizes_for(spec, o) if spec else [],
            hardware=self.hardware.model_dump(),
            software=self.software,
            run=self.run,
            wait_for_go=o.prefetch,
        )

    def record_path(self, spec: ModelSpec) -> Path:
        return self.out_dir / safe_slug(self.hardware.slug) / self.config.slug / f"{model_file_stem(spec.name)}.json"

    def run_all(self, specs: Sequence[ModelSpec]) -> list[Outcome]:
        from tqdm import tqdm

        outcomes: list[Outcome] = []
        todo: list[ModelSpec] = []
        for spec in specs:
            path = self.record_path(spec)
            remove_stale_temporaries(path.parent)
            if not self.options.force and existing_record_ok(path):
                outcomes.append(Outcome(spec.name, "skipped", path))
            else:
                todo.append(spec)
        if outcomes:
            print(f"{len(outcomes)} of {len(specs)} models already measured (use --force to re-measure)",
                  file=sys.stderr)
        if not todo:
            return outcomes
        bar = tqdm(
            total=len(todo) * len(self.options.batch_sizes), unit="point", file=sys.stderr,
            disable=not self.show_progress, dynamic_ncols=True,
        )
        prefetch = self.options.prefetch
        pending: _WorkerProcess | None = None
        try:
            for index, spec in enumerate(todo):
                current = pending or self._start(spec)
                pending = None
                if prefetch and index + 1 < len(todo):
                    pending = self._start(todo[index + 1])
                bar.set_description(spec.name)
                if index > 0 and self.options.cooldown is not None:
                    self._cool_down()
                outcomes.append(self._follow(current, bar))
        finally:
            if pending is not None:
                pending.stop()
            bar.close()
        return outcomes

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

    def _start(self, spec: ModelSpec) -> _WorkerProcess:
        path = self.record_path(spec)
        job = self._job_template(spec, path)
        job.operations = reusable_operations(self.out_dir, spec, self.software)
        # Empty in real runs; passed on explicitly, since the fork server's
        # environment dates from when it started.
        job.extra.update(backends.test_options_from_environment(spec.name))
        return _WorkerProcess(job, spec)

    def _follow(self, worker: _WorkerProcess, bar: Any) -> Outcome:
        spec, progress = worker.spec, worker.progress
        path = Path(worker.job.out_path)
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
                    bar.set_description(f"{spec.name} batch {event['batch_size']}")
                elif kind == "timed":
                    progress.timed_s += float(event.get("timed_s", 0.0))
                    progress.warmup_s += float(event.get("warmup_s", 0.0))
                elif kind == "batch":
                    progress.batches.append(event["result"])
                    progress.current_batch = None
                    bar.update(1)
                elif kind == "done":
                    progress.done_path = event.get("path")
            worker.process.join()
            code = worker.process.exitcode if worker.process.exitcode is not None else 1
        except BaseException:
            worker.stop()
            raise
        tail = worker.log_tail()
        worker.stop()
        bar.update(len(self.options.batch_sizes) - len(progress.batches))
        if code == 0 and progress.done_path:
            status = "ok"
            try:
                record = load_record(path)
                status, error = record.status, record.error
            except RecordError as problem:
                status, error = "error", str(problem)
            return self._outcome(spec.name, status, path, progress, error, started)
        if code in (-signal.SIGINT, -signal.SIGTERM, 130, 128 + signal.SIGTERM):
            # Interrupted, not broken: leave no record, so a re-run measures it.
            raise KeyboardInterrupt
        how = f"killed by {_signal_name(code)}" if code < 0 else f"exited with code {code}"
        where = f" at batch size {progress.current_batch}" if progress.current_batch is not None else ""
        message = f"worker {how}{where}" + (f": {tail}" if tail else "")
        if code == -signal.SIGKILL:
            message += " (SIGKILL: often the kernel's out-of-memory killer)"
        self._write_from_progress(spec, path, progress, message)
        return self._outcome(spec.name, "error", path, progress, message, started)

    @staticmethod
    def _outcome(name: str, status: str, path: Path, progress: _Progress, error: str | None, started: float) -> Outcome:
        return Outcome(
            name, status, path, progress.timed_s, error, warmup_s=progress.warmup_s,
            wall_s=time.perf_counter() - started, prepare_s=progress.prepare_s,
        )

    def _write_from_progress(self, spec: ModelSpec, path: Path, progress: _Progress, message: str) -> None:
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
        accuracy = keep_measured_accuracy(path, spec.accuracy())
        base = base_record(self._job_template(spec, path), spec.model_info().model_dump(), accuracy, self.config)
        ok = any(b.status == "ok" for b in batches)
        record = build_record(
            base,
            "ok" if ok else "error",
            message,
            Parameters.model_validate(progress.parameters) if progress.parameters else None,
            Operations.model_validate(progress.operations) if progress.operations else None,
            batches,
        )
        write_text_atomic(path, record_to_json(record))


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


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
    cooldown: str | None = None,
) -> int:
    """Measure the selected models (default: the paper line-up) into ``out_dir``; the exit code."""
    _validate(threads, time_budget_s, power_window_s)
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
        threads=threads or default_threads(),
        time_budget_s=time_budget_s or defaults.time_budget_s,
        power_window_s=power_window_s,
        power_batch_sizes=sorted(set(power_batch_sizes)) if power_batch_sizes else None,
        force=force,
        prefetch=defaults.prefetch,
        cooldown=_parse_cooldown(cooldown),
    )
    if options.power_batch_sizes is not None:
        missing = [b for b in options.power_batch_sizes if b not in options.batch_sizes]
        if missing:
            print(f"warning: --power-batch-sizes {','.join(map(str, missing))} not among --batch-sizes "
                  f"{','.join(map(str, options.batch_sizes))}: no power window there", file=sys.stderr)
    started = time.perf_counter()
    runner = Runner(Path(out_dir), options, show_progress)
    outcomes = runner.run_all(specs)
    wall = time.perf_counter() - started
    return report(outcomes, runner, wall)


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


def report(outcomes: Sequence[Outcome], runner: Runner, wall_s: float) -> int:
    measured = [o for o in outcomes if o.status != "skipped"]
    failed = [o for o in measured if o.status == "error" or o.error]
    folder = runner.out_dir / safe_slug(runner.hardware.slug) / runner.config.slug
    print(
        f"{len(measured)} measured, {len(outcomes) - len(measured)} already there, "
        f"{len(failed)} with errors, in {wall_s:.0f} s -> {folder}",
        file=sys.stderr,
    )
    for outcome in failed:
        print(f"  {outcome.name}: {outcome.status}: {outcome.error}", file=sys.stderr)
    drift = idle_drift(measured)
    if drift:
        print(drift, file=sys.stderr)
    # Errors are measurements too (recorded in the records): the run itself succeeded.
    return 0
