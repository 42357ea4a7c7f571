"""Zone-B vessels: each vessel counted once for CRAE and CRVE.

The vessel graph cuts a vessel into segments wherever its skeleton has a
node: where a branch leaves it, where it forks, and where another vessel
crosses it. Inside zone B (2 to 3 disc radii from the disc centre) the
pieces of one vessel must not count as several vessels: the revised
Knudtson formulas take the six widest *vessels*, and a trunk that counts
twice pushes a genuine vessel out of the six and weighs twice in the
result. Graders measure a vessel that branches inside zone B on its
trunk (Knudtson et al. 2003; Hubbard et al. 1999).

:func:`zone_b_vessels` therefore joins the segments of one A/V class
that meet at a node inside zone B (a fork, a side branch, or both sides
of a crossing) into one vessel, and measures the vessel on its trunk:
its widest member with a zone-B calibre (a trunk is wider than the
branches it gives off; the two sides of a crossing are equally wide),
connectors left out: across a crossing's bridge the profile runs
through both vessels and reads wide. Taking the member nearest the disc
instead picks a thin side branch whenever one leaves the trunk towards
the disc.
Nodes a few pixels apart (a junction spread over neighbouring pixels)
and nodes joined by a short connecting segment of any class are one
node: the skeleton of a crossing is two three-way nodes joined by a
bridge along one of the vessels, up to about twice the wider vessel's
width long when they cross obliquely. A connector counts as short below
2.5 times the widest calibre (mean width) of the segments at its ends.
"""

from __future__ import annotations

import numpy as np

from .disc import Disc
from .graph import Segments

__all__ = ['zone_b_vessels']

#: Segment ends closer than this (pixels) meet at one node.
_NODE_TOLERANCE = 3.0
#: A segment between two zone-B nodes shorter than this many times the
#: widest calibre at its ends is a connector (the bridge of a crossing).
_BRIDGE = 2.5
#: Skeleton pixels over which a free end's direction is taken.
_TANGENT = 8
#: Cosine of the largest angle between a free end's direction and the
#: gap to the other end for the two to face each other across a
#: crossing (30 degrees).
_FACING = float(np.cos(np.radians(30)))


def _end_direction(path: np.ndarray, end: int) -> np.ndarray:
    """Unit vector pointing out of *path* at its end 0 or 1."""
    k = min(len(path) - 1, _TANGENT)
    a, b = (path[0], path[k]) if end == 0 else (path[-1], path[-1 - k])
    d = np.asarray(a, float) - np.asarray(b, float)
    n = np.hypot(*d)
    return d / n if n else d


def _bridge_crossings(segs, ends, nodes, calibre) -> None:
    """Join free ends of one class that face each other across a gap.

    Each class has its own centreline, so where the A/V map gives a
    crossing to one class only, the other class's vessel stops at the
    crossing's edge and goes on at the far side: two free ends, a
    crossing vessel's width (at most the widest calibre) plus about one
    radius either side apart, each pointing at the other. Those ends
    are one node, as they would be with the crossing labelled 3.
    """
    from scipy.spatial import cKDTree

    counts = np.bincount([nodes[e] for e in range(len(ends))])
    free = np.array([counts[nodes[e]] == 1 for e in range(len(ends))])
    finite = calibre[np.isfinite(calibre)]
    if free.sum() < 2 or not finite.size:
        return
    idx = np.flatnonzero(free)
    widest = float(finite.max())
    for a, b in cKDTree(ends[idx]).query_pairs(3 * widest + 2):
        ea, eb = int(idx[a]), int(idx[b])
        sa, sb = ea // 2, eb // 2
        if sa == sb or segs.label[sa] != segs.label[sb]:
            continue
        own = np.nanmax([calibre[sa], calibre[sb], 1.0])
        gap = ends[eb] - ends[ea]
        dist = float(np.hypot(*gap))
        if dist > widest + 2 * own + 2 or dist == 0:
            continue
        gap /= dist
        da = _end_direction(segs.paths[sa], ea % 2)
        db = _end_direction(segs.paths[sb], eb % 2)
        if da @ gap > _FACING and -(db @ gap) > _FACING:
            nodes.merge(ea, eb)


def zone_b_vessels(
    segs: Segments,
    disc: Disc,
    dist: list[np.ndarray],
    calibre: np.ndarray,
    zone_b_calibre: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Group the zone-B segments into vessels and pick each one's trunk.

    Parameters
    ----------
    segs : Segments
        The vessel graph.
    disc : Disc
        Optic disc (zone B is 2-3 radii from its centre).
    dist : list of (n,) float arrays
        Distance of each segment's skeleton pixels from the disc centre,
        in disc radii.
    calibre : (N,) float
        Each segment's mean width (NaN where it has none).
    zone_b_calibre : (N,) float
        Each segment's mean width in zone B (NaN where it has none).

    Returns
    -------
    vessel : (N,) int
        Zone-B vessel id of each segment, -1 for segments with no pixel
        in zone B. Ids are the smallest member segment's index.
    trunk : (N,) bool
        The one segment per vessel whose zone-B calibre stands for the
        vessel (only vessels with a finite calibre have one).
    """
    from scipy.cluster.hierarchy import DisjointSet
    from scipy.spatial import cKDTree

    n = len(segs)
    vessel = np.full(n, -1)
    trunk = np.zeros(n, bool)
    if n == 0:
        return vessel, trunk
    in_b = np.array([bool(((d >= 2) & (d <= 3)).any()) for d in dist])

    # Nodes: both ends of every segment; ends within the tolerance are one.
    ends = np.array([[p[0], p[-1]] for p in segs.paths], float).reshape(-1, 2)
    end_d = np.hypot(ends[:, 0] - disc.y, ends[:, 1] - disc.x) / disc.radius
    nodes = DisjointSet(range(len(ends)))
    for a, b in cKDTree(ends).query_pairs(_NODE_TOLERANCE):
        nodes.merge(a, b)
    # Short connectors between two nodes in zone B (a crossing's bridge).
    node_in_b = (end_d >= 2) & (end_d <= 3)
    widest: dict[int, float] = {}
    for e in np.flatnonzero(node_in_b):
        w = calibre[e // 2]
        if np.isfinite(w):
            k = nodes[int(e)]
            widest[k] = max(widest.get(k, 0.0), float(w))
    connector = np.zeros(n, bool)
    for i in range(n):
        a, b = 2 * i, 2 * i + 1
        if not (node_in_b[a] and node_in_b[b]):
            continue
        w = max(widest.get(nodes[a], 0.0), widest.get(nodes[b], 0.0))
        connector[i] = segs.length[i] < _BRIDGE * w
    for i in np.flatnonzero(connector):
        nodes.merge(2 * int(i), 2 * int(i) + 1)
    _bridge_crossings(segs, ends, nodes, calibre)

    # Same-class zone-B segments that share a node inside zone B.
    vessels = DisjointSet(range(n))
    at_node: dict[tuple[int, int], int] = {}
    for i in np.flatnonzero(in_b):
        for e in (2 * int(i), 2 * int(i) + 1):
            if not node_in_b[e]:
                continue
            key = (nodes[e], int(segs.label[i]))
            if key in at_node:
                vessels.merge(at_node[key], int(i))
            else:
                at_node[key] = int(i)
    for i in np.flatnonzero(in_b):
        vessel[i] = min(vessels.subset(int(i)))

    # The trunk: the widest member with a zone-B calibre, not a
    # connector unless the vessel has nothing else.
    ok = np.isfinite(zone_b_calibre)
    for v in np.unique(vessel[vessel >= 0]):
        members = np.flatnonzero((vessel == v) & ok & ~connector)
        if not members.size:
            members = np.flatnonzero((vessel == v) & ok)
        if members.size:
            trunk[members[np.argmax(zone_b_calibre[members])]] = True
    return vessel, trunk
