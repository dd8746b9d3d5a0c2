"""The device backends: registry, CPU session, and the CUDA session against a fake torch.cuda and NVML.

This machine has no GPU, so the CUDA backend's reading logic is run with
torch.cuda's functions replaced by fakes that return known, distinct numbers:
a backend that put one reading in another's field would fail here.
"""

from __future__ import annotations

import subprocess
import sys
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from generator import backends
from generator.backends import cuda as cuda_backend
from generator.errors import CliError
from generator.render.data import memory_bytes
from generator.schema import BatchResult

GIB = 2**30


class FakeNvml:
    """The NVML calls the CUDA backend makes, for a device whose used memory we set."""

    def __init__(self, used_bytes: int) -> None:
        self.used_bytes = used_bytes

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"handle-{index}"

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        return f"handle-{uuid}"

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> SimpleNamespace:
        return SimpleNamespace(used=self.used_bytes, total=141 * GIB, free=141 * GIB - self.used_bytes)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        return 1_000_000

    def nvmlDeviceGetName(self, handle: Any) -> bytes:
        return b"NVIDIA H200"

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        return (9, 0)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return 700_000

    def nvmlSystemGetDriverVersion(self) -> str:
        return "570.00"


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    """torch.cuda and NVML of a GPU with 1 GiB in use before the worker, 9 GiB at the peak.

    The allocator's figures (2 GiB allocated, 3 GiB reserved) differ from
    NVML's on purpose: NVML counts the whole device (context, other processes).
    """
    import torch

    from generator import power

    nvml = FakeNvml(used_bytes=1 * GIB)
    monkeypatch.setattr(power, "load_nvml", lambda: nvml)
    allocated = {"now": 0}
    fakes = {
        "init": lambda: None,
        "synchronize": lambda device=None: None,
        "get_device_properties": lambda device=None: SimpleNamespace(uuid="1234"),
        "memory_allocated": lambda device=None: allocated["now"],
        "reset_peak_memory_stats": lambda device=None: None,
        "max_memory_allocated": lambda device=None: 2 * GIB,
        "max_memory_reserved": lambda device=None: 3 * GIB,
        "empty_cache": lambda: None,
    }
    for name, fake in fakes.items():
        monkeypatch.setattr(torch.cuda, name, fake)
    # Flags are set on the real torch.backends (they exist on a CPU build); restore them afterwards.
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = (matmul.fp32_precision, cudnn.fp32_precision, cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision,
             cudnn.benchmark)
    yield nvml
    matmul.fp32_precision, cudnn.fp32_precision, cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision = saved[:4]
    cudnn.benchmark = saved[4]


def test_cuda_session_reads_nvml_and_the_allocator_into_their_own_fields(fake_gpu: FakeNvml) -> None:
    session = backends.get("cuda").session(threads=1)
    flags = session.start()
    assert flags.cudnn_benchmark and not flags.tf32
    fake_gpu.used_bytes = 9 * GIB  # the model and its activations now on the device
    session.reset_peak_memory()
    memory = session.memory()
    assert memory.nvml_used_bytes == 9 * GIB and memory.nvml_baseline_used_bytes == 1 * GIB
    assert memory.cuda_peak_reserved_bytes == 3 * GIB and memory.cuda_peak_allocated_bytes == 2 * GIB
    meter, reason = session.power_meter()
    assert meter is not None and meter.counter == "nvml" and reason is None
    # The study's "system memory" of a GPU run is NVML's whole-device figure
    # (absolute or above its baseline), never the allocator's reserved bytes.
    result = BatchResult(batch_size=1, status="ok", memory=memory)
    assert memory_bytes(result) in (9 * GIB, 8 * GIB)


def test_cuda_session_without_nvml_says_why_there_is_no_power(
    fake_gpu: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator import power

    monkeypatch.setattr(power, "load_nvml", lambda: None)
    session = backends.get("cuda").session(threads=1)
    session.start()
    memory = session.memory()
    assert memory.nvml_used_bytes is None and memory.cuda_peak_reserved_bytes == 3 * GIB
    meter, reason = session.power_meter()
    assert meter is None and reason is not None and "NVML" in reason


def test_cuda_describes_the_gpu_from_nvml(fake_gpu: FakeNvml) -> None:
    hardware = backends.get("cuda").describe(threads=4)
    assert hardware.gpu is not None and hardware.gpu.name == "NVIDIA H200"
    assert hardware.slug == "nvidia-h200" and hardware.gpu.compute_capability == "9.0"
    assert hardware.gpu.power_limit_w == 700.0 and hardware.gpu.energy_counter_available


def test_tf32_is_read_back_not_assumed(fake_gpu: FakeNvml) -> None:
    import torch

    flags = cuda_backend.set_precision_flags(torch.backends)
    assert not flags.tf32 and flags.cudnn_benchmark
    assert torch.backends.cuda.matmul.fp32_precision == "ieee" and torch.backends.cudnn.conv.fp32_precision == "ieee"

    # A torch without fp32_precision: the legacy flags, read back the same way.
    class StickyTf32:
        """A legacy cuDNN whose allow_tf32 cannot be switched off (as an override in the environment would do)."""

        benchmark = False

        @property
        def allow_tf32(self) -> bool:
            return True

        @allow_tf32.setter
        def allow_tf32(self, value: bool) -> None:
            pass

    legacy = SimpleNamespace(cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=True)), cudnn=StickyTf32())
    flags = cuda_backend.set_precision_flags(legacy)
    assert flags.tf32  # recorded as it is, not as asked for
    assert legacy.cuda.matmul.allow_tf32 is False and legacy.cudnn.benchmark is True


def test_cpu_session_memory_and_flags() -> None:
    import torch

    backend = backends.get("cpu")
    session = backend.session(threads=1)
    assert torch.get_num_threads() == 1
    assert session.start() == backend.intended_flags()
    session.reset_peak_memory()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    memory = session.memory()
    del block
    assert memory.baseline_rss_bytes is not None and memory.peak_rss_bytes is not None
    assert memory.peak_rss_bytes >= memory.baseline_rss_bytes + 60 * 2**20
    assert memory.cuda_peak_reserved_bytes is None and memory.nvml_used_bytes is None


def test_out_of_memory_is_recognised() -> None:
    import torch

    cpu = backends.get("cpu")
    assert cpu.is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate"))
    assert backends.get("cuda").is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert not cpu.is_out_of_memory(ValueError("out of memory"))  # not an allocator's error
    assert not cpu.is_out_of_memory(RuntimeError("shape mismatch"))


def test_device_names_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    assert {"cpu", "cuda"} <= set(backends.names())
    with pytest.raises(CliError, match="--device mps: unknown device"):
        backends.get("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert backends.resolve("auto").name == "cpu"
    with pytest.raises(CliError, match="--device cuda: no CUDA device"):
        backends.resolve("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert backends.resolve("auto").name == "cuda"


def test_the_test_fault_module_stays_out_of_real_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backends.FAULT_ENV, raising=False)
    assert backends.test_options_from_environment("squeezenet1_1") == {}
    assert backends.for_worker("cpu", {}) is backends.get("cpu")
    monkeypatch.setenv(backends.FAULT_ENV, "squeezenet1_1=oom@2")
    assert backends.test_options_from_environment("alexnet") == {}
    options = backends.test_options_from_environment("squeezenet1_1")
    assert options and backends.for_worker("cpu", options) is not backends.get("cpu")
    # Importing everything a real run imports does not load the fault module.
    code = ("import sys, generator.cli, generator.measure, generator.worker, generator.backends.cpu, "
            "generator.backends.cuda; assert 'generator.backends.faults' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


class _ProbeSession:
    """A CPU session that logs what the worker asks of it, and whether each batch's input is gone at release()."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []
        self._batch_inputs: list[weakref.ref[Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def to_device(self, model: Any) -> Any:
        model = self._inner.to_device(model)

        def remember(module: Any, args: tuple[Any, ...]) -> None:
            if self.calls and self.calls[-1] == "reset":  # a batch size's input, not the counting one
                self._batch_inputs.append(weakref.ref(args[0]))

        model.register_forward_pre_hook(remember)
        return model

    def reset_peak_memory(self) -> None:
        self.calls.append("reset")
        self._inner.reset_peak_memory()

    def memory(self) -> Any:
        self.calls.append("memory")
        return self._inner.memory()

    def release(self) -> None:
        gone = all(ref() is None for ref in self._batch_inputs)
        self.calls.append("release" if gone else "release with the input alive")
        self._batch_inputs.clear()
        self._inner.release()


def test_worker_goes_through_the_session_and_frees_each_input_before_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch loop, in this process: reset, time, read memory, then release with the input already freed.

    GPU memory at the next batch size starts from what release() (empty_cache)
    handed back; an input still referenced then would stay in the cache.
    """
    import torch

    from generator import registry, worker
    from generator.backends.faults import FaultInjecting
    from generator.measure import Runner, RunOptions

    spec = registry.spec_by_name("squeezenet1_1")
    options = RunOptions(device="cpu", batch_sizes=[1, 2], precision="fp32", channels_last=False,
                         compile_model=False, threads=1, time_budget_s=0.01, power_window_s=0.05,
                         power_batch_sizes=[], force=True)
    runner = Runner(tmp_path, options, show_progress=False)
    job = runner.job_for(spec, round_index=1)
    probes: list[_ProbeSession] = []

    class ProbeBackend(FaultInjecting):  # batch 2 raises in forward: the error path must release too
        def session(self, threads: int) -> Any:
            probes.append(_ProbeSession(super().session(threads)))
            return probes[-1]

    monkeypatch.setattr(worker.backends, "for_worker", lambda name, extra: ProbeBackend(backends.get(name), "error@2"))
    threads = torch.get_num_threads()
    events: list[dict[str, Any]] = []
    try:
        assert worker.Worker(job, events.append, lambda: True).run() == 0
    finally:
        torch.set_num_threads(threads)
    (probe,) = probes
    # The first release is after preparation: the counting pass and replaced weights leave the cache first.
    assert probe.calls == ["release", "reset", "memory", "release", "reset", "release"]
    assert [e["result"]["status"] for e in events if e["event"] == "batch"] == ["ok", "error"]


def test_cuda_timer_brackets_each_call_with_events_and_waits_for_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    log: list[str] = []

    class FakeEvent:
        def __init__(self, enable_timing: bool) -> None:
            assert enable_timing
            self.name = "begin" if not any(e.startswith("new") for e in log) else "end"
            log.append(f"new {self.name}")

        def record(self) -> None:
            log.append(f"record {self.name}")

        def synchronize(self) -> None:
            log.append(f"wait {self.name}")

        def elapsed_time(self, other: FakeEvent) -> float:
            return 12.5

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: log.append("synchronize device"))
    timer = cuda_backend.cuda_event_timer(lambda: log.append("run"), torch.device("cuda"))
    assert log == ["new begin", "new end", "synchronize device"]  # earlier work is not timed
    log.clear()
    assert timer() == 12.5
    assert log == ["record begin", "run", "record end", "wait end"]
