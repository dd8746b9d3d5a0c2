#!/usr/bin/env bash
# The GPU records under a deadline, for a borrowed GPU machine without network.
#
# Prepare here (a machine with PyPI), once, in the repository root:
#   benchmarks/gpu_sweep.sh --fetch-wheels     # fills .whl/ (ignored by git)
# Then on the GPU machine, from the repository root, with .whl carried along:
#   OUT=/some/dir benchmarks/gpu_sweep.sh --calibrate            # 2-3 minutes
#   OUT=/some/dir benchmarks/gpu_sweep.sh --deadline 540 [--resume pack.tar.gz] [-- measure arguments]
# The sweep measures the study's networks first, then every other torchvision
# classifier from the cheapest up, at batch 1..64 in fp32 with TF32 off; stops
# measure with SIGINT a minute before the deadline; and keeps
# $OUT/measurements.tar.gz up to date all along (see benchmarks/gpu_sweep.py).
set -euo pipefail
# The deadline counts from here: installing wheels and the import check spend part of it.
export SWEEP_STARTED_AT="${SWEEP_STARTED_AT:-$(date +%s.%N)}"
PY="${PYTHON:-python3}"  # the interpreter that holds torch (python3 on the GPU image)
cd "$(dirname "$0")/.."

# Wheels the GPU image lacks (it has torch, torchvision, timm, tqdm, nvidia-ml-py)
# or has too old: pydantic 2.14 needs typing-extensions>=4.16.
WHEELS="pydantic==2.14.4 pydantic-core==2.50.5 annotated-types typing-inspection typing-extensions>=4.16 iopath yacs termcolor portalocker"

if [ "${1:-}" = "--fetch-wheels" ]; then
  platforms="--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any"
  # shellcheck disable=SC2086
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $platforms \
    -d .whl $WHEELS
  # fvcore ships only as an sdist: build its pure wheel here.
  python3 -m pip wheel --no-deps -w .whl fvcore==0.1.5.post20221221
  ls -l .whl
  exit 0
fi

WHEELS_DIR="${SWEEP_WHEELS_DIR:-.whl}"
if compgen -G "$WHEELS_DIR/*.whl" >/dev/null; then
  if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "$WHEELS_DIR"/*.whl; then
    echo "cannot start the sweep: installing the carried wheels in $WHEELS_DIR failed (see above)" >&2
    exit 2
  fi
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,driver_version,power.limit,memory.total,temperature.gpu --format=csv 2>/dev/null || true
exec "$PY" benchmarks/gpu_sweep.py "$@"
