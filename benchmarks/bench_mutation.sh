#!/usr/bin/env bash
# Mutation score of the modules that compute numbers (mutmut, configured in pyproject.toml [tool.mutmut]).
#
#   benchmarks/bench_mutation.sh [MODULE ...]      # default: timing rounds render.stats render.data counting
#   SAMPLE=300 benchmarks/bench_mutation.sh render.charts render.findings
#
# MODULE is a dotted name under generator/ (timing, rounds, render.stats, render.data,
# render.findings, render.charts, counting: pyproject's only_mutate). Each run starts from a clean
# mutants/ folder (so the score is of the tests as they are now) and prints, per module: killed
# (timeouts count as killed) / total, and the names of the survivors; `mutmut show NAME` prints a
# survivor's diff.
#
# SAMPLE=N scores a random sample of N mutants per module (fixed seed SEED, default 20261129; the
# names are written to mutants/sample.txt) instead of all of them: render/charts.py has about 4,200
# mutants and render/findings.py about 1,900, hours of tests each on two cores; a sample of 300
# gives the score to within about +-5 points (95 %), and the same sample before and after a change
# compares the two.
#
# Slow: a mutant runs the selected tests that reach its function, under -x. On this loaded 2-core
# machine timing + rounds (417 mutants) took 550 s; render.data (574) and counting (284) take
# about an hour together (their tests render fixture runs and trace models).
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's venv (make install) unless MUTMUT names another mutmut (pip install -e '.[dev]').
MUTMUT="${MUTMUT:-.venv/bin/mutmut}"
[ -x "$MUTMUT" ] || MUTMUT="$(command -v mutmut || true)"
[ -n "$MUTMUT" ] || { echo "mutmut not found: pip install -e '.[dev]', or set MUTMUT=/path/to/mutmut" >&2; exit 2; }
PYTHON="${PYTHON:-$(dirname "$MUTMUT")/python}"
CHILDREN="${MUTMUT_CHILDREN:-2}"
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(timing rounds render.stats render.data counting)
patterns=()
for module in "${modules[@]}"; do patterns+=("generator.${module}.*"); done
# mutmut must import the mutated copy, never the checkout: no PYTHONPATH pointing at it.
unset PYTHONPATH
rm -rf mutants
start=$(date +%s)
if [ -n "${SAMPLE:-}" ]; then
    # A first run with a name that matches nothing generates every mutant and maps tests to functions.
    "$MUTMUT" run --max-children "$CHILDREN" generator.no_such_module.x_none__mutmut_1 >/dev/null 2>&1 || true
    "$PYTHON" - "$SAMPLE" "${SEED:-20261129}" "${modules[@]}" > mutants/sample.txt <<'EOF'
import json
import random
import sys
from pathlib import Path

size, seed, modules = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
for module in modules:
    meta = Path("mutants", "generator", *module.split(".")).with_suffix(".py.meta")
    names = sorted(json.loads(meta.read_text())["exit_code_by_key"])
    print("\n".join(sorted(random.Random(seed).sample(names, min(size, len(names))))))
EOF
    mapfile -t patterns < mutants/sample.txt
fi
"$MUTMUT" run --max-children "$CHILDREN" "${patterns[@]}" >/dev/null 2>&1 || true
echo "mutmut $("$MUTMUT" --version 2>/dev/null | awk '{print $NF}'), $(( $(date +%s) - start )) s${SAMPLE:+, a sample of $SAMPLE mutants per module (seed ${SEED:-20261129})}"
"$MUTMUT" results --all true 2>/dev/null | "$PYTHON" -c '
import sys
from collections import defaultdict
modules = sys.argv[1:]
counts = defaultdict(lambda: defaultdict(int))
survivors = defaultdict(list)
for line in sys.stdin:
    name, _, status = line.strip().rpartition(": ")
    module = next((m for m in modules if name.startswith("generator." + m + ".x")), None)
    if module is None:
        continue
    counts[module][status] += 1
    if status in ("survived", "no tests", "suspicious"):
        survivors[module].append(f"{name} ({status})")
for module in modules:
    c = counts[module]
    total = sum(c.values()) - c["not checked"] - c["skipped"]
    killed = c["killed"] + c["timeout"] + c["caught by type check"]
    score = f"{100 * killed / total:.1f}%" if total else "n/a"
    print(f"generator.{module}: {killed}/{total} killed ({score}); " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    for s in survivors[module]:
        print("   ", s)
' "${modules[@]}"
