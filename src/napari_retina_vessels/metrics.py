"""Vessel and artery/vein metrics, computed inside the field of view."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ['roc_auc']


def _flat(score, truth, mask):
    score = np.asarray(score, np.float64).ravel()
    truth = np.asarray(truth, bool).ravel()
    if mask is not None:
        m = np.asarray(mask, bool).ravel()
        score, truth = score[m], truth[m]
    return score, truth


def roc_auc(
    truth: npt.ArrayLike, score: npt.ArrayLike, *,
    mask: npt.ArrayLike | None = None,
) -> float:
    """Area under the ROC curve, exact and tie-aware.

    Equals the Mann-Whitney U statistic divided by ``n_pos * n_neg``: ties
    between a positive and a negative score count one half. NaN when only
    one class is present.
    """
    s, t = _flat(score, truth, mask)
    n_pos = int(t.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    order = np.argsort(s, kind='stable')
    s_sorted = s[order]
    t_sorted = t[order]
    # Mid-ranks of tied groups.
    edges = np.flatnonzero(np.diff(s_sorted)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [s_sorted.size]))
    mid = (starts + ends + 1) / 2.0
    pos_per_group = np.add.reduceat(t_sorted.astype(np.int64), starts)
    rank_sum = float((mid * pos_per_group).sum())
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)
