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
    )


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def software() -> Software:
    """Versions of everything that shapes the numbers (torch must already be importable)."""
    import torch

    cudnn = torch.backends.cudnn.version() if torch.cuda.is_available() else None
    return Software(
        python=platform.python_version(),
        torch=torch.__version__,
        torchvision=_version("torchvision"),
        fvcore=_version("fvcore"),
        timm=_version("timm"),
        cuda=torch.version.cuda,
        cudnn=str(cudnn) if cudnn is not None else None,
        platform=platform.platform(),
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
