#!/usr/bin/env bash
# Reproduce every figure in docs/results.md: evaluate the default models on
# the test splits (inside the FOV, first observer) with the evaluate
# command, then build the tables and pictures from the JSON reports.
# Usage: scripts/make_results.sh   (takes a few minutes on a 2-core CPU)
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=docs/results
mkdir -p "$OUT"
# float32 on every machine: the figures do not depend on whether this
# CPU has native bfloat16 (what --precision auto would use there).
ev() { retina-vessels evaluate "$@" --device cpu --precision fp32; }
ev "$DATA/DRIVE/test" --best-threshold --json "$OUT/drive.json"
ev "$DATA/DRIVE/test" --vessel-views 1 --json "$OUT/drive_1view.json"
ev "$DATA/DRIVE/test" --tta --json "$OUT/drive_tta.json"
# The previous default (global input normalisation, one view), for comparison.
ev "$DATA/DRIVE/test" --model weights/wnet-universal.pt --vessel-views 1 \
  --json "$OUT/drive_global.json"
ev "$DATA/CHASE_DB1" --split test --best-threshold --json "$OUT/chase.json"
ev "$DATA/STARE" --split test --best-threshold --json "$OUT/stare.json"
ev "$DATA/RITE/test" --av --json "$OUT/rite_av.json"
ev "$DATA/RITE/test" --av --tta --json "$OUT/rite_av_tta.json"
ev "$DATA/RITE/test" --av --av-vote none --json "$OUT/rite_av_raw.json"
ev "$DATA/RITE/test" --av --av-vote segment --json "$OUT/rite_av_segment.json"
ev "$DATA/RITE/test" --av --av-views 1 --json "$OUT/rite_av_1view.json"
# The same in bfloat16, the arithmetic of --precision auto on CPUs with
# native bfloat16 (and on GPUs): the figures it changes, side by side.
retina-vessels evaluate "$DATA/DRIVE/test" --device cpu --precision bf16 \
  --json "$OUT/drive_bf16.json"
retina-vessels evaluate "$DATA/RITE/test" --av --device cpu --precision bf16 \
  --json "$OUT/rite_av_bf16.json"
# Seed architectures (DRIVE-only, reduced budget; weights/ in the repo).
for m in unet iternet serr-unet; do
  ev "$DATA/DRIVE/test" --model "weights/$m-drive.pt" --json "$OUT/${m}_drive.json"
done
bash scripts/av_generalisation.sh
python scripts/make_figures.py
python scripts/results_table.py > "$OUT/tables.md"
