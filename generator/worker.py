"""Measure one model in a process of its own.

The parent (generator.measure) forks one worker per model and round from a
fork server that has torch imported, so a crash, an out-of-memory kill or a
CUDA error loses only that model's round, and the process's resident memory is
that model's. The worker reports progress as events over a pipe and, when it
finishes, the whole record of its round in the 'done' event; the parent writes
records (through generator.store), also when the worker dies. For debugging one model by hand:
``python -m generator.worker '<job JSON>'`` prints the events as JSON lines.

Events: {"event": "prepared"} (built; waits for 'go' when the job asks),
{"event": "counted", "parameters", "operations"}, {"event": "batch_start",
"batch_size"}, {"event": "timed", "timed_s", "warmup_s"}, {"event": "batch", "result"},
{"event": "done", "status", "record"} (the record as JSON-ready data).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from generator import backends
from generator.interrupts import STOP_SIGNALS
from generator.records import build_record, config_for
from generator.schema import (
    BatchResult,
    Operations,
    Parameters,
    Power,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from generator.backends import Backend, DeviceSession, PrecisionFlags
    from generator.model_spec import ModelSpec
    from generator.power import IdleReading, PowerMeter
    from generator.schema import Config

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@dataclass
class Job:
    """What the parent asks a worker to do (JSON on argv[1])."""

    model: str
    device: str
    batch_sizes: list[int]
    precision: str
    channels_last: bool
    compile: bool
    threads: int
    time_budget_s: float
    power_window_s: float
    power_batch_sizes: list[int]
    hardware: dict[str, Any]
    software: dict[str, Any]
    run: dict[str, Any]
    settings: dict[str, Any] | None = None  # MeasureSettings, written into the record
    round_index: int = 1  # 1-based; the parent asks for power windows in the first round only
    operations: dict[str, Any] | None = None  # reused from an earlier record of the same model
    wait_for_go: bool = False
    # Per-iteration cap (seconds; None: none) and the machine's measured peak
    # matmul GFLOP/s (generator.ceilings; None: not measured) for the estimate.
    max_iteration_s: float | None = None
    peak_gflops: float | None = None
    # Test hooks for the backend (generator.backends.for_worker); empty in real runs.
    extra: dict[str, Any] = field(default_factory=dict)


def _config(job: Job, threads: int, flags: PrecisionFlags) -> Config:
    return config_for(
        job.device, job.precision, job.channels_last, job.compile, threads, flags.tf32, flags.cudnn_benchmark
    )


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:500]


class Worker:
    def __init__(self, job: Job, send: Callable[[dict[str, Any]], None], wait_for_go: Callable[[], bool]) -> None:
        self.job = job
        self.started = time.perf_counter()
        self._send = send
        self._wait_for_go = wait_for_go

    def emit(self, **event: Any) -> None:
        self._send(event)

    def run(self) -> int:
        import torch

        from generator import registry

        job = self.job
        backend = backends.for_worker(job.device, job.extra)
        # Before the model is built: the session takes the host baselines, but
        # touches no device until start().
        session = backend.session(job.threads)
        measuring_threads = torch.get_num_threads()
        if job.wait_for_go:
            # Built while another worker times the GPU: stay on one core, so as
            # not to slow that worker's kernel launches.
            torch.set_num_threads(1)
        spec = registry.spec_by_name(job.model)
        base: dict[str, Any] = {
            "model": spec.model_info(),
            # The parent keeps an accuracy 'evaluate' measured into the record it replaces (generator.store).
            "accuracy": spec.accuracy(),
            "config": _config(job, measuring_threads, backend.intended_flags()),
            "hardware": job.hardware,
            "software": job.software,
            "run": job.run,
            "settings": job.settings,
        }
        try:
            model = spec.build().eval()
        except Exception as error:
            return self.finish(base, "error", f"building the model failed: {one_line(error)}", None, None, [])
        self.emit(event="prepared")
        if job.wait_for_go:
            # The parent starts the next worker while this one's predecessor is
            # still timing, and says 'go' once the GPU is free.
            if not self._wait_for_go():
                return 130
            torch.set_num_threads(measuring_threads)
        return self.measure(spec, model, base, backend, session)

    def measure(
        self,
        spec: ModelSpec,
        model: nn.Module,
        base: dict[str, Any],
        backend: Backend,
        session: DeviceSession,
    ) -> int:
        import torch

        from generator.counting import (
            architecture_sha256,
            count_operations,
            count_parameters,
            meta_flop_counter_gflops,
            tensor_bytes,
        )

        job = self.job
        notes: list[str] = []
        size = spec.input_size_px
        try:
            flags = session.start()
            # The flags as read back, not as intended.
            base = {**base, "config": _config(job, base["config"].threads, flags)}
            model = session.to_device(model)
            operations: Operations | None = None
            if job.operations is not None:
                operations = Operations.model_validate(job.operations)
            else:
                try:
                    operations = count_operations(
                        model, torch.zeros(1, 3, size, size, device=session.device), cross_check=False
                    )
                    cross = meta_flop_counter_gflops(spec)
                    operations = operations.model_copy(
                        update={
                            "flop_counter_gflops": cross,
                            "architecture_sha256": architecture_sha256(spec.builder),
                        }
                    )
                except Exception as error:  # a model fvcore cannot trace is still worth timing
                    notes.append(f"operation count failed: {one_line(error)}")
            dtype = getattr(torch, DTYPES[job.precision])
            model = model.to(dtype=dtype)
            memory_format = torch.channels_last if job.channels_last else torch.contiguous_format
            if job.channels_last:
                model = model.to(memory_format=memory_format)
            params_bytes, buffers_bytes = tensor_bytes(model)
            parameters = Parameters(
                count=count_parameters(model),
                parameters_bytes=params_bytes,
                buffers_bytes=buffers_bytes,
                checkpoint_bytes=spec.checkpoint_bytes,
            )
            runnable: Callable[[torch.Tensor], Any] = model
            if job.compile:
                runnable = torch.compile(runnable)
        except Exception as error:
            return self.finish(base, "error", f"preparing the model failed: {one_line(error)}", None, None, [])
        # The counting pass's activations and, after a precision or layout change, the
        # old weights sit in the allocator's cache: hand them back, or batch 1's memory
        # and the idle reading below would include them.
        gc.collect()
        session.release()
        self.emit(
            event="counted",
            seconds_since_start=time.perf_counter() - self.started,
            parameters=parameters.model_dump(),
            operations=operations.model_dump() if operations else None,
        )
        power = self._power_setup(session) if job.power_batch_sizes else _PowerSetup(None, None, "not requested")
        loaded = _Loaded(runnable, size, dtype, memory_format, backend, session, power)
        batches: list[BatchResult] = []
        oom_at: int | None = None
        for batch_size in job.batch_sizes:
            over_cap = over_iteration_cap(batch_size, batches, operations, job.max_iteration_s, job.peak_gflops)
            if oom_at is not None:
                result = BatchResult(
                    batch_size=batch_size, status="skipped", error=f"batch size {oom_at} ran out of memory"
                )
            elif over_cap is not None:
                estimate_s, how = over_cap
                result = BatchResult(
                    batch_size=batch_size,
                    status="skipped",
                    estimated_iteration_s=estimate_s,
                    error=f"one iteration estimated at {estimate_s:.3g} s ({how}), above the per-iteration "
                    f"cap of {job.max_iteration_s:g} s (measure --max-iteration-s)",
                )
            else:
                self.emit(event="batch_start", batch_size=batch_size)
                result = self.measure_batch(loaded, batch_size)
                if result.status == "oom":
                    oom_at = batch_size
            batches.append(result)
            self.emit(event="batch", result=result.model_dump(mode="json"))
        ok = any(b.status == "ok" for b in batches)
        if not ok:
            notes.insert(
                0,
                "no batch size could be measured: "
                + "; ".join(f"{b.batch_size}: {b.status} ({b.error})" for b in batches if b.status != "skipped"),
            )
        return self.finish(base, "ok" if ok else "error", "; ".join(notes) or None, parameters, operations, batches)

    def _power_setup(self, session: DeviceSession) -> _PowerSetup:
        """The device's power meter and its idle power, measured in this process (the one that measures).

        Idle is measured per model, after the previous model's load has settled, so
        that its drift over a run shows in the records.
        """
        meter, reason = session.power_meter()
        if meter is None:
            return _PowerSetup(None, None, reason or "no power counter")
        gpu = self.job.hardware.get("gpu") or {}
        if meter.counter_period_s is None and gpu.get("energy_counter_update_period_s"):
            # Measured once by the parent at the run's start.
            meter.counter_period_s = float(gpu["energy_counter_update_period_s"])
        try:
            idle = session.idle_power(meter)
        except Exception as error:  # a failing counter must not stop the timing
            return _PowerSetup(None, None, f"{meter.counter}: reading power failed: {one_line(error)}")
        return _PowerSetup(meter, idle, None)

    def measure_batch(self, loaded: _Loaded, batch_size: int) -> BatchResult:
        loaded.session.reset_peak_memory()
        try:
            return self._time_batch(loaded, batch_size)
        except Exception as error:
            status: Literal["oom", "error"] = "oom" if loaded.backend.is_out_of_memory(error) else "error"
            if status == "error":
                traceback.print_exc(file=sys.stderr)
            return BatchResult(batch_size=batch_size, status=status, error=one_line(error))
        finally:
            # The input died with _time_batch's frame, so the cache handed back includes its block.
            loaded.session.release()

    def _time_batch(self, loaded: _Loaded, batch_size: int) -> BatchResult:
        import torch

        from generator import timing
        from generator.power import power_window, unavailable

        job, session = self.job, loaded.session
        generator = torch.Generator(device=session.device).manual_seed(0)
        inputs = torch.randn(
            batch_size, 3, loaded.size, loaded.size, device=session.device, dtype=loaded.dtype, generator=generator
        )
        inputs = inputs.contiguous(memory_format=loaded.memory_format)

        def forward() -> object:
            return loaded.model(inputs)

        with torch.inference_mode():
            timer = session.timer(forward)
            settings = timing.TimingSettings(
                time_budget_s=job.time_budget_s,
                warmup_min_iterations=session.warmup.min_iterations,
                warmup_s=session.warmup.min_s,
            )
            result = timing.time_forward(timer, settings, session.host_load())
            latency = timing.summarize(result, batch_size, loaded.backend.clock)
            power: Power | None = None
            if batch_size in job.power_batch_sizes:
                if loaded.power.meter is not None:
                    # The timing just ran this load: it counts towards the window's pre-roll.
                    power = power_window(
                        timer,
                        batch_size,
                        loaded.power.meter,
                        job.power_window_s,
                        loaded.power.idle,
                        already_loaded_s=result.timed_s + result.warmup_s,
                    )
                else:
                    power = unavailable(loaded.power.unavailable_reason or "no power counter")
        memory = session.memory()
        window_s = power.window_s if power is not None and power.window_s is not None else 0.0
        self.emit(event="timed", batch_size=batch_size, timed_s=result.timed_s + window_s, warmup_s=result.warmup_s)
        return BatchResult(batch_size=batch_size, status="ok", latency=latency, memory=memory, power=power)

    def finish(
        self,
        base: dict[str, Any],
        status: str,
        error: str | None,
        parameters: Parameters | None,
        operations: Operations | None,
        batches: list[BatchResult],
    ) -> int:
        """Send the round's record to the parent, which writes it (merged with earlier rounds)."""
        record = build_record(
            **base, status=status, error=error, parameters=parameters, operations=operations, batches=batches
        )
        self.emit(event="done", status=status, record=record.model_dump(mode="json"))
        return 0


def iteration_estimate(
    batch_size: int, measured: list[BatchResult], operations: Operations | None, peak_gflops: float | None
) -> tuple[float, str] | None:
    """Seconds one iteration of ``batch_size`` should take, and how that was estimated; None: no basis.

    From the smallest batch size already timed in this worker (batch 1 normally):
    its per-image time x ``batch_size``. Per-image time falls with batch size, so
    this errs high. Without a timed batch size: the model's FLOPs at the machine's
    measured peak matmul rate, a lower bound (no network runs at peak).
    """
    timed = [b for b in measured if b.status == "ok" and b.latency is not None]
    if timed:
        smallest = min(timed, key=lambda b: b.batch_size)
        assert smallest.latency is not None
        per_image_s = smallest.latency.median_ms_per_image / 1000.0
        return per_image_s * batch_size, (
            f"{smallest.latency.median_ms_per_image:.4g} ms per image at batch size {smallest.batch_size} "
            f"x {batch_size}"
        )
    if operations is not None and peak_gflops:
        seconds = operations.gflops * batch_size / peak_gflops
        return seconds, (
            f"{operations.gflops:.4g} GFLOPs per image x {batch_size} at the machine's measured peak of "
            f"{peak_gflops:.4g} GFLOP/s, a lower bound"
        )
    return None


def over_iteration_cap(
    batch_size: int,
    measured: list[BatchResult],
    operations: Operations | None,
    cap_s: float | None,
    peak_gflops: float | None,
) -> tuple[float, str] | None:
    """The estimate and its basis when one iteration of ``batch_size`` would exceed ``cap_s``; else None."""
    if cap_s is None:
        return None
    estimate = iteration_estimate(batch_size, measured, operations, peak_gflops)
    if estimate is None or estimate[0] <= cap_s:
        return None
    return estimate


@dataclass(frozen=True)
class _Loaded:
    """A model ready to time on its device: what every batch size of one model shares."""

    model: Callable[[torch.Tensor], Any]
    size: int  # input side, pixels
    dtype: torch.dtype
    memory_format: torch.memory_format
    backend: Backend
    session: DeviceSession
    power: _PowerSetup


@dataclass(frozen=True)
class _PowerSetup:
    """A worker's power meter and idle power, or why there is none."""

    meter: PowerMeter | None
    idle: IdleReading | None
    unavailable_reason: str | None


def _on_sigterm(signum: int, frame: Any) -> None:
    # Unwind normally so that an atomic write in progress removes its temporary file.
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:
    # Linux: SIGTERM when the process that started us dies, instead of measuring on unattended.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(job: dict[str, Any], connection: Any, log_path: str) -> None:
    """Entry point of a worker forked by generator.measure: events and 'go' travel over ``connection``."""
    _die_with_parent()
    # Library chatter (warnings, tracebacks) goes to a log the parent quotes if we die.
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError:
        # The parent was interrupted while starting us and has already given this
        # worker up (and removed its log): there is no one to measure for.
        sys.exit(130)
    os.dup2(log, 1)
    os.dup2(log, 2)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # A fork server started while its parent held these blocked hands the mask to every
    # child: take them back, or the parent's terminate() waits out its timeout and kills.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def wait_for_go() -> bool:
        try:
            return bool(connection.recv() == "go")
        except EOFError:
            return False

    try:
        code = Worker(Job(**job), connection.send, wait_for_go).run()
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone use, for debugging one model: events as JSON lines on stdout, 'go' on stdin."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m generator.worker '<job JSON>'", file=sys.stderr)
        return 2
    job = Job(**json.loads(args[0]))
    job.extra = {**backends.test_options_from_environment(job.model), **job.extra}
    # Events go to the original stdout; anything else printing to stdout goes to stderr.
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    signal.signal(signal.SIGTERM, _on_sigterm)

    def send(event: dict[str, Any]) -> None:
        events.write(json.dumps(event) + "\n")

    try:
        return Worker(job, send, lambda: sys.stdin.readline().strip() == "go").run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
