"""Power and energy through NVML (against a fake pynvml) and RAPL (against fake sysfs files)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from generator.power import NvmlMeter, RaplMeter, cpu_meter, idle_power_w, power_window, throttle_reason_names


class FakeNvml:
    """The pynvml calls the meter makes, for a GPU drawing a constant power."""

    def __init__(self, watts: float, energy_counter: bool = True) -> None:
        self.watts = watts
        self.energy_counter = energy_counter
        self.start = time.perf_counter()
        self.power_calls = 0

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        self.power_calls += 1
        return int(self.watts * 1000)  # mW

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        if not self.energy_counter:
            raise RuntimeError("NVMLError_NotSupported")
        return int((time.perf_counter() - self.start) * self.watts * 1000)  # mJ

    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int:
        return 1980

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        return 41

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int:
        return 0x1 | 0x4  # idle + software power cap


def _run(batch_time_s: float) -> Any:
    return lambda: time.sleep(batch_time_s)


def test_nvml_window_with_energy_counter() -> None:
    nvml = FakeNvml(300.0)
    meter = NvmlMeter(nvml, handle=object(), interval_s=0.005)
    assert meter.energy_counter_available
    power = power_window(_run(0.01), batch_size=4, meter=meter, window_s=0.2, idle_w=60.0)
    assert power.available and power.counter == "nvml"
    assert power.mean_w == pytest.approx(300.0) and power.peak_w == pytest.approx(300.0)
    assert power.net_w == pytest.approx(240.0) and power.idle_w == 60.0
    assert power.window_s >= 0.2
    assert power.samples is not None and power.samples >= 2 and nvml.power_calls >= power.samples
    assert power.energy_method == "energy_counter"
    images = 4 * round(power.window_s / 0.01)  # about; the energy must be about 300 W x window / images
    assert power.energy_j_per_image == pytest.approx(300.0 * power.window_s / images, rel=0.3)
    assert power.sm_clock_mhz_mean == 1980 and power.temperature_c_max == 41
    assert power.throttle_reasons == ["sw_power_cap"]


def test_nvml_without_energy_counter_integrates_samples() -> None:
    meter = NvmlMeter(FakeNvml(200.0, energy_counter=False), handle=object(), interval_s=0.005)
    assert not meter.energy_counter_available
    iterations = []

    def run() -> None:
        iterations.append(1)
        time.sleep(0.01)

    power = power_window(run, batch_size=2, meter=meter, window_s=0.15, idle_w=None)
    assert power.energy_method == "integrated_samples"
    # A constant 200 W integrates to exactly 200 W x window.
    assert power.energy_j_per_image == pytest.approx(200.0 * power.window_s / (2 * len(iterations)))
    assert power.net_w is None  # no idle reading, no invented net power


def test_idle_power_from_samples() -> None:
    meter = NvmlMeter(FakeNvml(55.0), handle=object(), interval_s=0.005)
    assert idle_power_w(meter, duration_s=0.05) == pytest.approx(55.0)


def test_throttle_reason_names() -> None:
    assert throttle_reason_names(0) == []
    assert throttle_reason_names(0x20 | 0x40 | 0x1) == ["sw_thermal_slowdown", "hw_thermal_slowdown"]


def _rapl(tmp_path: Path, value: int, max_range: int = 2**32) -> Path:
    domain = tmp_path / "intel-rapl:0"
    domain.mkdir(exist_ok=True)
    (domain / "energy_uj").write_text(f"{value}\n")
    (domain / "max_energy_range_uj").write_text(f"{max_range}\n")
    return domain / "energy_uj"


def test_rapl_meter_reads_energy_and_handles_wraparound(tmp_path: Path) -> None:
    path = _rapl(tmp_path, 1_000_000, max_range=10_000_000)
    meter = RaplMeter([path])
    meter.start()
    path.write_text("4000000\n")
    reading = meter.stop()
    assert reading.energy_j == pytest.approx(3.0)
    meter.start()
    path.write_text("500000\n")  # wrapped past 10 J
    assert meter.stop().energy_j == pytest.approx(10.0 - 4.0 + 0.5)


def test_rapl_window(tmp_path: Path) -> None:
    path = _rapl(tmp_path, 0)
    meter = RaplMeter([path])
    counter = SimpleNamespace(uj=0)

    def run() -> None:
        counter.uj += 1_000_000  # 1 J per batch
        path.write_text(f"{counter.uj}\n")

    power = power_window(run, batch_size=4, meter=meter, window_s=0.0, idle_w=0.5)
    assert power.counter == "rapl" and power.energy_method == "energy_counter"
    assert power.energy_j_per_image == pytest.approx(0.25)
    assert power.peak_w is None  # two counter readings give a mean only


def test_cpu_without_rapl_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("generator.power.RAPL_GLOB", str(tmp_path / "none:*" / "energy_uj"))
    meter, reason = cpu_meter()
    assert meter is None and reason and "RAPL" in reason


def test_rapl_counts_packages_not_their_subdomains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for domain, value in (("intel-rapl:0", 10), ("intel-rapl:0:0", 7), ("intel-rapl:1", 20)):
        (tmp_path / domain).mkdir()
        (tmp_path / domain / "energy_uj").write_text(f"{value}\n")
    monkeypatch.setattr("generator.power.RAPL_GLOB", str(tmp_path / "intel-rapl:*" / "energy_uj"))
    meter, reason = cpu_meter()
    assert meter is not None and reason is None
    assert [p.parent.name for p in meter._files] == ["intel-rapl:0", "intel-rapl:1"]
