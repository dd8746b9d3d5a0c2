"""What ran the measurement: the host, the software and the run itself, collected once per run.

The device's own facts (a GPU's name, memory, driver) come from its backend
(generator.backends), which passes them to ``hardware``.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from generator.schema import GpuInfo, Hardware, RunInfo, Software, safe_slug

REPO_ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str | None:
    """The CPU's marketing name from /proc/cpuinfo ('model name'), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _cpuinfo_fields() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo (every core says the same on the machines we measure)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


# Instruction-set extensions that change what an inference kernel can use:
# x86 vector widths, fused multiply-add, int8 dot products (VNNI), bf16/fp16
# arithmetic and Intel's AMX tiles; Arm's NEON, SVE, dot products and matrix
# multiply. Named as the Linux kernel lists them.
_INFERENCE_ISA = re.compile(
    r"(sse4_[12]|avx|avx2|fma|f16c|avx512\w*|avx_vnni\w*|avx_ne_convert|avx_ifma|amx_\w+"
    r"|asimd|asimddp|asimdhp|sve|sve2|svebf16|svei8mm|bf16|i8mm|sme|sme2)"
)

# Server cores by (vendor, family, model), from Intel's and AMD's published
# family/model numbers: a virtual machine often hides the marketing name
# ("Intel(R) Xeon(R) Processor"), not these. Intel's family-6 model 85 covers
# three generations told apart by stepping.
_MICROARCHITECTURES: dict[tuple[str, int, int], str] = {
    ("GenuineIntel", 6, 63): "Haswell",
    ("GenuineIntel", 6, 79): "Broadwell",
    ("GenuineIntel", 6, 106): "Ice Lake",
    ("GenuineIntel", 6, 108): "Ice Lake",
    ("GenuineIntel", 6, 143): "Sapphire Rapids",
    ("GenuineIntel", 6, 173): "Granite Rapids",
    ("GenuineIntel", 6, 175): "Sierra Forest",
    ("GenuineIntel", 6, 207): "Emerald Rapids",
    ("AuthenticAMD", 23, 1): "Naples (Zen)",
    ("AuthenticAMD", 23, 49): "Rome (Zen 2)",
    ("AuthenticAMD", 25, 1): "Milan (Zen 3)",
    ("AuthenticAMD", 25, 17): "Genoa (Zen 4)",
    ("AuthenticAMD", 25, 160): "Bergamo (Zen 4c)",
    ("AuthenticAMD", 26, 2): "Turin (Zen 5)",
    ("AuthenticAMD", 26, 17): "Turin (Zen 5c)",
}


def microarchitecture(vendor: str | None, family: int | None, model: int | None, stepping: int | None) -> str | None:
    """The server core of a vendor/family/model triple, or None when it is not in the table."""
    if vendor is None or family is None or model is None:
        return None
    if (vendor, family, model) == ("GenuineIntel", 6, 85):
        if stepping is None:
            return None
        return "Skylake" if stepping <= 4 else "Cascade Lake" if stepping <= 7 else "Cooper Lake"
    return _MICROARCHITECTURES.get((vendor, family, model))


def _int(text: str | None) -> int | None:
    try:
        return int(text, 0) if text is not None else None
    except ValueError:
        return None


def cpu_identity() -> dict[str, object]:
    """Hardware's CPU fields beyond the marketing name: vendor, family/model/stepping, ISA, governor."""
    fields = _cpuinfo_fields()
    vendor = fields.get("vendor_id") or None
    family, model, stepping = _int(fields.get("cpu family")), _int(fields.get("model")), _int(fields.get("stepping"))
    flags = (fields.get("flags") or fields.get("Features") or "").split()
    try:
        governor: str | None = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
    except OSError:
        governor = None
    return {
        "cpu_vendor": vendor,
        "cpu_family": family,
        "cpu_model_number": model,
        "cpu_stepping": stepping,
        "cpu_microarchitecture": microarchitecture(vendor, family, model, stepping),
        "cpu_isa_extensions": sorted({flag for flag in flags if _INFERENCE_ISA.fullmatch(flag)}),
        "cpu_hypervisor": ("hypervisor" in flags) if flags else None,
        "cpu_frequency_governor": governor or None,
    }


def ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _name_slug(name: str) -> str:
    text = re.sub(r"\((R|TM|tm|r)\)", " ", name)
    text = re.sub(r"@.*$", " ", text)  # the clock speed changes nothing we can compare
    text = re.sub(r"\b(CPU|Processor|\d+-Core)\b", " ", text, flags=re.IGNORECASE)
    return safe_slug(re.sub(r"\s+", "-", text.strip()).lower())


def cpu_slug(model: str | None, threads: int) -> str:
    """'AMD EPYC 7B13' with 2 threads -> 'cpu-amd-epyc-7b13-2t'."""
    return f"cpu-{_name_slug(model or 'unknown')}-{threads}t"


def gpu_slug(name: str) -> str:
    """'NVIDIA H200' -> 'nvidia-h200'; 'Tesla V100-SXM2-16GB' -> 'tesla-v100-sxm2-16gb'."""
    return _name_slug(name)


def hardware(threads: int, gpu: GpuInfo | None) -> Hardware:
    """The machine; its slug names the records' folder."""
    model = cpu_model()
    if gpu is not None:
        slug, name = gpu_slug(gpu.name), gpu.name
    else:
        slug, name = cpu_slug(model, threads), f"{model or 'unknown CPU'}, {threads} threads"
    return Hardware(
        slug=slug,
        name=name,
        cpu_model=model,
        cpu_logical_cores=os.cpu_count(),
        ram_bytes=ram_bytes(),
        gpu=gpu,
        **cpu_identity(),  # type: ignore[arg-type]
    )


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def torch_build(config_text: str, parallel_text: str) -> dict[str, str | None]:
    """BLAS, oneDNN and parallel backend from torch.__config__.show() and parallel_info() texts."""
    blas: str | None = None
    onednn: str | None = None
    for line in (line.strip(" -\t") for line in config_text.splitlines()):
        if blas is None and ("Math Kernel Library" in line or "OpenBLAS" in line or "BLIS" in line):
            blas = line.split("-Product Build")[0].strip()
        found = re.search(r"(?:MKL-DNN|oneDNN)\s+(v[\w.]+)", line)
        if onednn is None and found:
            onednn = found.group(1)
    if blas is None:
        found = re.search(r"BLAS_INFO=(\w+)", config_text)
        blas = found.group(1) if found else None
    backend = re.search(r"ATen parallel backend:\s*(.+)", parallel_text)
    return {
        "torch_blas": blas,
        "torch_onednn": onednn,
        "torch_parallel_backend": backend.group(1).strip() if backend else None,
    }


def software() -> Software:
    """Versions of everything that shapes the numbers (torch must already be importable)."""
    import torch

    cudnn = torch.backends.cudnn.version() if torch.cuda.is_available() else None
    build = torch_build(torch.__config__.show(), torch.__config__.parallel_info())
    if not torch.backends.mkldnn.is_available():
        build["torch_onednn"] = None
    try:
        capability: str | None = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        capability = None
    return Software(
        python=platform.python_version(),
        torch=torch.__version__,
        torchvision=_version("torchvision"),
        fvcore=_version("fvcore"),
        timm=_version("timm"),
        cuda=torch.version.cuda,
        cudnn=str(cudnn) if cudnn is not None else None,
        platform=platform.platform(),
        torch_cpu_capability=capability,
        **build,
    )


def git_commit() -> str | None:
    """This project's commit, with '+dirty' when tracked files differ from it; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def run_info(command: list[str] | None = None) -> RunInfo:
    words = command if command is not None else ["python", "-m", "generator", *sys.argv[1:]]
    return RunInfo(
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        git_commit=git_commit(),
        command=" ".join(words),
    )
