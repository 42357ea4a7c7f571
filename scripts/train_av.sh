#!/usr/bin/env bash
# Train the default artery/vein model on the RITE training labels (the 20
# DRIVE training photos; the last 2 are held out for validation). Its
# fourth input channel is the vessel probability of a vessel model,
# computed once for every training photo at start-up. Re-running resumes.
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
VESSELS=${2:-default}
OUT=${1:-runs/seqnet-av-rite}
retina-vessels train "$DATA/RITE/training:all" --arch seqnet-av \
  --channels 8,16,32,64 --steps 3000 --batch 8 --patch 256 --lr 5e-3 \
  --val-every 250 --seed 0 --threads 1 --vessel-model "$VESSELS" \
  --out "$OUT" --resume
