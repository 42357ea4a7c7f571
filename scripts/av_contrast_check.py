"""The pipeline's contrast views scored end to end on the 20
RITE test photos, as a user runs it (``segment(photo)``: the FOV found
in the photo, default models, 2 views, float32, torch), against the
default: intersection accuracy as ``evaluate --av --model-fov photo``
counts it (labelled artery and vein pixels inside the dataset's FOV
that the model calls vessel; crossings and uncertain excluded; pooled).
It checks that the engine does what ``scripts/av_loco.py`` measured as
the row ``v3 + clahe2/f`` (``'clahe'``) and what
``scripts/av_auto_view.py`` chose for ``'auto'`` (the default; the
photos that got the view are counted).

Usage: python scripts/av_contrast_check.py
"""

from __future__ import annotations

import numpy as np


def main() -> None:
    import napari_retina_vessels as nrv
    from napari_retina_vessels.datasets import discover, load_sample
    from napari_retina_vessels.io.datasets import data_root

    data = data_root()
    from napari_retina_vessels._quality_features import canonical_copy
    from napari_retina_vessels.contrast_views import (
        distance,
        photo_statistics,
    )

    tot = {'none': [0, 0], 'clahe': [0, 0], 'auto': [0, 0]}
    chosen = []
    for s in discover(data / 'RITE' / 'test'):
        d = load_sample(s)
        lab = ((d['av'] == 1) | (d['av'] == 2)) & d['fov']
        rgb_s, fov_s, _ = canonical_copy(d['image'])
        dist = distance(photo_statistics(rgb_s, fov_s))
        chosen.append(f'{s.name} {dist:.2f}')
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
    print('distance of each photo (auto adds the view above 2.25):')
    print(', '.join(chosen))


if __name__ == '__main__':
    main()
