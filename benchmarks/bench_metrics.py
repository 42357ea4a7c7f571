"""Time the vessel metrics over the 20 DRIVE test images.

Scores every image (AUC, AP and all binary metrics including clDice) and
the pooled figures, as ``retina-vessels evaluate`` does. The probability
maps are synthetic and deterministic: ground truth blurred plus noise.
Target: under 1 s in all. Run from the repository root::

    .venv/bin/python benchmarks/bench_metrics.py [DRIVE/test folder]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from napari_retina_vessels.io.datasets import data_root, discover, load_sample
from napari_retina_vessels.metrics import VesselAccumulator, roc_auc


def fake_probability(truth: np.ndarray, seed: int) -> np.ndarray:
    """Blurred truth plus noise, clipped to [0, 1], float32."""
    rng = np.random.default_rng(seed)
    p = ndi.gaussian_filter(truth.astype(np.float32), 1.5)
    p += rng.normal(0.0, 0.15, truth.shape).astype(np.float32)
    return np.clip(p, 0.0, 1.0)


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else data_root() / 'DRIVE' / 'test'
    samples = discover(folder)
    data = []
    for i, s in enumerate(samples):
        d = load_sample(s)
        data.append(
            (d['vessels'], fake_probability(d['vessels'], i), d['fov'])
        )
    n_pixels = sum(int(m.sum()) for _, _, m in data)

    t0 = time.perf_counter()
    acc = VesselAccumulator(threshold=0.5)
    for truth, prob, fov in data:
        acc.add(truth, prob, mask=fov)
    pooled = acc.pooled()
    acc.summary()
    best = acc.best_threshold()
    total = time.perf_counter() - t0

    t0 = time.perf_counter()
    for truth, prob, fov in data:
        roc_auc(truth, prob, mask=fov)
    auc_only = time.perf_counter() - t0

    print(f'{len(data)} images, {n_pixels / 1e6:.2f} M pixels in the FOV')
    print(
        f'per-image + pooled metrics (AUC, AP, acc, se, sp, precision, '
        f'F1, IoU, MCC, clDice) + best threshold: {total:.3f} s '
        f'({"OK" if total < 1 else "SLOW"}: target < 1 s)'
    )
    print(f'ROC AUC alone, 20 images: {auc_only:.3f} s')
    print(
        f'pooled AUC {pooled["auc"]:.4f}  F1 {pooled["f1"]:.4f}  '
        f'clDice {pooled["cldice"]:.4f}; best threshold '
        f'{best["threshold"]:.3f} (F1 {best["f1"]:.4f})'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
