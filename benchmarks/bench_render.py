"""Render + build time of the site for synthetic record sets (no torch needed).

    python benchmarks/bench_render.py            # 115 models x 3 hardware, then 2x and 4x
    python benchmarks/bench_render.py --sizes 1  # only the 1x set

The target: the 1x set (what a full measurement of the registry on three machines
gives) renders and builds within 30 s on 2 cores. Prints one line per size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fixtures.factory import synthetic_records, write_records  # noqa: E402

from generator.render.site import build_site, render_site  # noqa: E402

MODELS, HARDWARE, TARGET_S = 115, 3, 30.0


def run(scale: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        records = synthetic_records(MODELS * scale, HARDWARE)
        write_records(records, root / "measurements")
        started = time.perf_counter()
        render_site(root / "measurements", REPO / "templates", root / "site", quiet=True)
        rendered = time.perf_counter()
        code = build_site(REPO / "mkdocs.yml", strict=True, docs_dir=root / "site", site_dir=root / "html")
        built = time.perf_counter()
        if code != 0:
            raise SystemExit(f"mkdocs build failed at {scale}x")
        return rendered - started, built - rendered, len(records)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,2,4", help="multiples of 115 models x 3 hardware (default 1,2,4)")
    args = parser.parse_args()
    print(f"render + build, synthetic records; {os.cpu_count()} CPUs visible")
    worst = 0.0
    for scale in (int(part) for part in args.sizes.split(",")):
        render_s, build_s, count = run(scale)
        total = render_s + build_s
        if scale == 1:
            worst = total
        print(f"{scale}x: {MODELS * scale} models x {HARDWARE} hardware = {count} records: "
              f"render {render_s:.1f} s + build {build_s:.1f} s = {total:.1f} s", flush=True)
    if worst > TARGET_S:
        print(f"1x took {worst:.1f} s, over the {TARGET_S:.0f} s target")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
