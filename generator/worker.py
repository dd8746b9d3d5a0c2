"""Measure one model in a process of its own.

The parent (generator.measure) forks one worker per model from a fork server
that has torch imported, so a crash, an out-of-memory kill or a CUDA error
loses only that model, and the process's resident memory is that model's. The
worker writes its record atomically when it finishes; along the way it reports
progress as events over a pipe, so that the parent can write a record of what
was measured if the worker dies. For debugging one model by hand:
``python -m generator.worker '<job JSON>'`` prints the events as JSON lines.

Events: {"event": "prepared"} (built; waits for 'go' when the job asks),
{"event": "counted", "parameters", "operations"}, {"event": "batch_start",
"batch_size"}, {"event": "timed", "timed_s", "warmup_s"}, {"event": "batch", "result"},
{"event": "done", "path", "status"}.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from generator.files import write_text_atomic
from generator.schema import (
    Accuracy,
    BatchResult,
    Config,
    Hardware,
    Memory,
    Operations,
    Parameters,
    Power,
    Record,
    RecordError,
    RunInfo,
    Software,
    load_record,
    record_to_json,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from generator.model_spec import ModelSpec

# Test-only fault injection, "<model>=<kind>@<batch size>" (kinds: oom, segfault,
# error), e.g. GENERATOR_TEST_FAULT="squeezenet1_1=oom@4". The faults are real:
# an allocation past a lowered RLIMIT_AS, a SIGSEGV, an exception in forward.
FAULT_ENV = "GENERATOR_TEST_FAULT"
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@dataclass
class Job:
    """What the parent asks a worker to do (JSON on argv[1])."""

    model: str
    out_path: str
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
    idle_w: float | None = None
    power_unavailable_reason: str | None = None
    operations: dict[str, Any] | None = None  # reused from an earlier record of the same model
    wait_for_go: bool = False
    warmup_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def config_for(job: Job, threads: int) -> Config:
    return Config(
        device=job.device,  # type: ignore[arg-type]
        precision=job.precision,  # type: ignore[arg-type]
        channels_last=job.channels_last,
        compile=job.compile,
        threads=threads,
        tf32=False,
        cudnn_benchmark=job.device == "cuda",
    )


def base_record(job: Job, spec_info: dict[str, Any], accuracy: Accuracy, config: Config) -> dict[str, Any]:
    """The parts of a record that do not depend on how measuring went."""
    return {
        "model": spec_info,
        "accuracy": accuracy,
        "config": config,
        "hardware": Hardware.model_validate(job.hardware),
        "software": Software.model_validate(job.software),
        "run": RunInfo.model_validate(job.run),
    }


def keep_measured_accuracy(path: Path, accuracy: Accuracy) -> Accuracy:
    """Re-measuring must not throw away an accuracy that 'evaluate' measured into the old record."""
    if accuracy.measured is not None or not path.exists():
        return accuracy
    try:
        old = load_record(path)
    except RecordError:
        return accuracy
    if old.accuracy.measured is None:
        return accuracy
    return Accuracy(published=accuracy.published, measured=old.accuracy.measured)


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    text = str(error)
    # The CPU allocator raises a plain RuntimeError.
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:500]


class _Fault:
    """A test fault for this model, parsed from GENERATOR_TEST_FAULT (passed on by the parent in job.extra)."""

    def __init__(self, model: str, spec: str) -> None:
        self.kind: str | None = None
        self.batch_size = 1
        for item in spec.split(","):
            name, _, rest = item.partition("=")
            if name.strip() == model and rest:
                kind, _, size = rest.partition("@")
                self.kind, self.batch_size = kind.strip(), int(size or 1)

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.kind is None:
            return model
        from torch import nn

        fault = self

        class FaultInjector(nn.Module):
            def __init__(self, inner: nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if x.shape[0] >= fault.batch_size:
                    fault.trigger()
                return self.inner(x)

        return FaultInjector(model)

    def trigger(self) -> None:
        import torch

        from generator.memory import virtual_size_bytes

        if self.kind == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif self.kind == "oom":
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            limit = (virtual_size_bytes() or 0) + 256 * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            try:
                torch.empty(8 * 2**30, dtype=torch.uint8)  # 8 GiB past a 256 MiB allowance: a real allocation failure
            finally:
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        elif self.kind == "error":
            raise ValueError("test fault: forward raised")


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
        from generator.memory import rss_bytes

        job = self.job
        if job.device == "cpu":
            torch.set_num_threads(job.threads)
        measuring_threads = torch.get_num_threads()
        if job.wait_for_go:
            # Built while another worker times the GPU: stay on one core, so as
            # not to slow that worker's kernel launches.
            torch.set_num_threads(1)
        baseline_rss = rss_bytes()
        spec = registry.spec_by_name(job.model)
        out_path = Path(job.out_path)
        accuracy = keep_measured_accuracy(out_path, Accuracy(published=spec.published_accuracy))
        config = config_for(job, measuring_threads)
        base = base_record(job, spec.model_info().model_dump(), accuracy, config)
        try:
            model = spec.build().eval()
        except Exception as error:
            return self.finish(out_path, base, "error", f"building the model failed: {one_line(error)}", None, None, [])
        self.emit(event="prepared")
        if job.wait_for_go:
            # The parent starts the next worker while this one's predecessor is
            # still timing, and says 'go' once the GPU is free.
            if not self._wait_for_go():
                return 130
            torch.set_num_threads(measuring_threads)
        return self.measure(spec, model, base, out_path, baseline_rss)

    def measure(
        self, spec: ModelSpec, model: nn.Module, base: dict[str, Any], out_path: Path, baseline_rss: int | None
    ) -> int:
        import torch

        from generator.counting import count_operations, count_parameters, meta_flop_counter_gflops, tensor_bytes

        job = self.job
        device = torch.device(job.device)
        gpu: _GpuState | None = None
        notes: list[str] = []
        size = spec.input_size_px
        try:
            if job.device == "cuda":
                gpu = _GpuState(job)
            model = model.to(device)
            operations: Operations | None = None
            if job.operations is not None:
                operations = Operations.model_validate(job.operations)
            else:
                try:
                    operations = count_operations(
                        model, torch.zeros(1, 3, size, size, device=device), cross_check=False
                    )
                    cross = meta_flop_counter_gflops(spec)
                    operations = operations.model_copy(update={"flop_counter_gflops": cross})
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
            runnable: Callable[[torch.Tensor], Any] = _Fault(job.model, str(job.extra.get("fault") or "")).wrap(model)
            if job.compile:
                runnable = torch.compile(runnable)
        except Exception as error:
            return self.finish(out_path, base, "error", f"preparing the model failed: {one_line(error)}", None, None, [])
        self.emit(
            event="counted",
            seconds_since_start=time.perf_counter() - self.started,
            parameters=parameters.model_dump(),
            operations=operations.model_dump() if operations else None,
        )
        batches: list[BatchResult] = []
        oom_at: int | None = None
        for batch_size in job.batch_sizes:
            if oom_at is not None:
                result = BatchResult(
                    batch_size=batch_size, status="skipped", error=f"batch size {oom_at} ran out of memory"
                )
            else:
                self.emit(event="batch_start", batch_size=batch_size)
                result = self.measure_batch(runnable, batch_size, size, dtype, memory_format, baseline_rss, gpu)
                if result.status == "oom":
                    oom_at = batch_size
            batches.append(result)
            self.emit(event="batch", result=result.model_dump(mode="json"))
        ok = any(b.status == "ok" for b in batches)
        if not ok:
            notes.insert(0, "no batch size could be measured: " + "; ".join(
                f"{b.batch_size}: {b.status} ({b.error})" for b in batches if b.status != "skipped"
            ))
        return self.finish(
            out_path, base, "ok" if ok else "error", "; ".join(notes) or None, parameters, operations, batches
        )

    def measure_batch(
        self,
        model: Callable[[torch.Tensor], Any],
        batch_size: int,
        size: int,
        dtype: torch.dtype,
        memory_format: torch.memory_format,
        baseline_rss: int | None,
        gpu: _GpuState | None,
    ) -> BatchResult:
        import torch

        from generator import timing
        from generator.memory import peak_rss_bytes, reset_peak_rss
        from generator.power import power_window, unavailable

        job = self.job
        device = torch.device(job.device)
        reset_ok = reset_peak_rss()
        if gpu is not None:
            torch.cuda.reset_peak_memory_stats(device)
        inputs: torch.Tensor | None = None
        try:
            generator = torch.Generator(device=device).manual_seed(0)
            inputs = torch.randn(batch_size, 3, size, size, device=device, dtype=dtype, generator=generator)
            inputs = inputs.contiguous(memory_format=memory_format)
            batch = inputs

            def forward() -> object:
                return model(batch)

            with torch.inference_mode():
                timer = (
                    timing.cuda_event_timer(forward, device) if gpu is not None else timing.perf_counter_timer(forward)
                )
                settings = timing.TimingSettings(
                    time_budget_s=job.time_budget_s,
                    # GPU: the first iterations at a new shape include cuDNN autotuning.
                    warmup_min_iterations=3 if gpu is not None else 1,
                    warmup_s=job.warmup_s if job.warmup_s is not None else 0.1,
                )
                result = timing.time_forward(timer, settings)
                latency = timing.summarize(result, batch_size, "cuda_events" if gpu is not None else "perf_counter")
                power: Power | None = None
                if batch_size in job.power_batch_sizes:
                    if gpu is not None and gpu.meter is not None:
                        power = power_window(timer, batch_size, gpu.meter, job.power_window_s, job.idle_w)
                    elif gpu is None and job.power_unavailable_reason is None:
                        from generator.power import cpu_meter

                        meter, reason = cpu_meter()
                        power = (
                            power_window(timer, batch_size, meter, job.power_window_s, job.idle_w)
                            if meter is not None
                            else unavailable(reason or "no power counter")
                        )
                    else:
                        power = unavailable(job.power_unavailable_reason or "no power counter")
            memory = Memory(
                peak_rss_bytes=peak_rss_bytes() if reset_ok and gpu is None else None,
                baseline_rss_bytes=baseline_rss if gpu is None else None,
            )
            if gpu is not None:
                memory = gpu.memory(device)
            window_s = power.window_s if power is not None and power.window_s is not None else 0.0
            self.emit(event="timed", batch_size=batch_size, timed_s=result.timed_s + window_s, warmup_s=result.warmup_s)
            return BatchResult(batch_size=batch_size, status="ok", latency=latency, memory=memory, power=power)
        except Exception as error:
            status: Literal["oom", "error"] = "oom" if is_out_of_memory(error) else "error"
            if status == "error":
                traceback.print_exc(file=sys.stderr)
            return BatchResult(batch_size=batch_size, status=status, error=one_line(error))
        finally:
            del inputs
            if gpu is not None:
                torch.cuda.empty_cache()

    def finish(
        self,
        out_path: Path,
        base: dict[str, Any],
        status: str,
        error: str | None,
        parameters: Parameters | None,
        operations: Operations | None,
        batches: list[BatchResult],
    ) -> int:
        record = build_record(base, status, error, parameters, operations, batches)
        write_text_atomic(out_path, record_to_json(record))
        self.emit(event="done", path=str(out_path), status=status)
        return 0


def build_record(
    base: dict[str, Any],
    status: str,
    error: str | None,
    parameters: Parameters | None,
    operations: Operations | None,
    batches: list[BatchResult],
) -> Record:
    import datetime

    run = base["run"].model_copy(update={"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")})
    return Record(
        **{**base, "run": run},
        status=status,  # type: ignore[arg-type]
        error=error,
        parameters=parameters,
        operations=operations,
        batches=batches,
    )


class _GpuState:
    """Baselines and NVML handles of the GPU being measured."""

    def __init__(self, job: Job) -> None:
        import torch

        from generator.power import NvmlMeter, load_nvml, nvml_handle_for_cuda_device, visible_gpu_index

        self.nvml = load_nvml()
        self.handle: Any = None
        self.meter: NvmlMeter | None = None
        if self.nvml is not None:
            self.handle = self.nvml.nvmlDeviceGetHandleByIndex(visible_gpu_index())
        # NVML's used memory before this process touches the GPU: the study's
        # "system memory" is measured against it.
        self.nvml_baseline = self._nvml_used()
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        torch.cuda.init()
        device = torch.device("cuda")
        if self.nvml is not None:
            uuid = str(getattr(torch.cuda.get_device_properties(device), "uuid", "") or "")
            self.handle = nvml_handle_for_cuda_device(self.nvml, uuid=uuid, index=visible_gpu_index())
            self.meter = NvmlMeter(self.nvml, self.handle)
        self.allocated_baseline = torch.cuda.memory_allocated(device)

    def _nvml_used(self) -> int | None:
        if self.nvml is None or self.handle is None:
            return None
        try:
            return int(self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used)
        except Exception:
            return None

    def memory(self, device: torch.device) -> Memory:
        import torch

        torch.cuda.synchronize(device)
        return Memory(
            cuda_peak_allocated_bytes=torch.cuda.max_memory_allocated(device),
            cuda_peak_reserved_bytes=torch.cuda.max_memory_reserved(device),
            cuda_baseline_allocated_bytes=self.allocated_baseline,
            # Read before empty_cache: the caching allocator still holds this batch size's peak.
            nvml_used_bytes=self._nvml_used(),
            nvml_baseline_used_bytes=self.nvml_baseline,
        )


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
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    signal.signal(signal.SIGTERM, _on_sigterm)

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
    job.extra.setdefault("fault", os.environ.get(FAULT_ENV, ""))
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
