#!/usr/bin/env bash
# Train the default vessel model, wnet-universal-local (universal: DRIVE +
# CHASE_DB1 + STARE training splits), in two runs. Re-running the same
# command resumes from the last checkpoint in each output folder.
# Usage: scripts/train_default.sh [RUNS_DIR]   (default: runs; the runs go
# to RUNS_DIR/wnet-universal and RUNS_DIR/wnet-universal-local)
#   1. wnet-universal: W-Net 8-16-32-64 from scratch, global input
#      standardisation, 4000 steps (the previous default);
#   2. wnet-universal-local: fine-tuned from run 1 with the local input
#      normalisation (--input local), 7000 steps, lr 3e-3.
# By default run 2 starts from weights/wnet-universal.pt (the published
# result of run 1, which took 60 CPU minutes); SKIP_RUN1=0 trains run 1
# first and starts from its best.pt; INIT=FILE starts from FILE.
# The logged run 2 took 102 minutes on 1 thread of a 2-core CPU.
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=${1:-runs}
SETS=("$DATA/DRIVE:train" "$DATA/CHASE_DB1:train" "$DATA/STARE:train")
if [[ -z "${INIT:-}" ]]; then
  INIT=weights/wnet-universal.pt
  if [[ "${SKIP_RUN1:-1}" == 0 ]]; then
    retina-vessels train "${SETS[@]}" --arch wnet --channels 8,16,32,64 \
      --steps 4000 --batch 8 --patch 256 --lr 5e-3 --val-every 250 \
      --seed 0 --threads 2 --out "$OUT/wnet-universal" --resume
    INIT="$OUT/wnet-universal/best.pt"
  fi
fi
retina-vessels train "${SETS[@]}" --init "$INIT" --input local \
  --steps 7000 --batch 8 --patch 256 --lr 3e-3 --val-every 250 --seed 1 \
  --threads 1 --out "$OUT/wnet-universal-local" --resume
