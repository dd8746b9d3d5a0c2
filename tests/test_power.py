"""Power and energy through NVML (against a simulated NVML, tests/sim_nvml.py) and RAPL (fake sysfs files).

Each NVML test sets up a situation in which a careless reading is biased (a
trailing average holding the previous second, an energy counter that steps
every 100 ms, idle read before the power has come down, a failed read) and
checks the reading against the simulator's exact timeline.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from generator.power import (
    NvmlMeter,
    RaplMeter,
    cool_down,
    cpu_meter,
    idle_power_w,
    nvml_memory,
    parse_cooldown,
    power_window,
    settled_idle,
    throttle_reason_names,
    update_period_s,
)
from tests.sim_nvml import SimNvml


class Counted:
    """A model run that the simulator sees as a steady load of ``watts`` above idle, from the first call on.

    Steady, not one load per call: on a busy test machine the gaps between calls
    would make the true power itself jitter, and the tests compare means over
    slightly different intervals.
    """

    def __init__(self, sim: SimNvml, watts: float, seconds: float = 0.01) -> None:
        self.sim, self.watts, self.seconds, self.calls = sim, watts, seconds, 0

    def __call__(self) -> None:
        if self.calls == 0:
            self.sim.start_load(self.watts)
        self.calls += 1
        time.sleep(self.seconds)


def _window(sim: SimNvml, meter: NvmlMeter, watts: float, window_s: float = 1.0, batch_size: int = 4,
            idle: Any = None) -> tuple[Any, float, Counted]:
    """A power window; also the exact mean power of the simulated GPU over the window's last ``window_s``."""
    run = Counted(sim, watts)
    power = power_window(run, batch_size=batch_size, meter=meter, window_s=window_s, idle=idle)
    end = sim.now()
    sim.stop_loads()
    assert power.window_s is not None
    return power, sim.true_mean_w(end - power.window_s, end), run


def test_window_after_other_work_reads_this_load_not_the_last_second() -> None:
    # Before the window: near-idle work (counting, autotuning). A trailing 1 s
    # average sampled at once over 1 s would mix it in (the old bias: -30% here).
    sim = SimNvml(instant_field=False)
    sim.open_context()
    meter = NvmlMeter(sim, handle=object())
    assert meter.reading_method == "nvml_power_usage"
    sim.run(0.8, 5.0)
    power, truth, run = _window(sim, meter, watts=250.0)
    assert power.available and power.preroll_s is not None and power.preroll_s >= 1.0
    assert power.mean_w == pytest.approx(truth, rel=0.02)
    assert power.reading_method == "nvml_power_usage"


def test_instant_field_is_sampled_where_the_card_has_it_and_gives_the_peak() -> None:
    sim = SimNvml()
    meter = NvmlMeter(sim, handle=object())
    assert meter.reading_method == "nvml_instant_field"
    power, truth, _ = _window(sim, meter, watts=300.0, window_s=0.6)
    assert power.reading_method == "nvml_instant_field"
    assert power.samples_mean_w == pytest.approx(truth, rel=0.03)
    assert power.peak_w is not None and truth * 0.99 <= power.peak_w <= sim.idle_now_w() + 300.0 + 1.0


def test_energy_and_mean_power_agree_and_are_exact_despite_100ms_counter_steps() -> None:
    # Energy over a 1 s window from a counter that steps every 100 ms is off by up
    # to 10%; between two steps it is exact to the poll interval.
    sim = SimNvml(instant_field=False, energy_period_s=0.1)
    meter = NvmlMeter(sim, handle=object())
    assert meter.energy_counter_available
    for watts in (120.0, 290.0):
        power, truth, run = _window(sim, meter, watts=watts, batch_size=8)
        assert power.energy_method == "energy_counter"
        assert power.mean_w == pytest.approx(truth, rel=0.015)
        # Energy per image is mean power times the time per image: mean x window / energy per image
        # gives back a whole number of batches. (Energy from the counter's two ends over samples' mean would not.)
        images = power.mean_w * power.window_s / power.energy_j_per_image
        assert images == pytest.approx(round(images / 8) * 8, abs=1e-6) and images < run.calls * 8


def test_window_spans_many_updates_of_a_slow_counter_and_records_the_period() -> None:
    sim = SimNvml(energy_period_s=0.25)
    probe = NvmlMeter(sim, handle=object())
    period = update_period_s(probe.energy_mj, duration_s=1.2)
    assert period == pytest.approx(0.25, abs=0.02)
    meter = NvmlMeter(sim, handle=object(), counter_period_s=period)
    power, truth, _ = _window(sim, meter, watts=200.0, window_s=0.3)
    assert power.counter_update_period_s == period
    assert power.window_s >= 5 * 0.25 * 0.95
    assert power.mean_w == pytest.approx(truth, rel=0.01)


def test_update_periods_of_each_reading() -> None:
    sim = SimNvml(instant_period_s=0.02, average_period_s=0.1, energy_period_s=0.1)
    sim.run(0.3, 150.0)  # a changing power, so that the power readings change at each refresh
    meter = NvmlMeter(sim, handle=object())
    assert update_period_s(meter.energy_mj, duration_s=1.0) == pytest.approx(0.1, abs=0.01)
    sim.run(0.1, 150.0)
    assert update_period_s(meter.power_w, duration_s=0.5) == pytest.approx(0.02, abs=0.005)


def test_single_nvml_errors_are_survived_and_counted() -> None:
    sim = SimNvml(error_every=4)
    meter = NvmlMeter(sim, handle=object())
    assert meter.reading_method == "nvml_instant_field" and meter.energy_counter_available  # probes retried
    power, truth, _ = _window(sim, meter, watts=220.0, window_s=0.6)
    assert power.available and power.read_errors > 0
    assert power.samples is not None and power.samples > 50
    assert power.mean_w == pytest.approx(truth, rel=0.02)


def test_temperature_is_read_at_start_and_end_of_the_window() -> None:
    sim = SimNvml(thermal_tau_s=1.0)
    meter = NvmlMeter(sim, handle=object())
    power, _, _ = _window(sim, meter, watts=400.0)
    assert power.temperature_c_start is not None and power.temperature_c_end is not None
    assert power.temperature_c_end > power.temperature_c_start > 30


@pytest.mark.parametrize("instant", [True, False])
def test_idle_after_load_waits_until_power_has_settled(instant: bool) -> None:
    sim = SimNvml(instant_field=instant, tail_tau_s=0.3)
    sim.open_context()
    meter = NvmlMeter(sim, handle=object())
    sim.run(1.0, 300.0)
    # Read at once, idle is overstated: power is still coming down (and an average trails by 1 s).
    hasty = idle_power_w(meter, 0.3)
    sim.run(1.0, 300.0)
    idle = settled_idle(meter, max_wait_s=6.0)
    truth = sim.idle_now_w()
    assert hasty is not None and hasty > truth + 5
    assert idle is not None and idle.settled and idle.settle_s > 0.3
    assert idle.idle_w == pytest.approx(truth, abs=1.5)
    assert idle.idle_w > 60 + 18 - 1  # the context's share is in it: idle is measured holding one


def test_idle_wait_is_bounded_and_says_it_did_not_settle() -> None:
    sim = SimNvml(tail_tau_s=5.0)
    meter = NvmlMeter(sim, handle=object())
    sim.run(0.5, 300.0)
    begin = time.perf_counter()
    idle = settled_idle(meter, window_s=0.3, max_wait_s=1.0, tolerance_w=0.1, tolerance_relative=0.0)
    assert idle is not None and not idle.settled
    assert time.perf_counter() - begin < 3.0


def test_idle_power_depends_on_context_and_heat() -> None:
    sim = SimNvml(thermal_tau_s=0.5)
    cold = sim.idle_now_w()
    sim.open_context()
    assert sim.idle_now_w() == pytest.approx(cold + 18)
    sim.run(1.0, 400.0)
    assert sim.idle_now_w() > cold + 18 + 5  # a warm chip leaks


def test_memory_v2_reports_reserved_apart_and_v1_counts_it_as_used() -> None:
    sim = SimNvml(reserved_bytes=600 * 2**20)
    sim.open_context()
    sim.allocated_bytes = 100 * 2**20
    used, reserved, version = nvml_memory(sim, object())  # type: ignore[misc]
    assert version == 2 and reserved == 600 * 2**20 and used == 620 * 2**20
    used1, reserved1, version1 = nvml_memory(SimNvml(memory_v2=False), object())  # type: ignore[misc]
    assert version1 == 1 and reserved1 is None and used1 == 600 * 2**20


def test_no_power_readings_at_all_is_unavailable_with_the_error_count() -> None:
    sim = SimNvml(energy_counter=False)
    meter = NvmlMeter(sim, handle=object())
    sim.error_every = 1  # every read fails from now on
    power = power_window(Counted(sim, 100.0), batch_size=1, meter=meter, window_s=0.1, idle=None)
    sim.stop_loads()
    assert not power.available and power.read_errors > 0 and power.mean_w is None
    assert "failed reads" in (power.unavailable_reason or "")


def test_cooldown_argument_and_wait() -> None:
    assert parse_cooldown("45C") == (45.0, 120.0)
    assert parse_cooldown("20s") == (None, 20.0)
    assert parse_cooldown("45c, 60s") == (45.0, 60.0)
    with pytest.raises(ValueError, match="cooldown"):
        parse_cooldown("hot")
    readings = iter([70.0, 60.0, 50.0, 44.0, 40.0])
    waited, end = cool_down(lambda: next(readings), 45.0, max_s=10.0, poll_s=0.01)
    assert end == 44.0 and waited < 1.0
    waited, end = cool_down(lambda: 80.0, 45.0, max_s=0.1, poll_s=0.01)
    assert end == 80.0 and 0.1 <= waited < 0.5


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

    power = power_window(run, batch_size=4, meter=meter, window_s=0.0, idle=0.5)
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
