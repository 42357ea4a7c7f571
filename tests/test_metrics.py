"""Vessel and artery/vein metrics: hand-computed cases and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_retina_vessels import metrics as M
from napari_retina_vessels.errors import (
    InvalidImageError,
    ShapeMismatchError,
)

sk = pytest.importorskip('sklearn.metrics')

# tp=2 fn=1 fp=1 tn=4
TRUTH = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
PRED = np.array([[1, 0, 1, 0], [1, 0, 0, 0]], bool)


# ------------------------------------------------------------ ranking
def test_auc_counts_ties_as_half():
    truth = np.array([1, 1, 0, 0])
    score = np.array([0.8, 0.5, 0.5, 0.2])
    # pairs: 0.8>0.5, 0.8>0.2, 0.5=0.5 (1/2), 0.5>0.2 -> 3.5 / 4
    assert M.roc_auc(truth, score) == pytest.approx(0.875, abs=1e-15)


def test_auc_perfect_inverted_and_single_class():
    truth = np.array([0, 0, 1, 1])
    assert M.roc_auc(truth, [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert M.roc_auc(truth, [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert M.roc_auc(truth, [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert math.isnan(M.roc_auc([0, 0, 0], [0.1, 0.2, 0.3]))
    assert math.isnan(M.roc_auc([1, 1], [0.1, 0.2]))


def test_auc_respects_mask():
    truth = np.array([1, 1, 0, 0])
    score = np.array([0.8, 0.1, 0.5, 0.2])
    assert M.roc_auc(truth, score) == 0.5  # 0.8 beats both, 0.1 none
    # dropping the badly ranked vessel pixel leaves a perfect ranking
    mask = np.array([True, False, True, True])
    assert M.roc_auc(truth, score, mask=mask) == 1.0


def test_average_precision_step_wise():
    # thresholds 0.9: P 1, R .5; 0.7: P 2/3, R 1 -> .5 + .5 * 2/3
    ap = M.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-15)
    # a tie between a vessel and a background pixel: P 1/2 at R 1/2
    ap = M.average_precision([1, 0, 1], [0.5, 0.5, 0.2])
    assert ap == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3, abs=1e-15)
    assert math.isnan(M.average_precision([0, 0], [0.2, 0.3]))


def test_roc_curve_endpoints_and_area():
    rng = np.random.default_rng(3)
    truth = rng.random(500) < 0.3
    score = np.round(rng.random(500) * 0.6 + truth * 0.3, 2)
    fpr, tpr, thr = M.roc_curve(truth, score)
    assert (fpr[0], tpr[0], thr[0]) == (0.0, 0.0, np.inf)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(thr) < 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(M.roc_auc(truth, score), abs=1e-12)


@pytest.mark.parametrize('quantised', [False, True])
def test_ranking_agrees_with_sklearn(quantised):
    rng = np.random.default_rng(7)
    truth = rng.random((64, 80)) < 0.15
    score = np.clip(rng.normal(0.4, 0.2, truth.shape) + 0.25 * truth, 0, 1)
    if quantised:  # many ties, the uint8 sort path
        score = np.round(score * 255).astype(np.uint8)
    mask = rng.random(truth.shape) < 0.8
    t, s = truth[mask], score[mask]
    assert M.roc_auc(truth, score, mask=mask) == pytest.approx(
        sk.roc_auc_score(t, s), abs=1e-9
    )
    assert M.average_precision(truth, score, mask=mask) == pytest.approx(
        sk.average_precision_score(t, s), abs=1e-9
    )


# ------------------------------------------------------------- binary
def test_binary_metrics_by_hand():
    m = M.vessel_metrics(TRUTH, PRED)
    assert M.confusion(TRUTH, PRED) == {'tp': 2, 'fp': 1, 'fn': 1, 'tn': 4}
    assert m['acc'] == 0.75
    assert m['se'] == pytest.approx(2 / 3)
    assert m['sp'] == pytest.approx(4 / 5)
    assert m['precision'] == pytest.approx(2 / 3)
    assert m['f1'] == pytest.approx(2 / 3)  # 2*2 / (2*2 + 1 + 1)
    assert m['iou'] == pytest.approx(0.5)  # 2 / (2 + 1 + 1)
    assert m['mcc'] == pytest.approx(7 / 15)  # (8 - 1) / sqrt(3*3*5*5)
    assert m['auc'] is None and m['ap'] is None  # binary prediction
    assert m['threshold'] == 0.5
    assert list(m) == list(M.METRIC_KEYS)
    for name in (
        'accuracy',
        'sensitivity',
        'specificity',
        'precision',
        'f1',
        'iou',
        'mcc',
    ):
        key = {
            'accuracy': 'acc',
            'sensitivity': 'se',
            'specificity': 'sp',
        }.get(name, name)
        assert getattr(M, name)(TRUTH, PRED) == pytest.approx(m[key])


def test_fov_mask_excludes_pixels():
    mask = np.ones_like(TRUTH)
    mask[0, 2] = False  # the false positive
    assert M.confusion(TRUTH, PRED, mask=mask) == {
        'tp': 2,
        'fp': 0,
        'fn': 1,
        'tn': 4,
    }
    assert M.precision(TRUTH, PRED, mask=mask) == 1.0
    assert M.accuracy(TRUTH, PRED, mask=mask) == pytest.approx(6 / 7)


def test_probability_is_thresholded_at_or_above():
    prob = np.array([[0.9, 0.49, 0.5, 0.1], [0.7, 0.0, 0.2, 0.3]])
    assert M.confusion(TRUTH, prob) == {'tp': 2, 'fp': 1, 'fn': 1, 'tn': 4}
    m = M.vessel_metrics(TRUTH, prob, threshold=0.4)
    assert m['se'] == 1.0 and m['threshold'] == 0.4
    # 8-bit maps are probability x 255: 128/255 >= 0.5 > 127/255
    u8 = np.array([[255, 127, 128, 0], [200, 0, 0, 0]], np.uint8)
    assert M.confusion(TRUTH, u8) == {'tp': 2, 'fp': 1, 'fn': 1, 'tn': 4}
    assert M.vessel_metrics(TRUTH, u8)['auc'] is not None
    u16 = u8.astype(np.uint16) * 257
    assert M.vessel_metrics(TRUTH, u16) == M.vessel_metrics(TRUTH, u8)
    # napari Labels data (int32) is binary, non-zero = vessel
    assert M.vessel_metrics(TRUTH, PRED.astype(np.int32) * 2)[
        'f1'
    ] == pytest.approx(2 / 3)


def test_empty_truth_and_empty_prediction():
    empty = np.zeros((6, 6), bool)
    m = M.vessel_metrics(empty, empty)
    assert m['f1'] == m['iou'] == m['cldice'] == m['mcc'] == 1.0
    assert m['acc'] == 1.0 and m['sp'] == 1.0
    assert math.isnan(m['se']) and math.isnan(m['precision'])
    some = empty.copy()
    some[2, 1:5] = True
    m = M.vessel_metrics(empty, some)  # all predicted vessels are wrong
    assert m['f1'] == m['iou'] == m['cldice'] == m['mcc'] == 0.0
    assert m['precision'] == 0.0 and math.isnan(m['se'])
    m = M.vessel_metrics(some, empty)  # nothing found
    assert m['f1'] == m['iou'] == m['cldice'] == m['mcc'] == m['se'] == 0.0
    assert math.isnan(m['precision']) and m['sp'] == 1.0
    m = M.vessel_metrics(empty, np.zeros((6, 6)))
    assert math.isnan(m['auc']) and math.isnan(m['ap'])


def test_all_positive_prediction():
    everything = np.ones_like(TRUTH)
    m = M.vessel_metrics(TRUTH, everything)
    assert m['se'] == 1.0 and m['sp'] == 0.0
    assert m['precision'] == pytest.approx(3 / 8)
    assert m['f1'] == pytest.approx(6 / 11)  # 2*3 / (2*3 + 5)
    assert m['iou'] == pytest.approx(3 / 8)
    assert m['mcc'] == 0.0  # empty column: as scikit-learn
    assert m['mcc'] == sk.matthews_corrcoef(TRUTH.ravel(), everything.ravel())


def test_cldice_by_hand_on_thin_lines():
    # one-pixel lines are their own skeletons
    truth = np.zeros((11, 20), bool)
    truth[5, 0:10] = True
    pred = np.zeros_like(truth)
    pred[5, 0:5] = True  # half the vessel ...
    pred[8, 0:5] = True  # ... and a false one as long
    # Tprec = 5/10, Tsens = 5/10
    assert M.cldice(truth, pred) == pytest.approx(0.5)
    assert M.cldice(truth, truth) == 1.0


def test_cldice_rewards_centre_lines_dice_does_not():
    truth = np.zeros((13, 24), bool)
    truth[5:8, 2:20] = True  # a vessel 3 pixels wide
    centre = np.zeros_like(truth)
    centre[6, 2:20] = True
    assert M.f1(truth, centre) == pytest.approx(0.5)
    assert M.cldice(truth, centre) > 0.95
    # outside the FOV nothing counts
    mask = np.zeros_like(truth)
    mask[:, :11] = True
    half = truth & mask
    assert M.cldice(truth, half, mask=mask) == 1.0


def test_binary_agrees_with_sklearn():
    rng = np.random.default_rng(11)
    truth = rng.random((50, 70)) < 0.2
    prob = np.clip(rng.random(truth.shape) * 0.8 + 0.3 * truth, 0, 1)
    mask = rng.random(truth.shape) < 0.9
    t, p = truth[mask], prob[mask] >= 0.5
    m = M.vessel_metrics(truth, prob, mask=mask)
    assert m['mcc'] == pytest.approx(sk.matthews_corrcoef(t, p), abs=1e-9)
    assert m['f1'] == pytest.approx(sk.f1_score(t, p), abs=1e-9)
    assert m['acc'] == pytest.approx(sk.accuracy_score(t, p), abs=1e-9)
    assert m['se'] == pytest.approx(sk.recall_score(t, p), abs=1e-9)
    assert m['precision'] == pytest.approx(sk.precision_score(t, p), abs=1e-9)
    assert m['iou'] == pytest.approx(sk.jaccard_score(t, p), abs=1e-9)
    assert m['auc'] == pytest.approx(sk.roc_auc_score(t, prob[mask]), abs=1e-9)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ShapeMismatchError, match='same size'):
        M.vessel_metrics(TRUTH, PRED[:, :3])
    with pytest.raises(ShapeMismatchError, match='mask'):
        M.roc_auc(TRUTH, PRED, mask=np.ones((3, 3), bool))
    with pytest.raises(InvalidImageError, match=r'\[0, 1\]'):
        M.vessel_metrics(TRUTH, PRED * 2.0)
    with pytest.raises(InvalidImageError, match='NaN'):
        M.roc_auc([0, 1], [np.nan, 0.5])


def test_public_evaluate_is_lazy_alias():
    import napari_retina_vessels as nrv

    assert nrv.evaluate(TRUTH, PRED) == M.vessel_metrics(TRUTH, PRED)


# ------------------------------------------------------------- pooled
def test_pooled_concatenates_pixels_and_summarises_images():
    rng = np.random.default_rng(5)
    truths = [rng.random((20, 30)) < 0.2, rng.random((25, 15)) < 0.3]
    probs = [
        np.clip(rng.random(t.shape) * 0.7 + 0.3 * t, 0, 1) for t in truths
    ]
    probs[1] = np.round(probs[1] * 255).astype(np.uint8)  # mixed dtypes
    masks = [rng.random(t.shape) < 0.9 for t in truths]
    rep = M.dataset_metrics(truths, probs, masks=masks, best_threshold=True)
    t = np.concatenate([a[m] for a, m in zip(truths, masks, strict=True)])
    s = np.concatenate([probs[0][masks[0]], probs[1][masks[1]] / 255.0])
    pooled = rep['pooled']
    assert pooled['auc'] == pytest.approx(sk.roc_auc_score(t, s), abs=1e-9)
    assert pooled['ap'] == pytest.approx(
        sk.average_precision_score(t, s), abs=1e-9
    )
    assert pooled['mcc'] == pytest.approx(
        sk.matthews_corrcoef(t, s >= 0.5), abs=1e-9
    )
    per = [
        M.vessel_metrics(a, p, mask=m)
        for a, p, m in zip(truths, probs, masks, strict=True)
    ]
    assert rep['images'] == per
    f1s = [r['f1'] for r in per]
    assert rep['per_image_mean']['f1'] == pytest.approx(np.mean(f1s))
    assert rep['per_image_sd']['f1'] == pytest.approx(np.std(f1s, ddof=1))
    assert 'auc' in rep['per_image_mean']
    # the best threshold really maximises pooled F1 on the grid
    best = rep['best_threshold']
    grid = np.linspace(0, 1, 1001)
    brute = [sk.f1_score(t, s >= g - 1e-12) for g in grid]
    assert best['f1'] == pytest.approx(max(brute), abs=1e-9)


def test_best_threshold_by_hand_and_binary():
    best = M.best_f1_threshold([1, 1, 0, 0], [0.9, 0.6, 0.4, 0.1])
    assert best['f1'] == 1.0 and 0.4 < best['threshold'] <= 0.6
    rep = M.dataset_metrics([TRUTH], [PRED], best_threshold=True)
    assert rep['best_threshold'] is None and rep['pooled']['auc'] is None
    assert 'auc' not in rep['per_image_mean']
    assert rep['per_image_sd']['f1'] == 0.0  # one image


# ------------------------------------------------------- artery / vein
AV_TRUTH = np.array([[1, 1, 2, 2, 3, 0]], np.uint8)
AV_PRED = np.array([[1, 2, 2, 0, 1, 1]], np.uint8)


def test_av_metrics_by_hand():
    m = M.av_metrics(AV_TRUTH, AV_PRED)
    # all 4 labelled pixels; the undetected vein (pred 0) counts as wrong
    assert m['all'] == {'acc': 0.5, 'se': 0.5, 'sp': 0.5, 'n': 4}
    # intersection: the first three pixels
    assert m['intersection']['n'] == 3
    assert m['intersection']['acc'] == pytest.approx(2 / 3)
    assert m['intersection']['se'] == 0.5
    assert m['intersection']['sp'] == 1.0
    assert m['detected'] == 0.75


def test_av_metrics_with_artery_probability_and_vessels():
    p_art = np.array([[0.9, 0.9, 0.1, 0.2, 0.5, 0.5]])
    m = M.av_metrics(AV_TRUTH, AV_PRED, artery_probability=p_art)
    # the labels win where present; the undetected vein is p < 0.5
    assert m['all'] == {'acc': 0.75, 'se': 0.5, 'sp': 1.0, 'n': 4}
    assert m['intersection']['n'] == 3
    vessels = np.array([[1, 1, 1, 1, 0, 0]], bool)
    m = M.av_metrics(
        AV_TRUTH, AV_PRED, vessels_pred=vessels, artery_probability=p_art
    )
    assert m['intersection'] == m['all'] and m['detected'] == 1.0
    mask = np.array([[1, 0, 1, 1, 1, 1]], bool)
    m = M.av_metrics(AV_TRUTH, AV_PRED, mask=mask)
    assert m['all'] == {
        'acc': pytest.approx(2 / 3),
        'se': 1.0,
        'sp': 0.5,
        'n': 3,
    }


def test_av_pooled_sums_pixels():
    truth2 = np.array([[1, 2, 2, 0]], np.uint8)
    pred2 = np.array([[1, 1, 2, 0]], np.uint8)
    pooled = M.pooled_av_metrics([AV_TRUTH, truth2], [AV_PRED, pred2])
    # all: tp 1+1, fn 1+0, tn 1+1, fp 1+1 over 7 pixels
    assert pooled['all']['n'] == 7
    assert pooled['all']['acc'] == pytest.approx(4 / 7)
    assert pooled['all']['se'] == pytest.approx(2 / 3)
    assert pooled['all']['sp'] == pytest.approx(2 / 4)
    assert pooled['detected'] == pytest.approx(6 / 7)


def test_av_empty_and_bad_labels():
    m = M.av_metrics(np.zeros((3, 3), np.uint8), np.zeros((3, 3), np.uint8))
    assert m['all']['n'] == 0 and math.isnan(m['all']['acc'])
    assert math.isnan(m['detected'])
    with pytest.raises(InvalidImageError, match='artery'):
        M.av_metrics(np.full((2, 2), 5, np.uint8), np.zeros((2, 2)))
    with pytest.raises(ShapeMismatchError):
        M.av_metrics(AV_TRUTH, AV_PRED[:, :3])
