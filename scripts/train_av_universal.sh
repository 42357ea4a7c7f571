#!/usr/bin/env bash
# Train the artery/vein models of #21 (re-running resumes each run):
#   runs/seqnet-av-universal  the shipped A/V model: RITE training + HRF-AV
#       training, local input normalisation, camera augmentation (colour
#       response, resolution, JPEG); fine-tuned from seqnet-av-rite;
#       88 minutes of wall clock (the learning-rate schedule follows it);
#   runs/seqnet-av-hrf        HRF-AV training only, from scratch, 75
#       minutes: the leave-one-camera-out model scored on RITE test.
# The last 2 photos of each folder are held out for validation (RITE 39,
# 40; HRF-AV 08_g, 08_h). The vessel input is, as for seqnet-av-rite, the
# maps of the early checkpoint wnet-universal-step750. Both runs ran side
# by side on 1 thread each of a 2-core CPU shared with other work.
#   runs/seqnet-av-universal2  seqnet-av-universal-v2 (default before v3):
#       the same data and options, fine-tuned further from
#       seqnet-av-universal's best checkpoint with a new cosine schedule
#       (lr 1e-3, 115 minutes planned; stopped at 107 minutes, step 3340,
#       the learning rate at 3e-5; best validation step 2500).
#   runs/seqnet-av-universal3  the shipped default, seqnet-av-universal-v3:
#       fine-tuned from seqnet-av-universal2's best checkpoint on larger
#       crops (4 of 384 px instead of 8 of 256 px: more context around
#       each vessel for the same pixels per step), lr 5e-4, 140 minutes
#       planned (see docs/weights.md for where it was stopped).
#   runs/seqnet-av-universal4  seqnet-av-universal-v4 (downloadable, not
#       the default: see docs/weights.md): fine-tuned from
#       seqnet-av-universal3's best checkpoint on 2 crops of 512 px,
#       lr 3e-4, 120 minutes planned (stopped at 97).
# Usage: scripts/train_av_universal.sh [RUNS_DIR]
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=${1:-runs}
V=weights/wnet-universal-step750.pt
COMMON=(--input local --batch 8 --patch 256 --val-every 250 --threads 1
        --vessel-model "$V" --cache "$OUT/cache" --resume)
retina-vessels train "$DATA/RITE/training:all" "$DATA/HRF-AV/training" \
  --init weights/seqnet-av-rite.pt --minutes 88 --lr 2e-3 --seed 2 \
  "${COMMON[@]}" --out "$OUT/seqnet-av-universal"
retina-vessels train "$DATA/HRF-AV/training" --arch seqnet-av \
  --channels 8,16,32,64 --minutes 75 --lr 5e-3 --seed 3 \
  "${COMMON[@]}" --out "$OUT/seqnet-av-hrf"
retina-vessels train "$DATA/RITE/training:all" "$DATA/HRF-AV/training" \
  --init "$OUT/seqnet-av-universal/best.pt" --minutes 115 --lr 1e-3 --seed 4 \
  "${COMMON[@]}" --out "$OUT/seqnet-av-universal2"
retina-vessels train "$DATA/RITE/training:all" "$DATA/HRF-AV/training" \
  --init "$OUT/seqnet-av-universal2/best.pt" --minutes 140 --lr 5e-4 --seed 5 \
  --input local --batch 4 --patch 384 --val-every 250 --threads 1 \
  --vessel-model "$V" --cache "$OUT/cache" --resume \
  --out "$OUT/seqnet-av-universal3"
retina-vessels train "$DATA/RITE/training:all" "$DATA/HRF-AV/training" \
  --init "$OUT/seqnet-av-universal3/best.pt" --minutes 120 --lr 3e-4 --seed 6 \
  --input local --batch 2 --patch 512 --val-every 250 --threads 1 \
  --vessel-model "$V" --cache "$OUT/cache" --resume \
  --out "$OUT/seqnet-av-universal4"
