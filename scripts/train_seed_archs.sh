#!/usr/bin/env bash
# Train the seed architectures of the literature on DRIVE's training split
# (the per-dataset protocol of their papers) at a reduced budget. Each run
# resumes when re-run. On a GPU machine raise --base/--steps towards the
# published sizes (U-Net base 32-64, IterNet base 32, SERR-U-Net base 32).
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
STEPS=${STEPS:-600}
for arch in unet iternet serr-unet; do
  retina-vessels train "$DATA/DRIVE:train" --arch "$arch" --base "${BASE:-8}" \
    --steps "$STEPS" --batch 8 --patch 192 --lr 3e-3 --val-every 200 --threads 2 \
    --seed 0 --out "runs/$arch-drive" --resume
done
