"""NVIDIA GPUs through CUDA: CUDA-event timing, allocator and NVML memory, NVML power."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from generator import environment
from generator.backends.base import Backend, Defaults, PrecisionFlags, WarmupPolicy
from generator.backends.cpu import is_out_of_memory as host_out_of_memory

if TYPE_CHECKING:
    import torch
    from torch import nn

    from generator.host_load import HostLoadProbe
    from generator.power import IdleReading, PowerMeter
    from generator.schema import GpuInfo, Hardware, Memory
    from generator.timing import IterationTimer

# The study's batch sizes, 1 to 64.
# One round: a dedicated GPU timed with CUDA events repeats within about 1-2% between
# runs, each round re-pays the worker start and cuDNN autotuning, and the full-zoo
# sweep is sized for a fixed device budget; --rounds 2 or more measures drift there too.
DEFAULTS = Defaults(batch_sizes=(1, 2, 4, 8, 16, 32, 64), time_budget_s=1.0, prefetch=True, rounds=1)
# The first iterations at a new shape include cuDNN autotuning.
WARMUP = WarmupPolicy(min_iterations=3, min_s=0.1)
# Idle is read once power has settled after the previous model (clocks and
# voltage coming down), waiting at most this long; the wait is recorded.
IDLE_MAX_WAIT_S = 5.0
# The energy counter's update period is measured once per run, at start-up.
COUNTER_PERIOD_PROBE_S = 1.0
# The study measures fp32 as fp32: no TF32 in matrix products or convolutions.
INTENDED = PrecisionFlags(tf32=False, cudnn_benchmark=True)


def set_precision_flags(backends: Any) -> PrecisionFlags:
    """Set cuDNN autotuning on and TF32 off on ``torch.backends``, and return what the flags read back.

    torch 2.9+ has per-backend ``fp32_precision`` ('ieee', 'tf32'); mixing it with
    the legacy ``allow_tf32`` flags makes torch raise, so the legacy ones are used
    only where the new ones are missing.
    """
    backends.cudnn.benchmark = INTENDED.cudnn_benchmark
    matmul, cudnn = backends.cuda.matmul, backends.cudnn
    if hasattr(matmul, "fp32_precision") and hasattr(cudnn, "conv"):
        # Each leaf explicitly: a leaf set to 'tf32' earlier would not inherit its parent's 'ieee'.
        matmul.fp32_precision = "ieee"
        cudnn.conv.fp32_precision = "ieee"
        cudnn.rnn.fp32_precision = "ieee"
        tf32 = "tf32" in (matmul.fp32_precision, cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision)
    else:
        matmul.allow_tf32 = False
        cudnn.allow_tf32 = False
        tf32 = bool(matmul.allow_tf32) or bool(cudnn.allow_tf32)
    return PrecisionFlags(tf32=tf32, cudnn_benchmark=bool(cudnn.benchmark))


def cuda_event_timer(run: Callable[[], object], device: torch.device) -> IterationTimer:
    """CUDA events around the forward pass, synchronised after each iteration (latency, not pipelining)."""
    import torch

    begin = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def once() -> float:
        begin.record()
        run()
        end.record()
        end.synchronize()
        return float(begin.elapsed_time(end))

    torch.cuda.synchronize(device)
    return once


def read_memory(
    cuda: Any,
    device: torch.device,
    nvml_used_bytes: int | None,
    nvml_baseline: int | None,
    allocated_baseline: int,
    nvml_memory_version: int | None = None,
    nvml_reserved_bytes: int | None = None,
    nvml_context_used_bytes: int | None = None,
) -> Memory:
    """A batch size's GPU memory: the allocator's peaks (``cuda`` is torch.cuda) and NVML's device-wide figure.

    Each number goes to its own field: NVML's ``used`` is what the device holds
    for every process (the study's "system memory"); the allocator's reserved
    bytes are only this process's cache. The render stage chooses between them.
    """
    from generator.schema import Memory

    return Memory(
        cuda_peak_allocated_bytes=int(cuda.max_memory_allocated(device)),
        cuda_peak_reserved_bytes=int(cuda.max_memory_reserved(device)),
        cuda_baseline_allocated_bytes=allocated_baseline,
        nvml_used_bytes=nvml_used_bytes,
        nvml_baseline_used_bytes=nvml_baseline,
        nvml_memory_version=nvml_memory_version,  # type: ignore[arg-type]
        nvml_reserved_bytes=nvml_reserved_bytes,
        nvml_context_used_bytes=nvml_context_used_bytes,
    )


# nvmlClockType_t: the SM and memory clock domains.
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def gpu_info(
    nvml: Any, handle: Any, energy_counter_available: bool | None, energy_counter_period_s: float | None = None
) -> GpuInfo:
    """Name, memory, driver, compute capability and power limit of one GPU, from NVML."""
    from generator.schema import GpuInfo

    def optional(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception:  # each field is optional: an old driver or binding lacks some
            return None

    capability = optional(lambda: nvml.nvmlDeviceGetCudaComputeCapability(handle))
    limit_mw = optional(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
    memory = optional(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    driver = optional(nvml.nvmlSystemGetDriverVersion)
    sm_max = optional(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, NVML_CLOCK_SM))
    memory_max = optional(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, NVML_CLOCK_MEM))
    default_limit_mw = optional(lambda: nvml.nvmlDeviceGetPowerManagementDefaultLimit(handle))
    return GpuInfo(
        name=_text(nvml.nvmlDeviceGetName(handle)),
        memory_bytes=int(memory.total) if memory is not None else None,
        driver_version=_text(driver) if driver is not None else None,
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
        power_limit_w=limit_mw / 1000.0 if limit_mw is not None else None,
        energy_counter_available=energy_counter_available,
        energy_counter_update_period_s=energy_counter_period_s,
        sm_clock_max_mhz=float(sm_max) if isinstance(sm_max, int | float) else None,
        memory_clock_max_mhz=float(memory_max) if isinstance(memory_max, int | float) else None,
        power_limit_default_w=default_limit_mw / 1000.0 if isinstance(default_limit_mw, int | float) else None,
    )


def _has_energy_counter(nvml: Any, handle: Any) -> bool:
    """Whether the GPU has NVML's total-energy counter (Volta and later); a fact, read without a meter."""
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception:  # NVMLError_NotSupported, or a binding without the call
        return False
    return True


class CudaSession:
    """Baselines, NVML handle and meter of the GPU one worker measures."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handle: Any = None
        self._nvml_baseline: int | None = None
        self._nvml_context: int | None = None
        self._nvml_version: int | None = None
        self._nvml_reserved: int | None = None
        self._allocated_baseline = 0
        self._meter: tuple[PowerMeter | None, str | None] | None = None

    @property
    def device(self) -> torch.device:
        import torch

        return torch.device("cuda")

    @property
    def warmup(self) -> WarmupPolicy:
        return WARMUP

    def start(self) -> PrecisionFlags:
        import torch

        from generator.power import load_nvml, nvml_handle_for_cuda_device, visible_gpu_index

        self._nvml = load_nvml()
        if self._nvml is not None:
            self._handle = self._nvml.nvmlDeviceGetHandleByIndex(visible_gpu_index())
        # NVML's used memory before this process touches the GPU: the study's
        # "system memory" is measured against it.
        self._nvml_baseline = self._nvml_used()
        flags = set_precision_flags(torch.backends)
        torch.cuda.init()
        # Open the context now (a device synchronisation needs one), so that idle power
        # and the context's memory are read with it in place, as they are while measuring.
        torch.cuda.synchronize(self.device)
        if self._nvml is not None:
            uuid = str(getattr(torch.cuda.get_device_properties(self.device), "uuid", "") or "")
            self._handle = nvml_handle_for_cuda_device(self._nvml, uuid=uuid, index=visible_gpu_index())
        self._nvml_context = self._nvml_used()
        self._allocated_baseline = torch.cuda.memory_allocated(self.device)
        return flags

    def _nvml_used(self) -> int | None:
        """NVML's used bytes, from the v2 structure where the driver has it (v1 counts reserved memory as used)."""
        from generator.power import nvml_memory

        if self._nvml is None or self._handle is None:
            return None
        reading = nvml_memory(self._nvml, self._handle)
        if reading is None:
            return None
        used, self._nvml_reserved, self._nvml_version = reading
        return used

    def to_device(self, model: nn.Module) -> nn.Module:
        return model.to(self.device)

    def timer(self, run: Callable[[], object]) -> IterationTimer:
        return cuda_event_timer(run, self.device)

    def host_load(self) -> HostLoadProbe | None:
        # Not measured on a GPU yet: the host's load matters to kernel launches too,
        # but what share would stall them has not been measured.
        return None

    def reset_peak_memory(self) -> None:
        import torch

        torch.cuda.reset_peak_memory_stats(self.device)

    def memory(self) -> Memory:
        import torch

        torch.cuda.synchronize(self.device)
        # Read before release(): the caching allocator still holds this batch size's peak.
        used = self._nvml_used()
        return read_memory(
            torch.cuda,
            self.device,
            used,
            self._nvml_baseline,
            self._allocated_baseline,
            nvml_memory_version=self._nvml_version if used is not None else None,
            nvml_reserved_bytes=self._nvml_reserved if used is not None else None,
            nvml_context_used_bytes=self._nvml_context,
        )

    def power_meter(self) -> tuple[PowerMeter | None, str | None]:
        from generator.power import NvmlMeter

        if self._meter is None:
            if self._nvml is None or self._handle is None:
                self._meter = (None, "NVML is not available (no NVIDIA driver or nvidia-ml-py)")
            else:
                self._meter = (NvmlMeter(self._nvml, self._handle), None)
        return self._meter

    def idle_power(self, meter: PowerMeter) -> IdleReading | None:
        """Idle with this process's context open (start() opened it), once power has settled."""
        from generator.power import settled_idle

        idle = settled_idle(meter, max_wait_s=IDLE_MAX_WAIT_S)
        if idle is not None:
            idle.with_context = True
        return idle

    def release(self) -> None:
        import torch

        torch.cuda.empty_cache()


class CudaBackend:
    name = "cuda"
    clock = "cuda_events"
    defaults = DEFAULTS

    def unavailable_reason(self) -> str | None:
        import torch

        if torch.cuda.is_available():
            return None
        return "no CUDA device is available (torch.cuda.is_available() is False)"

    def intended_flags(self) -> PrecisionFlags:
        return INTENDED

    def describe(self, threads: int) -> Hardware:
        """From NVML, which opens no CUDA context; torch's device properties where there is no NVML."""
        from generator import power
        from generator.schema import GpuInfo

        nvml = power.load_nvml()
        if nvml is None:
            import torch

            props = torch.cuda.get_device_properties(0)
            gpu = GpuInfo(
                name=props.name,
                memory_bytes=props.total_memory,
                driver_version=None,
                compute_capability=f"{props.major}.{props.minor}",
                power_limit_w=None,
                energy_counter_available=None,
            )
        else:
            handle = power.nvml_handle_for_cuda_device(nvml, index=power.visible_gpu_index())
            has_counter = _has_energy_counter(nvml, handle)
            # Measured once per run, as Zeus does: windows must span many updates of the counter.
            period = (
                power.update_period_s(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle), COUNTER_PERIOD_PROBE_S)
                if has_counter
                else None
            )
            gpu = gpu_info(nvml, handle, has_counter, round(period, 4) if period is not None else None)
        return environment.hardware(threads, gpu)

    def is_out_of_memory(self, error: BaseException) -> bool:
        # The host can run out too (pinned or CPU-side buffers).
        return host_out_of_memory(error)

    def session(self, threads: int) -> CudaSession:
        return CudaSession()


# Typed as the protocol, so that mypy checks that the class satisfies it.
BACKEND: Backend = CudaBackend()
