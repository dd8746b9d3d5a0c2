"""Power and energy while a model runs: NVML on NVIDIA GPUs, RAPL on Linux CPUs.

The study reports net power: mean power while the network runs minus the idle
power of the device. Here idle power is measured once before a run, and power
is sampled on a background thread during a window of at least one second (NVML
power readings are themselves averaged over about a second on recent GPUs).

Energy per image is gross: the energy the device used during the window divided
by the images processed. It comes from NVML's total-energy counter where the
GPU has one (energy_method 'energy_counter'), else from integrating the power
samples over time ('integrated_samples'). Where nothing can be read, Power says
so (available=False and a reason): never a zero.
"""

from __future__ import annotations

import glob
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from generator.schema import Power

# NVML clock-event ("throttle") reason bits; stable across driver versions (nvml.h).
THROTTLE_REASONS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
NVML_CLOCK_SM = 1
NVML_TEMPERATURE_GPU = 0
RAPL_GLOB = "/sys/class/powercap/intel-rapl:*/energy_uj"


def load_nvml() -> ModuleType | None:
    """pynvml (from nvidia-ml-py), initialised; None where there is no NVIDIA driver."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...: no usable NVIDIA GPU
        return None
    return pynvml


def throttle_reason_names(mask: int) -> list[str]:
    """Names of the reason bits set in ``mask``; 'gpu_idle' is dropped (it only means no work queued)."""
    return [name for bit, name in THROTTLE_REASONS.items() if mask & bit and name != "gpu_idle"]


@dataclass
class WindowReading:
    """What a meter saw between start() and stop()."""

    duration_s: float
    power_samples_w: list[float] = field(default_factory=list)
    sample_times_s: list[float] = field(default_factory=list)
    energy_j: float | None = None  # from a hardware counter, if there is one
    sm_clock_mhz: list[float] = field(default_factory=list)
    temperature_c: list[float] = field(default_factory=list)
    throttle_mask: int = 0


class PowerMeter(Protocol):
    counter: str  # 'nvml' or 'rapl'

    def start(self) -> None: ...

    def stop(self) -> WindowReading: ...


class NvmlMeter:
    """Samples one GPU's power, SM clock, temperature and throttle reasons on a background thread."""

    counter = "nvml"

    def __init__(self, nvml: Any, handle: Any, interval_s: float = 0.02) -> None:
        self._nvml = nvml
        self._handle = handle
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reading = WindowReading(0.0)
        self._energy_start_mj: int | None = None
        self._start = 0.0
        self.energy_counter_available = self._energy_mj() is not None

    def _energy_mj(self) -> int | None:
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except Exception:  # NVMLError_NotSupported on GPUs before Volta; a missing function on old bindings
            return None

    def _sample(self) -> None:
        nvml, handle, reading = self._nvml, self._handle, self._reading
        reading.power_samples_w.append(nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)  # mW -> W
        reading.sample_times_s.append(time.perf_counter() - self._start)
        try:
            reading.sm_clock_mhz.append(float(nvml.nvmlDeviceGetClockInfo(handle, NVML_CLOCK_SM)))
            reading.temperature_c.append(float(nvml.nvmlDeviceGetTemperature(handle, NVML_TEMPERATURE_GPU)))
            # 'ClocksEventReasons' is the newer name of the same call.
            reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
                nvml, "nvmlDeviceGetCurrentClocksThrottleReasons"
            )
            reading.throttle_mask |= int(reasons(handle))
        except Exception:  # optional readings; power alone still makes the window useful
            pass

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval_s)

    def start(self) -> None:
        self._reading = WindowReading(0.0)
        self._stop.clear()
        self._start = time.perf_counter()
        self._energy_start_mj = self._energy_mj()
        self._thread = threading.Thread(target=self._loop, name="nvml-power", daemon=True)
        self._thread.start()

    def stop(self) -> WindowReading:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end_mj = self._energy_mj()
        self._reading.duration_s = time.perf_counter() - self._start
        if self._energy_start_mj is not None and end_mj is not None:
            self._reading.energy_j = (end_mj - self._energy_start_mj) / 1000.0
        return self._reading


def rapl_files() -> list[Path]:
    """Readable package-level RAPL energy counters (intel-rapl:N, not the :N:M subdomains)."""
    found = []
    for name in sorted(glob.glob(RAPL_GLOB)):
        path = Path(name)
        # 'intel-rapl:0' is a package; 'intel-rapl:0:0' (core, uncore, dram) is part of it: counting both would double.
        if not re.fullmatch(r"intel-rapl:\d+", path.parent.name):
            continue
        try:
            int(path.read_text())
        except (OSError, ValueError):
            continue
        found.append(path)
    return found


class RaplMeter:
    """Linux RAPL package energy counters (Intel, and AMD through the same interface)."""

    counter = "rapl"

    def __init__(self, files: list[Path]) -> None:
        self._files = files
        self._ranges = []
        for path in files:
            try:
                self._ranges.append(int((path.parent / "max_energy_range_uj").read_text()))
            except (OSError, ValueError):
                self._ranges.append(0)
        self._start_uj: list[int] = []
        self._start = 0.0

    def _read(self) -> list[int]:
        return [int(path.read_text()) for path in self._files]

    def start(self) -> None:
        self._start = time.perf_counter()
        self._start_uj = self._read()

    def stop(self) -> WindowReading:
        end_uj = self._read()
        duration = time.perf_counter() - self._start
        total = 0
        for begin, end, span in zip(self._start_uj, end_uj, self._ranges):
            # The counter wraps at max_energy_range_uj.
            total += end - begin if end >= begin else end + span - begin
        energy = total / 1e6
        return WindowReading(duration, [energy / duration], [duration], energy_j=energy)


def idle_power_w(meter: PowerMeter, duration_s: float = 1.0) -> float | None:
    """Mean power of the device doing nothing for ``duration_s``."""
    meter.start()
    time.sleep(duration_s)
    reading = meter.stop()
    if reading.energy_j is not None and meter.counter == "rapl":
        return reading.energy_j / reading.duration_s
    if reading.power_samples_w:
        return sum(reading.power_samples_w) / len(reading.power_samples_w)
    return None


def _integrate(times: list[float], watts: list[float], duration: float) -> float | None:
    """Energy in J from power samples: trapezoids, held flat to the window's ends."""
    if not watts:
        return None
    if len(watts) == 1:
        return watts[0] * duration
    energy = sum((t1 - t0) * (w0 + w1) / 2 for t0, t1, w0, w1 in zip(times, times[1:], watts, watts[1:]))
    energy += times[0] * watts[0] + max(0.0, duration - times[-1]) * watts[-1]
    return energy


def power_window(
    run_once: Callable[[], object], batch_size: int, meter: PowerMeter, window_s: float, idle_w: float | None
) -> Power:
    """Run ``run_once`` (one synchronised forward pass) back to back for ``window_s`` while ``meter`` reads power."""
    iterations = 0
    meter.start()
    begin = time.perf_counter()
    try:
        while iterations == 0 or time.perf_counter() - begin < window_s:
            run_once()
            iterations += 1
    finally:
        reading = meter.stop()
    images = iterations * batch_size
    samples = reading.power_samples_w
    if meter.counter == "rapl":
        mean = reading.energy_j / reading.duration_s if reading.energy_j is not None else None
        peak = None  # two counter readings give a mean, not a peak
    else:
        mean = sum(samples) / len(samples) if samples else None
        peak = max(samples) if samples else None
    if mean is None:
        return Power(available=False, unavailable_reason=f"{meter.counter}: no power samples during the window")
    energy: float | None
    if reading.energy_j is not None:
        energy, method = reading.energy_j, "energy_counter"
    else:
        energy, method = _integrate(reading.sample_times_s, samples, reading.duration_s), "integrated_samples"
    return Power(
        available=True,
        counter=meter.counter,  # type: ignore[arg-type]
        idle_w=idle_w,
        mean_w=mean,
        peak_w=peak,
        net_w=mean - idle_w if idle_w is not None else None,
        window_s=reading.duration_s,
        samples=len(samples),
        energy_j_per_image=energy / images if energy is not None else None,
        energy_method=method if energy is not None else None,  # type: ignore[arg-type]
        sm_clock_mhz_mean=sum(reading.sm_clock_mhz) / len(reading.sm_clock_mhz) if reading.sm_clock_mhz else None,
        temperature_c_max=max(reading.temperature_c) if reading.temperature_c else None,
        throttle_reasons=throttle_reason_names(reading.throttle_mask),
    )


def nvml_handle_for_cuda_device(nvml: Any, uuid: str | None = None, index: int | None = None) -> Any:
    """The NVML handle of the GPU torch uses: by UUID when known (NVML ignores CUDA_VISIBLE_DEVICES)."""
    if uuid:
        text = uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"
        try:
            return nvml.nvmlDeviceGetHandleByUUID(text)
        except Exception:
            pass
    return nvml.nvmlDeviceGetHandleByIndex(index or 0)


def visible_gpu_index() -> int:
    """NVML index of the first GPU CUDA will use, from CUDA_VISIBLE_DEVICES where it is a number."""
    import os

    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return int(first) if first.isdigit() else 0


def unavailable(reason: str) -> Power:
    return Power(available=False, unavailable_reason=reason)


def cpu_meter() -> tuple[RaplMeter | None, str | None]:
    """A RAPL meter, or None and why not."""
    files = rapl_files()
    if files:
        return RaplMeter(files), None
    if glob.glob(RAPL_GLOB):
        return None, "RAPL energy counters exist but are not readable (root only since Linux 5.10)"
    return None, "no RAPL energy counter under /sys/class/powercap on this machine"
