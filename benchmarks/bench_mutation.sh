#!/usr/bin/env bash
# Mutation score of the modules that compute numbers (mutmut, configured in pyproject.toml [tool.mutmut]).
#
#   benchmarks/bench_mutation.sh [MODULE ...]      # default: timing rounds render.stats render.data
#
# MODULE is a dotted name under generator/ (timing, rounds, render.stats, render.data,
# render.charts, render.findings, counting). The mutants of generator/timing.py, rounds.py,
# render/stats.py and render/data.py are generated (pyproject's only_mutate); to score charts,
# findings or counting add them there too. Each run starts from a clean mutants/ folder (so the
# score is of the tests as they are now) and prints, per module: killed (timeouts count as
# killed) / total, and the names of the survivors; `mutmut show NAME` prints a survivor's diff.
# Slow: about one mutant per second on 2 cores. timing + rounds (417 mutants) took 550 s; render.stats has
# 331 and render.data about 520 (its tests build fixture records): allow an hour for the default four.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's venv (make install) unless MUTMUT names another mutmut (pip install -e '.[dev]').
MUTMUT="${MUTMUT:-.venv/bin/mutmut}"
[ -x "$MUTMUT" ] || MUTMUT="$(command -v mutmut || true)"
[ -n "$MUTMUT" ] || { echo "mutmut not found: pip install -e '.[dev]', or set MUTMUT=/path/to/mutmut" >&2; exit 2; }
CHILDREN="${MUTMUT_CHILDREN:-2}"
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(timing rounds render.stats render.data)
patterns=()
for module in "${modules[@]}"; do patterns+=("generator.${module}.*"); done
# mutmut must import the mutated copy, never the checkout: no PYTHONPATH pointing at it.
unset PYTHONPATH
rm -rf mutants
start=$(date +%s)
"$MUTMUT" run --max-children "$CHILDREN" "${patterns[@]}" >/dev/null 2>&1 || true
echo "mutmut $("$MUTMUT" --version 2>/dev/null | awk '{print $NF}'), $(( $(date +%s) - start )) s"
"$MUTMUT" results --all true 2>/dev/null | python3 -c '
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
