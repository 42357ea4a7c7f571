"""Synthetic test images shared by the test modules."""

from __future__ import annotations

import numpy as np


def fake_fundus(h: int = 300, w: int = 320, seed: int = 0) -> np.ndarray:
    """An orange disc on black crossed by a few dark 'vessels'.

    Returns
    -------
    numpy.ndarray
        (h, w, 3) uint8 RGB.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = h / 2, w / 2, 0.45 * min(h, w)
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    img = np.zeros((h, w, 3), np.float32)
    img[disc] = (0.8, 0.4, 0.15)
    for k in range(6):
        a = rng.uniform(0, np.pi)
        d = np.abs((yy - cy) * np.cos(a) - (xx - cx) * np.sin(a)
                   - rng.uniform(-r / 2, r / 2))
        img[(d < 2 + k % 3) & disc] *= 0.55
    img += rng.normal(0, 0.01, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)
