"""Resident memory of the measuring process (Linux /proc), for the study's "system memory" on CPU.

Each model is measured in its own process, so the process's peak resident set
(VmHWM) is the model's. Writing '5' to /proc/self/clear_refs resets VmHWM to
the current RSS, which lets each batch size have its own peak.
"""

from __future__ import annotations

import re
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        text = _STATUS.read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+)\s+kB", text, flags=re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def rss_bytes() -> int | None:
    """Current resident set size; None where /proc is not there."""
    return _status_kib("VmRSS")


def peak_rss_bytes() -> int | None:
    """Peak resident set size since the process started or since the last reset_peak_rss()."""
    return _status_kib("VmHWM")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def virtual_size_bytes() -> int | None:
    """Address space in use (VmSize), for the out-of-memory test fault."""
    return _status_kib("VmSize")
