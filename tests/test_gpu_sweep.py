"""benchmarks/gpu_sweep.sh under a deadline: stops measure cleanly, packs what it has, resumes from the pack.

Run on the CPU (the same script and measure command as on the GPU, --device cpu).
A model whose forward pass never returns (a real hang, injected) stands for the
model in flight when the deadline comes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from generator.backends import FAULT_ENV

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_sweep.sh"
# The tests use the installed packages, whatever wheels a developer fetched into .whl/.
NO_WHEELS = {"SWEEP_WHEELS_DIR": "/nonexistent-wheels"}
# One round: the resume tested here is about models, not about a model's missing rounds.
FAST = ["--", "--time-budget", "0.05", "--power-window", "0.05", "--threads", "1", "--rounds", "1"]


def _sweep(out: Path, records: Path, *args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **NO_WHEELS, "OUT": str(out), FAULT_ENV: fault, "PYTHONPATH": str(REPO), "PYTHON": sys.executable}
    return subprocess.run(
        [str(SCRIPT), "--device", "cpu", "--records", str(records), "--batch-sizes", "1,2", *args],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO,
    )


def _packed(out: Path) -> set[str]:
    with tarfile.open(out / "measurements.tar.gz") as tar:
        # Model records; the run's machine.json (the machine's ceilings) is packed beside them.
        names = [Path(name) for name in tar.getnames() if name.endswith(".json")]
        return {name.stem for name in names if name.name != "machine.json"}


def test_deadline_stops_measure_cleanly_and_packs(tmp_path: Path) -> None:
    # The first model hangs: only the deadline can end the run, a margin before it, and a pack is there.
    began = time.monotonic()
    result = _sweep(tmp_path, tmp_path / "r", "--deadline", "40", "--margin", "15", "--models", "squeezenet1_1",
                    "--seed-operations", "", *FAST, fault="squeezenet1_1=hang@1")
    took = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert 25 <= took < 40
    summary = json.loads((tmp_path / "sweep-summary.json").read_text())
    assert summary["phases"][0]["stopped_by"] == "deadline" and summary["phases"][0]["exit_code"] == 130
    assert summary["models_missing"] == ["squeezenet1_1"] and _packed(tmp_path) == set()  # no half record


def test_partial_records_are_packed_while_measuring_and_a_second_call_resumes(tmp_path: Path) -> None:
    out1, out2 = tmp_path / "out1", tmp_path / "out2"
    out1.mkdir()
    out2.mkdir()
    models = ["--models", "mobilenet_v3_small", "squeezenet1_1", "--seed-operations", ""]
    env = {**os.environ, **NO_WHEELS, "OUT": str(out1), FAULT_ENV: "squeezenet1_1=hang@1", "PYTHONPATH": str(REPO),
           "PYTHON": sys.executable}
    # A deadline far off; the sweep is stopped (SIGTERM, as at the deadline) once the pack it keeps
    # up to date while measuring holds the first model, while the second hangs.
    process = subprocess.Popen(
        [str(SCRIPT), "--device", "cpu", "--records", str(tmp_path / "r1"), "--batch-sizes", "1,2",
         "--deadline", "600", "--pack-every", "1", *models, *FAST],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        limit = time.monotonic() + 240
        while time.monotonic() < limit:
            if (out1 / "measurements.tar.gz").exists() and _packed(out1):
                break
            time.sleep(1)
        assert _packed(out1) == {"mobilenet_v3_small"}
        process.terminate()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    summary = json.loads((out1 / "sweep-summary.json").read_text())
    assert summary["phases"][0]["stopped_by"] == "signal"
    assert summary["models_missing"] == ["squeezenet1_1"] and _packed(out1) == {"mobilenet_v3_small"}

    # Second call, from the first call's pack, without the fault: only what was missing is measured.
    second = _sweep(out2, tmp_path / "r2", "--deadline", "240", "--margin", "10",
                    "--resume", str(out1 / "measurements.tar.gz"), *models, *FAST)
    assert second.returncode == 0, second.stderr
    summary2 = json.loads((out2 / "sweep-summary.json").read_text())
    assert summary2["resumed_records"] == 1
    assert summary2["phases"][0]["stopped_by"] == "finished" and summary2["models_missing"] == []
    assert _packed(out2) == {"mobilenet_v3_small", "squeezenet1_1"}
    assert "already measured" in (out2 / "sweep.log").read_text()


def test_study_networks_first_then_by_cost() -> None:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_sweep import ordered_models  # type: ignore[import-not-found]

    order = ordered_models(["vgg16", "mobilenet_v3_small", "resnet50", "regnet_y_128gf", "alexnet"])
    assert order[:3] == ["alexnet", "resnet50", "vgg16"]  # the study's, cheapest first
    assert order[3:] == ["mobilenet_v3_small", "regnet_y_128gf"]


def test_missing_packages_are_found_before_anything_starts(tmp_path: Path) -> None:
    # An interpreter without torch or pydantic (the system's python3 here): refused at once, with what is missing.
    env = {**os.environ, **NO_WHEELS, "OUT": str(tmp_path), "PYTHON": "/usr/bin/python3", "PYTHONPATH": str(REPO)}
    result = subprocess.run([str(SCRIPT), "--device", "cpu"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "cannot start the sweep" in result.stderr and "torch" in result.stderr
    assert not (tmp_path / "measurements.tar.gz").exists()


def test_missing_out_or_resume_pack_is_refused(tmp_path: Path) -> None:
    result = _sweep(tmp_path / "absent", tmp_path / "r", "--deadline", "10")
    assert result.returncode == 2 and "OUT" in result.stderr
    result = _sweep(tmp_path, tmp_path / "r", "--resume", str(tmp_path / "nope.tar.gz"))
    assert result.returncode == 2 and "nope.tar.gz" in result.stderr


def test_calibration_against_the_simulated_nvml(tmp_path: Path) -> None:
    # The simulator stands in for pynvml (tests/sim_pynvml first on the path); no CUDA here, so the
    # context, load and TF32 parts say so, and setup time is measured on the CPU.
    env = {**os.environ, **NO_WHEELS, "OUT": str(tmp_path), "PYTHON": sys.executable,
           "PYTHONPATH": f"{REPO / 'tests' / 'sim_pynvml'}:{REPO}",
           "GENERATOR_SIM_NVML": "energy_period_s=0.1,instant_period_s=0.02,average_period_s=0.1"}
    result = subprocess.run(
        [str(SCRIPT), "--calibrate", "--device", "cpu", "--period-probe-s", "1.0", "--idle-wait", "3",
         "--setup-models", "mobilenet_v3_small"],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    calibration = json.loads((tmp_path / "calibration.json").read_text())
    periods = calibration["update_periods_s"]
    assert abs(periods["energy_counter"] - 0.1) < 0.015
    assert abs(periods["instant_field"] - 0.02) < 0.01
    assert calibration["reading_method"] == "nvml_instant_field"
    assert calibration["idle_without_context"]["idle_w"] > 50
    assert calibration["tf32_read_back"] == "no CUDA device"
    setup = calibration["setup"][0]
    assert setup["model"] == "mobilenet_v3_small" and setup["timing"]["build_s"] > 0
    assert not any(key.endswith("_error") for key in calibration)


def test_committed_records_seed_the_counts_and_are_not_packed(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_sweep import pack, seed  # type: ignore[import-not-found]

    committed, records, out = tmp_path / "committed", tmp_path / "records", tmp_path / "out"
    (committed / "cpu-x-2t" / "fp32").mkdir(parents=True)
    (committed / "cpu-x-2t" / "fp32" / "alexnet.json").write_text("{}")
    (records / "nvidia-h200" / "fp32").mkdir(parents=True)
    (records / "nvidia-h200" / "fp32" / "alexnet.json").write_text("{}")
    out.mkdir()
    seeded = seed(committed, records)
    assert [p.relative_to(records).as_posix() for p in seeded] == ["cpu-x-2t/fp32/alexnet.json"]
    assert pack(records, out, seeded) == 1
    with tarfile.open(out / "measurements.tar.gz") as tar:
        assert tar.getnames() == ["nvidia-h200/fp32/alexnet.json"]


def test_calibration_under_load_reads_power_and_idle(tmp_path: Path) -> None:
    # The load part of the calibration, on the CPU with small matrices, against the simulator: every reading
    # is there and none failed (the GPU's device time must not be spent finding a typo).
    sys.path.insert(0, str(REPO / "benchmarks"))
    import torch
    from gpu_sweep import under_load  # type: ignore[import-not-found]

    from generator.power import NvmlMeter
    from tests.sim_nvml import SimNvml

    sim = SimNvml()
    meter = NvmlMeter(sim, object(), counter_period_s=0.1)
    result: dict[str, object] = {}
    under_load(result, meter, None, torch.device("cpu"), load_s=0.5, idle_wait_s=2.0, size=64)
    assert not [key for key in result if key.endswith("_error")], result
    load = result["power_under_load"]
    assert isinstance(load, dict) and load["available"] and load["energy_method"] == "energy_counter"
    assert isinstance(result["idle_after_load"], dict) and result["idle_right_after_load_w"] is not None


def test_power_overview_of_the_packed_records() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_sweep import power_overview  # type: ignore[import-not-found]

    paths = sorted((REPO / "tests" / "fixtures" / "measurements").rglob("*.json"))
    overview = power_overview(paths)
    gpu = [p for p in paths if "fixture-gpu" in str(p)]
    assert gpu, "the fixtures hold GPU records"
    assert overview["peak_w_max"] is not None and overview["peak_w_max"] > 0
    assert sum(overview["energy_methods"].values()) > 0
    dates = [item["date"] for item in overview["idle_series"]]
    assert dates == sorted(dates) and all(item["idle_w"] > 0 for item in overview["idle_series"])
