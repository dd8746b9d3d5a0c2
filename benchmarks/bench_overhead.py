"""How much of a measuring run is spent measuring? (wall - time inside timed windows) / wall.

Runs ``measure`` on the given line-up (default: the paper preset, the CPU
defaults) into a temporary folder and prints, per model and in total, the wall
time and the time spent inside timed loops and power windows. Everything else
(worker start-up, imports, building, counting, warm-up) is overhead; target
<= 20%.

    python benchmarks/bench_overhead.py [--models paper] [--batch-sizes 1,2,4,8]
    python benchmarks/bench_overhead.py --device cuda --models all   # the GPU sweep (80 + 3 models, 1-64)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from generator import backends, registry
from generator.host_load import usable_cpus
from generator.measure import Runner, RunOptions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="paper")
    parser.add_argument("--device", choices=backends.names(), default="cpu")
    parser.add_argument("--batch-sizes", default=None, help="default: the device's default")
    parser.add_argument("--time-budget", type=float, default=None, help="default: the device's default")
    parser.add_argument("--rounds", type=int, default=None, help="default: the device's default")
    args = parser.parse_args()
    defaults = backends.resolve(args.device).defaults
    batch_sizes = args.batch_sizes or ",".join(str(b) for b in defaults.batch_sizes)
    specs = registry.resolve(args.models.split(","))
    options = RunOptions(
        device=args.device, batch_sizes=[int(b) for b in batch_sizes.split(",")], precision="fp32",
        channels_last=False, compile_model=False, threads=usable_cpus(),
        time_budget_s=args.time_budget or defaults.time_budget_s,
        power_window_s=1.0, power_batch_sizes=None, force=True, prefetch=defaults.prefetch,
        rounds=args.rounds or defaults.rounds,
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        runner = Runner(Path(folder), options, show_progress=False)
        outcomes = runner.run_all(specs)
        wall = time.perf_counter() - started
    timed = sum(o.timed_s for o in outcomes)
    print(f"  {'model':20s} {'status':6s} {'wall':>6s} {'timed':>6s} {'warm-up':>7s} {'prepare':>7s}  (s)")
    for o in outcomes:
        print(f"  {o.name:20s} {o.status:6s} {o.wall_s:6.1f} {o.timed_s:6.1f} {o.warmup_s:7.1f} {o.prepare_s:7.1f}")
    print(f"  outside models (start-up, environment): {wall - sum(o.wall_s for o in outcomes):.0f} s; "
          f"warm-up {sum(o.warmup_s for o in outcomes):.0f} s; "
          f"prepare (fork, build, count) {sum(o.prepare_s for o in outcomes):.0f} s")
    print(f"models {len(outcomes)}, rounds {options.rounds}, wall {wall:.0f} s, inside timed windows {timed:.0f} s, "
          f"overhead {(wall - timed) / wall * 100:.0f}% (target <= 20%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
