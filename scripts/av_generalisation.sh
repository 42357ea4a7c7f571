#!/usr/bin/env bash
# Artery/vein across cameras (#21): every figure of the "Artery/vein on
# cameras it never saw" section of docs/results.md. Test splits only,
# labelled vessel pixels only, first observer; the vessel stage is the
# default vessel model in every row.
#   rite_av.json           shipped A/V model on RITE test (DRIVE camera)
#   hrf_av_val.json        shipped A/V model on the 2 HRF-AV photos held
#                          out of its training (08_g, 08_h)
#   hrf_av_rite_only.json  RITE-only model (seqnet-av-rite) on all 24
#                          HRF-AV photos: a camera it never saw
#   rite_av_hrf_only.json  HRF-AV-only model (seqnet-av-hrf) on RITE test
# Usage: scripts/av_generalisation.sh   (about 5 minutes on an idle 2-core CPU)
set -euo pipefail
DATA=${RETINA_VESSELS_DATA:-../shared/datasets}
OUT=docs/results
mkdir -p "$OUT"
# float32 on every machine: the figures do not depend on whether this
# CPU has native bfloat16 (what --precision auto would use there).
ev() { retina-vessels evaluate "$@" --device cpu --precision fp32; }
ev "$DATA/RITE/test" --av --json "$OUT/rite_av.json"
# The held-out HRF-AV photos as a folder of their own (links).
VAL=$(mktemp -d)
trap 'rm -rf "$VAL"' EXIT
HRF=$(cd "$DATA/HRF-AV/training" && pwd)
mkdir -p "$VAL/images" "$VAL/av" "$VAL/mask"
for n in 08_g 08_h; do
  ln -s "$HRF/images/$n.jpg" "$VAL/images/$n.jpg"
  ln -s "$HRF/av/${n}_AVmanual.png" "$VAL/av/${n}_AVmanual.png"
  ln -s "$HRF/mask/${n}_mask.tif" "$VAL/mask/${n}_mask.tif"
done
ev "$VAL" --av --json "$OUT/hrf_av_val.json"
ev "$DATA/HRF-AV" --av --av-model weights/seqnet-av-rite.pt \
  --json "$OUT/hrf_av_rite_only.json"
ev "$DATA/RITE/test" --av --av-model weights/seqnet-av-hrf.pt \
  --json "$OUT/rite_av_hrf_only.json"
python scripts/results_table.py > "$OUT/tables.md"
