#!/usr/bin/env bash
# Train the big vessel models on a lent GPU in about 10 minutes of device
# time, then score them on the test splits (docs/training.md, "On a lent
# GPU"). Two steps:
#
#   scripts/gpu_train.sh pack      # here, with the datasets: writes
#                                  # .gpu_data/ (~45 MB, git-ignored)
#   scripts/gpu_train.sh run       # on the GPU machine, in a copy of the
#                                  # checkout that carries .gpu_data/
#
# `run` needs python3 with torch, numpy, scikit-image, scipy, pillow,
# tifffile and tqdm (a CUDA image has them); pooch and platformdirs come
# as wheels in the pack when missing. The package runs from src/ (no
# build step). Results go to $OUT (default runs/gpu-out): one weights
# file per model, summary.json, logs.tar.gz and gpu_train.log, at most 8
# files. Extra arguments go to scripts/gpu_train.py (e.g. --minutes 8,
# --jobs wnet-wide iternet, --smoke for the CPU proof).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PACK=${GPU_PACK:-.gpu_data}
cmd=${1:-run}
shift || true
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
case "$cmd" in
  pack)
    exec "$PY" scripts/gpu_train.py pack --pack "$PACK" "$@" ;;
  run)
    OUT=${OUT:-runs/gpu-out}
    mkdir -p "$OUT"
    if ! "$PY" -c 'import pooch' 2>/dev/null; then
      if ls "$PACK"/wheels/*.whl >/dev/null 2>&1; then
        SITE=${TMPDIR:-/tmp}/nrv-site
        "$PY" -m pip install -q --no-index --no-deps --no-compile \
          --target "$SITE" "$PACK"/wheels/*.whl
        export PYTHONPATH="$PYTHONPATH:$SITE"
      else
        echo "gpu_train.sh: pooch is missing and $PACK/wheels has no" \
             "wheels: run 'scripts/gpu_train.sh pack' where pip works" >&2
        exit 1
      fi
    fi
    "$PY" -c 'import torch, numpy, skimage, scipy, PIL, tifffile, tqdm' || {
      echo "gpu_train.sh: python3 lacks a package listed above" >&2
      exit 1
    }
    command -v nvidia-smi >/dev/null && nvidia-smi -L || true
    PYTHONUNBUFFERED=1 "$PY" scripts/gpu_train.py run --pack "$PACK" \
      --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_train.log"
    exit "${PIPESTATUS[0]}" ;;
  *)
    echo "usage: scripts/gpu_train.sh pack|run [options]" >&2
    exit 2 ;;
esac
