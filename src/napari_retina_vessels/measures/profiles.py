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
    centre (rounded up to whole pixels, so a thin vessel is not sampled
    as far out as the widest one).
    """
    halves = np.broadcast_to(np.asarray(half, np.float64), (len(centres),))
    if not len(centres):
        return np.full(0, np.nan)
    reach = np.ceil(halves)
    offsets = np.arange(0.0, reach.max() + _STEP, _STEP)
    # How many of the offsets each centre's own reach samples.
    values, where = np.unique(reach, return_inverse=True)
    counts = np.array([len(np.arange(0.0, r + _STEP, _STEP)) for r in values])
    count = counts[where.ravel()]
    return _side_widths(
        soft, centres, normals, offsets, count, 1.0
    ) + _side_widths(soft, centres, normals, offsets, count, -1.0)


# Offsets sampled in a profile's first block; each later block is twice
# as long. Most profiles cross the 0.5 level within a vessel radius, so
# they stop after the first block or two instead of sampling out to the
# reach of the widest vessel.
_FIRST_BLOCK = 8
# Samples in one block at most: keeps the arrays to some tens of MB.
_MAX_SAMPLES = 2_000_000


def _side_widths(soft, centres, normals, offsets, count, sign) -> np.ndarray:
    """Distance from each centre to the 0.5 crossing on one side (NaN
    where the centre is below 0.5 or no crossing is within its first
    *count* offsets).

    The profiles are sampled in blocks of offsets, each block only for
    the centres that have not crossed yet and still have offsets to
    look at; the crossing is the first sample below 0.5, so each
    distance is the one sampling all of a centre's offsets gives
    (bilinear samples are independent of one another), in a fraction of
    the samples.
    """
    out = np.full(len(centres), np.nan)
    pending = np.arange(len(centres))
    prev = None  # the last sample of the previous block, per pending
    lo, block = 0, _FIRST_BLOCK
    while len(pending):
        block = max(2, min(block, _MAX_SAMPLES // len(pending)))
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
        # Offsets past a centre's own reach are not looked at.
        mine = (lo + np.arange(vals.shape[1]))[None, :] < count[pending, None]
        below = (vals < 0.5) & mine
        found = below.any(axis=1)
        j = np.argmax(below, axis=1)
        rows = np.arange(len(pending))
        v1 = vals[rows, j]
        v0 = np.where(j > 0, vals[rows, np.maximum(j - 1, 0)], prev)
        frac = np.where(v0 > v1, (v0 - 0.5) / np.maximum(v0 - v1, 1e-9), 0)
        dist = offsets[lo + j - 1] + frac * _STEP
        out[pending[found]] = dist[found]
        go_on = ~found & (count[pending] > hi)
        prev = vals[go_on, -1] if vals.shape[1] else prev[go_on]
        pending = pending[go_on]
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
