"""Compare vessel models on the validation photos, never the test splits.

Usage: python scripts/val_compare.py MODEL[@VIEWS] [MODEL[@VIEWS] ...]

The validation photos are those the training runs hold out: the last 2
of the training split of DRIVE, CHASE_DB1 and STARE. Each model (registry
name or weights file; ``@1``, ``@2`` or ``@4`` sets the number of flip
views, by default the pipeline's 2) runs through the full pipeline at the
photos' own resolution; the script prints each photo's ROC AUC inside the
dataset's FOV mask, their mean, and the AUC of the two DRIVE photos
pooled. This is how the experiments
in docs/results.md ("What did not help") were compared.

``DIAMETER=660 python scripts/val_compare.py default`` runs the models at
another canonical FOV diameter than 540 px (test-time zoom).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from napari_retina_vessels.io import datasets as D
from napari_retina_vessels.metrics import roc_auc
from napari_retina_vessels.pipeline import segment
from napari_retina_vessels.training.loop import _split_val


def main(specs: list[str]) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get('THREADS', '1')))
    if os.environ.get('DIAMETER'):
        import napari_retina_vessels.preprocessing as pp

        pp.CANONICAL_DIAMETER = int(os.environ['DIAMETER'])
    root = D.data_root()
    samples = []
    for name in ('DRIVE', 'CHASE_DB1', 'STARE'):
        samples += D.discover(root / name, split='train')
    _, val = _split_val(samples, 2)
    data = [D.load_sample(s) for s in val]
    print('model', *[s.name for s in val], 'mean', 'DRIVE-pooled')
    for spec in specs:
        model, _, views = spec.partition('@')
        aucs, probs, truths = [], [], []
        for d in data:
            seg = segment(
                d['image'],
                model=model,
                av=False,
                fov=d['fov'],
                tta=int(views) if views else False,
            )
            aucs.append(roc_auc(d['vessels'], seg.probability, mask=d['fov']))
            probs.append(seg.probability[d['fov']])
            truths.append(d['vessels'][d['fov']])
        drive = roc_auc(np.concatenate(truths[:2]), np.concatenate(probs[:2]))
        print(
            spec,
            *[f'{a:.4f}' for a in aucs],
            f'{np.mean(aucs):.5f}',
            f'{drive:.5f}',
            flush=True,
        )


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
