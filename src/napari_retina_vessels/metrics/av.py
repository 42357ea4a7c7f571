"""Artery/vein metrics (re-exported by :mod:`napari_retina_vessels.metrics`).

Labels are uint8: 0 background, 1 artery, 2 vein, 3 uncertain/crossing.
Only ground-truth pixels labelled artery or vein count (3 is excluded);
artery is the positive class, so ``se`` is the artery recall and ``sp``
the vein recall.

Two figures are reported, as in the literature:

``all``
    every labelled pixel. Where the model called no artery/vein (label 0
    or 3), the pixel is classified by ``artery_probability >= 0.5`` when
    that map is given, and otherwise counts as wrong (an artery becomes a
    false negative, a vein a false positive).
``intersection``
    only labelled pixels the model detected as vessel (label 1 or 2, or
    ``vessels_pred`` True), classified the same way.

``detected`` is the fraction of labelled pixels in the intersection.
Ratios with an empty denominator are NaN.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..errors import InvalidImageError
from .counting import check_shape, ratio

__all__ = ['av_metrics', 'av_counts', 'AVAccumulator', 'pooled_av_metrics']


def _labels(a, what: str, shape=None) -> np.ndarray:
    a = np.asarray(a) if shape is None else check_shape(shape, a, what)
    if a.dtype != np.bool_ and a.size and (a.min() < 0 or a.max() > 3):
        raise InvalidImageError(
            f'{what} labels must be 0 (background), 1 (artery), 2 (vein) '
            f'or 3 (uncertain), got values {a.min()}..{a.max()}'
        )
    return a


def av_counts(
    truth_av: npt.ArrayLike,
    pred_av: npt.ArrayLike,
    *,
    vessels_pred: npt.ArrayLike | None = None,
    artery_probability: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int64]:
    """Confusion counts of one image, artery positive.

    Returns
    -------
    (2, 4) int64
        Rows 'all' and 'intersection' (see the module notes), columns
        ``tp, fp, fn, tn`` as every count in :mod:`.counting`.
    """
    t = _labels(truth_av, 'ground-truth artery/vein')
    p = _labels(pred_av, 'predicted artery/vein', t.shape)
    art_t = t == 1
    vein_t = t == 2
    if mask is not None:
        m = check_shape(t.shape, mask, 'mask').astype(bool)
        art_t &= m
        vein_t &= m
    call_art = p == 1
    call_vein = p == 2
    detected = call_art | call_vein
    if artery_probability is not None:
        pa = check_shape(t.shape, artery_probability, 'artery probability')
        unresolved = ~detected
        call_art |= unresolved & (pa >= 0.5)
        call_vein |= unresolved & (pa < 0.5)
    if vessels_pred is not None:
        v = check_shape(t.shape, vessels_pred, 'predicted vessel map')
        detected |= v.astype(bool)
    rows = []
    for keep in (None, detected):
        a = art_t if keep is None else art_t & keep
        b = vein_t if keep is None else vein_t & keep
        tp = np.count_nonzero(a & call_art)
        tn = np.count_nonzero(b & call_vein)
        n_a, n_b = np.count_nonzero(a), np.count_nonzero(b)
        rows.append([tp, n_b - tn, n_a - tp, tn])
    return np.asarray(rows, np.int64)


def _rates(counts: np.ndarray) -> dict:
    out: dict = {}
    parts = zip(('all', 'intersection'), counts, strict=True)
    for key, (tp, fp, fn, tn) in parts:
        n = tp + fp + fn + tn
        out[key] = {
            'acc': ratio(float(tp + tn), float(n)),
            'se': ratio(float(tp), float(tp + fn)),
            'sp': ratio(float(tn), float(tn + fp)),
            'n': int(n),
        }
    out['detected'] = ratio(
        float(out['intersection']['n']), float(out['all']['n'])
    )
    return out


def av_metrics(
    truth_av: npt.ArrayLike,
    pred_av: npt.ArrayLike,
    *,
    vessels_pred: npt.ArrayLike | None = None,
    artery_probability: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
) -> dict:
    """Artery/vein accuracy, sensitivity (artery) and specificity (vein).

    Parameters
    ----------
    truth_av, pred_av : (H, W) uint8
        0 background, 1 artery, 2 vein, 3 uncertain.
    vessels_pred : (H, W) bool, optional
        The model's vessel map; its pixels join the intersection even
        where *pred_av* is 0 or 3.
    artery_probability : (H, W) float, optional
        Classifies labelled pixels the model left without a class
        (``>= 0.5`` artery), as the literature's "all pixels" figure does.
    mask : (H, W) bool, optional
        Field of view.

    Returns
    -------
    dict
        ``{'all': {'acc', 'se', 'sp', 'n'}, 'intersection': {...},
        'detected': float}``; ``n`` counts the pixels scored.

    Raises
    ------
    ShapeMismatchError, InvalidImageError
    """
    return _rates(
        av_counts(
            truth_av,
            pred_av,
            vessels_pred=vessels_pred,
            artery_probability=artery_probability,
            mask=mask,
        )
    )


class AVAccumulator:
    """Per-image and pooled artery/vein metrics over a set of images."""

    def __init__(self) -> None:
        self._counts: list[np.ndarray] = []
        self.images: list[dict] = []

    def add(
        self,
        truth_av: npt.ArrayLike,
        pred_av: npt.ArrayLike,
        *,
        vessels_pred: npt.ArrayLike | None = None,
        artery_probability: npt.ArrayLike | None = None,
        mask: npt.ArrayLike | None = None,
    ) -> dict:
        """Score one image (see :func:`av_metrics`) and remember it."""
        return self.add_counts(
            av_counts(
                truth_av,
                pred_av,
                vessels_pred=vessels_pred,
                artery_probability=artery_probability,
                mask=mask,
            )
        )

    def add_counts(self, counts: np.ndarray) -> dict:
        """Add :func:`av_counts` computed elsewhere (a parallel worker)."""
        self._counts.append(np.asarray(counts, np.int64))
        row = _rates(self._counts[-1])
        self.images.append(row)
        return row

    def __len__(self) -> int:
        return len(self._counts)

    def pooled(self) -> dict | None:
        """Metrics of all labelled pixels together; None before any."""
        if not self._counts:
            return None
        return _rates(np.sum(self._counts, axis=0))


def pooled_av_metrics(
    truths,
    preds,
    *,
    vessels_preds=None,
    artery_probabilities=None,
    masks=None,
) -> dict:
    """:func:`av_metrics` with the pixels of several images pooled."""
    n = len(truths)
    acc = AVAccumulator()
    for i, (t, p) in enumerate(zip(truths, preds, strict=True)):
        acc.add(
            t,
            p,
            vessels_pred=None if vessels_preds is None else vessels_preds[i],
            artery_probability=None
            if artery_probabilities is None
            else artery_probabilities[i],
            mask=None if masks is None else masks[i],
        )
    return acc.pooled() if n else None
