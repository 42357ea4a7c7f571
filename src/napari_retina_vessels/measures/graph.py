"""Vessel graph: segments between branch points, crossings and ends.

The skeleton of the vessel map is split into segments by ``skan`` (the
napari community's skeleton-analysis library). Each segment gets its
length, calibre (width along the segment, sub-pixel), tortuosity and
orientation, and the artery/vein label most of its pixels carry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from ._trace_cache import _PATHS, _TRACED, _class_key, _maps_key
from .profiles import _STEP, _kept_radius, _path_widths

__all__ = ['LABEL_NAMES', 'Segments', 'centrelines', 'trace_segments']

#: Segment label from the A/V map value most of its skeleton carries.
LABEL_NAMES = {0: 'vessel', 1: 'artery', 2: 'vein', 3: 'uncertain'}

# Gaussian smoothing (pixels) of the skeleton path before lengths,
# tangents and curvature: removes the pixel staircase (a straight
# oblique line reads 0.002 rad/px) while a sinusoidal bend of 40 px
# wavelength keeps 94 % of its curvature and 98 % of its arc/chord
# (tests/measures: 2 px left 0.011 rad/px on straight lines).
_SMOOTH = 3.0


@dataclass
class Segments:
    """Per-segment geometry, one entry per segment (index = segment id).

    Attributes
    ----------
    paths : list of (n, 2) int arrays
        Skeleton pixels (row, column) of each segment, in path order.
    widths : list of (n,) float arrays
        Width across the vessel at each skeleton pixel (NaN where it
        could not be measured or near a branch point).
    length, arc, chord, curvature, orientation : (N,) float arrays
        Vessel length (the smoothed centreline plus, at a free end, the
        radius the skeleton falls short), the centreline's own length
        and its end-to-end chord (pixels); mean absolute curvature
        (radians per pixel); orientation of the chord in degrees,
        0 = horizontal, counter-clockwise positive, in [0, 180).
    label : (N,) int array
        A/V map value (0 when there is no A/V map).
    kind : (N,) int array
        skan's branch type: 0 end-end, 1 junction-end, 2 junction-
        junction, 3 loop.
    """

    paths: list[np.ndarray]
    widths: list[np.ndarray]
    length: np.ndarray
    arc: np.ndarray
    chord: np.ndarray
    curvature: np.ndarray
    orientation: np.ndarray
    label: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)


def _empty() -> Segments:
    z = np.zeros(0)
    return Segments([], [], z, z, z, z, z, z.astype(int), z.astype(int))


def _smooth(path: np.ndarray) -> np.ndarray:
    p = path.astype(np.float64)
    if len(p) < 3:
        return p
    sigma = min(_SMOOTH, (len(p) - 1) / 4)
    return ndi.gaussian_filter1d(p, sigma, axis=0, mode='nearest')


def _class_label(label_map, path, cls) -> int:
    """The label of a segment traced on class *cls*'s own map.

    *cls* when at least a third of its skeleton pixels carry it (a
    vessel passing through a crossing, label 3, stays itself), else 3:
    a piece of the uncertain/crossing map that both classes share.
    """
    if label_map is None or cls == 0:
        return 0
    vals = label_map[path[:, 0], path[:, 1]]
    own = int(np.count_nonzero(vals == cls))
    return cls if 3 * own >= len(vals) else 3


def trace_segments(
    vessels: npt.NDArray[np.bool_],
    *,
    soft: npt.NDArray[np.floating] | None = None,
    labels: npt.NDArray[np.integer] | None = None,
    min_length: float = 3.0,
) -> Segments:
    """Split the vessel map into segments and measure each one.

    With an A/V map each class gets its own centreline: arteries are
    skeletonised on the artery map, veins on the vein map (uncertain and
    crossing pixels, label 3, belong to both), and unlabelled vessel
    pixels on their own. An artery touching a vein is therefore two
    segments, each on its own centre and measured across its own
    pixels; a piece of the label-3 map that neither class runs through
    is one ``uncertain`` segment (traced with the arteries, not twice).

    Parameters
    ----------
    vessels : (H, W) bool
        Vessel map.
    soft : (H, W) float, optional
        Vessel probability in [0, 1] for sub-pixel edges (its 0.5 level
        is the edge); the binary map itself when omitted.
    labels : (H, W) uint8, optional
        A/V labels (1 artery, 2 vein, 3 uncertain).
    min_length : float
        Segments with fewer skeleton pixels than this are dropped (spurs
        of the skeleton, not vessels).

    Returns
    -------
    Segments
    """
    vessels = np.asarray(vessels, bool)
    if soft is None:
        soft_map = vessels.astype(np.float32)
    else:
        # A copy: the profiled map is kept (profiles.py), the caller's
        # array may change.
        soft_map = np.array(soft, np.float32)
    label_map = _label_map(vessels, labels)
    common = _maps_key(vessels, None if soft is None else soft_map, label_map)
    parts = []
    for cls, own in _class_maps(vessels, label_map):
        paths_key = _paths_key(min_length, cls, own, label_map)
        key = (*paths_key, *common)
        part = _TRACED.get(key)
        if part is None:
            part = _trace_measured(
                cls, own, vessels, soft_map, label_map, min_length
            )
            _TRACED.put(key, part)
            # The corrections snap to these paths (centrelines()).
            _PATHS.put(paths_key, list(part.paths))
        parts.append(part)
    segs = _concat(parts)
    return _take(segs, _order(segs.paths))


def _trace_measured(cls, own, vessels, soft_map, label_map, min_length):
    """One class map's segments, measured (none when it has none)."""
    t = _trace_class(cls, own, label_map, min_length)
    if t is None:
        return _empty()
    if cls is None:
        soft_c = soft_map
    else:
        # The other class's pixels are background to this one (0, so a
        # binary edge falls half way between the two vessels' pixels):
        # a profile stops where the touching vessel begins.
        soft_c = np.where(own | ~vessels, soft_map, 0.0)
        soft_c = soft_c.astype(np.float32)
    return _select(_measure(t, soft_c), t.keep)


def centrelines(
    vessels: npt.NDArray[np.bool_],
    labels: npt.NDArray[np.integer] | None = None,
    min_length: float = 3.0,
) -> list[np.ndarray]:
    """The segment paths :func:`trace_segments` finds, without measuring
    them: the same per-class skeletons, in the same order.

    Corrections snap to these (``correcting.py``): they see exactly the
    segments that measuring the same maps reports.
    """
    vessels = np.asarray(vessels, bool)
    label_map = _label_map(vessels, labels)
    paths = []
    for cls, own in _class_maps(vessels, label_map):
        key = _paths_key(min_length, cls, own, label_map)
        kept = _PATHS.get(key)
        if kept is None:
            t = _trace_class(cls, own, label_map, min_length)
            kept = (
                [] if t is None else [p for p, k in zip(t.paths, t.keep) if k]
            )
            _PATHS.put(key, kept)
        paths.extend(kept)
    return [paths[i] for i in _order(paths)]


def _paths_key(min_length, cls, own, label_map) -> tuple:
    """What a class map's kept paths depend on: its pixels (and which
    are uncertain)."""
    return (
        min_length,
        cls,
        own.shape,
        label_map is None,
        _class_key(cls, own, label_map),
    )


def _order(paths: list[np.ndarray]) -> np.ndarray:
    """Segment order: by end points (the upper-left one first), not by
    class, so a segment keeps its index when a grader's flip moves it
    to the other class's map (its skeleton is the same pixels)."""
    keys = []
    for p in paths:
        ends = sorted([tuple(p[0].tolist()), tuple(p[-1].tolist())])
        keys.append((*ends[0], *ends[1], len(p)))
    return np.array(sorted(range(len(paths)), key=keys.__getitem__), np.intp)


@dataclass
class _Traced:
    """One map's centrelines: *cls* (None: all vessels, no A/V map), its
    pixels *own*, the skan graph of its bounding box with the box's
    top-left corner, the kept paths (*index* into skan's),
    their labels and which of them are segments (*keep*)."""

    cls: int | None
    own: np.ndarray
    skel: object
    index: list[int]
    paths: list[np.ndarray]
    label: np.ndarray
    keep: np.ndarray


def _class_maps(vessels, label_map):
    """(class, its pixels) for each map skeletonised on its own."""
    if label_map is None:
        yield None, vessels
        return
    for cls in (1, 2, 0):
        if cls:
            own = (label_map == cls) | (label_map == 3)
        else:
            own = vessels & (label_map == 0)
        if own.any():
            yield cls, own


def _label_map(vessels, labels):
    """The A/V map to trace by (None: no classes)."""
    # An A/V map over an empty vessel map draws no segments.
    if labels is None or not vessels.any():
        return None
    return np.asarray(labels)


def _trace_class(cls, own, label_map, min_length) -> _Traced | None:
    """One class map's centrelines (None when it has none)."""
    skel, index, paths = _skeleton(own, min_length)
    if not paths:
        return None
    lab = np.array([_class_label(label_map, p, cls or 0) for p in paths], int)
    # Label-3 pieces of the vein map were kept with the arteries.
    keep = lab != 3 if cls == 2 else np.ones(len(paths), bool)
    return _Traced(cls, own, skel, index, paths, lab, keep)


def _skeleton(own: np.ndarray, min_length: float):
    """skan graph of *own*'s skeleton with its origin, and its paths of
    at least *min_length* pixels with their indices (None, [], [] when
    none).

    Skeleton and graph are made of the map's bounding box only (the
    thinning and skan's graph see nothing outside it): the origin is the
    box's top-left corner in the map; the paths are in the map's
    coordinates.
    """
    from skimage.morphology import skeletonize

    rows = np.flatnonzero(own.any(axis=1))
    if not len(rows):
        return None, [], []
    cols = np.flatnonzero(own.any(axis=0))
    origin = np.array([rows[0], cols[0]], np.intp)
    box = own[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    skeleton = skeletonize(box)
    if skeleton.sum() < 2:
        return None, [], []
    import skan  # numba is slow to import: only when there is a graph

    skel = skan.Skeleton(skeleton)
    index, paths = [], []
    for i in range(skel.n_paths):
        p = np.rint(skel.path_coordinates(i)).astype(np.intp)
        if len(p) >= min_length:
            index.append(i)
            paths.append(p + origin)
    return (skel, origin), index, paths


def _select(segs: Segments, keep: np.ndarray) -> Segments:
    return _take(segs, np.flatnonzero(keep))


#: The per-segment array fields of :class:`Segments`, after paths and
#: widths: what selecting or joining segments carries along.
_ARRAY_FIELDS = (
    'length',
    'arc',
    'chord',
    'curvature',
    'orientation',
    'label',
    'kind',
)


def _take(segs: Segments, idx: np.ndarray) -> Segments:
    """The segments *idx* (indices), in that order."""
    return Segments(
        [segs.paths[i] for i in idx],
        [segs.widths[i] for i in idx],
        *(getattr(segs, f)[idx] for f in _ARRAY_FIELDS),
    )


def _concat(parts: list[Segments]) -> Segments:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    return Segments(
        [q for p in parts for q in p.paths],
        [w for p in parts for w in p.widths],
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in _ARRAY_FIELDS
        ),
    )


def _measure(t: _Traced, soft_map: np.ndarray) -> Segments:
    """Measure the segments of one traced map (all of its paths)."""
    import skan

    (skel, origin), paths, vessels = t.skel, t.paths, t.own
    seg_label, cls = t.label, t.cls
    types = skan.summarize(skel, separator='_')['branch_type'].to_numpy()
    kinds = [int(types[i]) for i in t.index]
    coords = np.asarray(skel.coordinates, np.intp) + origin
    radius = _kept_radius((cls, vessels.shape), vessels, coords)
    degree = np.zeros(vessels.shape, np.int32)
    degree[coords[:, 0], coords[:, 1]] = skel.degrees

    smooth = [_smooth(p) for p in paths]
    # Tangents and normals of every skeleton pixel, all segments at once.
    tangents = [
        np.gradient(s, axis=0) if len(s) > 1 else np.array([[0.0, 1.0]])
        for s in smooth
    ]
    t = np.concatenate(tangents)
    norm = np.hypot(t[:, 0], t[:, 1])
    norm[norm == 0] = 1.0
    normals = np.stack([t[:, 1], -t[:, 0]], axis=1) / norm[:, None]
    centres = np.concatenate(paths).astype(np.float64)
    r = radius[centres[:, 0].astype(int), centres[:, 1].astype(int)]
    # A profile at a slant reads wider than the vessel; one that runs
    # into a neighbour reads much wider: widths above 2.5x the
    # distance-transform estimate (2 r - 1 for a binary map), + 2 px,
    # are dropped below. Neither side of a width that is kept reaches
    # further than that limit, so each profile looks that far (and no
    # further than 2.5x the widest vessel's radius + 2 px): the same
    # widths as looking as far as the widest vessel everywhere.
    rough = np.maximum(2 * r - 1, 1.0)
    limit = 2.5 * rough + 2
    half = np.minimum(limit + _STEP, max(3.0, 2.5 * r.max() + 2))
    width = _path_widths(
        (cls, vessels.shape), soft_map, paths, centres, normals, half
    )
    width[(width > limit) | (width <= 0)] = np.nan

    widths, length, arcs, chord, curv, orient, lab = ([] for _ in range(7))
    start = 0
    for p, s in zip(paths, smooth):
        n = len(p)
        w = width[start : start + n].copy()
        start += n
        step = np.hypot(*np.diff(s, axis=0).T) if n > 1 else np.zeros(0)
        arc = np.concatenate([[0.0], np.cumsum(step)])
        total = float(arc[-1])
        # Widths near a branch point mix two vessels: drop the pixels
        # within the local radius (+1) of a junction end.
        for end, dist in ((0, arc), (n - 1, total - arc)):
            yx = tuple(p[end])
            if degree[yx] > 2:
                w[dist < radius[yx] + 1.0] = np.nan
        widths.append(w)
        # A free end of the skeleton stops about one radius short of the
        # vessel's end: add it back to the length.
        extra = sum(
            float(radius[tuple(p[e])])
            for e in (0, n - 1)
            if degree[tuple(p[e])] == 1
        )
        length.append(total + extra)
        arcs.append(total)
        d = s[-1] - s[0]
        chord.append(float(np.hypot(*d)))
        orient.append(float(np.degrees(np.arctan2(-d[0], d[1])) % 180.0))
        if n >= 5 and total > 0:
            dy, dx = np.gradient(s[:, 0]), np.gradient(s[:, 1])
            ddy, ddx = np.gradient(dy), np.gradient(dx)
            speed = np.hypot(dx, dy)
            k = np.abs(dx * ddy - dy * ddx) / np.maximum(speed, 1e-9) ** 3
            # Mean |curvature| over arc length, ends (smoothing edge)
            # excluded.
            m = max(1, int(_SMOOTH))
            core = slice(m, n - m) if n > 2 * m + 2 else slice(None)
            curv.append(
                float(
                    np.sum(k[core] * speed[core])
                    / max(np.sum(speed[core]), 1e-9)
                )
            )
        else:
            curv.append(0.0)
        lab.append(int(seg_label[len(lab)]))
    return Segments(
        paths,
        widths,
        np.array(length),
        np.array(arcs),
        np.array(chord),
        np.array(curv),
        np.array(orient),
        np.array(lab, int),
        np.array(kinds, int),
    )
