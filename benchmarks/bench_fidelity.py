"""Does our timing agree with torch.utils.benchmark? (CPU, same models, same process)

For resnet18, resnet50 and alexnet at batch 1 and 8, prints the per-image
median latency from generator.timing (the loop every worker runs, with the
default CPU settings) and from torch.utils.benchmark.Timer.blocked_autorange,
and their ratio (target: within 5%). The two run back to back on the same
model and input, back to back; on a shared machine, drift between the two shows as a ratio away from 1.

    python benchmarks/bench_fidelity.py [--threads N] [--min-run-time SECONDS]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.utils.benchmark as benchmark

from generator import registry, timing
from generator.backends.cpu import DEFAULTS as CPU_DEFAULTS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--min-run-time", type=float, default=2.0)
    parser.add_argument("--models", default="resnet18,resnet50,alexnet")
    parser.add_argument("--batch-sizes", default="1,8")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}; ours: generator.timing, budget {CPU_DEFAULTS.time_budget_s} s; "
          f"reference: blocked_autorange(min_run_time={args.min_run_time})")
    # The reference runs twice, before and after ours: how far it disagrees with
    # itself is this machine's noise floor, below which no agreement can be shown.
    print(f"{'model':10s} {'batch':>5s} {'ours ms/img':>12s} {'timer ms/img':>13s} {'ratio':>7s} "
          f"{'timer again':>12s} {'noise':>6s} {'stop':>12s}")
    worst = 0.0
    worst_noise = 0.0
    for name in args.models.split(","):
        spec = registry.spec_by_name(name)
        model = spec.build().eval()
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            x = torch.randn(batch, 3, spec.input_size_px, spec.input_size_px)
            with torch.inference_mode():
                result = timing.time_forward(
                    timing.perf_counter_timer(lambda: model(x)), timing.TimingSettings(time_budget_s=CPU_DEFAULTS.time_budget_s)
                )
                ours = timing.summarize(result, batch, "perf_counter")
                timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x}, num_threads=args.threads)
                reference = timer.blocked_autorange(min_run_time=args.min_run_time)
                again = timer.blocked_autorange(min_run_time=args.min_run_time)
            ours_ms = ours.median_ms_per_image
            ref_ms = reference.median * 1000 / batch
            again_ms = again.median * 1000 / batch
            ratio = ours_ms / ref_ms
            noise = abs(again_ms / ref_ms - 1)
            worst = max(worst, abs(ratio - 1))
            worst_noise = max(worst_noise, noise)
            print(f"{name:10s} {batch:5d} {ours_ms:12.3f} {ref_ms:13.3f} {ratio:7.3f} {again_ms:12.3f} "
                  f"{noise * 100:5.1f}% {ours.stop_reason:>12s}")
    print(f"largest |ratio - 1|: {worst * 100:.1f}% (target <= 5%)")
    print(f"largest disagreement of the reference with itself: {worst_noise * 100:.1f}% (this machine's noise floor)")
    return 0 if worst <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
