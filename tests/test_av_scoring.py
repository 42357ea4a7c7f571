"""Which pixels ``evaluate --av`` counts, pinned on hand-made maps, and
its agreement with an independent scorer of ``segment(image)``."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels import metrics as M
from napari_retina_vessels.cli._evaluate import AV_DEFINITION, report_table
from napari_retina_vessels.errors import InvalidOptionError
from napari_retina_vessels.evaluation import evaluate_dataset
from napari_retina_vessels.io import av_from_rgb, imwrite

R, B, G, WH, K = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255,) * 3, (0,) * 3
MAG, OFF_R, OFF_B = (255, 0, 255), (221, 0, 34), (1, 0, 254)

# A RITE-style drawing, one row a vessel: red artery, blue vein, green
# crossing, white uncertain, stray magenta and near-red/near-blue pixels
# as the RITE files have them.
DRAWING = np.array(
    [
        [R, R, R, R, G, R, K, K],
        [B, B, B, B, G, B, WH, K],
        [K, K, OFF_R, OFF_B, MAG, K, K, K],
        [R, R, B, B, K, K, K, K],
    ],
    np.uint8,
)
# What the model said: 0 background, 1 artery, 2 vein.
PRED = np.array(
    [
        [1, 1, 2, 0, 1, 1, 0, 0],
        [2, 2, 2, 2, 2, 0, 1, 0],
        [0, 0, 1, 1, 1, 0, 0, 0],
        [1, 2, 0, 2, 0, 0, 0, 0],
    ],
    np.uint8,
)
# The field of view leaves out the last labelled pixel of row 0.
FOV = np.ones(DRAWING.shape[:2], bool)
FOV[0, 5] = False


def test_rite_colours_decode_to_classes():
    t = av_from_rgb(DRAWING)
    assert t[0].tolist() == [1, 1, 1, 1, 3, 1, 0, 0]
    assert t[1].tolist() == [2, 2, 2, 2, 3, 2, 3, 0]
    # near-red and near-blue go to their class; magenta is uncertain
    assert t[2].tolist() == [0, 0, 1, 2, 3, 0, 0, 0]


def test_intersection_counts_labelled_detected_pixels_in_the_fov():
    t = av_from_rgb(DRAWING)
    m = M.av_metrics(t, PRED, mask=FOV)
    # Counted: red/blue (and near-red/near-blue) inside the FOV, so
    # 4 + 5 + 2 + 4 = 15 labelled pixels (crossings, white, magenta and
    # the pixel outside the FOV excluded). Detected (PRED 1 or 2):
    # row 0: 3 of 4, right 2 (R R called 1 1, R called 2);
    # row 1: 4 of 5 (B B B B called 2, (1, 5) missed), all right;
    # row 2: both, right 1 (near-red called 1, near-blue called 1);
    # row 3: 3 of 4 (R R B B called 1 2 0 2), right 2.
    assert m['all']['n'] == 15
    assert m['intersection']['n'] == 3 + 4 + 2 + 3 == 12
    assert m['intersection']['acc'] == pytest.approx((2 + 4 + 1 + 2) / 12)
    assert m['detected'] == pytest.approx(12 / 15)
    # artery positive: labelled arteries detected 3 + 1 + 2 = 6, right
    # 2 + 1 + 1 = 4; veins detected 4 + 1 + 1 = 6, right 4 + 0 + 1 = 5
    assert m['intersection']['se'] == pytest.approx(4 / 6)
    assert m['intersection']['sp'] == pytest.approx(5 / 6)
    # 'all': a missed pixel counts as wrong without artery probability
    assert m['all']['acc'] == pytest.approx(9 / 15)


def test_a_vessel_map_adds_its_pixels_decided_by_probability():
    t = av_from_rgb(DRAWING)
    ves = PRED > 0
    ves[0, 3] = True  # detected as vessel, but no A/V label from the model
    pa = np.where(PRED == 1, 0.9, 0.1)
    pa[0, 3] = 0.7  # -> artery, right
    m = M.av_metrics(
        t, PRED, vessels_pred=ves, artery_probability=pa, mask=FOV
    )
    assert m['intersection']['n'] == 13
    assert m['intersection']['acc'] == pytest.approx(10 / 13)


def test_evaluate_scores_saved_maps_by_the_same_rule(tmp_path):
    root, preds = tmp_path / 'data', tmp_path / 'preds'
    photo = np.full(DRAWING.shape, 120, np.uint8)
    imwrite(root / 'images' / 'a.png', photo)
    imwrite(root / 'masks' / 'a.png', FOV)
    imwrite(root / 'av' / 'a.png', DRAWING)
    imwrite(preds / 'a.png', (PRED > 0).astype(np.uint8) * 255)
    imwrite(preds / 'a_av.png', PRED)
    rep = evaluate_dataset(root, predictions=preds, av=True)
    assert rep['av']['intersection']['n'] == 12
    assert rep['av']['intersection']['acc'] == pytest.approx(9 / 12)
    assert rep['av']['detected'] == pytest.approx(12 / 15)
    assert rep['model_fov'] is None  # no model ran
    assert AV_DEFINITION in report_table(rep)


def test_model_fov_is_checked_first(tmp_path):
    with pytest.raises(InvalidOptionError, match='dataset, photo'):
        evaluate_dataset(tmp_path, model_fov='mask')


def _independent_score(drawing, av, fov):
    """Intersection accuracy from the raw colours, as an outside scorer
    writes it: exact red = artery, exact blue = vein, everything else
    ignored; detected = the model's artery or vein label."""
    art = np.all(drawing == R, -1) & fov
    vein = np.all(drawing == B, -1) & fov
    det = (av == 1) | (av == 2)
    right = np.count_nonzero(art & (av == 1)) + np.count_nonzero(
        vein & (av == 2)
    )
    n = np.count_nonzero((art | vein) & det)
    return right, n, np.count_nonzero(art | vein)


@pytest.mark.slow
def test_photo_mode_agrees_with_an_independent_scorer(tmp_path):
    """``model_fov='photo'`` scores exactly what ``segment(image)`` gives
    a user, so an outside scorer of that output gets the same figure."""
    import napari_retina_vessels as nrv

    rng = np.random.default_rng(3)
    h, w = 96, 104
    yy, xx = np.mgrid[:h, :w]
    fov = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < 44**2
    drawing = np.zeros((h, w, 3), np.uint8)
    for i, r in enumerate(range(14, h - 14, 9)):
        drawing[r : r + 3, 10 : w - 10] = R if i % 2 else B
    drawing[40:60, 50:53] = G  # a crossing strip
    photo = np.zeros((h, w, 3), np.uint8)
    photo[fov] = (175, 85, 40)
    photo[np.all(drawing == R, -1)] = (140, 50, 25)
    photo[np.all(drawing == B, -1)] = (100, 30, 20)
    photo = np.clip(photo + rng.integers(0, 6, photo.shape), 0, 255)
    photo = (photo * fov[..., None]).astype(np.uint8)
    root = tmp_path / 'data'
    imwrite(root / 'images' / 'p.png', photo)
    imwrite(root / 'masks' / 'p.png', fov)
    imwrite(root / 'av' / 'p.png', drawing)
    rep = evaluate_dataset(root, av=True, model_fov='photo', device='cpu')
    assert rep['model_fov'] == 'photo'
    seg = nrv.segment(photo, av=True, device='cpu')
    right, n, labelled = _independent_score(drawing, seg.artery_vein, fov)
    assert n > 0
    assert rep['av']['intersection']['n'] == n
    assert rep['av']['intersection']['acc'] == pytest.approx(right / n)
    assert rep['av']['detected'] == pytest.approx(n / labelled)
