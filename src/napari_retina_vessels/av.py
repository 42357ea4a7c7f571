"""Artery/vein labelling of a vessel map, and per-segment consistency."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    'ARTERY',
    'UNCERTAIN',
    'VEIN',
    'label_av',
    'segment_consistency',
    'segment_index',
]

ARTERY, VEIN, UNCERTAIN = 1, 2, 3


def segment_index(
    vessels: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.intp], int]:
    """The vessel segment of every pixel: ``(seg_of, n)``.

    The vessel map is skeletonised; skeleton pixels with three or more
    neighbours (branch points and crossings) and their 8-neighbours are
    removed, which cuts the tree into *n* segments, numbered from 1.
    Every vessel pixel joins the segment of its nearest skeleton pixel
    (0: near a branch point, or off the vessels). It depends only on the
    vessel map, so it can be made while the A/V network runs.
    """
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    vessels = np.asarray(vessels, bool)
    if not vessels.any():
        return np.zeros(vessels.shape, np.intp), 0
    skel = skeletonize(vessels)
    nb = (
        ndi.convolve(
            skel.astype(np.uint8), np.ones((3, 3), np.uint8), mode='constant'
        )
        - 1
    )
    junction = skel & (nb >= 3)
    cut = ndi.binary_dilation(junction, np.ones((3, 3), bool))
    segments, n = ndi.label(skel & ~cut, np.ones((3, 3), bool))
    if n == 0:
        return np.zeros(vessels.shape, np.intp), 0
    # Nearest skeleton pixel (segment or junction) for every pixel.
    _, (iy, ix) = ndi.distance_transform_edt(~skel, return_indices=True)
    seg_of = segments[iy, ix]
    seg_of[~vessels] = 0
    return seg_of, n


def segment_consistency(
    vessels: npt.NDArray[np.bool_],
    p_artery: npt.NDArray[np.float32],
    *,
    index: tuple[npt.NDArray[np.intp], int] | None = None,
) -> npt.NDArray[np.float32]:
    """Give every vessel segment one artery probability.

    The vessel map is cut into segments (:func:`segment_index`) and each
    segment takes the mean artery probability of its pixels (a soft
    majority vote). Pixels near a branch point keep their own
    probability.

    Parameters
    ----------
    vessels : (H, W) bool
    p_artery : (H, W) float32
        Probability that a pixel is artery rather than vein.
    index : tuple, optional
        ``segment_index(vessels)``, when already made.

    Returns
    -------
    numpy.ndarray
        (H, W) float32, the smoothed artery probability (unchanged
        outside the vessels).
    """
    out = np.asarray(p_artery, np.float32).copy()
    seg_of, n = segment_index(vessels) if index is None else index
    if n == 0:
        return out
    counts = np.bincount(seg_of.ravel(), minlength=n + 1)
    sums = np.bincount(seg_of.ravel(), weights=out.ravel(), minlength=n + 1)
    means = np.divide(sums, counts, out=np.full(n + 1, 0.5), where=counts > 0)
    take = seg_of > 0
    out[take] = means[seg_of[take]].astype(np.float32)
    return out


def label_av(
    vessels: npt.NDArray[np.bool_],
    p_artery: npt.NDArray[np.float32],
    *,
    uncertain_margin: float = 0.0,
) -> npt.NDArray[np.uint8]:
    """Artery/vein labels on the vessel pixels.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8: 0 background, 1 artery (p >= 0.5), 2 vein, 3
        uncertain when ``|p - 0.5| < uncertain_margin``.
    """
    vessels = np.asarray(vessels, bool)
    p = np.asarray(p_artery, np.float32)
    out = np.zeros(vessels.shape, np.uint8)
    out[vessels & (p >= 0.5)] = ARTERY
    out[vessels & (p < 0.5)] = VEIN
    if uncertain_margin > 0:
        out[vessels & (np.abs(p - 0.5) < uncertain_margin)] = UNCERTAIN
    return out
