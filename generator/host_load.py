"""Other processes' use of the CPUs while a model is timed (Linux /proc), and the worker's scheduling policy.

Why: torch's OpenMP threads meet at a barrier after every operator. When another
process, even one at nice 19, takes a core for a time slice, the whole team waits
for the one thread it preempted. A model made of many small operators then comes
out many times slower (mobilenet_v2 at batch 1 was measured 90x slower on a busy
2-core VM than under SCHED_FIFO), while a big-GEMM model barely moves. The time
alone cannot tell a contaminated figure from a real one, so each round records
how busy the rest of the machine was.

What is measured, over the timed window only (not the warm-up): the CPU time of
the CPUs this process may run on (its affinity set: all CPUs by default, its own
CPU set when it was given one), from /proc/stat's per-CPU lines, counting
``user + nice + system + irq + softirq + steal`` (guest time is already inside
user and nice; idle and iowait are idle; steal is a hypervisor running something
else on our virtual CPU, which delays us just as another process does), minus
this process's own CPU time over the window (``time.process_time``: every
thread), divided by wall time x number of those CPUs. A fraction 0..1 of the
CPUs' capacity.

/proc/stat counts in clock ticks (USER_HZ, 10 ms), so the figure is good to
about 1 / (window x USER_HZ): a window shorter than ``MIN_WINDOW_S`` is not
measured (None) rather than reported with an error larger than the threshold
the pages flag. Where /proc is not readable (macOS, some containers) it is None,
"not measured", never 0.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from generator.schema import SchedulingPolicy

_PROC_STAT = Path("/proc/stat")
# Columns of a /proc/stat cpu line counted as busy (0-based after the name):
# user, nice, system, [idle, iowait skipped], irq, softirq, steal.
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)
# At 100 ticks per second a 0.5 s window reads each CPU's busy time to within 2 % of it.
MIN_WINDOW_S = 0.5
# A 1-minute load average at or above this says something else has been running:
# any runnable process can stall a barrier of the measuring threads.
LOAD_WARNING = 0.5

# os.sched_getscheduler's numbers; SCHED_DEADLINE (6) has no constant in the os module.
_POLICY_CONSTANTS: tuple[SchedulingPolicy, ...] = ("SCHED_OTHER", "SCHED_BATCH", "SCHED_IDLE", "SCHED_FIFO", "SCHED_RR")
_POLICIES: dict[int, SchedulingPolicy] = {
    **{getattr(os, name): name for name in _POLICY_CONSTANTS if hasattr(os, name)},
    6: "SCHED_DEADLINE",
}
_RESET_ON_FORK = 0x40000000  # may be or'ed into the policy; not part of it
REAL_TIME_POLICIES = ("SCHED_FIFO", "SCHED_RR", "SCHED_DEADLINE")


@dataclass(frozen=True)
class HostLoad:
    """What one timed window saw of the rest of the machine (None: not measured)."""

    other_processes_cpu_share: float | None
    scheduling_policy: SchedulingPolicy | None


def scheduling_policy() -> SchedulingPolicy | None:
    """This process's Linux scheduling policy, e.g. 'SCHED_OTHER' or 'SCHED_FIFO'; None where not readable."""
    try:
        policy = os.sched_getscheduler(0) & ~_RESET_ON_FORK
    except (AttributeError, OSError):  # not Linux
        return None
    return _POLICIES.get(policy)


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity, where the platform tells it)."""
    cpus = _cpus()
    return len(cpus) if cpus else os.cpu_count() or 1


def _cpus() -> frozenset[int] | None:
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _clock_ticks_per_s() -> int | None:
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return None
    return ticks if ticks > 0 else None


def busy_seconds(cpus: frozenset[int]) -> tuple[float, int] | None:
    """Busy CPU seconds so far of those of ``cpus`` that /proc/stat lists, and how many; None: unreadable."""
    ticks = _clock_ticks_per_s()
    try:
        text = _PROC_STAT.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    if ticks is None:
        return None
    busy = 0
    found = 0
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        # 'cpu' alone is the sum over all CPUs; 'cpuN' is one CPU.
        if not name.startswith("cpu") or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        try:
            values = [int(value) for value in rest.split()]
        except ValueError:
            return None
        busy += sum(values[column] for column in _BUSY_COLUMNS if column < len(values))
        found += 1
    return (busy / ticks, found) if found else None


class HostLoadProbe:
    """``start()`` right before a timed window, ``stop()`` right after it: what the rest of the machine did."""

    def __init__(self) -> None:
        self._cpus = _cpus()
        self._start: tuple[float, float, float, int] | None = None  # wall, own CPU, busy seconds, CPUs

    def start(self) -> None:
        busy = busy_seconds(self._cpus) if self._cpus else None
        self._start = None if busy is None else (time.perf_counter(), time.process_time(), busy[0], busy[1])

    def stop(self) -> HostLoad:
        policy = scheduling_policy()
        begun, self._start = self._start, None
        if begun is None or not self._cpus:
            return HostLoad(None, policy)
        own_end, wall_end = time.process_time(), time.perf_counter()
        busy = busy_seconds(self._cpus)
        wall_start, own_start, busy_start, cpus = begun
        wall = wall_end - wall_start
        if busy is None or busy[1] != cpus or wall < MIN_WINDOW_S:
            return HostLoad(None, policy)
        others = (busy[0] - busy_start) - (own_end - own_start)
        # Two accountings (ticks, and this process's exact clock) differ by a tick
        # or so: a quiet machine can come out a hair below 0. Three decimals are
        # all the tick counters resolve.
        share = min(1.0, max(0.0, others / (wall * cpus)))
        return HostLoad(round(share, 3), policy)


def load_average_warning() -> str | None:
    """One line for stderr when the 1-minute load average says other work is running; None when quiet or unknown."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    if load < LOAD_WARNING:
        return None
    cpus = _cpus()
    where = f" on {len(cpus)} CPUs" if cpus else ""
    return (
        f"warning: the 1-minute load average is {load:.2f}{where}: other work is running. Its time slices stall "
        "torch's threads and can make small-operator models many times slower (each record says how much of the "
        "CPUs other processes used). Stop the other jobs, or run measure under 'chrt -f 1' (as root) or on a "
        "CPU set of its own"
    )
