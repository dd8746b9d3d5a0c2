"""What a device backend provides: the typed seam between the measuring code and one kind of device.

A backend is used in two processes. The parent (generator.measure) asks it
whether the device is there, for its defaults and intended precision flags, and
to describe the hardware; none of that may create a device context, because the
workers measure the same device. Each worker (generator.worker) opens a
session: ``Backend.session()`` before the model is built (nothing may touch the
device yet: a prefetched worker is built while another one measures), then
``DeviceSession.start()`` once the device is the worker's. Everything else the
worker's batch loop needs that differs between devices is a session method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

    from generator.host_load import HostLoadProbe
    from generator.power import IdleReading, PowerMeter
    from generator.schema import Hardware, Memory
    from generator.timing import IterationTimer


@dataclass(frozen=True)
class Defaults:
    """What ``measure`` uses on this device when the command line does not say."""

    batch_sizes: tuple[int, ...]
    time_budget_s: float  # per batch size, timed iterations only
    # Start the next worker (imports, model build) while the current one measures.
    # Only where building does not compete with timing for the same cores.
    prefetch: bool
    # Timing rounds, interleaved across models, each in a fresh worker (generator.rounds).
    rounds: int = 1
    # Per-iteration cap (generator.worker.iteration_estimate): a batch size whose
    # one iteration is estimated above it is recorded as skipped. None: no cap.
    max_iteration_s: float | None = None


@dataclass(frozen=True)
class WarmupPolicy:
    """How long a batch size warms up before timing (see generator.timing.TimingSettings)."""

    min_iterations: int
    min_s: float


@dataclass(frozen=True)
class PrecisionFlags:
    """Library settings that change the numbers, as recorded in the record's Config."""

    tf32: bool  # TF32 allowed for fp32 matrix products or convolutions
    cudnn_benchmark: bool  # cuDNN autotuning


class DeviceSession(Protocol):
    """One worker's use of the device, from before the model is built to the last batch size."""

    @property
    def device(self) -> torch.device: ...

    @property
    def warmup(self) -> WarmupPolicy: ...

    def start(self) -> PrecisionFlags:
        """The device is now this worker's: set and read back the precision flags, open the context, take baselines."""
        ...

    def to_device(self, model: nn.Module) -> nn.Module:
        """The model moved onto the device (before counting, precision and memory-format changes)."""
        ...

    def timer(self, run: Callable[[], object]) -> IterationTimer:
        """A timer of one complete (synchronised) call of ``run``, in ms."""
        ...

    def host_load(self) -> HostLoadProbe | None:
        """A watch on the rest of the machine over each timed window (generator.host_load); None: not measured."""
        ...

    def reset_peak_memory(self) -> None:
        """Start a new peak: called before each batch size."""
        ...

    def memory(self) -> Memory:
        """Peak memory since reset_peak_memory(), with the baselines; read before release()."""
        ...

    def power_meter(self) -> tuple[PowerMeter | None, str | None]:
        """The meter of this device's power (created once per session), or None and why not."""
        ...

    def idle_power(self, meter: PowerMeter) -> IdleReading | None:
        """Power of the device doing nothing once it has settled, for net power; raises if the meter fails."""
        ...

    def release(self) -> None:
        """After a batch size (its memory read): hand cached memory back, so the next peak is its own."""
        ...


class Backend(Protocol):
    """One kind of device. Register a new one in generator.backends._MODULES."""

    @property
    def name(self) -> str:
        """The device as written in Config.device and on the command line ('cpu', 'cuda')."""
        ...

    @property
    def clock(self) -> str:
        """What times an iteration, as written in Latency.clock."""
        ...

    @property
    def defaults(self) -> Defaults: ...

    def unavailable_reason(self) -> str | None:
        """None when this device can be measured here, else why not (for the user)."""
        ...

    def intended_flags(self) -> PrecisionFlags:
        """The precision flags a session sets (the parent names the configuration before any worker runs)."""
        ...

    def describe(self, threads: int) -> Hardware:
        """The hardware measured, without creating a device context."""
        ...

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Whether ``error`` is this device (or the host) running out of memory: recorded as 'oom', not 'error'."""
        ...

    def session(self, threads: int) -> DeviceSession:
        """A worker's session; must not touch the device (see DeviceSession.start)."""
        ...
