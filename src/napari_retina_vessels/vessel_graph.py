"""The vessel graph: the segments of a vessel map and how they meet.

The skeleton is cut at branch points and crossings; each segment is a
node, and two segments that meet at a junction are linked, with the
junction's size, the angle between them and their calibre ratio. The
artery/vein vote (``av.py``) and the measures share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    'CALIBRE_BINS',
    'JUNCTION_AGREEMENT',
    'VesselGraph',
    'segment_index',
    'vessel_graph',
]

#: Share of segment pairs that carry the same class, by the number of
#: segment ends at their junction (first axis: 2, 3, 4, 5 or more), the
#: angle between the two segments' directions away from the junction
#: (second axis: 0-20, 20-40, ..., 160-180 degrees) and the ratio of the
#: thinner segment's calibre to the wider one's (third axis: below
#: 0.55, 0.55-0.8, above 0.8; :data:`CALIBRE_BINS`). Measured on the
#: canonical-scale vessel maps of the A/V training photos (RITE training
#: and HRF-AV training, the validation photos left out) by
#: ``python scripts/fit_av_graph.py fit``; it depends on vessel anatomy
#: and the vessel map, not on the A/V network.
JUNCTION_AGREEMENT = np.array(
    [
        [
            [0.500, 0.500, 0.500],
            [0.500, 0.500, 0.500],
            [0.500, 0.500, 0.500],
            [0.500, 0.667, 0.500],
            [0.667, 0.500, 0.750],
            [0.500, 0.500, 0.667],
            [0.500, 0.833, 0.667],
            [0.500, 0.875, 0.333],
            [0.500, 0.800, 0.750],
        ],
        [
            [0.333, 0.115, 0.053],
            [0.280, 0.172, 0.245],
            [0.656, 0.568, 0.512],
            [0.786, 0.780, 0.774],
            [0.805, 0.754, 0.777],
            [0.868, 0.845, 0.768],
            [0.849, 0.907, 0.885],
            [0.775, 0.890, 0.945],
            [0.619, 0.845, 0.963],
        ],
        [
            [0.235, 0.071, 0.118],
            [0.278, 0.153, 0.167],
            [0.167, 0.163, 0.130],
            [0.248, 0.245, 0.151],
            [0.374, 0.158, 0.212],
            [0.382, 0.224, 0.141],
            [0.517, 0.434, 0.377],
            [0.464, 0.778, 0.744],
            [0.432, 0.832, 0.931],
        ],
        [
            [0.250, 0.200, 0.121],
            [0.300, 0.174, 0.094],
            [0.302, 0.275, 0.300],
            [0.486, 0.400, 0.255],
            [0.507, 0.378, 0.500],
            [0.550, 0.438, 0.435],
            [0.500, 0.516, 0.562],
            [0.379, 0.672, 0.573],
            [0.333, 0.508, 0.721],
        ],
    ]
)

#: Edges of the calibre-ratio bins of :data:`JUNCTION_AGREEMENT`.
CALIBRE_BINS = (0.55, 0.8)

# A segment's direction at a junction: from where it touches the
# junction to the mean of its skeleton pixels within this distance
# (pixels at the canonical scale, where a main vessel is ~8 px wide).
_REACH = 10.0


def _skeleton_parts(vessels: np.ndarray):
    """Skeleton, its segments (labelled, 8-connected) and junction
    regions (labelled): the vote's cut of the vessel tree."""
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    eight = np.ones((3, 3), bool)
    skel = skeletonize(vessels)
    nb = (
        ndi.convolve(
            skel.astype(np.uint8), np.ones((3, 3), np.uint8), mode='constant'
        )
        - 1
    )
    cut = ndi.binary_dilation(skel & (nb >= 3), eight)
    segments, n = ndi.label(skel & ~cut, eight)
    return skel, cut, segments, n


def _nearest_segment(vessels, skel, segments) -> np.ndarray:
    from scipy import ndimage as ndi

    _, (iy, ix) = ndi.distance_transform_edt(~skel, return_indices=True)
    seg_of = segments[iy, ix]
    seg_of[~vessels] = 0
    return seg_of


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
    vessels = np.asarray(vessels, bool)
    if not vessels.any():
        return np.zeros(vessels.shape, np.intp), 0
    skel, _, segments, n = _skeleton_parts(vessels)
    if n == 0:
        return np.zeros(vessels.shape, np.intp), 0
    return _nearest_segment(vessels, skel, segments), n


@dataclass(frozen=True)
class VesselGraph:
    """The segments of a vessel map and how they meet.

    Attributes
    ----------
    seg_of : (H, W) int array
        Segment of every vessel pixel, as :func:`segment_index` (0 near
        a junction or off the vessels).
    n : int
        Number of segments.
    pairs : (k, 2) int array
        Segment pairs that meet at a junction.
    degree : (k,) int array
        Segment ends at that junction.
    angle : (k,) float array
        Angle (degrees, 0-180) between the two segments' directions
        away from the junction: 180 for a vessel going straight on.
    calibre_ratio : (k,) float array
        The thinner segment's calibre over the wider one's (0-1); a
        segment's calibre is its vessel pixels per skeleton pixel.
    """

    seg_of: np.ndarray
    n: int
    pairs: np.ndarray
    degree: np.ndarray
    angle: np.ndarray
    calibre_ratio: np.ndarray

    @property
    def index(self) -> tuple[np.ndarray, int]:
        """``(seg_of, n)``, as :func:`segment_index` returns."""
        return self.seg_of, self.n

    def agreement(self, table: np.ndarray | None = None) -> np.ndarray:
        """Prior probability that each pair shares a class, from *table*
        (default :data:`JUNCTION_AGREEMENT`)."""
        table = JUNCTION_AGREEMENT if table is None else np.asarray(table)
        return table[self.cells()]

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each pair's cell of :data:`JUNCTION_AGREEMENT`."""
        return (
            np.clip(self.degree, 2, 5) - 2,
            np.clip((self.angle // 20).astype(np.intp), 0, 8),
            np.digitize(self.calibre_ratio, CALIBRE_BINS),
        )


def _junction_ends(cut, segments, n):
    """Where segments touch junction regions: arrays (segment, junction,
    row, column), one entry per segment end."""
    from scipy import ndimage as ndi

    nodes, _ = ndi.label(cut, np.ones((3, 3), bool))
    h, w = segments.shape
    ys, xs = np.nonzero(segments)
    sid = segments[ys, xs]
    found = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            yy, xx = ys + dy, xs + dx
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            node = np.zeros_like(sid)
            node[ok] = nodes[yy[ok], xx[ok]]
            hit = node > 0
            found.append(np.stack([sid[hit], node[hit], ys[hit], xs[hit]], 1))
    ends = np.concatenate(found) if found else np.zeros((0, 4), np.intp)
    _, first = np.unique(
        ends[:, 0] * (nodes.max() + 1) + ends[:, 1], return_index=True
    )
    return ends[np.sort(first)], (ys, xs, sid)


def _directions(ends, pixels, n):
    """Unit vector from each end into its segment (mean of the segment's
    skeleton pixels within ``_REACH`` of the end)."""
    ys, xs, sid = pixels
    order = np.argsort(sid, kind='stable')
    start = np.searchsorted(sid[order], np.arange(n + 2))
    size = np.diff(start)
    seg = ends[:, 0]
    rep = np.repeat(np.arange(len(ends)), size[seg])
    within = np.arange(len(rep)) - np.repeat(
        np.cumsum(size[seg]) - size[seg], size[seg]
    )
    pix = order[start[seg][rep] + within]
    dy = ys[pix] - ends[rep, 2]
    dx = xs[pix] - ends[rep, 3]
    near = dy * dy + dx * dx <= _REACH * _REACH
    vy = np.bincount(rep[near], dy[near], minlength=len(ends))
    vx = np.bincount(rep[near], dx[near], minlength=len(ends))
    norm = np.hypot(vy, vx)
    norm[norm == 0] = 1.0
    return np.stack([vy / norm, vx / norm], 1)


def vessel_graph(vessels: npt.NDArray[np.bool_]) -> VesselGraph:
    """Cut a vessel map into segments and find the pairs that meet.

    The segments are those of :func:`segment_index`. Junction regions
    (branch points and crossings, with their 8-neighbours) that touch
    are one junction, so a crossing drawn as two nearby branch points is
    one four-way junction. It depends only on the vessel map, so it can
    be made while the A/V network runs.
    """
    vessels = np.asarray(vessels, bool)
    none = np.zeros((0, 2), np.intp)
    empty = (none, none[:, 0], np.zeros(0), np.zeros(0))
    if not vessels.any():
        return VesselGraph(np.zeros(vessels.shape, np.intp), 0, *empty)
    skel, cut, segments, n = _skeleton_parts(vessels)
    seg_of = (
        _nearest_segment(vessels, skel, segments)
        if n
        else np.zeros(vessels.shape, np.intp)
    )
    ends, pixels = _junction_ends(cut, segments, n)
    if len(ends) < 2:
        return VesselGraph(seg_of, n, *empty)
    vec = _directions(ends, pixels, n)
    # Calibre of a segment: its vessel pixels per skeleton pixel (only
    # the ratio of two is used).
    length = np.bincount(pixels[2], minlength=n + 1)
    area = np.bincount(seg_of.ravel(), minlength=n + 1)
    calibre = area / np.maximum(length, 1)
    # Every pair of ends at the same junction: sort by junction, then
    # pair each end with the 1st, 2nd, ... next end of its junction.
    order = np.argsort(ends[:, 1], kind='stable')
    ends, vec = ends[order], vec[order]
    node = ends[:, 1]
    _, first, count = np.unique(node, return_index=True, return_counts=True)
    degree = np.repeat(count, count)
    a_idx, b_idx = [], []
    for d in range(1, int(count.max())):
        a = np.arange(len(ends) - d)
        same = node[a] == node[a + d]
        a_idx.append(a[same])
        b_idx.append(a[same] + d)
    a = np.concatenate(a_idx) if a_idx else np.zeros(0, np.intp)
    b = np.concatenate(b_idx) if b_idx else np.zeros(0, np.intp)
    keep = ends[a, 0] != ends[b, 0]  # a loop's two ends
    a, b = a[keep], b[keep]
    cos = np.clip(np.einsum('ij,ij->i', vec[a], vec[b]), -1.0, 1.0)
    pairs = np.stack([ends[a, 0], ends[b, 0]], 1).astype(np.intp)
    ca, cb = calibre[pairs[:, 0]], calibre[pairs[:, 1]]
    ratio = np.minimum(ca, cb) / np.maximum(np.maximum(ca, cb), 1e-6)
    return VesselGraph(
        seg_of,
        n,
        pairs,
        degree[a].astype(np.intp),
        np.degrees(np.arccos(cos)),
        ratio,
    )
