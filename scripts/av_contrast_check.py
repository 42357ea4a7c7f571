"""The pipeline's ``contrast_view='clahe'`` scored end to end on the 20
RITE test photos, as a user runs it (``segment(photo)``: the FOV found
in the photo, default models, 2 views, float32, torch), against the
default: intersection accuracy as ``evaluate --av --model-fov photo``
counts it (labelled artery and vein pixels inside the dataset's FOV
that the model calls vessel; crossings and uncertain excluded; pooled).
It checks that the engine does what ``scripts/av_loco.py`` measured as
the row ``v3 + clahe2/f``.

Usage: python scripts/av_contrast_check.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def main() -> None:
    import napari_retina_vessels as nrv
    from napari_retina_vessels.datasets import discover, load_sample

    data = Path(os.environ.get('RETINA_VESSELS_DATA', 'datasets'))
    tot = {'none': [0, 0], 'clahe': [0, 0]}
    for s in discover(data / 'RITE' / 'test'):
        d = load_sample(s)
        lab = ((d['av'] == 1) | (d['av'] == 2)) & d['fov']
        for view, acc in tot.items():
            r = nrv.segment(
                d['image'],
                contrast_view=view,
                precision='fp32',
                device='cpu',
                engine='torch',
            )
            det = lab & r.vessels
            right = det & ((r.artery_vein == 1) == (d['av'] == 1))
            acc[0] += int(np.count_nonzero(right))
            acc[1] += int(det.sum())
    for view, (right, counted) in tot.items():
        print(
            f'contrast_view={view}: RITE test intersection accuracy '
            f'{right / counted:.4f} ({counted} pixels counted)'
        )


if __name__ == '__main__':
    main()
