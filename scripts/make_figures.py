"""Figures for docs/results.md: example overlays and pooled ROC curves.

Runs the default models on test photos (DRIVE 01_test; the CHASE_DB1 and
STARE test splits) and writes PNGs to docs/images/.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import napari_retina_vessels as nrv  # noqa: E402
from napari_retina_vessels.io.datasets import (  # noqa: E402
    data_root,
    discover,
    load_sample,
)
from napari_retina_vessels.metrics import roc_auc, roc_curve  # noqa: E402
from napari_retina_vessels.weights import list_models  # noqa: E402

IMG = Path(__file__).resolve().parents[1] / 'docs' / 'images'
AV_RGB = np.array(
    [[0, 0, 0], [230, 30, 30], [40, 80, 255], [255, 220, 0]], np.uint8
)


def example() -> None:
    root = data_root()
    s = discover(root / 'DRIVE' / 'test')[0]
    d = load_sample(s)
    has_av = bool(list_models(task='av'))
    res = nrv.segment(d['image'], av=has_av, fov=d['fov'])
    truth = d['vessels']
    err = np.zeros(truth.shape + (3,), np.uint8)
    err[res.vessels & truth] = (255, 255, 255)
    err[res.vessels & ~truth] = (255, 60, 60)
    err[~res.vessels & truth & d['fov']] = (60, 140, 255)
    # A small crop only: the dataset's terms forbid redistributing it.
    crop = (slice(200, 392), slice(300, 492))
    panels = [
        (d['image'], 'photo (DRIVE 01_test, crop)'),
        (res.probability, 'vessel probability'),
        (err, 'white TP, red FP, blue FN'),
    ]
    if has_av:
        rite = discover(root / 'RITE' / 'test')[0]
        av_truth = load_sample(rite)['av']
        panels += [
            (AV_RGB[res.artery_vein], 'predicted A/V'),
            (AV_RGB[av_truth], 'RITE A/V labels'),
        ]
    panels = [(im[crop], title) for im, title in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (im, title) in zip(axes, panels):
        ax.imshow(im, cmap='gray' if im.ndim == 2 else None)
        ax.set_title(title, fontsize=9)
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(IMG / 'example_drive.png', dpi=90)
    plt.close(fig)


def rocs() -> None:
    root = data_root()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for label, folder, split in (
        ('DRIVE', root / 'DRIVE' / 'test', 'all'),
        ('CHASE_DB1', root / 'CHASE_DB1', 'test'),
        ('STARE', root / 'STARE', 'test'),
    ):
        truths, scores = [], []
        for s in discover(folder, split=split):
            d = load_sample(s)
            fov = d['fov'] if d['fov'] is not None else None
            res = nrv.segment(d['image'], av=False, fov=fov)
            truths.append(d['vessels'][res.fov])
            scores.append(res.probability[res.fov])
        t, p = np.concatenate(truths), np.concatenate(scores)
        # Quantise to 1/1000 for a light curve; the AUC is exact.
        fpr, tpr, _ = roc_curve(t, np.round(p, 3))
        ax.plot(fpr, tpr, label=f'{label} (AUC {roc_auc(t, p):.4f})')
    ax.plot([0, 1], [0, 1], 'k:', lw=0.8)
    ax.set_xlabel('false positive rate')
    ax.set_ylabel('true positive rate')
    ax.set_title('Default model, test splits, inside FOV')
    ax.legend(loc='lower right', fontsize=8)
    inset = ax.inset_axes([0.45, 0.3, 0.5, 0.35])
    for line in ax.get_lines()[:-1]:
        inset.plot(*line.get_data(), color=line.get_color())
    inset.set_xlim(0, 0.2)
    inset.set_ylim(0.7, 1.0)
    inset.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(IMG / 'roc_test.png', dpi=90)
    plt.close(fig)


if __name__ == '__main__':
    IMG.mkdir(parents=True, exist_ok=True)
    example()
    rocs()
    print(f'wrote {IMG}/example_drive.png and roc_test.png')
