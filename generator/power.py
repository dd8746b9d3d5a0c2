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
import itertools
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
# nvmlDeviceGetFieldValues field: instantaneous power in mW (nvml.h; what Zeus reads since 0.9.1).
NVML_FI_DEV_POWER_INSTANT = 186
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
    energy_j: float | None = None  # from a hardware counter between start() and stop(), if there is one
    # Energy counter steps seen (time since start, mJ), each taken by a poll that
    # followed a successful poll: its time is known to within one poll interval.
    counter_steps: list[tuple[float, int]] = field(default_factory=list)
    sm_clock_mhz: list[float] = field(default_factory=list)
    temperature_c: list[float] = field(default_factory=list)
    temperature_c_start: float | None = None
    temperature_c_end: float | None = None
    throttle_mask: int = 0
    read_errors: int = 0


class PowerMeter(Protocol):
    counter: str  # 'nvml' or 'rapl'
    reading_method: str
    # Seconds of load a window needs before it opens (NVML's averaged power trails by a second).
    preroll_s: float
    # Update period of the energy counter, where known: a window spans several.
    counter_period_s: float | None

    def start(self) -> None: ...

    def window_complete(self, window_s: float) -> bool: ...

    def stop(self) -> WindowReading: ...


def counter_mean(steps: list[tuple[float, int]], min_span_s: float = 0.0) -> tuple[float, float] | None:
    """(mean W, span s) from the energy counter's steps: each step's energy at the instant the counter moved.

    Energy over the whole window would be off by up to one update period at each
    end (100 ms on recent GPUs: 10% of a one-second window); between steps it is
    exact to the poll interval. The slope of a least-squares line through all the
    steps (energy against time) averages out the timing of each poll, where two
    end points would each carry it whole.
    """
    if len(steps) < 2:
        return None
    span = steps[-1][0] - steps[0][0]
    if span <= 0 or span < min_span_s:
        return None
    count = len(steps)
    mean_t = sum(t for t, _ in steps) / count
    mean_e = sum(e for _, e in steps) / count
    spread = sum((t - mean_t) ** 2 for t, _ in steps)
    slope_mj_per_s = sum((t - mean_t) * (e - mean_e) for t, e in steps) / spread
    return slope_mj_per_s / 1000.0, span


class NvmlMeter:
    """Samples one GPU's power (and energy counter, clock, temperature, throttle reasons) on a background thread.

    Power comes from the instantaneous field where the GPU has it (what Zeus
    reads), else from nvmlDeviceGetPowerUsage, which on Ampere and newer is a
    trailing one-second average; ``reading_method`` says which. A failed read is
    counted and sampling goes on.
    """

    counter = "nvml"
    preroll_s = 1.0

    def __init__(
        self, nvml: Any, handle: Any, interval_s: float = 0.005, counter_period_s: float | None = None
    ) -> None:
        self._nvml = nvml
        self._handle = handle
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reading = WindowReading(0.0)
        self._energy_start_mj: int | None = None
        self._start = 0.0
        self.reading_method = "nvml_instant_field" if self._probe(self.instant_power_w) else "nvml_power_usage"
        self.energy_counter_available = self._probe(self.energy_mj)
        self.counter_period_s = counter_period_s

    @staticmethod
    def _probe(read: Callable[[], object]) -> bool:
        # Three tries: one transient error must not make a working reading look unsupported.
        for _ in range(3):
            try:
                return read() is not None
            except Exception:
                continue
        return False

    def instant_power_w(self) -> float | None:
        """Instantaneous power, or None where the GPU or driver lacks the field; raises on a failed read."""
        value = self._nvml.nvmlDeviceGetFieldValues(self._handle, [NVML_FI_DEV_POWER_INSTANT])[0]
        if int(value.nvmlReturn) != 0:
            return None
        return float(value.value.uiVal) / 1000.0  # mW

    def power_w(self) -> float:
        """One power reading by this meter's method; raises on a failed read."""
        if self.reading_method == "nvml_instant_field":
            watts = self.instant_power_w()
            if watts is not None:
                return watts
            raise RuntimeError("NVML instantaneous power field did not answer")
        return float(self._nvml.nvmlDeviceGetPowerUsage(self._handle)) / 1000.0

    def energy_mj(self) -> int:
        """Total-energy counter in mJ; raises where there is none or the read failed."""
        return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    def temperature_c(self) -> float | None:
        for _ in range(2):  # one retry: a single failed read should not lose a window's end temperature
            try:
                return float(self._nvml.nvmlDeviceGetTemperature(self._handle, NVML_TEMPERATURE_GPU))
            except Exception:
                self._reading.read_errors += 1
        return None

    def _energy_or_none(self) -> int | None:
        for _ in range(2):
            try:
                return self.energy_mj()
            except Exception:
                self._reading.read_errors += 1
        return None

    def _sample_details(self) -> None:
        nvml, handle, reading = self._nvml, self._handle, self._reading
        try:
            reading.sm_clock_mhz.append(float(nvml.nvmlDeviceGetClockInfo(handle, NVML_CLOCK_SM)))
            reading.temperature_c.append(float(nvml.nvmlDeviceGetTemperature(handle, NVML_TEMPERATURE_GPU)))
            # 'ClocksEventReasons' is the newer name of the same call.
            reasons = (
                getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
                or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
            )
            reading.throttle_mask |= int(reasons(handle))
        except Exception:  # optional readings; power alone still makes the window useful
            pass

    def _loop(self) -> None:
        reading = self._reading
        last_energy = self._energy_start_mj
        last_ok = last_energy is not None
        last_poll = 0.0
        polls = 0
        while not self._stop.is_set():
            now = time.perf_counter() - self._start
            try:
                reading.power_samples_w.append(self.power_w())
                reading.sample_times_s.append(now)
            except Exception:  # one failed read (NVML_ERROR_UNKNOWN, a timeout) loses one sample, not the window
                reading.read_errors += 1
            if self.energy_counter_available:
                try:
                    energy = self.energy_mj()
                except Exception:
                    reading.read_errors += 1
                    last_ok = False
                else:
                    polled = time.perf_counter() - self._start
                    # The step happened between the last poll and this one: take the middle, unless
                    # the two were far apart (a late poll on a busy machine): that step's time is unknown.
                    if (
                        last_energy is not None
                        and energy != last_energy
                        and last_ok
                        and polled - last_poll <= 4 * self._interval_s + 0.002
                    ):
                        reading.counter_steps.append(((last_poll + polled) / 2, energy))
                    last_energy, last_ok, last_poll = energy, True, polled
            if polls % 10 == 0:
                self._sample_details()
            polls += 1
            self._stop.wait(self._interval_s)

    def start(self) -> None:
        self._reading = WindowReading(0.0)
        self._stop.clear()
        self._reading.temperature_c_start = self.temperature_c()
        self._energy_start_mj = self._energy_or_none() if self.energy_counter_available else None
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="nvml-power", daemon=True)
        self._thread.start()

    def window_complete(self, window_s: float) -> bool:
        """True once the window has lasted ``window_s`` and, with a counter, spans ``window_s`` of counter steps."""
        elapsed = time.perf_counter() - self._start
        if elapsed < window_s:
            return False
        if not self.energy_counter_available:
            return True
        # list() is a snapshot: the sampling thread appends concurrently.
        return counter_mean(list(self._reading.counter_steps), window_s) is not None

    def stop(self) -> WindowReading:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end_mj = self._energy_or_none() if self.energy_counter_available else None
        self._reading.duration_s = time.perf_counter() - self._start
        self._reading.temperature_c_end = self.temperature_c()
        if self._energy_start_mj is not None and end_mj is not None:
            self._reading.energy_j = (end_mj - self._energy_start_mj) / 1000.0
        return self._reading


def update_period_s(read: Callable[[], object], duration_s: float = 1.0, poll_s: float = 0.0005) -> float | None:
    """How often a reading changes: the median gap between changes seen while polling for ``duration_s``.

    As Zeus does at start-up, but the median rather than the shortest gap: on a
    loaded machine one late poll makes the next gap short. None when fewer than
    three changes were seen.
    """
    changes: list[float] = []
    last: object = None
    end = time.perf_counter() + duration_s
    while time.perf_counter() < end:
        try:
            value = read()
        except Exception:  # a failed read is a missed poll, nothing more
            value = None
        now = time.perf_counter()
        if value is not None and last is not None and value != last:
            changes.append(now)
        if value is not None:
            last = value
        time.sleep(poll_s)
    gaps = sorted(b - a for a, b in itertools.pairwise(changes))
    if len(gaps) < 2:
        return None
    return gaps[len(gaps) // 2]


@dataclass
class IdleReading:
    idle_w: float
    settle_s: float  # seconds waited before the reading that counted
    settled: bool
    reading_method: str
    temperature_c: float | None = None
    read_errors: int = 0
    with_context: bool | None = None  # set by the caller that knows whether it held a CUDA context


def _window_mean(reading: WindowReading, meter: PowerMeter) -> float | None:
    """Mean power of a window: from counter steps where the counter moved enough, else from the samples."""
    if meter.counter == "rapl":
        return reading.energy_j / reading.duration_s if reading.energy_j is not None else None
    from_counter = counter_mean(reading.counter_steps)
    if from_counter is not None:
        return from_counter[0]
    energy = _integrate(reading.sample_times_s, reading.power_samples_w, reading.duration_s)
    return energy / reading.duration_s if energy is not None and reading.duration_s > 0 else None


def settled_idle(
    meter: PowerMeter,
    window_s: float = 0.4,
    max_wait_s: float = 5.0,
    tolerance_w: float = 1.5,
    tolerance_relative: float = 0.02,
) -> IdleReading | None:
    """Idle power once it has settled: consecutive windows until two agree, or ``max_wait_s`` runs out.

    After load the power stays up while clocks and voltage come down, and a
    trailing-average reading lags a further second; reading at once overstates
    idle. The wait is bounded and recorded (``settle_s``, ``settled``): what stays
    (leakage of a warm chip) is real idle at that moment and shows as drift from
    model to model.
    """
    begin = time.perf_counter()
    if meter.reading_method == "nvml_power_usage" and not getattr(meter, "energy_counter_available", False):
        time.sleep(meter.preroll_s)  # the average still holds the last second's load
    previous: float | None = None
    errors = 0
    temperature: float | None = None
    while True:
        waited = time.perf_counter() - begin
        meter.start()
        deadline = time.perf_counter() + max(window_s * 4, 1.0)
        while not meter.window_complete(window_s) and time.perf_counter() < deadline:
            time.sleep(0.005)
        reading = meter.stop()
        errors += reading.read_errors
        temperature = reading.temperature_c_end
        mean = _window_mean(reading, meter)
        if mean is None:
            return None
        if previous is not None and abs(mean - previous) <= max(tolerance_w, tolerance_relative * mean):
            return IdleReading(mean, waited, True, meter.reading_method, temperature, errors)
        if time.perf_counter() - begin >= max_wait_s:
            return IdleReading(mean, waited, False, meter.reading_method, temperature, errors)
        previous = mean


def idle_power_w(meter: PowerMeter, duration_s: float = 1.0) -> float | None:
    """Mean power of the device doing nothing for ``duration_s`` (no settling: see settled_idle)."""
    meter.start()
    time.sleep(duration_s)
    reading = meter.stop()
    return _window_mean(reading, meter)


def _integrate(times: list[float], watts: list[float], duration: float) -> float | None:
    """Energy in J from power samples: trapezoids, held flat to the window's ends."""
    if not watts:
        return None
    if len(watts) == 1:
        return watts[0] * duration
    energy = sum((t1 - t0) * (w0 + w1) / 2 for t0, t1, w0, w1 in zip(times, times[1:], watts, watts[1:], strict=False))
    energy += times[0] * watts[0] + max(0.0, duration - times[-1]) * watts[-1]
    return energy


# A window spans at least this many energy-counter updates.
MIN_COUNTER_PERIODS = 5


def power_window(
    run_once: Callable[[], object],
    batch_size: int,
    meter: PowerMeter,
    window_s: float,
    idle: IdleReading | float | None,
    already_loaded_s: float = 0.0,
) -> Power:
    """Run ``run_once`` (one synchronised forward pass) back to back while ``meter`` reads power.

    The load runs for ``meter.preroll_s`` before the window opens (less what it
    ran just before, ``already_loaded_s``): a trailing-average reading taken at
    once would hold the previous second's work. With an energy counter, mean
    power is the energy between two counter steps over the time between them,
    and energy per image is that mean power times the time per image: the two
    agree by construction.
    """
    preroll_begin = time.perf_counter()
    preroll_target = max(0.0, meter.preroll_s - already_loaded_s)
    while time.perf_counter() - preroll_begin < preroll_target:
        run_once()
    preroll = already_loaded_s + (time.perf_counter() - preroll_begin)
    period = getattr(meter, "counter_period_s", None)
    if period:
        window_s = max(window_s, MIN_COUNTER_PERIODS * period)
    iterations = 0
    meter.start()
    begin = time.perf_counter()
    # A counter that stops moving must not hold the run: give up on it after 3 windows and a second.
    give_up = 3 * window_s + 1.0
    try:
        while iterations == 0 or not (meter.window_complete(window_s) or time.perf_counter() - begin > give_up):
            run_once()
            iterations += 1
    finally:
        reading = meter.stop()
    images = iterations * batch_size
    samples = reading.power_samples_w
    samples_mean = sum(samples) / len(samples) if samples else None
    peak: float | None
    mean: float | None
    if meter.counter == "rapl":
        mean = reading.energy_j / reading.duration_s if reading.energy_j is not None else None
        peak, energy_method = None, "energy_counter"  # two counter readings give a mean, not a peak
    else:
        peak = max(samples) if samples else None
        from_counter = counter_mean(reading.counter_steps, min(window_s, reading.duration_s) * 0.5)
        if from_counter is not None:
            mean, energy_method = from_counter[0], "energy_counter"
        else:
            integrated = _integrate(reading.sample_times_s, samples, reading.duration_s)
            mean = integrated / reading.duration_s if integrated is not None and reading.duration_s > 0 else None
            energy_method = "integrated_samples"
    if mean is None:
        return Power(
            available=False,
            read_errors=reading.read_errors,
            unavailable_reason=f"{meter.counter}: no power readings during the window "
            f"({reading.read_errors} failed reads)",
        )
    idle_reading = idle if isinstance(idle, IdleReading) else None
    idle_w: float | None = None
    if idle_reading is not None:
        idle_w = idle_reading.idle_w
    elif isinstance(idle, (int, float)):
        idle_w = float(idle)
    return Power(
        available=True,
        counter=meter.counter,  # type: ignore[arg-type]
        idle_w=idle_w,
        mean_w=mean,
        peak_w=peak,
        net_w=mean - idle_w if idle_w is not None else None,
        window_s=reading.duration_s,
        samples=len(samples),
        energy_j_per_image=mean * reading.duration_s / images,
        energy_method=energy_method,  # type: ignore[arg-type]
        sm_clock_mhz_mean=sum(reading.sm_clock_mhz) / len(reading.sm_clock_mhz) if reading.sm_clock_mhz else None,
        temperature_c_max=max(reading.temperature_c) if reading.temperature_c else None,
        throttle_reasons=throttle_reason_names(reading.throttle_mask),
        reading_method=meter.reading_method,  # type: ignore[arg-type]
        samples_mean_w=samples_mean if meter.counter != "rapl" else None,
        counter_update_period_s=period,
        preroll_s=preroll,
        read_errors=reading.read_errors,
        temperature_c_start=reading.temperature_c_start,
        temperature_c_end=reading.temperature_c_end,
        idle_settle_s=idle_reading.settle_s if idle_reading is not None else None,
        idle_settled=idle_reading.settled if idle_reading is not None else None,
        idle_with_context=idle_reading.with_context if idle_reading is not None else None,
    )


def nvml_memory(nvml: Any, handle: Any) -> tuple[int, int | None, int] | None:
    """(used bytes, reserved bytes or None, structure version) from NVML, v2 where the driver has it.

    v1's 'used' includes the driver's reserved memory; v2 reports it apart.
    None where neither can be read.
    """
    version = getattr(nvml, "nvmlMemory_v2", None)
    if version is not None:
        try:
            info = nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
            return int(info.used), int(info.reserved), 2
        except Exception:  # an old driver without nvmlDeviceGetMemoryInfo_v2
            pass
    try:
        info = nvml.nvmlDeviceGetMemoryInfo(handle)
        return int(info.used), None, 1
    except Exception:
        return None


def parse_cooldown(text: str) -> tuple[float | None, float]:
    """'--cooldown' value -> (temperature bound in °C or None, most seconds to wait).

    '45C' waits until the GPU is at or below 45 °C (at most 120 s); '20s' waits
    20 s; '45C,60s' waits for 45 °C, at most 60 s.
    """
    temperature: float | None = None
    seconds: float | None = None
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(c|s)", part)
        if match is None:
            raise ValueError(f"--cooldown: '{part}' is neither a temperature like 45C nor a time like 20s")
        value = float(match.group(1))
        if match.group(2) == "c":
            temperature = value
        else:
            seconds = value
    if temperature is None and seconds is None:
        raise ValueError("--cooldown: give a temperature (45C), a time (20s) or both (45C,60s)")
    return temperature, seconds if seconds is not None else 120.0


def cool_down(
    read_temperature_c: Callable[[], float | None], temperature_c: float | None, max_s: float, poll_s: float = 0.5
) -> tuple[float, float | None]:
    """Wait between models: until the temperature is at or below the bound, or ``max_s`` has passed.

    Returns (seconds waited, temperature at the end). Without a bound it waits ``max_s``.
    """
    begin = time.perf_counter()
    current = read_temperature_c()
    while time.perf_counter() - begin < max_s:
        if temperature_c is not None and current is not None and current <= temperature_c:
            break
        time.sleep(min(poll_s, max(0.0, max_s - (time.perf_counter() - begin))))
        current = read_temperature_c()
    return time.perf_counter() - begin, current


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
    reading_method = "rapl_counter"
    preroll_s = 0.0  # the counter is energy, not a trailing average
    counter_period_s: float | None = None

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

    def window_complete(self, window_s: float) -> bool:
        return time.perf_counter() - self._start >= window_s

    def stop(self) -> WindowReading:
        end_uj = self._read()
        duration = time.perf_counter() - self._start
        total = 0
        for begin, end, span in zip(self._start_uj, end_uj, self._ranges, strict=True):
            # The counter wraps at max_energy_range_uj.
            total += end - begin if end >= begin else end + span - begin
        energy = total / 1e6
        return WindowReading(duration, [energy / duration], [duration], energy_j=energy)


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
