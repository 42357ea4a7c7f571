#!/usr/bin/env bash
# Fine-tune the shipped A/V default (seqnet-av-universal-v3) with the
# colour/illumination augmentation of #28 (`--augment colour`, see
# src/napari_retina_vessels/training/colour.py): on top of the camera
# augmentation of v3, crops get yellow-green and grey casts, haze, low
# contrast, strong gamma and 8-bit sensor noise, and the vessel map fed
# to the A/V stage is sometimes weakened as a faint photo's would be.
# Data: RITE training (20 photos) + HRF-AV training (24 photos); the last
# 2 photos of each folder are held out for validation (RITE 39, 40;
# HRF-AV 08_g, 08_h). No test photo is used. The vessel input is, as for
# v3, the maps of wnet-universal-step750. Same crops as v3 (4 of 384 px),
# lr 5e-4 with a 95-minute cosine schedule on 1 thread; re-running the
# script resumes the run from its checkpoint.
# Usage: scripts/train_av_colour.sh [RUNS_DIR]
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=${1:-runs}
RV=${RETINA_VESSELS:-retina-vessels}
nice -n 5 "$RV" train "$DATA/RITE/training:all" "$DATA/HRF-AV/training" \
  --init seqnet-av-universal-v3 --augment colour --input local \
  --minutes 95 --lr 5e-4 --seed 8 --batch 4 --patch 384 \
  --val-every 250 --threads 1 \
  --vessel-model weights/wnet-universal-step750.pt \
  --cache "$OUT/cache" --resume --out "$OUT/seqnet-av-colour"
