"""How much of a measuring run is spent measuring? (wall - time inside timed windows) / wall.

Runs ``measure`` on the given line-up (default: the paper preset, the CPU
defaults) into a temporary folder and prints, per model and in total, the wall
time and the time spent inside timed loops and power windows. Everything else
(worker start-up, imports, building, counting, warm-up) is overhead; target
<= 20%.

    python benchmarks/bench_overhead.py [--models paper] [--batch-sizes 1,2,4,8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from generator import registry
from generator.measure import CPU_BATCH_SIZES, CPU_TIME_BUDGET_S, Runner, RunOptions, default_threads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="paper")
    parser.add_argument("--batch-sizes", default=",".join(str(b) for b in CPU_BATCH_SIZES))
    parser.add_argument("--time-budget", type=float, default=CPU_TIME_BUDGET_S)
    args = parser.parse_args()
    specs = registry.resolve(args.models.split(","))
    options = RunOptions(
        device="cpu", batch_sizes=[int(b) for b in args.batch_sizes.split(",")], precision="fp32",
        channels_last=False, compile_model=False, threads=default_threads(), time_budget_s=args.time_budget,
        power_window_s=1.0, power_batch_sizes=None, force=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        runner = Runner(Path(folder), options, show_progress=False)
        outcomes = runner.run_all(specs)
        wall = time.perf_counter() - started
    timed = sum(o.timed_s for o in outcomes)
    for outcome in outcomes:
        print(f"  {outcome.name:20s} {outcome.status:6s} timed {outcome.timed_s:6.1f} s")
    print(f"models {len(outcomes)}, wall {wall:.0f} s, inside timed windows {timed:.0f} s, "
          f"overhead {(wall - timed) / wall * 100:.0f}% (target <= 20%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
