"""What does measuring through Slurm cost? Local run vs ``--executor slurm`` on a one-node cluster.

Starts the one-node test cluster (root, Debian's slurm-wlm and munge; see
tests/slurm_cluster.py), then measures the same models with the same options
locally and as a Slurm job array, in alternating rounds (local, slurm, local,
slurm, ...), each into a fresh folder. Prints per round: the local wall time,
the Slurm command's wall time and its time from submit to the last record, and
the per-job overhead ((slurm - local) / jobs, with one job at a time so the two
do the same work in sequence), then the medians.

    python benchmarks/bench_slurm.py [--models quick] [--rounds 2] [--parallelism 1]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from slurm_cluster import start_cluster  # noqa: E402 - the test helper, found through the path above

OPTIONS = ["--device", "cpu", "--batch-sizes", "1", "--time-budget", "0.1", "--power-window", "0.05",
           "--threads", "1", "--no-progress"]


def _measure(env: dict[str, str], out: Path, models: str, extra: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "generator", "measure", "--models", models, "--out", str(out),
                           *OPTIONS, *extra], env=env, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"measure failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="quick")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=1, help="Slurm jobs at once (1: same work as local)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as scratch:
        root = Path(scratch)
        cluster = start_cluster(root / "cluster")
        env = {**cluster.env(), "PYTHONPATH": str(REPO)}
        rows: list[tuple[float, float, float, int]] = []
        try:
            for index in range(args.rounds):
                local, _ = _measure(env, root / f"local-{index}", args.models, [])
                slurm, said = _measure(env, root / f"slurm-{index}", args.models,
                                       ["--executor", "slurm", "--slurm-parallelism", str(args.parallelism)])
                found = re.search(r"(\d+) records arrived, .* (\d+) s from submit to the last job", said)
                if found is None:
                    raise SystemExit(f"no summary in:\n{said[-2000:]}")
                jobs, submit_to_last = int(found.group(1)), float(found.group(2))
                rows.append((local, slurm, submit_to_last, jobs))
                print(f"round {index + 1}: local {local:.1f} s; slurm {slurm:.1f} s for the command, "
                      f"{submit_to_last:.0f} s from submit to the last record ({jobs} jobs); "
                      f"overhead {(slurm - local) / jobs:.1f} s per job", flush=True)
        finally:
            cluster.stop()
    print(f"median over {len(rows)} rounds ({os.cpu_count()} CPUs, models {args.models!r}, "
          f"{args.parallelism} job(s) at once): local {statistics.median(r[0] for r in rows):.1f} s, "
          f"slurm {statistics.median(r[1] for r in rows):.1f} s, submit to last record "
          f"{statistics.median(r[2] for r in rows):.0f} s, overhead per job "
          f"{statistics.median((r[1] - r[0]) / r[3] for r in rows):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
