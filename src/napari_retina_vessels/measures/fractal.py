"""Box-counting (Minkowski-Bouligand) fractal dimension of a binary map."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ['box_counting_dimension']


def box_counting_dimension(
    mask: npt.ArrayLike,
    *,
    min_box: int = 2,
    max_box: int | None = None,
) -> tuple[float, int]:
    """Box-counting dimension of the foreground of *mask*.

    Boxes of side ``min_box, 2 min_box, 4 min_box, ...`` up to
    *max_box* (default: a quarter of the shorter side) tile the map from
    its top-left corner; ``N(s)`` counts boxes holding any foreground.
    The dimension is minus the least-squares slope of ``log N(s)``
    against ``log s``.

    Parameters
    ----------
    mask : (H, W) array-like
        Nonzero = foreground.
    min_box, max_box : int
        Smallest and largest box sides in pixels.

    Returns
    -------
    (float, int)
        The dimension (NaN when fewer than three box sizes or fewer
        than 2 foreground pixels) and the number of foreground pixels.
    """
    m = np.asarray(mask) != 0
    n = int(m.sum())
    if m.ndim != 2 or n < 2:
        return float('nan'), n
    if max_box is None:
        max_box = min(m.shape) // 4
    sizes, counts = [], []
    s = max(1, int(min_box))
    boxes = None
    while s <= max_box:
        # A box of side 2s holds foreground when one of the four boxes
        # of side s inside it does: the same counts as tiling the map
        # again, from a map s*s times smaller.
        boxes = _boxes(m, s) if boxes is None else _boxes(boxes, 2)
        sizes.append(s)
        counts.append(int(boxes.sum()))
        s *= 2
    if len(sizes) < 3:
        return float('nan'), n
    slope = np.polyfit(np.log(sizes), np.log(counts), 1)[0]
    return float(-slope), n


def _boxes(m: np.ndarray, s: int) -> np.ndarray:
    """Which boxes of side *s* (tiling *m* from its top-left corner,
    the last row and column of boxes padded) hold foreground."""
    h = -(-m.shape[0] // s) * s
    w = -(-m.shape[1] // s) * s
    padded = np.zeros((h, w), bool)
    padded[: m.shape[0], : m.shape[1]] = m
    if s > 4:
        return padded.reshape(h // s, s, w // s, s).any(axis=(1, 3))
    # Small boxes: one strided view per offset inside a box, faster than
    # any() over a reshaped axis.
    out = np.zeros((h // s, w // s), bool)
    for dy in range(s):
        for dx in range(s):
            out |= padded[dy::s, dx::s]
    return out
