"""Vessel widths across the centreline: sub-pixel profiles of the
vessel map along each centreline pixel's normal, and the local radius
(distance to the background) at given pixels. Used by ``graph.py``."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

# Profile sampling step across a vessel (pixels).
_STEP = 0.25


def _profile_widths(
    soft: np.ndarray,
    centres: np.ndarray,
    normals: np.ndarray,
    half: float | np.ndarray,
) -> np.ndarray:
    """Width at each centre: the distance between the 0.5 crossings.

    ``soft`` is sampled with bilinear interpolation along the normal, so
    the crossings fall between pixel centres: sub-pixel widths. A binary
    map gives its edge halfway between a vessel and a background pixel.
    *half* is how far to look on each side: one distance, or one per
    centre (centres are then measured in groups of similar reach, so a
    thin vessel is not sampled as far out as the widest one).
    """
    out = np.full(len(centres), np.nan)
    halves = np.broadcast_to(np.asarray(half, np.float64), (len(centres),))
    # Reach rounded up to whole pixels: a few groups, each sampled once.
    reach = np.ceil(halves)
    for r in np.unique(reach):
        idx = np.flatnonzero(reach == r)
        # Chunks keep the sample arrays to some tens of megabytes.
        chunk = max(1, 2_000_000 // int(r / _STEP + 1))
        for a in range(0, len(idx), chunk):
            sel = idx[a : a + chunk]
            out[sel] = _chunk_widths(soft, centres[sel], normals[sel], r)
    return out


def _chunk_widths(soft, centres, normals, half) -> np.ndarray:
    offsets = np.arange(0.0, half + _STEP, _STEP)
    return _side_widths(soft, centres, normals, offsets, 1.0) + _side_widths(
        soft, centres, normals, offsets, -1.0
    )


# Offsets sampled in a profile's first block; each later block is twice
# as long. Most profiles cross the 0.5 level within a vessel radius, so
# they stop after the first block or two instead of sampling out to the
# reach of the widest vessel.
_FIRST_BLOCK = 8


def _side_widths(soft, centres, normals, offsets, sign) -> np.ndarray:
    """Distance from each centre to the 0.5 crossing on one side (NaN
    where the centre is below 0.5 or no crossing is within *offsets*).

    The profile is sampled in blocks of offsets, each block only for the
    centres that have not crossed yet; the crossing is the first sample
    below 0.5, so each distance is the one sampling every offset gives
    (bilinear samples are independent of one another), in a fraction of
    the samples.
    """
    out = np.full(len(centres), np.nan)
    pending = np.arange(len(centres))
    prev = None  # the last sample of the previous block, per pending
    lo, block = 0, _FIRST_BLOCK
    while len(pending) and lo < len(offsets):
        hi = min(len(offsets), lo + block)
        off = offsets[lo:hi]
        c, n = centres[pending], normals[pending]
        pts = c[:, None, :] + sign * off[None, :, None] * n[:, None, :]
        vals = ndi.map_coordinates(
            soft,
            [pts[..., 0].ravel(), pts[..., 1].ravel()],
            order=1,
            mode='constant',
            cval=0.0,
        ).reshape(len(pending), hi - lo)
        if prev is None:
            # A centre below the edge level has no width on this side.
            inside = vals[:, 0] >= 0.5
            pending, vals = pending[inside], vals[inside]
            prev = vals[:, 0]
            vals, lo = vals[:, 1:], lo + 1
        below = vals < 0.5
        found = below.any(axis=1)
        j = np.argmax(below, axis=1)
        rows = np.arange(len(pending))
        v1 = vals[rows, j]
        v0 = np.where(j > 0, vals[rows, np.maximum(j - 1, 0)], prev)
        frac = np.where(v0 > v1, (v0 - 0.5) / np.maximum(v0 - v1, 1e-9), 0)
        dist = offsets[lo + j - 1] + frac * _STEP
        out[pending[found]] = dist[found]
        if vals.shape[1]:
            prev = vals[~found, -1]
        pending = pending[~found]
        lo, block = hi, 2 * block
    return out


def _radius_on(vessels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``distance_transform_edt(vessels)``, computed at *points* only.

    (H, W) float array holding, at each of the (n, 2) *points*, the
    distance to the nearest background pixel (0 elsewhere). That pixel
    always touches the vessels (a background pixel whose neighbours are
    all background has one nearer to any vessel pixel), so a k-d tree of
    those pixels gives the same distances as the full transform in a
    fraction of its time on a large photo.
    """
    from scipy.spatial import cKDTree

    out = np.zeros(vessels.shape, np.float64)
    if not len(points):
        return out
    # A 3 x 3 dilation as two one-pixel shifts per axis: the same
    # pixels as binary_dilation, several times faster on a large map.
    rows = vessels.copy()
    rows[1:] |= vessels[:-1]
    rows[:-1] |= vessels[1:]
    grown = rows.copy()
    grown[:, 1:] |= rows[:, :-1]
    grown[:, :-1] |= rows[:, 1:]
    edge = grown & ~vessels
    background = np.argwhere(edge)
    if not len(background):  # all vessel: the transform's convention
        return ndi.distance_transform_edt(vessels)
    dist, _ = cKDTree(background).query(points)
    out[points[:, 0], points[:, 1]] = dist
    return out
