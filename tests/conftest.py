"""Shared test set-up: slow tests run only when asked, GPU tests only with CUDA."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = os.environ.get("RUN_SLOW") == "1"
    gpu_items = [item for item in items if "gpu" in item.keywords]
    has_cuda = False
    if gpu_items:
        import torch  # only when GPU tests were collected: render-only runs stay torch-free

        has_cuda = torch.cuda.is_available()
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow: set RUN_SLOW=1 (or run the benchmark)"))
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs CUDA"))


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _signal_state() -> tuple[object, ...]:
    """What every later subprocess inherits of Ctrl-C and SIGTERM: dispositions, this thread's mask, and the kernel's
    ignored set (which also sees a SIG_IGN set from C, where Python's signal.getsignal does not look)."""
    handlers = tuple(signal.getsignal(number) for number in _STOP_SIGNALS)
    blocked = frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, [])) & set(_STOP_SIGNALS)
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        ignored_bits = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), 16)
        ignored = frozenset(number for number in _STOP_SIGNALS if ignored_bits >> (number - 1) & 1)
    except (OSError, StopIteration, ValueError):  # not Linux
        ignored = frozenset()
    return handlers, blocked, ignored


@pytest.fixture(autouse=True)
def _signals_left_as_found() -> Iterator[None]:
    # A test (or the code it calls in-process) that leaves SIGINT or SIGTERM ignored, blocked or
    # handled otherwise makes every later subprocess deaf to them: measure would then ignore the
    # sweep's deadline in some unrelated test much later. Fail the test that did it, here.
    before = _signal_state()
    yield
    after = _signal_state()
    if after != before:
        pytest.fail(f"the test changed SIGINT/SIGTERM (handlers, blocked, ignored): {before} -> {after}")
