#!/usr/bin/env bash
# The GPU records in one command, for a borrowed GPU machine without network.
#
# Prepare here (a machine with PyPI), once, in the repository root:
#   benchmarks/gpu_sweep.sh --fetch-wheels     # fills .whl/ (ignored by git)
# Then on the GPU machine, from the repository root, with .whl carried along:
#   OUT=/some/dir benchmarks/gpu_sweep.sh [extra measure arguments]
# It measures the full zoo (every torchvision classifier plus the study's
# networks) at batch 1..64 in fp32 with TF32 off, prints the sweep's wall time,
# and packs the records into $OUT/measurements.tar.gz. Set SECOND_CONFIG=1 to
# add bf16 + channels_last while time allows (SECOND_CONFIG_DEADLINE_S).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch-wheels" ]; then
  # What the GPU image lacks (it has torch, torchvision, timm, tqdm, nvidia-ml-py),
  # for its Python 3.12. fvcore ships only as an sdist: build its pure wheel here.
  platforms="--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any"
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $platforms \
    -d .whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types typing-inspection iopath yacs termcolor
  python3 -m pip wheel --no-deps -w .whl fvcore==0.1.5.post20221221
  ls -l .whl
  exit 0
fi

: "${OUT:?set OUT to a folder for the packed records}"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
else
  export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,power.limit,memory.total --format=csv || true

records=$(mktemp -d)
start=$(date +%s)
python3 -m generator measure --device cuda --models all paper --batch-sizes 1,2,4,8,16,32,64 \
  --measurements "$records" --no-progress "$@" 2>&1 | tee "$OUT/sweep-fp32.log" || echo "measure exited non-zero (see the log)"
fp32_s=$(( $(date +%s) - start ))
echo "sweep wall time fp32: ${fp32_s} s"

if [ "${SECOND_CONFIG:-0}" = 1 ] && [ "$fp32_s" -lt "${SECOND_CONFIG_DEADLINE_S:-240}" ]; then
  python3 -m generator measure --device cuda --models all paper --batch-sizes 1,2,4,8,16,32,64 \
    --precision bf16 --channels-last --measurements "$records" --no-progress "$@" 2>&1 | tee "$OUT/sweep-bf16.log" || echo "measure exited non-zero (see the log)"
  echo "sweep wall time total: $(( $(date +%s) - start )) s"
fi
tar -C "$records" -czf "$OUT/measurements.tar.gz" .
echo "packed $(find "$records" -name '*.json' | wc -l) records into measurements.tar.gz"
