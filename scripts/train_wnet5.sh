#!/usr/bin/env bash
# Experiment (not adopted: lower validation AUC at this budget, see
# docs/results.md): the universal W-Net with a fifth level
# (widths 8-16-32-64-128). The extra level runs at 1/16 resolution, so it
# adds context (optic disc, lesions) and parameters (984k) at almost no
# inference cost (forward pass on a DRIVE photo, 2 CPU threads: 0.116 s
# against 0.119 s for the 4-level default). Same data and recipe as
# scripts/train_default.sh. Re-running resumes.
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=${1:-runs/wnet5-universal}
retina-vessels train "$DATA/DRIVE:train" "$DATA/CHASE_DB1:train" \
  "$DATA/STARE:train" --arch wnet --channels 8,16,32,64,128 --steps 4000 \
  --batch 8 --patch 256 --lr 5e-3 --val-every 250 --seed 0 --threads 2 \
  --out "$OUT" --resume
