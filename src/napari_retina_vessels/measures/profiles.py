"""Vessel widths across the centreline: sub-pixel profiles of the
vessel map along each centreline pixel's normal, and the local radius
(distance to the background) at given pixels. Used by ``graph.py``."""

from __future__ import annotations

import threading

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


#: Per class map: the last map profiled (the frame size of the last
#: photo only) and its paths' widths, keyed by their pixels and reach.
_LAST_PROFILES: dict = {}
_PROFILES_LOCK = threading.Lock()


def _path_widths(key, soft, paths, centres, normals, half) -> np.ndarray:
    """:func:`_profile_widths` of the centres of *paths* (in order),
    reusing the widths of the paths the last map profiled under *key*
    had, with the same pixels and reach, where *soft* is the same as
    that map within their reach: a grader's flip changes one vessel's
    pixels, and the other paths of its class map are profiled again
    only there. Each width depends only on its centre, normal, reach
    and the map within that reach, so the widths are those profiling
    everything gives."""
    with _PROFILES_LOCK:
        last = _LAST_PROFILES.get(key)
    bounds = np.cumsum([0] + [len(p) for p in paths])
    width = np.full(len(centres), np.nan)
    todo = np.ones(len(centres), bool)
    if last is not None and last[0].shape == soft.shape:
        before, widths = last
        box = _changed_box(before, soft)
        for i, p in enumerate(paths):
            a, b = bounds[i], bounds[i + 1]
            w = widths.get((p.tobytes(), half[a:b].tobytes()))
            if w is None or (box is not None and _near(p, half[a:b], box)):
                continue
            width[a:b], todo[a:b] = w, False
    if todo.any():
        width[todo] = _profile_widths(
            soft, centres[todo], normals[todo], half[todo]
        )
    mine = {
        (p.tobytes(), half[a:b].tobytes()): width[a:b].copy()
        for p, a, b in zip(paths, bounds[:-1], bounds[1:])
    }
    with _PROFILES_LOCK:
        for k in [k for k in _LAST_PROFILES if k[1] != key[1]]:
            del _LAST_PROFILES[k]  # another photo's frame size
        _LAST_PROFILES[key] = (soft, mine)
    return width


def _changed_box(before: np.ndarray, now: np.ndarray):
    """(y0, x0, y1, x1) bounding the pixels that differ, or None."""
    changed = before != now
    rows = np.flatnonzero(changed.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    return rows[0], cols[0], rows[-1], cols[-1]


def _near(path: np.ndarray, half: np.ndarray, box) -> bool:
    """Whether a profile of *path* (bilinear samples within *half* of
    its pixels) can read a pixel inside *box*."""
    m = int(np.ceil(half.max())) + 2
    (y0, x0), (y1, x1) = path.min(axis=0) - m, path.max(axis=0) + m
    return not (y1 < box[0] or y0 > box[2] or x1 < box[1] or x0 > box[3])


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


#: Per class map: the last map whose radii were read (the frame size of
#: the last photo only), its points (flat indices, sorted) and radii.
_LAST_RADII: dict = {}


def _kept_radius(key, vessels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """:func:`_radius_on`, reusing the radius of each point the last map
    read under *key* had where the map is the same within that radius
    (the nearest background pixel is then the same), and looking up the
    others in a crop around them where that is enough."""
    h, w = vessels.shape
    lin = points[:, 0] * w + points[:, 1]
    with _PROFILES_LOCK:
        last = _LAST_RADII.get(key)
    values = np.full(len(points), np.nan)
    if last is not None and last[0].shape == vessels.shape and len(lin):
        before, lin_before, r_before = last
        box = _changed_box(before, vessels)
        at = np.minimum(np.searchsorted(lin_before, lin), len(lin_before) - 1)
        known = lin_before[at] == lin if len(lin_before) else at < 0
        r = np.where(known, r_before[at] if len(lin_before) else 0, 0.0)
        if box is not None:
            m = np.ceil(r) + 1
            py, px = points[:, 0], points[:, 1]
            near = ~(
                (py + m < box[0])
                | (py - m > box[2])
                | (px + m < box[1])
                | (px - m > box[3])
            )
            known &= ~near
        values[known] = r[known]
        todo = np.flatnonzero(~known)
        if len(todo):
            values[todo] = _radius_near(vessels, points[todo])
    else:
        values = _radius_on(vessels, points)[points[:, 0], points[:, 1]]
    order = np.argsort(lin)
    with _PROFILES_LOCK:
        for k in [k for k in _LAST_RADII if k[1] != key[1]]:
            del _LAST_RADII[k]  # another photo's frame size
        _LAST_RADII[key] = (vessels.copy(), lin[order], values[order])
    out = np.zeros(vessels.shape, np.float64)
    out[points[:, 0], points[:, 1]] = values
    return out


def _radius_near(vessels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The radius at *points* from a crop around them: exact where the
    distance found is shorter than the way out of the crop (a background
    pixel outside it would be further), else from the whole map."""
    h, w = vessels.shape
    margin = 64
    y0, x0 = np.maximum(points.min(axis=0) - margin, 0)
    y1 = min(h, int(points[:, 0].max()) + margin + 1)
    x1 = min(w, int(points[:, 1].max()) + margin + 1)
    crop = vessels[y0:y1, x0:x1]
    inner = points - [y0, x0]
    if crop.all():
        return _radius_on(vessels, points)[points[:, 0], points[:, 1]]
    d = _radius_on(crop, inner)[inner[:, 0], inner[:, 1]]
    # How far each point is from a side of the crop that cuts the map.
    out_of = np.full(len(points), np.inf)
    if y0 > 0:
        out_of = np.minimum(out_of, inner[:, 0] + 1)
    if x0 > 0:
        out_of = np.minimum(out_of, inner[:, 1] + 1)
    if y1 < h:
        out_of = np.minimum(out_of, y1 - points[:, 0])
    if x1 < w:
        out_of = np.minimum(out_of, x1 - points[:, 1])
    far = ~(d < out_of)
    if far.any():
        full = _radius_on(vessels, points[far])
        d[far] = full[points[far, 0], points[far, 1]]
    return d
