"""A simulated NVML that behaves like a recent NVIDIA GPU's, for testing power measurement on a CPU.

The old fake returned a constant power and a continuous energy counter, so any
window, any idle and any averaging passed. This one has what makes real
readings biased when they are taken carelessly (what the NVML documentation and
Zeus describe for Ampere and newer):

- ``nvmlDeviceGetPowerUsage`` is a trailing average over ``average_s`` (1 s),
  refreshed every ``average_period_s``; the instantaneous power is the field
  ``NVML_FI_DEV_POWER_INSTANT`` through ``nvmlDeviceGetFieldValues``, refreshed
  every ``instant_period_s``;
- the total-energy counter steps every ``energy_period_s`` (100 ms);
- idle power depends on state: higher with a CUDA context open, higher while
  the chip is warm after load (leakage grows with temperature), and higher for
  a short tail after load ends while clocks come down;
- power under load depends on the load (``run(seconds, watts)``);
- every ``error_every``-th power or energy call fails with an NVMLError;
- memory info v1 counts the driver's reserved memory as used, v2 does not.

Power is integrated from a timeline of loads on a fine time step, lazily, each
time something is read, so that every reading is consistent with every other
(energy is the integral of the instantaneous power). Time is the real
``time.perf_counter`` clock: the code under test sleeps and polls as it would
on a GPU.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

NVML_SUCCESS = 0
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_UNKNOWN = 999
NVML_VALUE_TYPE_UNSIGNED_INT = 1
NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
nvmlMemory_v2 = 0x02000028
STEP_S = 0.002  # integration step of the simulated power timeline
HISTORY_S = 4.0  # how much of the timeline is kept (the trailing average needs 1 s)


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        self.value = value
        super().__init__(f"NVML error {value}")


@dataclass
class Load:
    start: float
    end: float
    watts: float  # above idle


class SimNvml:
    """One simulated GPU; an instance stands in for the pynvml module."""

    NVMLError = NVMLError
    NVML_FI_DEV_POWER_INSTANT = NVML_FI_DEV_POWER_INSTANT
    NVML_FI_DEV_POWER_AVERAGE = NVML_FI_DEV_POWER_AVERAGE
    nvmlMemory_v2 = nvmlMemory_v2

    def __init__(
        self,
        *,
        idle_w: float = 60.0,
        context_w: float = 18.0,
        ambient_c: float = 30.0,
        heating_c_per_w: float = 0.1,  # equilibrium temperature rise per watt of load
        thermal_tau_s: float = 8.0,
        leakage_w_per_c: float = 0.5,
        tail_tau_s: float = 0.15,  # clocks and voltage come down after load with this time constant
        average_s: float = 1.0,
        average_period_s: float = 0.1,
        instant_period_s: float = 0.02,
        energy_period_s: float = 0.1,
        instant_field: bool = True,
        energy_counter: bool = True,
        memory_v2: bool = True,
        error_every: int = 0,
        noise_w: float = 0.4,
        total_bytes: int = 150_000_000_000,
        reserved_bytes: int = 600 * 2**20,
        context_bytes: int = 520 * 2**20,
    ) -> None:
        self.idle_w, self.context_w = idle_w, context_w
        self.ambient_c, self.heating_c_per_w, self.thermal_tau_s = ambient_c, heating_c_per_w, thermal_tau_s
        self.leakage_w_per_c, self.tail_tau_s = leakage_w_per_c, tail_tau_s
        self.average_s, self.average_period_s = average_s, average_period_s
        self.instant_period_s, self.energy_period_s = instant_period_s, energy_period_s
        self.instant_field, self.energy_counter, self.memory_v2 = instant_field, energy_counter, memory_v2
        self.error_every = error_every
        self.noise_w = noise_w
        self.total_bytes, self.reserved_bytes, self.context_bytes = total_bytes, reserved_bytes, context_bytes
        self.allocated_bytes = 0
        self.context_open = False
        self.calls = 0
        self.errors_raised = 0
        self._lock = threading.RLock()
        self._origin = time.perf_counter()
        self._loads: list[Load] = []
        # Timeline: times (s since origin), instantaneous power (W), energy so far (J).
        self._times: list[float] = [0.0]
        self._watts: list[float] = [self._power_at(0.0, ambient_c, 0.0)]
        self._energy: list[float] = [0.0]
        self._temperature = ambient_c
        self._tail_w = 0.0

    # --- driving the simulation (what a test does instead of running a model) ---

    def now(self) -> float:
        return time.perf_counter() - self._origin

    def run(self, seconds: float, watts: float) -> None:
        """A load of ``watts`` above idle for ``seconds`` (sleeps that long, like a synchronised forward)."""
        with self._lock:
            start = self.now()
            self._loads.append(Load(start, start + seconds, watts))
        time.sleep(seconds)

    def start_load(self, watts: float) -> None:
        """A steady load of ``watts`` above idle from now until stop_loads(), without waiting."""
        with self._lock:
            self._advance()
            now = self.now()
            self._loads.append(Load(now, math.inf, watts))

    def stop_loads(self) -> None:
        with self._lock:
            self._advance()
            now = self.now()
            for load in self._loads:
                load.end = min(load.end, now)

    def open_context(self) -> None:
        with self._lock:
            self._advance()
            self.context_open = True

    def close_context(self) -> None:
        with self._lock:
            self._advance()
            self.context_open = False

    def true_power_w(self) -> float:
        """The instantaneous power now: the truth the tests compare readings with."""
        with self._lock:
            self._advance()
            return self._watts[-1]

    def true_mean_w(self, start: float, end: float) -> float:
        """Exact mean power between two times (s since origin), from the timeline."""
        with self._lock:
            self._advance()
            return (self._energy_at(end) - self._energy_at(start)) / (end - start)

    def idle_now_w(self) -> float:
        """What an idle reading should give now: idle, context, leakage; the post-load tail excluded."""
        with self._lock:
            self._advance()
            return self._idle_w(self._temperature)

    # --- the model ---

    def _load_at(self, t: float) -> float:
        return sum(load.watts for load in self._loads if load.start <= t < load.end)

    def _idle_w(self, temperature: float) -> float:
        leakage = self.leakage_w_per_c * (temperature - self.ambient_c)
        return self.idle_w + (self.context_w if self.context_open else 0.0) + leakage

    def _power_at(self, t: float, temperature: float, tail: float) -> float:
        load = self._load_at(t)
        return self._idle_w(temperature) + load + (tail if load == 0 else 0.0)

    def _advance(self) -> None:
        now = self.now()
        t = self._times[-1]
        while t + STEP_S <= now:
            t += STEP_S
            load = self._load_at(t)
            # Temperature follows power with a first-order lag; leakage follows temperature.
            target = self.ambient_c + self.heating_c_per_w * load
            self._temperature += (target - self._temperature) * (1 - math.exp(-STEP_S / self.thermal_tau_s))
            # After load, part of it lingers and decays (clocks and voltage ramping down).
            self._tail_w = 0.3 * load if load > 0 else self._tail_w * math.exp(-STEP_S / self.tail_tau_s)
            watts = self._power_at(t, self._temperature, self._tail_w)
            self._energy.append(self._energy[-1] + (self._watts[-1] + watts) / 2 * STEP_S)
            self._times.append(t)
            self._watts.append(watts)
        # Loads over before the timeline's end are integrated already: drop them, so each step stays cheap.
        self._loads = [load for load in self._loads if load.end > t - STEP_S]
        cut = bisect.bisect_left(self._times, now - HISTORY_S)
        if cut > 0:
            del self._times[:cut], self._watts[:cut], self._energy[:cut]

    def _index_at(self, t: float) -> int:
        return max(0, bisect.bisect_right(self._times, t) - 1)

    def _energy_at(self, t: float) -> float:
        return self._energy[self._index_at(t)]

    def _latched(self, period: float) -> float:
        """The time of the last refresh of a reading refreshed every ``period``."""
        return math.floor(self.now() / period) * period

    def _noise(self, tick: float, period: float) -> float:
        """Sensor noise on a power reading, fixed per refresh (a reading changes at each refresh, as real ones do)."""
        return self.noise_w * math.sin(round(tick / period) * 12.9898)

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.error_every and self.calls % self.error_every == 0:
            self.errors_raised += 1
            raise NVMLError(NVML_ERROR_UNKNOWN)

    # --- the pynvml API the generator uses ---

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        return SimpleNamespace(index=index)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> Any:
        return SimpleNamespace(index=0)

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return "NVIDIA Simulated H200"

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.0-sim"

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        return (9, 0)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return 700_000

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        """mW, the trailing ``average_s`` average as of its last refresh."""
        with self._lock:
            self._maybe_fail()
            self._advance()
            end = self._latched(self.average_period_s)
            start = max(self._times[0], end - self.average_s)
            noise = self._noise(end, self.average_period_s)
            if end <= start:
                return int((self._watts[-1] + noise) * 1000)
            return int(((self._energy_at(end) - self._energy_at(start)) / (end - start) + noise) * 1000)

    def nvmlDeviceGetFieldValues(self, handle: Any, field_ids: list[int]) -> list[Any]:
        with self._lock:
            self._maybe_fail()
            self._advance()
            values = []
            for field_id in field_ids:
                value = SimpleNamespace(
                    fieldId=field_id, scopeId=0, timestamp=int(time.time() * 1e6), latencyUsec=0,
                    valueType=NVML_VALUE_TYPE_UNSIGNED_INT, nvmlReturn=NVML_ERROR_NOT_SUPPORTED,
                    value=SimpleNamespace(uiVal=0, dVal=0.0, ulVal=0, ullVal=0),
                )
                if field_id == NVML_FI_DEV_POWER_INSTANT and self.instant_field:
                    tick = self._latched(self.instant_period_s)
                    watts = self._watts[self._index_at(tick)] + self._noise(tick, self.instant_period_s)
                    value.nvmlReturn, value.value.uiVal = NVML_SUCCESS, int(watts * 1000)
                values.append(value)
            return values

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        """mJ since the driver loaded, as of the counter's last step."""
        with self._lock:
            if not self.energy_counter:
                raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
            self._maybe_fail()
            self._advance()
            return 5_000_000 + int(self._energy_at(self._latched(self.energy_period_s)) * 1000)

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        with self._lock:
            self._advance()
            return int(round(self._temperature))

    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int:
        with self._lock:
            self._advance()
            return 1980 if self._load_at(self.now()) > 0 else 345

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        with self._lock:
            return 0 if self._load_at(self.now()) > 0 else 0x1

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> Any:
        used = self.allocated_bytes + (self.context_bytes if self.context_open else 0)
        if version:
            if not self.memory_v2:
                raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
            return SimpleNamespace(
                version=version, total=self.total_bytes, reserved=self.reserved_bytes,
                free=self.total_bytes - self.reserved_bytes - used, used=used,
            )
        # v1: the driver's reservation counts as used.
        return SimpleNamespace(
            total=self.total_bytes, free=self.total_bytes - self.reserved_bytes - used,
            used=used + self.reserved_bytes,
        )


def install_as_module(sim: SimNvml, namespace: dict[str, Any]) -> None:
    """Fill a module namespace (a stand-in 'pynvml') with the simulator's API and constants."""
    for name in dir(sim):
        if name.startswith(("nvml", "NVML")):
            namespace[name] = getattr(sim, name)
    for name, value in globals().items():
        if name.startswith(("NVML_", "nvmlMemory")):
            namespace.setdefault(name, value)
    namespace["SIM"] = sim
