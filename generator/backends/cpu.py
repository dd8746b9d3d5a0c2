"""The host CPU: perf_counter timing, resident-memory peaks, RAPL power."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from generator import environment
from generator.backends.base import Backend, Defaults, PrecisionFlags, WarmupPolicy

if TYPE_CHECKING:
    import torch
    from torch import nn

    from generator.host_load import HostLoadProbe
    from generator.power import IdleReading, PowerMeter
    from generator.schema import Hardware, Memory
    from generator.timing import IterationTimer

# Sized so that the paper line-up finishes in about ten minutes on a two-core
# CPU (see the README's "Measuring" section for the measured figure). Batch 16
# is kept because the study's figures 7-9 compare batch 1 with 16.
# Two rounds: one cannot show the drift of a shared or throttling CPU (10-25% between
# back-to-back runs on a 2-core VM), and the interval would only describe within-round noise.
# A 20 s iteration cap: every batch size costs at least 1 warm-up + 5 timed
# iterations per round, and 2 rounds, so a 20 s iteration already costs 4 minutes
# per batch size; the whole zoo (about 90 models x 5 batch sizes) on two cores stays
# a night's sweep instead of days (ViT-H/14 at 518 px is ~1 TMAC per image: at
# batch 16, minutes per iteration on two cores). Every model still gets batch 1
# timed unless one image alone is estimated above the cap.
DEFAULTS = Defaults(batch_sizes=(1, 2, 4, 8, 16), time_budget_s=2.0, prefetch=False, rounds=2, max_iteration_s=20.0)
# At least 0.1 s and one iteration: more made warm-up the largest overhead of the default line-up.
WARMUP = WarmupPolicy(min_iterations=1, min_s=0.1)
# Idle is read once power has settled, waiting at most this long (recorded with the reading).
IDLE_MAX_WAIT_S = 3.0


def is_out_of_memory(error: BaseException) -> bool:
    """torch's own out-of-memory error, or the plain RuntimeError the CPU allocator raises."""
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


class CpuSession:
    """Memory is the measuring process's resident set: each model has a process of its own."""

    def __init__(self, threads: int) -> None:
        import torch

        from generator.memory import rss_bytes

        torch.set_num_threads(threads)
        # Before the model is built: the study's "system memory" is measured against it.
        self._baseline_rss = rss_bytes()
        self._peak_reset = False
        self._meter: tuple[PowerMeter | None, str | None] | None = None

    @property
    def device(self) -> torch.device:
        import torch

        return torch.device("cpu")

    @property
    def warmup(self) -> WarmupPolicy:
        return WARMUP

    def start(self) -> PrecisionFlags:
        return PrecisionFlags(tf32=False, cudnn_benchmark=False)

    def to_device(self, model: nn.Module) -> nn.Module:
        return model

    def timer(self, run: Callable[[], object]) -> IterationTimer:
        from generator.timing import perf_counter_timer

        return perf_counter_timer(run)

    def host_load(self) -> HostLoadProbe | None:
        from generator.host_load import HostLoadProbe

        # Other processes' time slices stall the measuring threads at every barrier.
        return HostLoadProbe()

    def reset_peak_memory(self) -> None:
        from generator.memory import reset_peak_rss

        self._peak_reset = reset_peak_rss()

    def memory(self) -> Memory:
        from generator.memory import peak_rss_bytes
        from generator.schema import Memory

        # Without a reset the peak would be an earlier batch size's: not measured rather than wrong.
        return Memory(
            peak_rss_bytes=peak_rss_bytes() if self._peak_reset else None, baseline_rss_bytes=self._baseline_rss
        )

    def power_meter(self) -> tuple[PowerMeter | None, str | None]:
        from generator.power import cpu_meter

        if self._meter is None:
            self._meter = cpu_meter()
        return self._meter

    def idle_power(self, meter: PowerMeter) -> IdleReading | None:
        from generator.power import settled_idle

        return settled_idle(meter, max_wait_s=IDLE_MAX_WAIT_S)

    def release(self) -> None:
        pass


class CpuBackend:
    name = "cpu"
    clock = "perf_counter"
    defaults = DEFAULTS

    def unavailable_reason(self) -> str | None:
        return None

    def intended_flags(self) -> PrecisionFlags:
        return PrecisionFlags(tf32=False, cudnn_benchmark=False)

    def describe(self, threads: int) -> Hardware:
        return environment.hardware(threads, None)

    def is_out_of_memory(self, error: BaseException) -> bool:
        return is_out_of_memory(error)

    def session(self, threads: int) -> CpuSession:
        return CpuSession(threads)


# Typed as the protocol, so that mypy checks that the class satisfies it.
BACKEND: Backend = CpuBackend()
