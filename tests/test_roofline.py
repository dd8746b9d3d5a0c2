"""Hardware identification and the machine's ceilings, through the public commands and fixture records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.factory import CPU, GPU, STUDY_MODELS, make_record, write_records

from generator import environment
from generator.cli import main
from generator.schema import (
    BandwidthCeiling,
    Hardware,
    MachineCeilings,
    MatmulCeiling,
    Record,
    Software,
    load_record,
)
from generator.store import ResultsStore


def _identified_cpu(record: Record) -> Record:
    hardware = record.hardware.model_copy(
        update={
            "cpu_model": "Intel(R) Xeon(R) Processor",
            "cpu_vendor": "GenuineIntel",
            "cpu_family": 6,
            "cpu_model_number": 207,
            "cpu_stepping": 2,
            "cpu_microarchitecture": "Emerald Rapids",
            "cpu_isa_extensions": ["amx_tile", "avx2", "avx512_vnni", "avx512f"],
            "cpu_hypervisor": True,
            "cpu_frequency_governor": None,
        }
    )
    # A CUDA build of torch measuring on the CPU: its CUDA version is not a fact of the run.
    software = record.software.model_copy(
        update={
            "cuda": "13.0",
            "torch_blas": "Intel(R) oneAPI Math Kernel Library Version 2024.2",
            "torch_onednn": "v3.12.0",
            "torch_cpu_capability": "AVX512",
            "torch_parallel_backend": "OpenMP",
        }
    )
    run = record.run.model_copy(update={"git_commit": "0123456789abcdef0123"})
    return record.model_copy(update={"hardware": hardware, "software": software, "run": run})


def _clocked_gpu(record: Record) -> Record:
    assert record.hardware.gpu is not None
    gpu = record.hardware.gpu.model_copy(
        update={
            "sm_clock_max_mhz": 1980.0,
            "memory_clock_max_mhz": 3201.0,
            "power_limit_default_w": 700.0,
        }
    )
    software = record.software.model_copy(update={"cuda": "13.0", "cudnn": "92400"})
    return record.model_copy(update={"hardware": record.hardware.model_copy(update={"gpu": gpu}), "software": software})


def _render(records: list[Record], tmp_path: Path) -> Path:
    measurements, site = tmp_path / "measurements", tmp_path / "site"
    write_records(records, measurements)
    assert main(["render", "--measurements", str(measurements), "--out", str(site)]) == 0
    return site


def test_hardware_pages_identify_the_cpu_and_gpu_and_give_the_run_date_and_commit(tmp_path: Path) -> None:
    models = STUDY_MODELS[:3]
    records = [_identified_cpu(make_record(m, CPU)) for m in models] + [
        _clocked_gpu(make_record(m, GPU)) for m in models
    ]
    site = _render(records, tmp_path)
    cpu = (site / "hardware" / f"{CPU.slug}.md").read_text()
    assert "| CPU identity | GenuineIntel family 6 model 207 (0xcf) stepping 2: Emerald Rapids |" in cpu
    assert "amx\\_tile, avx2, avx512\\_vnni, avx512f" in cpu  # Markdown-escaped underscores
    assert "| torch BLAS | Intel(R) oneAPI Math Kernel Library Version 2024.2 |" in cpu
    assert "| torch oneDNN | v3.12.0 |" in cpu and "| torch CPU kernels | AVX512 |" in cpu
    assert "| virtual machine | yes |" in cpu and "not readable (no cpufreq" in cpu
    assert "| measured | 2026-01-01T00:00:00Z |" in cpu and "| project commit | 0123456789ab |" in cpu
    assert "| CUDA |" not in cpu and "| cuDNN |" not in cpu  # no CUDA line for a CPU run
    gpu = (site / "hardware" / f"{GPU.slug}.md").read_text()
    assert "| CUDA | 13.0 |" in gpu and "| cuDNN | 92400 |" in gpu
    assert "| maximum SM clock | 1,980 MHz |" in gpu and "| maximum memory clock | 3,201 MHz |" in gpu
    assert "| project commit | not recorded |" in gpu


def test_records_without_the_identity_fields_say_not_recorded(tmp_path: Path) -> None:
    site = _render([make_record(STUDY_MODELS[0], CPU)], tmp_path)
    cpu = (site / "hardware" / f"{CPU.slug}.md").read_text()
    assert "| CPU identity | not recorded |" in cpu and "| torch BLAS | not recorded |" in cpu


def test_this_machine_is_described_with_its_isa_and_torch_build() -> None:
    hardware = environment.hardware(1, None)
    assert isinstance(hardware, Hardware)
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if " avx2" in flags:
        assert "avx2" in hardware.cpu_isa_extensions
    assert all(not flag.startswith(("sme", "smep")) or flag in ("sme", "sme2") for flag in hardware.cpu_isa_extensions)
    software = environment.software()
    assert isinstance(software, Software) and software.torch_cpu_capability


@pytest.mark.parametrize(
    ("vendor", "family", "model", "stepping", "core"),
    [
        ("GenuineIntel", 6, 207, 2, "Emerald Rapids"),
        ("GenuineIntel", 6, 85, 7, "Cascade Lake"),
        ("GenuineIntel", 6, 85, 4, "Skylake"),
        ("AuthenticAMD", 25, 1, 1, "Milan (Zen 3)"),
        ("AuthenticAMD", 99, 1, 1, None),
    ],
)
def test_microarchitecture_from_the_vendor_numbers(
    vendor: str, family: int, model: int, stepping: int, core: str | None
) -> None:
    assert environment.microarchitecture(vendor, family, model, stepping) == core


def test_torch_build_text_is_read() -> None:
    build = environment.torch_build(
        "  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for Intel(R) 64\n"
        "  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa71)\n  - Build settings: BLAS_INFO=mkl, USE_MKLDNN=ON\n",
        "ATen parallel backend: OpenMP\n",
    )
    assert build == {
        "torch_blas": "Intel(R) oneAPI Math Kernel Library Version 2024.2",
        "torch_onednn": "v3.12.0",
        "torch_parallel_backend": "OpenMP",
    }
    assert environment.torch_build("Build settings: BLAS_INFO=open, USE_MKLDNN=OFF", "")["torch_blas"] == "open"


# --------------------------------------------------------------------------- the machine's ceilings


def _ceilings(record: Record, matmul_ms: float = 50.0, copy_ms: float = 20.0) -> MachineCeilings:
    """Ceilings consistent with their samples (the same relations parse_ceilings checks)."""
    n, buffer_bytes = 1000, 100_000_000
    return MachineCeilings(
        hardware_slug=record.hardware.slug,
        device=record.config.device,
        precision=record.config.precision,
        threads=2,
        date="2026-01-01T00:00:00+00:00",
        git_commit=None,
        command="fixture",
        clock="perf_counter",
        matmul=MatmulCeiling(
            gflops=2 * n**3 / (matmul_ms / 1000) / 1e9,
            median_gflops=2 * n**3 / (matmul_ms * 1.1 / 1000) / 1e9,
            n=n,
            dtype="float32",
            repetitions=3,
            samples_ms=[matmul_ms * 1.2, matmul_ms, matmul_ms * 1.1],
        ),
        bandwidth=BandwidthCeiling(
            gb_per_s=2 * buffer_bytes / (copy_ms / 1000) / 1e9,
            median_gb_per_s=2 * buffer_bytes / (copy_ms / 1000) / 1e9,
            buffer_bytes=buffer_bytes,
            repetitions=1,
            samples_ms=[copy_ms],
        ),
    )


def _measurements(records: list[Record], tmp_path: Path, ceilings: bool) -> Path:
    measurements = tmp_path / "measurements"
    paths = write_records(records, measurements)
    if ceilings:
        store = ResultsStore(measurements)
        for folder in sorted({path.parent for path in paths}):
            record = next(r for r, p in zip(records, paths, strict=True) if p.parent == folder)
            store.write_ceilings(folder, _ceilings(record))
    return measurements


def _render_folder(measurements: Path, tmp_path: Path) -> Path:
    site = tmp_path / "site"
    assert main(["render", "--measurements", str(measurements), "--out", str(site)]) == 0
    return site


def test_fraction_of_peak_and_the_roofline_come_from_the_runs_ceilings(tmp_path: Path) -> None:
    records = [make_record(m, CPU) for m in STUDY_MODELS[:4]]
    site = _render_folder(_measurements(records, tmp_path, ceilings=True), tmp_path)
    peak = _ceilings(records[0]).matmul.gflops  # 40 GFLOP/s
    assert peak == pytest.approx(40.0)
    resnet18 = next(r for r in records if r.model.name == "resnet18")
    b1 = next(b for b in resnet18.batches if b.batch_size == 1)
    assert b1.latency is not None and resnet18.operations is not None
    # 2 x GMACs per image x images per second, over the peak: computed here from the record's own fields.
    achieved = 2 * resnet18.operations.gmacs * 1000 / b1.latency.median_ms_per_batch
    expected = f"{achieved / peak * 100:.1f} %"
    board = (site / "models" / "index.md").read_text()
    assert "fraction of peak GFLOP/s at batch 1" in board
    row = next(line for line in board.splitlines() if "(resnet18)" in line)
    assert row.rstrip(" |").endswith(expected)
    csv_text = (site / "data" / "leaderboard" / f"{CPU.slug}.csv").read_text()
    assert f"{achieved / peak:.6g}"[:6] in csv_text
    hardware = (site / "hardware" / f"{CPU.slug}.md").read_text()
    assert "| peak matmul | 40.00 GFLOP/s (float32, 1000 × 1000 GEMM, best of 3; median 36.36)" in hardware
    assert "| memory bandwidth | 10.00 GB/s (copy of 100.0 MB, read + write counted, best of 1" in hardware
    figures = (site / "figures" / CPU.slug / "fp32" / "study.md").read_text()
    assert "Roofline" in figures and "Roof: peak matmul 40.00 GFLOP/s" in figures and "Closest to the peak:" in figures
    spec = json.loads(next((site / "figures" / CPU.slug / "fp32" / "charts").glob("*-roofline.vl.json")).read_text())
    roof = [layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "line"]
    assert roof, "the roof is drawn"
    values = spec["datasets"] if "datasets" in spec else None
    # The roof's flat part is the measured peak (40 GFLOP/s); its slope is the bandwidth (10 GB/s).
    def rows_with_ry(node: object) -> list[dict]:
        if isinstance(node, dict):
            return [node] if "ry" in node else [row for value in node.values() for row in rows_with_ry(value)]
        if isinstance(node, list):
            return [row for value in node for row in rows_with_ry(value)]
        return []

    roof_rows = rows_with_ry(spec)
    assert max(row["ry"] for row in roof_rows) == pytest.approx(40.0)
    low = min(roof_rows, key=lambda row: row["rx"])
    assert low["ry"] == pytest.approx(min(40.0, 10.0 * low["rx"]))
    assert values is None or values  # inline data or named datasets, both fine


def test_a_run_without_machine_json_renders_and_says_not_measured(tmp_path: Path) -> None:
    records = [make_record(m, CPU) for m in STUDY_MODELS[:3]]
    site = _render_folder(_measurements(records, tmp_path, ceilings=False), tmp_path)
    board = (site / "models" / "index.md").read_text()
    assert "fraction of peak GFLOP/s at batch 1" not in board
    assert "not measured (this run has no machine.json" in board
    hardware = (site / "hardware" / f"{CPU.slug}.md").read_text()
    assert "| peak matmul | not measured (this run has no machine.json" in hardware
    assert "(peak not measured)" in hardware  # achieved GFLOP/s still shown, its share not
    figures = (site / "figures" / CPU.slug / "fp32" / "study.md").read_text()
    assert "The machine's ceilings were not measured for this run" in figures


@pytest.mark.parametrize("damage", ["foreign_machine", "inconsistent", "not_json"])
def test_an_unusable_machine_json_stops_the_render_naming_it(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [make_record(STUDY_MODELS[0], CPU)]
    measurements = _measurements(records, tmp_path, ceilings=True)
    path = next(measurements.rglob("machine.json"))
    document = json.loads(path.read_text())
    if damage == "foreign_machine":
        document["hardware_slug"] = "another-machine"
        path.write_text(json.dumps(document))
    elif damage == "inconsistent":
        document["matmul"]["gflops"] *= 10  # not what its samples give
        path.write_text(json.dumps(document))
    else:
        path.write_text("{not json")
    site = tmp_path / "site"
    assert main(["render", "--measurements", str(measurements), "--out", str(site)]) == 1
    assert "machine.json" in capsys.readouterr().err
    assert not site.exists()


def test_ceilings_command_and_measure_use_them_for_the_iteration_cap(tmp_path: Path) -> None:
    out = tmp_path / "m"
    assert main(["ceilings", "--measurements", str(out), "--device", "cpu", "--threads", "1"]) == 0
    (path,) = out.rglob("machine.json")
    ceilings = ResultsStore(out).read_ceilings(path.parent)
    assert ceilings is not None and ceilings.device == "cpu" and ceilings.threads == 1
    assert ceilings.matmul.gflops > 0 and ceilings.bandwidth.gb_per_s > 0
    assert ceilings.matmul.gflops >= ceilings.matmul.median_gflops
    # Pretend a machine of 10^-3 GFLOP/s: no batch size timed yet, batch 1 of squeezenet1_1
    # (0.7 GFLOPs) is estimated from the peak at over 0.5 s and skipped, with that estimate.
    slow = ceilings.model_copy(
        update={
            "matmul": ceilings.matmul.model_copy(
                update={
                    "samples_ms": [s * 1e5 for s in ceilings.matmul.samples_ms],
                    "gflops": ceilings.matmul.gflops / 1e5,
                    "median_gflops": ceilings.matmul.median_gflops / 1e5,
                }
            )
        }
    )
    ResultsStore(out).write_ceilings(path.parent, slow)
    assert (
        main(
            [
                "measure",
                "--models",
                "squeezenet1_1",
                "--device",
                "cpu",
                "--out",
                str(out),
                "--batch-sizes",
                "1,2",
                "--max-iteration-s",
                "0.5",
                "--rounds",
                "1",
                "--time-budget",
                "0.05",
                "--threads",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    record = load_record(next(out.rglob("squeezenet1_1.json")))
    assert [b.status for b in record.batches] == ["skipped", "skipped"]
    assert record.operations is not None
    expected = record.operations.gflops / slow.matmul.gflops
    assert record.batches[0].estimated_iteration_s == pytest.approx(expected)
    assert "a lower bound" in (record.batches[0].error or "")
    assert record.status == "error"  # nothing measured: said so, not silently empty
    # The ceilings were read, not measured again.
    again = ResultsStore(out).read_ceilings(path.parent)
    assert again == slow
