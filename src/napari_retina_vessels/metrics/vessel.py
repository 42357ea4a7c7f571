"""Vessel metrics, computed inside the field of view.

Ground truth comes first, the prediction second, options are keyword-only;
``mask`` (the FOV) restricts every count. Truth and binary predictions:
any non-zero pixel is vessel.

Predictions
    ``bool`` arrays and integer arrays holding only 0 and 1 are binary;
    float arrays are probabilities in [0, 1]; uint8 / uint16 arrays with
    larger values are probabilities scaled by 255 / 65535 (8- and 16-bit
    PNG); other integer arrays (napari Labels data) are label images,
    non-zero = vessel. Probabilities are binarised with
    ``probability >= threshold``. :func:`roc_auc` and
    :func:`average_precision` take any real scores (only the order counts).

Degenerate cases never raise; they give
    - ``se`` NaN without truth vessels, ``sp`` NaN without truth
      background, ``precision`` NaN without predicted vessels, ``acc`` NaN
      without pixels;
    - ``f1`` (= Dice), ``iou`` and ``cldice`` 1.0 when truth and
      prediction are both empty, 0.0 when only one of them is;
    - ``mcc`` 1.0 when the prediction equals a one-class truth, else 0.0
      when a row or column of the confusion matrix is empty (as
      scikit-learn);
    - ``auc`` and ``ap`` NaN when the truth has a single class, None for
      binary predictions.

Pooled figures (:class:`VesselAccumulator`, :func:`dataset_metrics`)
concatenate the pixels of all images, as papers report; per-image figures
are summarised as mean and sample standard deviation (NaN ignored).
Artery/vein metrics (:func:`.av.av_metrics`) are described in
:mod:`.av`; artery is the positive class.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .counting import (
    METRIC_KEYS,
    NAN,
    ImageStats,
    as_scores,
    auc_ap,
    binarise_scores,
    binary_inputs,
    cldice_from_counts,
    confusion_counts,
    image_stats,
    metrics_from_stats,
    ranked_scores,
    rates_from_counts,
    skeleton_counts,
)

__all__ = [
    'METRIC_KEYS',
    'binarise',
    'roc_auc',
    'average_precision',
    'roc_curve',
    'confusion',
    'accuracy',
    'sensitivity',
    'specificity',
    'precision',
    'f1',
    'iou',
    'mcc',
    'cldice',
    'vessel_metrics',
    'evaluate',
    'VesselAccumulator',
    'dataset_metrics',
    'best_f1_threshold',
    'summarise',
]


def binarise(
    prediction: npt.ArrayLike,
    *,
    threshold: float = 0.5,
) -> npt.NDArray[np.bool_]:
    """The binary vessel map the metrics score: a probability map (see
    the module notes) at ``>= threshold``, a binary map as it is."""
    s, scale = as_scores(np.asarray(prediction), None)
    return binarise_scores(s, scale, threshold)


# ------------------------------------------------------------ ranking
def roc_auc(
    truth: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
) -> float:
    """Area under the ROC curve, exact and tie-aware.

    Equals the Mann-Whitney U statistic divided by ``n_pos * n_neg``: ties
    between a positive and a negative score count one half. Any real
    scores work (only their order matters). NaN when only one class is
    present.
    """
    return auc_ap(*ranked_scores(truth, score, mask))[0]


def average_precision(
    truth: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
) -> float:
    """Area under the precision-recall curve, step-wise.

    ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds, as
    scikit-learn's ``average_precision_score``. NaN without positives.
    """
    return auc_ap(*ranked_scores(truth, score, mask))[1]


def roc_curve(
    truth: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score.

    Returns
    -------
    fpr, tpr : (N + 1,) float64
        Starting at (0, 0) (threshold above every score).
    thresholds : (N + 1,) float64
        Decreasing; the first is ``inf``.
    """
    pos, neg = ranked_scores(truth, score, mask)
    values = np.unique(np.concatenate((pos, neg)))[::-1]
    tp = pos.size - np.searchsorted(pos, values, 'left')
    fp = neg.size - np.searchsorted(neg, values, 'left')
    tpr = np.concatenate(([0.0], tp / pos.size if pos.size else tp * NAN))
    fpr = np.concatenate(([0.0], fp / neg.size if neg.size else fp * NAN))
    return fpr, tpr, np.concatenate(([np.inf], values.astype(np.float64)))


# ------------------------------------------------------- binary metrics
def confusion(
    truth: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    threshold: float = 0.5,
) -> dict[str, int]:
    """Counts ``tp``, ``fp``, ``fn``, ``tn`` inside *mask*.

    A probability *prediction* is binarised at ``>= threshold``.
    """
    t, p, m = binary_inputs(truth, prediction, mask, threshold)
    counts = confusion_counts(t, p, m)
    return dict(zip(('tp', 'fp', 'fn', 'tn'), counts, strict=True))


def _binary_metric(key: str, name: str, doc: str):
    """A public one-number metric computed from the confusion counts."""

    def metric(
        truth: npt.ArrayLike,
        prediction: npt.ArrayLike,
        *,
        mask: npt.ArrayLike | None = None,
        threshold: float = 0.5,
    ) -> float:
        c = confusion(truth, prediction, mask=mask, threshold=threshold)
        return rates_from_counts(**c)[key]

    metric.__name__ = metric.__qualname__ = name
    metric.__doc__ = doc
    return metric


accuracy = _binary_metric(
    'acc', 'accuracy', 'Fraction of pixels classified correctly.'
)
sensitivity = _binary_metric(
    'se', 'sensitivity', 'Recall of vessels, TP / (TP + FN); NaN if none.'
)
specificity = _binary_metric(
    'sp', 'specificity', 'Recall of background, TN / (TN + FP).'
)
precision = _binary_metric(
    'precision', 'precision', 'TP / (TP + FP); NaN when nothing is predicted.'
)
f1 = _binary_metric('f1', 'f1', 'F1 score = Dice, 2 TP / (2 TP + FP + FN).')
iou = _binary_metric(
    'iou', 'iou', 'Intersection over union (Jaccard), TP / (TP + FP + FN).'
)
mcc = _binary_metric('mcc', 'mcc', 'Matthews correlation coefficient.')


def cldice(
    truth: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    threshold: float = 0.5,
) -> float:
    """Centre-line Dice (Shit et al. 2021).

    ``2 Tprec Tsens / (Tprec + Tsens)`` with ``Tprec = |S(P) & T| / |S(P)|``
    and ``Tsens = |S(T) & P| / |S(T)|``, S the skeleton
    (``skimage.morphology.skeletonize``) of the map inside *mask*.
    """
    return cldice_from_counts(
        *skeleton_counts(*binary_inputs(truth, prediction, mask, threshold))
    )


# --------------------------------------------------- per image, pooled
def vessel_metrics(
    truth: npt.ArrayLike,
    probability_or_binary: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    threshold: float = 0.5,
) -> dict[str, float | None]:
    """All vessel metrics of one prediction.

    Parameters
    ----------
    truth : (H, W) bool or integer
        Non-zero = vessel.
    probability_or_binary : (H, W)
        Probability map (float in [0, 1], or uint8 / uint16 scaled) or a
        binary map (bool or 0/1 integers).
    mask : (H, W) bool, optional
        Field of view; pixels outside are ignored.
    threshold : float
        Probability cut-off, ``>= threshold`` is vessel.

    Returns
    -------
    dict
        ``auc``, ``ap`` (None for binary predictions), ``acc``, ``se``,
        ``sp``, ``precision``, ``f1``, ``iou``, ``mcc``, ``cldice``,
        ``threshold``.

    Raises
    ------
    ShapeMismatchError, InvalidImageError
    """
    st = image_stats(truth, probability_or_binary, mask, threshold, None)
    return metrics_from_stats(st, threshold)


def evaluate(
    truth: npt.ArrayLike,
    prediction: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    threshold: float = 0.5,
) -> dict[str, float | None]:
    """Score a vessel prediction against ground truth inside the FOV.

    Same as :func:`vessel_metrics`.
    """
    return vessel_metrics(truth, prediction, mask=mask, threshold=threshold)


def summarise(rows: list[dict]) -> tuple[dict, dict]:
    """Mean and sample standard deviation of per-image metric dicts.

    Keys whose values are all None, and ``threshold``, are left out; NaN
    values are ignored.
    """
    mean: dict[str, float] = {}
    sd: dict[str, float] = {}
    for key in rows[0] if rows else ():
        if key == 'threshold':  # a setting, not a measurement
            continue
        vals = [
            r[key]
            for r in rows
            if isinstance(r.get(key), float | int)
            and not isinstance(r.get(key), bool)
        ]
        if not vals:
            continue
        a = np.asarray(vals, np.float64)
        a = a[~np.isnan(a)]
        mean[key] = float(a.mean()) if a.size else NAN
        if a.size > 1:
            sd[key] = float(a.std(ddof=1))
        else:
            sd[key] = 0.0 if a.size else NAN
    return mean, sd


class VesselAccumulator:
    """Per-image and pooled vessel metrics over a set of images.

    Keeps confusion and skeleton counts and the sorted scores of the
    pixels inside the FOV (4 bytes a pixel for float32 maps, 1 for uint8),
    so pooled AUC and AP stay exact.

    Parameters
    ----------
    threshold : float
        Probability cut-off used for every image.
    """

    def __init__(self, *, threshold: float = 0.5) -> None:
        self.threshold = float(threshold)
        self._stats: list[ImageStats] = []
        self._merged = None
        self.images: list[dict[str, float | None]] = []

    def add(
        self,
        truth: npt.ArrayLike,
        prediction: npt.ArrayLike,
        *,
        mask: npt.ArrayLike | None = None,
        binary: bool | None = None,
    ) -> dict[str, float | None]:
        """Score one image, remember it, return its metrics.

        *binary* forces the interpretation of integer predictions (None:
        guess, see the module notes).
        """
        st = image_stats(truth, prediction, mask, self.threshold, binary)
        return self.add_stats(st)

    def add_stats(self, st: ImageStats) -> dict[str, float | None]:
        """Add statistics computed elsewhere (by a parallel worker)."""
        self._stats.append(st)
        self._merged = None
        row = metrics_from_stats(st, self.threshold)
        self.images.append(row)
        return row

    def __len__(self) -> int:
        return len(self._stats)

    def _pooled_scores(self):
        if self._merged is None:
            self._merged = self._merge_scores()
        return self._merged

    def _merge_scores(self):
        if not self._stats or any(s.pos is None for s in self._stats):
            return None
        scales = {s.scale for s in self._stats}
        dtypes = {s.pos.dtype for s in self._stats}
        if len(scales) == 1 and len(dtypes) == 1:
            pos = [s.pos for s in self._stats]
            neg = [s.neg for s in self._stats]
            scale = scales.pop()
        else:
            pos = [s.pos / np.float64(s.scale) for s in self._stats]
            neg = [s.neg / np.float64(s.scale) for s in self._stats]
            scale = 1
        kind = 'stable' if pos[0].dtype.itemsize <= 2 else None
        return (
            np.sort(np.concatenate(pos), kind=kind),
            np.sort(np.concatenate(neg), kind=kind),
            scale,
        )

    def pooled(self) -> dict[str, float | None] | None:
        """Metrics of all pixels together; None before any image."""
        if not self._stats:
            return None
        counts = np.sum([s.counts for s in self._stats], axis=0)
        skel = np.sum([s.skeleton for s in self._stats], axis=0)
        ranked = self._pooled_scores()
        pooled = ImageStats(
            tuple(int(c) for c in counts),
            tuple(int(c) for c in skel),
            *(ranked if ranked else (None, None, None)),
        )
        return metrics_from_stats(pooled, self.threshold)

    def summary(self) -> tuple[dict, dict]:
        """Per-image mean and standard deviation (see :func:`summarise`)."""
        return summarise(self.images)

    def best_threshold(self, *, n_thresholds: int = 1001) -> dict | None:
        """Threshold in ``linspace(0, 1, n_thresholds)`` maximising pooled
        F1, with the pooled binary metrics there (no clDice: it would need
        the images again). None for binary predictions."""
        ranked = self._pooled_scores()
        if ranked is None:
            return None
        pos, neg, scale = ranked
        grid = np.linspace(0.0, 1.0, n_thresholds)
        q = grid * scale
        if np.issubdtype(pos.dtype, np.integer):
            q = np.ceil(q - 1e-9)
        tp = pos.size - np.searchsorted(pos, q.astype(pos.dtype), 'left')
        fp = neg.size - np.searchsorted(neg, q.astype(neg.dtype), 'left')
        fn = pos.size - tp
        with np.errstate(invalid='ignore', divide='ignore'):
            f1s = np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 1)
        i = int(np.argmax(f1s))
        out = {'threshold': round(float(grid[i]), 6)}
        out.update(
            rates_from_counts(
                int(tp[i]), int(fp[i]), int(fn[i]), int(neg.size - fp[i])
            )
        )
        return out


def dataset_metrics(
    truths,
    predictions,
    *,
    masks=None,
    threshold: float = 0.5,
    best_threshold: bool = False,
) -> dict:
    """Pooled and per-image metrics of several images.

    Returns
    -------
    dict
        ``pooled``, ``per_image_mean``, ``per_image_sd``, ``images`` (one
        dict per image) and ``best_threshold`` (None unless asked).
    """
    acc = VesselAccumulator(threshold=threshold)
    masks = [None] * len(truths) if masks is None else masks
    for t, p, m in zip(truths, predictions, masks, strict=True):
        acc.add(t, p, mask=m)
    mean, sd = acc.summary()
    return {
        'pooled': acc.pooled(),
        'per_image_mean': mean,
        'per_image_sd': sd,
        'images': list(acc.images),
        'best_threshold': acc.best_threshold() if best_threshold else None,
    }


def best_f1_threshold(
    truth: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    n_thresholds: int = 1001,
) -> dict | None:
    """The threshold maximising F1 of one probability map (see
    :meth:`VesselAccumulator.best_threshold`)."""
    acc = VesselAccumulator()
    acc.add(truth, score, mask=mask, binary=False)
    return acc.best_threshold(n_thresholds=n_thresholds)
