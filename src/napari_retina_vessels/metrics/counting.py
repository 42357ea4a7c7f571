"""What vessel and artery/vein metrics share: checks and counts.

Inputs are checked and turned into bool maps and sorted scores here
(one shape check, one threshold check); confusion counts are always in
the order ``(tp, fp, fn, tn)``. Every function is vectorised (no
per-pixel Python loops). The rules are described in :mod:`.vessel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import options as _options
from ..errors import InvalidImageError, ShapeMismatchError

__all__ = [
    'METRIC_KEYS',
    'NAN',
    'ImageStats',
    'as_scores',
    'auc_ap',
    'binarise_scores',
    'binary_inputs',
    'check_inputs',
    'check_shape',
    'check_threshold',
    'cldice_from_counts',
    'confusion_counts',
    'image_stats',
    'metrics_from_stats',
    'ranked_scores',
    'rates_from_counts',
    'ratio',
    'skeleton_counts',
]

#: Keys of :func:`.vessel.vessel_metrics`, in report order.
METRIC_KEYS = (
    'auc',
    'ap',
    'acc',
    'se',
    'sp',
    'precision',
    'f1',
    'iou',
    'mcc',
    'cldice',
    'threshold',
)
NAN = float('nan')


# ----------------------------------------------------------------- inputs
# The one threshold rule lives with the other options.
check_threshold = _options.check_threshold


def check_shape(truth_shape: tuple, array, what: str) -> np.ndarray:
    """*array* as an ndarray, refused unless it has the truth's shape.

    Raises
    ------
    ShapeMismatchError
    """
    array = np.asarray(array)
    if array.shape != tuple(truth_shape):
        raise ShapeMismatchError(
            f'the {what} has shape {array.shape} but the ground truth has '
            f'{tuple(truth_shape)}; pass arrays of the same size'
        )
    return array


def check_inputs(truth, prediction, mask):
    """``(truth as bool, prediction as ndarray, mask as bool or None)``,
    shapes checked."""
    t = np.asarray(truth)
    o = check_shape(t.shape, prediction, 'prediction')
    t = t if t.dtype == np.bool_ else t != 0
    if mask is not None:
        mask = check_shape(t.shape, mask, 'mask')
        mask = mask if mask.dtype == np.bool_ else mask != 0
        if not mask.any():
            # No pixel to score: F1 would be 1.0 over nothing.
            raise InvalidImageError(EMPTY_FOV)
    return t, o, mask


#: Why a photo with an empty field-of-view mask is not scored (the API
#: raises it, ``evaluate`` reports it in the photo's row).
EMPTY_FOV = (
    'the FOV mask is empty; the photo is not scored (give a mask with '
    'the field of view on, or no mask)'
)


def as_scores(a: np.ndarray, binary: bool | None):
    """Return ``(array, scale)``; scale None means binary (bool)."""
    if a.dtype == np.bool_:
        return (a, None) if binary is not False else (a.view(np.uint8), 1)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if binary is None:
            # 8/16-bit maps are scaled probabilities (PNG files); other
            # integer arrays are label images (napari Labels: int32).
            binary = (lo >= 0 and hi <= 1) or a.dtype not in (
                np.uint8,
                np.uint16,
            )
        if binary:
            return a != 0, None
        if a.dtype in (np.uint8, np.uint16):
            return a, 255 if a.dtype == np.uint8 else 65535
        if lo >= 0 and hi <= 1:
            return a.astype(np.uint8), 1
        raise InvalidImageError(
            f'an integer probability map must be uint8 or uint16, got '
            f'{a.dtype}; pass floats in [0, 1]'
        )
    if not np.issubdtype(a.dtype, np.floating):
        raise InvalidImageError(
            f'a prediction must be numeric, got dtype {a.dtype}'
        )
    if binary:
        return a != 0, None
    a = a.astype(np.float32) if a.dtype.itemsize < 4 else a
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if not (lo >= 0.0 and hi <= 1.0):
        raise InvalidImageError(
            f'a probability map must lie in [0, 1], got {lo:g}..{hi:g}; '
            'rescale it or pass a binary map'
        )
    return a, 1


def binarise_scores(s: np.ndarray, scale, threshold: float) -> np.ndarray:
    if scale is None:
        return s
    threshold = check_threshold(threshold)
    if np.issubdtype(s.dtype, np.integer):
        return s >= math.ceil(threshold * scale - 1e-9)
    return s >= threshold


def ranked_scores(truth, score, mask):
    """Sorted scores of truth-positive and truth-negative pixels."""
    t, s, m = check_inputs(truth, score, mask)
    if s.dtype == np.bool_:
        s = s.view(np.uint8)
    elif s.dtype == np.float16:
        s = s.astype(np.float32)
    if m is not None:
        t, s = t[m], s[m]
    else:
        t, s = t.ravel(), s.ravel()
    kind = 'stable' if s.dtype.itemsize <= 2 else None  # radix for ints
    pos = np.sort(s[t], kind=kind)
    neg = np.sort(s[~t], kind=kind)
    if np.issubdtype(s.dtype, np.floating) and (
        pos.size and np.isnan(pos[-1]) or neg.size and np.isnan(neg[-1])
    ):
        raise InvalidImageError('the score holds NaN values')
    return pos, neg


# ------------------------------------------------------------ ranking
def _distinct(sorted_values: np.ndarray):
    """Distinct values of a sorted array, their first index and count."""
    if sorted_values.size == 0:
        empty = np.zeros(0, np.int64)
        return sorted_values, empty, empty
    starts = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate(([0], starts))
    counts = np.diff(np.concatenate((starts, [sorted_values.size])))
    return sorted_values[starts], starts, counts


def auc_ap(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """Tie-aware ROC AUC (Mann-Whitney U) and step-wise average precision.

    Both need, for each distinct positive score v, the negatives below,
    equal to and at or above v: two ``searchsorted`` of the distinct
    values into the sorted negatives.
    """
    n_pos, n_neg = pos.size, neg.size
    if n_pos == 0:
        return NAN, NAN
    values, starts, counts = _distinct(pos)
    below = np.searchsorted(neg, values, 'left')
    tp_ge = n_pos - starts
    fp_ge = n_neg - below
    ap = float(np.sum(counts * (tp_ge / (tp_ge + fp_ge)))) / n_pos
    if n_neg == 0:
        return NAN, ap
    upto = np.searchsorted(neg, values, 'right')
    u = float(np.sum(counts * (below + upto).astype(np.float64))) / 2.0
    return u / (float(n_pos) * n_neg), ap


# ------------------------------------------------------------- counts
def ratio(num: float, den: float) -> float:
    return num / den if den else NAN


def rates_from_counts(tp: int, fp: int, fn: int, tn: int) -> dict[str, float]:
    tp, fp, fn, tn = (float(x) for x in (tp, fp, fn, tn))
    both_empty = tp + fp + fn == 0
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if den:
        mcc_ = (tp * tn - fp * fn) / math.sqrt(den)
    else:
        mcc_ = 1.0 if fp + fn == 0 and tp + tn > 0 else 0.0
    return {
        'acc': ratio(tp + tn, tp + fp + fn + tn),
        'se': ratio(tp, tp + fn),
        'sp': ratio(tn, tn + fp),
        'precision': ratio(tp, tp + fp),
        'f1': 1.0 if both_empty else 2 * tp / (2 * tp + fp + fn),
        'iou': 1.0 if both_empty else tp / (tp + fp + fn),
        'mcc': mcc_,
    }


def confusion_counts(
    t: np.ndarray, p: np.ndarray, m
) -> tuple[int, int, int, int]:
    if m is not None:
        t, p = t[m], p[m]
    n_t = np.count_nonzero(t)
    n_p = np.count_nonzero(p)
    tp = np.count_nonzero(t & p)
    fn, fp = n_t - tp, n_p - tp
    return int(tp), int(fp), int(fn), int(t.size - tp - fn - fp)


def binary_inputs(truth, prediction, mask, threshold):
    t, p, m = check_inputs(truth, prediction, mask)
    s, scale = as_scores(p, None)
    return t, binarise_scores(s, scale, threshold), m


def skeleton_counts(t, p, m) -> tuple[int, int, int, int]:
    """|S(p)|, |S(p) & t|, |S(t)|, |S(t) & p| with S the skeleton."""
    from skimage.morphology import skeletonize

    if m is not None:
        t, p = t & m, p & m
    t, p = np.atleast_2d(t), np.atleast_2d(p)  # 1-D: a row
    sp = skeletonize(p) if p.any() else np.zeros_like(p)
    st = skeletonize(t) if t.any() else np.zeros_like(t)
    return (
        int(np.count_nonzero(sp)),
        int(np.count_nonzero(sp & t)),
        int(np.count_nonzero(st)),
        int(np.count_nonzero(st & p)),
    )


def cldice_from_counts(n_sp: int, sp_in_t: int, n_st: int, st_in_p: int):
    if n_sp == 0 and n_st == 0:
        return 1.0
    if n_sp == 0 or n_st == 0:
        return 0.0
    tprec, tsens = sp_in_t / n_sp, st_in_p / n_st
    if tprec + tsens == 0:
        return 0.0
    return 2 * tprec * tsens / (tprec + tsens)


@dataclass(frozen=True)
class ImageStats:
    counts: tuple[int, int, int, int]
    skeleton: tuple[int, int, int, int]
    pos: np.ndarray | None  # sorted scores of vessel pixels, score units
    neg: np.ndarray | None
    scale: int | None


def image_stats(truth, prediction, mask, threshold, binary) -> ImageStats:
    t, p, m = check_inputs(truth, prediction, mask)
    s, scale = as_scores(p, binary)
    b = binarise_scores(s, scale, threshold)
    pos = neg = None
    if scale is not None:
        pos, neg = ranked_scores(t, s, m)
    return ImageStats(
        confusion_counts(t, b, m), skeleton_counts(t, b, m), pos, neg, scale
    )


def metrics_from_stats(
    st: ImageStats, threshold: float
) -> dict[str, float | None]:
    out: dict[str, float | None] = {'auc': None, 'ap': None}
    if st.pos is not None:
        out['auc'], out['ap'] = auc_ap(st.pos, st.neg)
    out.update(rates_from_counts(*st.counts))
    out['cldice'] = cldice_from_counts(*st.skeleton)
    out['threshold'] = float(threshold)
    return {k: out[k] for k in METRIC_KEYS}
