"""Does a test-time contrast normalisation help the vessel stage on
low-contrast photos? (#28, item 2)

The default vessel model (2 flip views, float32, the FOV found in each
photo as ``segment(image)`` does) with and without CLAHE on the Lab
lightness inside the FOV (``contrast_views.clahe_luminance``, what
the A/V stage's ``contrast_view='clahe'`` uses), on:

- the test splits of its three training cameras (DRIVE 20, CHASE_DB1 8,
  STARE 10; photos it was not trained on) and on HRF-AV (24 photos of a
  camera it never saw), at the canonical scale (labels brought down by
  nearest neighbour);
- the DRIVE test photos in the colour-cast stress versions of
  ``scripts/av_loco.py``: ``yellow``, ``lowcon`` (contrast x0.45) and
  ``harsh`` (yellow-green cast, contrast x0.35 and a veil), each
  re-recorded in 8 bits.

Scored inside the datasets' FOV masks against the first observer, pooled
over the photos: ROC AUC, the share of labelled vessel pixels detected at
the model's threshold (``detected``), F1 at that threshold, and the share
of the FOV called vessel.

Usage: python scripts/vessel_contrast.py [--cols DRIVE;harsh] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from av_loco import cast  # noqa: E402

CAMERAS = {
    'DRIVE': ('DRIVE/test', 'all'),
    'CHASE_DB1': ('CHASE_DB1', 'test'),
    'STARE': ('STARE', 'test'),
    'HRF-AV': ('HRF-AV', 'all'),
}
CASTS = ('yellow', 'lowcon', 'harsh')


def _canonical(d: dict) -> dict:
    from skimage.transform import resize as sk_resize

    from napari_retina_vessels.fov import fov_mask
    from napari_retina_vessels.preprocessing import (
        canonical_scale,
        resize,
        scaled_shape,
    )

    img = d['image']
    shape = scaled_shape(img.shape, canonical_scale(fov_mask(img)))
    if shape == img.shape[:2]:
        return d
    rgb = resize(img.astype(np.float32) / 255, shape)

    def near(a):
        return sk_resize(
            a, shape, order=0, preserve_range=True, anti_aliasing=False
        ).astype(bool)

    return {
        'image': np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8),
        'vessels': near(d['vessels']),
        'fov': near(d['fov']),
    }


def main() -> None:
    import torch

    from napari_retina_vessels.contrast_views import clahe_luminance
    from napari_retina_vessels.datasets import discover, load_sample
    from napari_retina_vessels.fov import fov_mask
    from napari_retina_vessels.inference import _drain, predict
    from napari_retina_vessels.metrics.vessel import roc_auc
    from napari_retina_vessels.preprocessing import normalise_input
    from napari_retina_vessels.weights import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--cols', default=None, help='separated by ;')
    ap.add_argument('--json', default=None)
    args = ap.parse_args()
    cols = [*CAMERAS, *CASTS] if not args.cols else args.cols.split(';')
    torch.set_num_threads(int(os.environ.get('LOCO_THREADS', '1')))
    from napari_retina_vessels.io.datasets import data_root

    data = data_root()
    net, info = load_model('default', task='vessels')
    thr = float(info['threshold'])
    out = {}
    print('| photos | CLAHE | AUC | detected | F1 | FOV called vessel |')
    print('|---|---|---|---|---|---|')
    for col in cols:
        folder, split = CAMERAS.get(col, CAMERAS['DRIVE'])
        acc = {pre: {'t': [], 'p': [], 'frac': []} for pre in ('', 'c')}
        for s in discover(data / folder, split=split):
            d = _canonical(load_sample(s))
            mask = d['fov'].astype(bool)
            img = d['image']
            if col in CASTS:
                img = cast(img, mask, col)
            rgb = img.astype(np.float32) / 255
            fov = fov_mask(img)
            for pre, a in acc.items():
                x = clahe_luminance(rgb, fov) if pre else rgb
                x = normalise_input(x, fov, info['input'])
                lg = _drain(
                    predict(
                        net,
                        x,
                        device=torch.device('cpu'),
                        views=2,
                        precision='fp32',
                    )
                )[0]
                prob = 1 / (1 + np.exp(-lg)) * fov
                a['t'].append(d['vessels'][mask].astype(bool))
                a['p'].append(prob[mask].astype(np.float32))
                a['frac'].append(float((prob[mask] >= thr).mean()))
        for pre, a in acc.items():
            t, p = np.concatenate(a['t']), np.concatenate(a['p'])
            call = p >= thr
            tp = np.count_nonzero(call & t)
            row = {
                'auc': roc_auc(t, p),
                'detected': tp / max(1, t.sum()),
                'f1': 2 * tp / max(1, t.sum() + call.sum()),
                'vessel_fraction': float(np.mean(a['frac'])),
            }
            out[f'{col}{" + clahe" if pre else ""}'] = row
            print(
                f'| {col} | {"yes" if pre else "no"} | {row["auc"]:.4f} | '
                f'{row["detected"]:.3f} | {row["f1"]:.4f} | '
                f'{row["vessel_fraction"]:.3f} |',
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + '\n')


if __name__ == '__main__':
    main()
