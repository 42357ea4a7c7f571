#!/usr/bin/env bash
# Train the default vessel model (universal: DRIVE + CHASE_DB1 + STARE
# training splits). Re-running the same command resumes from the last
# checkpoint in the output folder.
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=${1:-runs/wnet-universal}
retina-vessels train "$DATA/DRIVE:train" "$DATA/CHASE_DB1:train" \
  "$DATA/STARE:train" --arch wnet --channels 8,16,32,64 --steps 4000 \
  --batch 8 --patch 256 --lr 5e-3 --val-every 250 --seed 0 --threads 2 \
  --out "$OUT" --resume
