#!/usr/bin/env bash
# Prove the GPU path in one short run on a lent GPU (docs/gpu.md): the
# `gpu`-marked tests (CUDA against CPU, autocast, cuda:N, out-of-memory
# fallback, one Dask worker per GPU) and benchmarks/bench_gpu.py. Two
# steps, like scripts/gpu_train.sh:
#
#   scripts/device_check.sh pack   # here, with the datasets and pip:
#                                  # .device_check/ (~20 MB, git-ignored):
#                                  # DRIVE test photos + wheels of what a
#                                  # bare CUDA image may lack
#   scripts/device_check.sh run    # on the GPU machine, in a copy of the
#                                  # checkout that carries .device_check/
#
# `run` needs python3 with torch (CUDA build), numpy, scikit-image, scipy,
# pillow, tifffile, tqdm and pytest; pooch, platformdirs and Dask come
# from the pack's wheels when missing (or from pip where it can reach an
# index). The package runs from src/ (no build step). Results go to $OUT
# (default runs/device-check): gpu.txt (nvidia-smi, torch), gpu_tests.log,
# gpu_tests.xml, bench_gpu.txt and bench_gpu.json. Under 8 minutes on one
# data-centre GPU: the tests take about 2, the benchmark about 3.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PACK=${DEVICE_PACK:-.device_check}
cmd=${1:-run}
shift || true
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
WHEELS="pooch platformdirs dask distributed locket partd tblib tornado zict"

case "$cmd" in
  pack)
    DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
    rm -rf "$PACK"
    mkdir -p "$PACK/data/DRIVE" "$PACK/wheels"
    cp -r "$DATA/DRIVE/test" "$PACK/data/DRIVE/test"
    "$PY" -m pip download -q --no-deps --only-binary=:all: \
      --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 -d "$PACK/wheels" $WHEELS \
      || echo "device_check.sh: no wheels (offline?); the GPU image must" \
              "have: $WHEELS" >&2
    du -sh "$PACK"
    exit 0 ;;
  run)
    OUT=${OUT:-runs/device-check}
    mkdir -p "$OUT"
    if [ -d "$PACK/data" ] && [ -z "${RETINA_VESSELS_DATA:-}" ]; then
      export RETINA_VESSELS_DATA="$PWD/$PACK/data"
    fi
    if ! "$PY" -c 'import pooch, distributed' 2>/dev/null; then
      SITE=${TMPDIR:-/tmp}/nrv-site
      if ls "$PACK"/wheels/*.whl >/dev/null 2>&1; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile \
          --target "$SITE" "$PACK"/wheels/*.whl
      else
        "$PY" -m pip install -q --target "$SITE" $WHEELS \
          || echo "device_check.sh: could not install $WHEELS" >&2
      fi
      export PYTHONPATH="$PYTHONPATH:$SITE"
    fi
    "$PY" -c 'import torch, numpy, skimage, scipy, PIL, tifffile, pytest' || {
      echo "device_check.sh: python3 lacks a package listed above" >&2
      exit 1
    }
    {
      command -v nvidia-smi >/dev/null && nvidia-smi || echo 'no nvidia-smi'
      "$PY" -c 'import torch; print("torch", torch.__version__, "cuda",
torch.version.cuda, "available", torch.cuda.is_available(),
torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
    } > "$OUT/gpu.txt" 2>&1
    cat "$OUT/gpu.txt"
    status=0
    PYTHONUNBUFFERED=1 timeout 240 "$PY" -m pytest tests/gpu -m gpu -q \
      -p no:cacheprovider -rs --junitxml "$OUT/gpu_tests.xml" 2>&1 \
      | tee "$OUT/gpu_tests.log" || status=1
    PYTHONUNBUFFERED=1 timeout 210 "$PY" benchmarks/bench_gpu.py \
      --json "$OUT/bench_gpu.json" "$@" 2>&1 \
      | tee "$OUT/bench_gpu.txt" || status=1
    echo "device_check.sh: results in $OUT (status $status)"
    exit "$status" ;;
  *)
    echo "usage: scripts/device_check.sh pack|run [bench_gpu options]" >&2
    exit 2 ;;
esac
