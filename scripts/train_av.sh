#!/usr/bin/env bash
# Train the default artery/vein model on the RITE training labels (the 20
# DRIVE training photos; the last 2 are held out for validation). Its
# fourth input channel is the vessel probability of a vessel model (by
# default the early W-Net checkpoint `wnet-universal-step750` of the
# registry, whose imperfect maps resemble those the stage sees at
# inference), computed once for every training photo at start-up.
# Two runs: 3000 steps from scratch, then 5000 steps fine-tuning from the
# first run's best weights. Re-running resumes either stage.
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=${1:-runs/seqnet-av-rite}
VESSELS=${2:-weights/wnet-universal-step750.pt}
retina-vessels train "$DATA/RITE/training:all" --arch seqnet-av \
  --channels 8,16,32,64 --steps 3000 --batch 8 --patch 256 --lr 5e-3 \
  --val-every 250 --seed 0 --threads 1 --vessel-model "$VESSELS" \
  --out "$OUT/1-scratch" --resume
retina-vessels train "$DATA/RITE/training:all" \
  --init "$OUT/1-scratch/best.pt" --steps 5000 --batch 8 --patch 256 \
  --lr 2e-3 --val-every 250 --seed 1 --threads 1 --vessel-model "$VESSELS" \
  --out "$OUT/2-fine-tune" --resume
