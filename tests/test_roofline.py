"""Hardware identification and the machine's ceilings, through the public commands and fixture records."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.factory import CPU, GPU, STUDY_MODELS, make_record, write_records

from generator import environment
from generator.cli import main
from generator.schema import Hardware, Record, Software


def _identified_cpu(record: Record) -> Record:
    hardware = record.hardware.model_copy(update={
        "cpu_model": "Intel(R) Xeon(R) Processor", "cpu_vendor": "GenuineIntel", "cpu_family": 6,
        "cpu_model_number": 207, "cpu_stepping": 2, "cpu_microarchitecture": "Emerald Rapids",
        "cpu_isa_extensions": ["amx_tile", "avx2", "avx512_vnni", "avx512f"], "cpu_hypervisor": True,
        "cpu_frequency_governor": None,
    })
    # A CUDA build of torch measuring on the CPU: its CUDA version is not a fact of the run.
    software = record.software.model_copy(update={
        "cuda": "13.0", "torch_blas": "Intel(R) oneAPI Math Kernel Library Version 2024.2",
        "torch_onednn": "v3.12.0", "torch_cpu_capability": "AVX512", "torch_parallel_backend": "OpenMP",
    })
    run = record.run.model_copy(update={"git_commit": "0123456789abcdef0123"})
    return record.model_copy(update={"hardware": hardware, "software": software, "run": run})


def _clocked_gpu(record: Record) -> Record:
    assert record.hardware.gpu is not None
    gpu = record.hardware.gpu.model_copy(update={
        "sm_clock_max_mhz": 1980.0, "memory_clock_max_mhz": 3201.0, "power_limit_default_w": 700.0,
    })
    software = record.software.model_copy(update={"cuda": "13.0", "cudnn": "92400"})
    return record.model_copy(update={"hardware": record.hardware.model_copy(update={"gpu": gpu}),
                                     "software": software})


def _render(records: list[Record], tmp_path: Path) -> Path:
    measurements, site = tmp_path / "measurements", tmp_path / "site"
    write_records(records, measurements)
    assert main(["render", "--measurements", str(measurements), "--out", str(site)]) == 0
    return site


def test_hardware_pages_identify_the_cpu_and_gpu_and_give_the_run_date_and_commit(tmp_path: Path) -> None:
    models = STUDY_MODELS[:3]
    records = [_identified_cpu(make_record(m, CPU)) for m in models] + [_clocked_gpu(make_record(m, GPU))
                                                                         for m in models]
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


@pytest.mark.parametrize(("vendor", "family", "model", "stepping", "core"), [
    ("GenuineIntel", 6, 207, 2, "Emerald Rapids"),
    ("GenuineIntel", 6, 85, 7, "Cascade Lake"),
    ("GenuineIntel", 6, 85, 4, "Skylake"),
    ("AuthenticAMD", 25, 1, 1, "Milan (Zen 3)"),
    ("AuthenticAMD", 99, 1, 1, None),
])
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
    assert build == {"torch_blas": "Intel(R) oneAPI Math Kernel Library Version 2024.2", "torch_onednn": "v3.12.0",
                     "torch_parallel_backend": "OpenMP"}
    assert environment.torch_build("Build settings: BLAS_INFO=open, USE_MKLDNN=OFF", "")["torch_blas"] == "open"
