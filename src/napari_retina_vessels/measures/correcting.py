"""Apply a grader's :class:`~.corrections.Corrections` inside
:func:`~.core.measure` (the format and its checks: ``corrections.py``)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import CorrectionsError
from .corrections import _AV, ADDED, ERASED, SNAP_PX, Corrections

__all__ = [
    'apply_painted',
    'centrelines',
    'correct_segments',
    'fill_row',
    'forget_kept',
    'relabel',
    'segment_regions',
    'snap',
]

#: Label an excluded segment carries in the vessel graph: no class, so
#: it joins no zone-B vessel of another segment.
EXCLUDED = -1
MISSED = f'no segment centreline within {SNAP_PX:g} px'
_LAST_LOCK = threading.Lock()
REPLACED = 'replaced by a later correction of the same segment'


def _digest(*arrays: np.ndarray) -> str:
    from ._trace_cache import _digest as digest

    return digest(*arrays)


#: The last segment maps (key, map), newest last: a correction relabels
#: with the map of the segments as traced, then the widget draws the
#: map of the corrected segments; both are asked for again at the next
#: correction, so one kept map would be made again each time.
_REGIONS: list = []
_REGIONS_KEPT = 3


def segment_regions(paths, vessels: np.ndarray, labels=None) -> np.ndarray:
    """(H, W) int32: each vessel pixel's nearest segment + 1, else 0.

    Nearest by the distance to the segments' centreline pixels (a k-d
    tree queried at the vessel pixels only: a few percent of a photo,
    so several times faster than a distance transform of the frame).
    With the A/V map *labels* the paths were traced on, an artery or
    vein pixel belongs to the nearest segment of its own class (each
    class is traced on its own map: the edge of a vein touching an
    artery is nearer the artery's centreline, but is the vein's).
    The last maps are kept; the array returned must not be changed.
    """
    vessels = np.asarray(vessels, bool)
    lengths = np.array([len(p) for p in paths], np.int64)
    pts = np.concatenate(paths) if len(paths) else np.zeros((0, 2), int)
    maps = (vessels,) if labels is None else (vessels, np.asarray(labels))
    key = (labels is None, _digest(*maps, lengths, pts))
    with _LAST_LOCK:
        for i, (k, kept) in enumerate(_REGIONS):
            if k == key:
                _REGIONS.append(_REGIONS.pop(i))
                return kept
    out = _regions(paths, vessels, labels)
    with _LAST_LOCK:
        _REGIONS[:] = [*_REGIONS[-(_REGIONS_KEPT - 1) :], (key, out)]
    return out


def _path_class(labels, path) -> int:
    """The class map a path was traced on: 1, 2 or 0; 3 for a piece
    of the uncertain/crossing map alone."""
    vals = labels[path[:, 0], path[:, 1]]
    for cls in (1, 2, 0):
        if (vals == cls).any():
            return cls
    return 3


def _regions(paths, vessels: np.ndarray, labels=None) -> np.ndarray:
    from scipy.spatial import cKDTree

    out = np.zeros(vessels.shape, np.int32)
    if not len(paths):
        return out
    pts = np.concatenate(paths)
    owner = np.repeat(
        np.arange(1, len(paths) + 1, dtype=np.int32), [len(p) for p in paths]
    )
    # Centreline pixels are their own segment's (set below): only the
    # other vessel pixels are looked up.
    off_line = vessels.copy()
    off_line[pts[:, 0], pts[:, 1]] = False
    q = np.argwhere(off_line)
    if len(q):
        if labels is None:
            groups = [(np.ones(len(q), bool), np.ones(len(pts), bool))]
        else:
            labels = np.asarray(labels)
            cls = np.array([_path_class(labels, p) for p in paths])
            of = np.repeat(cls, [len(p) for p in paths])
            at = labels[q[:, 0], q[:, 1]]
            # Uncertain pixels (3) go to the nearest segment of any
            # class; the uncertain-only pieces were traced with the
            # arteries.
            groups = [
                (at == 3, np.ones(len(pts), bool)),
                (at == 1, (of == 1) | (of == 3)),
                (at == 2, of == 2),
                (at == 0, of == 0),
            ]
        for pix, cand in groups:
            if not pix.any():
                continue
            if not cand.any():  # no segment of that class: any
                cand = np.ones(len(pts), bool)
            _, k = cKDTree(pts[cand]).query(q[pix])
            out[q[pix, 0], q[pix, 1]] = owner[cand][k]
    # A centreline pixel is its own segment's (where paths share a
    # junction pixel, the later one, as drawn).
    for i, p in enumerate(paths, 1):
        out[p[:, 0], p[:, 1]] = np.where(vessels[p[:, 0], p[:, 1]], i, 0)
    return out


def apply_painted(
    vessels: np.ndarray, av: np.ndarray | None, painted: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Vessel and A/V maps with painted pixels added (1) or erased (2).

    Each stroke (a connected piece of added pixels) takes, whole, the
    A/V label of the labelled pixel nearest to it, so a gap painted into
    an artery is artery, and a new vessel is one segment of one class
    (each class is skeletonised on its own map: a stroke labelled half
    artery, half vein would be two segments).
    """
    if painted is None:
        return vessels, av
    if painted.shape != vessels.shape:
        raise CorrectionsError(
            f'the painted image is {painted.shape} but the map is '
            f'{vessels.shape}; the corrections were made on another photo'
        )
    added, erased = painted == ADDED, painted == ERASED
    vessels = (vessels | added) & ~erased
    if av is not None:
        av = np.array(av, copy=True)
        if added.any() and (av > 0).any():
            from scipy import ndimage as ndi

            dist, (iy, ix) = ndi.distance_transform_edt(
                av == 0, return_indices=True
            )
            fill = added & (av == 0)
            av[fill] = _stroke_labels(fill, av[iy, ix], dist)
        av[erased] = 0
    return vessels, av


def _stroke_labels(fill, nearest, dist) -> np.ndarray:
    """One label per stroke of *fill*: that of its pixel nearest to a
    labelled one (*nearest*: each pixel's nearest label, at *dist*)."""
    from scipy import ndimage as ndi

    strokes, n = ndi.label(fill, structure=np.ones((3, 3), bool))
    ids, dist = strokes[fill], dist[fill]
    # Each stroke's nearest pixel: sort by distance, keep the first of
    # each stroke.
    order = np.lexsort((dist, ids))
    first = order[np.r_[True, ids[order][1:] != ids[order][:-1]]]
    label = np.zeros(n + 1, nearest.dtype)
    label[ids[first]] = nearest[fill][first]
    return label[ids]


def snap(paths, corrections: Corrections) -> list[dict[str, Any]]:
    """Which segment each correction lands on, in order.

    Returns one dict per segment correction: ``at``, ``label``,
    ``segment`` (index, or None when no centreline is within
    :data:`~.corrections.SNAP_PX`), ``distance`` and ``status``
    (``applied``, or why not).
    """
    report = []
    if not corrections.segments:
        return report
    if len(paths):
        from scipy.spatial import cKDTree

        pts = np.concatenate(paths)
        owner = np.repeat(np.arange(len(paths)), [len(p) for p in paths])
        tree = cKDTree(pts)
    for c in corrections.segments:
        entry = {'at': list(c.at), 'label': c.label, 'segment': None}
        entry['distance'] = float('nan')
        if len(paths):
            d, k = tree.query(c.at)
            entry['distance'] = round(float(d), 2)
            if d <= SNAP_PX:
                entry['segment'] = int(owner[k])
        report.append(entry)
    _mark_replaced(report)
    return report


def _mark_replaced(report) -> None:
    """Status ``applied`` or :data:`MISSED`, and :data:`REPLACED` for
    all but the last correction of a segment."""
    last: dict[int, int] = {}
    for i, e in enumerate(report):
        e['status'] = 'applied' if e['segment'] is not None else MISSED
        if e['segment'] is not None:
            if e['segment'] in last:
                report[last[e['segment']]]['status'] = REPLACED
            last[e['segment']] = i


def _follow(report, first, paths, segs, vessels, av) -> None:
    """Land the corrections that found a centreline before tracing but
    none of the traced ones within the snap distance (a flip joined the
    vessel to a touching one of its new class: one centreline between
    the two) on the traced segment owning their old centreline pixel."""
    regions = None
    for e, f in zip(report, first):
        if e['segment'] is not None or f['segment'] is None:
            continue
        p = paths[f['segment']]
        y, x = p[np.argmin(((p - np.asarray(f['at'])) ** 2).sum(axis=1))]
        if regions is None:
            regions = segment_regions(segs.paths, vessels, av)
        if regions[y, x]:
            e['segment'] = int(regions[y, x]) - 1
            e['distance'] = f['distance']
    _mark_replaced(report)


#: The last map's centrelines: the grader's corrections of one photo
#: are measured again and again on the same vessel map.
_LAST: list = [None, None]


def centrelines(
    vessels: np.ndarray,
    labels: np.ndarray | None = None,
    min_length: float = 3.0,
) -> list:
    """The segment paths :func:`~.graph.trace_segments` finds on these
    maps, without measuring them: :func:`~.graph.centrelines`, the one
    per-class tracing that measuring uses too.

    Where corrections land and which pixels a flip relabels need only
    the paths; the widths (most of a tracing's time) are measured once,
    on the corrected maps. The paths of the last maps are kept (keyed
    by a digest of the maps), so measuring the same maps again with
    other corrections skips the skeletons.
    """
    from .graph import centrelines as trace_centrelines

    vessels = np.ascontiguousarray(vessels, bool)
    maps = (vessels,) if labels is None else (vessels, np.asarray(labels))
    key = (min_length, labels is None, _digest(*maps))
    with _LAST_LOCK:
        if _LAST[0] == key:
            return _LAST[1]
    paths = trace_centrelines(vessels, labels, min_length)
    with _LAST_LOCK:
        _LAST[:] = [key, paths]
    return paths


def forget_kept() -> None:
    """Forget the kept centrelines, segment maps, traced class maps and
    profiled widths: the next measurement starts from nothing
    (benchmarks, tests)."""
    from ._trace_cache import _PATHS, _TRACED
    from .profiles import _LAST_PROFILES, _LAST_RADII, _PROFILES_LOCK

    _TRACED.clear()
    _PATHS.clear()
    with _PROFILES_LOCK:
        _LAST_PROFILES.clear()
        _LAST_RADII.clear()
    with _LAST_LOCK:
        _REGIONS[:] = []
        _LAST[:] = [None, None]


def relabel(vessels, av, paths, report) -> np.ndarray | None:
    """The A/V map with each flipped segment's pixels (those nearer its
    centreline than any other's; crossings, 3, kept) in its new class."""
    flips = {
        e['segment']: _AV[e['label']]
        for e in report
        if e['status'] == 'applied' and e['label'] in _AV
    }
    if not flips:
        return av
    regions = segment_regions(paths, vessels, av)
    new = (
        np.zeros(vessels.shape, np.uint8)
        if av is None
        else np.array(av, copy=True)
    )
    for i, value in flips.items():
        new[(regions == i + 1) & (new != 3)] = value
    return new


def correct_segments(vessels, av, corrections, trace):
    """Trace the corrected maps: (segments, A/V map, report).

    Each correction is snapped to the centrelines of the maps as given
    (:func:`snap`; the per-class paths the tracing itself finds),
    flipped segments are relabelled in the A/V map (:func:`relabel`),
    the map is traced once with *trace* ``(av) ->
    Segments`` (each class's calibres are measured on its own pixels),
    and the corrections are snapped again to the traced segments, whose
    indices the report then gives (:func:`_follow` for a flip that
    moved its centreline); excluded segments get the label
    :data:`EXCLUDED`.
    """
    if corrections is None or not corrections.segments:
        return trace(av), av, []
    paths = centrelines(vessels, av)
    first = snap(paths, corrections)
    av = relabel(vessels, av, paths, first)
    segs = trace(av)
    report = snap(segs.paths, corrections)
    _follow(report, first, paths, segs, vessels, av)
    for e in report:
        if e['status'] == 'applied' and e['label'] == 'exclude':
            segs.label[e['segment']] = EXCLUDED
    return segs, av, report


def fill_row(
    row: dict, seg_df, corrections: Corrections | None, report
) -> None:
    """Fill the segments' ``corrected`` and the per-image row's
    ``corrected``, ``corrections_missed``, ``corrections_reason`` and
    ``grader``."""
    _mark_segments(seg_df, report)
    _fill_row(row, corrections, report)


def _mark_segments(seg_df, report) -> None:
    """Fill ``corrected`` (and ``label`` of excluded segments)."""
    for e in report:
        if e['status'] != 'applied':
            continue
        i = e['segment']
        seg_df.loc[i, 'corrected'] = e['label']
        if e['label'] == 'exclude':
            seg_df.loc[i, 'label'] = 'excluded'


def _fill_row(row: dict, corrections: Corrections | None, report) -> None:
    """Fill ``corrected``, ``corrections_missed``, ``corrections_reason``
    and ``grader`` of the per-image row."""
    row.update(corrected=0, corrections_missed=0, corrections_reason='')
    row['grader'] = ''
    if corrections is None:
        return
    missed = [e for e in report if e['status'] == MISSED]
    applied = sum(e['status'] == 'applied' for e in report)
    row['corrected'] = (
        applied + corrections.strokes() + (corrections.disc is not None)
    )
    row['grader'] = corrections.grader
    row['corrections_missed'] = len(missed)
    if missed:
        where = '; '.join(
            f'{e["label"]} at ({e["at"][0]}, {e["at"][1]})' for e in missed
        )
        row['corrections_reason'] = (
            f'{len(missed)} correction(s) land on no segment (no centreline '
            f'within {SNAP_PX:g} px): {where}; correct these vessels again'
        )
