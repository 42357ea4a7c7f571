"""Artery/vein labelling of a vessel map, and its consistency along
the vessel tree.

The A/V network labels pixels. Two steps make the labels agree with the
vessels they lie on:

- the **segment vote** (:func:`segment_consistency`): the skeleton is cut
  at branch points and crossings, and each segment takes the mean artery
  probability of its pixels;
- the **graph vote** (:func:`graph_vote`, the default): the segments
  that meet at a junction are linked, and each link says how likely the
  two are to carry the same class. The likelihood depends on how many
  segments meet there and on the angle between the two: a vessel that
  goes straight on through a junction keeps its class, two that meet at
  an acute angle in a four-way junction (a crossing) rarely share one.
  The table (:data:`JUNCTION_AGREEMENT`) was measured on the training
  photos' labels (``scripts/fit_av_graph.py``). Each segment's own vote
  is then weighed against its neighbours' by mean-field iterations of
  the pairwise model, so a segment that the network gets wrong is
  corrected by the vessels it continues, while a confident segment keeps
  its class.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .vessel_graph import (
    CALIBRE_BINS,
    JUNCTION_AGREEMENT,
    VesselGraph,
    segment_index,
    vessel_graph,
)

__all__ = [
    'ARTERY',
    'CALIBRE_BINS',
    'JUNCTION_AGREEMENT',
    'UNCERTAIN',
    'VEIN',
    'VOTES',
    'VesselGraph',
    'check_vote',
    'graph_vote',
    'label_av',
    'segment_consistency',
    'segment_index',
    'vessel_graph',
    'vote',
]

ARTERY, VEIN, UNCERTAIN = 1, 2, 3

#: How the pixel labels are made consistent: ``'graph'`` (the default,
#: :func:`graph_vote`), ``'segment'`` (:func:`segment_consistency`) or
#: ``'none'`` (every pixel keeps the network's probability).
VOTES = ('graph', 'segment', 'none')

# Logits are clipped to this before a segment's mean is taken: one
# confidently wrong pixel should not outvote a segment.
_LOGIT_CAP = 6.0


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


def graph_vote(
    vessels_or_graph: npt.NDArray[np.bool_] | VesselGraph,
    p_artery: npt.NDArray[np.float32],
    *,
    strength: float = 0.45,
    iterations: int = 10,
    table: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]:
    """Give every vessel segment one artery probability, agreeing with
    the segments it meets where the anatomy says they should.

    Each segment's evidence is its mean artery logit (pixel logits
    clipped to +-6). A pair of segments meeting at a junction is
    coupled by ``strength * logit(a)``, where *a* is the pair's prior
    agreement (:data:`JUNCTION_AGREEMENT`, clipped to 0.05-0.95):
    positive when the two usually share a class, negative when they
    usually do not. Mean-field iterations of this pairwise model give
    each segment its probability. Pixels near a junction keep their own.

    Parameters
    ----------
    vessels_or_graph : (H, W) bool or VesselGraph
        The vessel map, or ``vessel_graph(vessels)`` when already made.
    p_artery : (H, W) float32
        Probability that a pixel is artery rather than vein.
    strength : float
        Weight of the neighbours against a segment's own evidence (0:
        each segment decided by its own pixels alone).
    iterations : int
        Mean-field iterations (damped by half each).
    table : array, optional
        Another agreement table of the shape of
        :data:`JUNCTION_AGREEMENT` (e.g. counted on one camera's labels).

    Returns
    -------
    numpy.ndarray
        (H, W) float32, unchanged outside the vessels.
    """
    graph = (
        vessels_or_graph
        if isinstance(vessels_or_graph, VesselGraph)
        else vessel_graph(vessels_or_graph)
    )
    out = np.asarray(p_artery, np.float32).copy()
    seg_of, n = graph.seg_of, graph.n
    if n == 0:
        return out
    flat = seg_of.ravel()
    p = np.clip(out.ravel().astype(np.float64), 1e-7, 1 - 1e-7)
    logit = np.clip(np.log(p / (1 - p)), -_LOGIT_CAP, _LOGIT_CAP)
    counts = np.bincount(flat, minlength=n + 1)
    sums = np.bincount(flat, weights=logit, minlength=n + 1)
    own = np.divide(sums, counts, out=np.zeros(n + 1), where=counts > 0)
    field = own
    if len(graph.pairs) and strength > 0:
        a = np.clip(graph.agreement(table), 0.05, 0.95)
        coupling = np.tile(strength * np.log(a / (1 - a)), 2)
        src = np.concatenate([graph.pairs[:, 0], graph.pairs[:, 1]])
        dst = np.concatenate([graph.pairs[:, 1], graph.pairs[:, 0]])
        m = np.tanh(own / 2)
        for _ in range(iterations):
            field = own + np.bincount(
                src, weights=coupling * m[dst], minlength=n + 1
            )
            m = 0.5 * m + 0.5 * np.tanh(field / 2)
    prob = 1.0 / (1.0 + np.exp(-field))
    take = (flat > 0) & (counts[flat] > 0)
    out.ravel()[take] = prob[flat[take]].astype(np.float32)
    return out


def check_vote(consistency: bool | str) -> str:
    """The vote named by *consistency*: one of :data:`VOTES`, or a bool
    (True: ``'graph'``, False: ``'none'``).

    Raises
    ------
    InvalidOptionError
        For any other value.
    """
    if consistency is True:
        return 'graph'
    if consistency is False or consistency is None:
        return 'none'
    if isinstance(consistency, str) and consistency.lower() in VOTES:
        return consistency.lower()
    from .errors import InvalidOptionError

    raise InvalidOptionError(
        f'consistency must be one of {", ".join(VOTES)} (or True/False), '
        f'not {consistency!r}.'
    )


def vote(
    vessels: npt.NDArray[np.bool_],
    p_artery: npt.NDArray[np.float32],
    how: bool | str = 'graph',
    graph: VesselGraph | None = None,
) -> npt.NDArray[np.float32]:
    """*p_artery* after the vote *how* (:data:`VOTES`) on *vessels*;
    *graph*: ``vessel_graph(vessels)``, when already made."""
    how = check_vote(how)
    if how == 'none':
        return np.asarray(p_artery, np.float32)
    graph = vessel_graph(vessels) if graph is None else graph
    if how == 'segment':
        return segment_consistency(vessels, p_artery, index=graph.index)
    return graph_vote(graph, p_artery)


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
