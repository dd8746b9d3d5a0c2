"""Ctrl-C and SIGTERM: how the long-running commands take them back, and hold them off for a moment.

Why ``stoppable``: SIGINT is how a user (Ctrl-C), the sweep's deadline
(benchmarks/gpu_sweep.py) and a waiting Slurm command are stopped cleanly, and
SIGTERM is how a scheduler stops them. Both dispositions and the signal mask
pass from parent to child across fork and exec, so a command can start deaf to
them through no fault of its own:

- a non-interactive shell starts every background job (``cmd &``, as CI scripts
  and nohup'd sweeps do) with SIGINT ignored, and Python installs its
  KeyboardInterrupt handler only when SIGINT is at its default at start-up;
- a parent that held the signals blocked when it started us (as ``held`` does
  for a moment) hands that mask on, and exec keeps it.

The first happened: the test suite, run in the background, made ``measure``
ignore the deadline's SIGINT until the sweep killed it. So these commands set
both signals to raise KeyboardInterrupt, and unblock them, for as long as they
run; their callers' settings come back afterwards.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C: workers stopped, their logs removed, locks released.
    raise KeyboardInterrupt


@contextmanager
def stoppable() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM raise KeyboardInterrupt, however this process was started (main thread only)."""
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    previous_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


@contextmanager
def held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (for steps of milliseconds that must not be cut in two).

    Whatever this thread starts inside inherits the blocked mask: start nothing
    long-lived here that must answer them (see generator.measure._context).
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
