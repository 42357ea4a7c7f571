"""The segmentation pipeline on synthetic and real photographs."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels import segment
from napari_retina_vessels.errors import (
    DeviceError,
    InvalidImageError,
    ShapeMismatchError,
)
from napari_retina_vessels.inference import Progress, available_devices
from napari_retina_vessels.pipeline import Segmentation, iter_segment


@pytest.fixture(scope='module')
def photo():
    return fake_fundus()


def test_segment_returns_consistent_result(photo):
    res = segment(photo, av=False)
    assert isinstance(res, Segmentation)
    h, w = photo.shape[:2]
    assert res.probability.shape == (h, w)
    assert res.probability.dtype == np.float32
    assert res.probability.min() >= 0 and res.probability.max() <= 1
    assert res.fov.dtype == bool and res.fov.shape == (h, w)
    assert not res.probability[~res.fov].any()
    assert np.array_equal(
        res.vessels, (res.probability >= res.threshold) & res.fov
    )
    assert res.artery_vein is None
    assert len(res.weights_sha256) == 64
    # device='auto' picks the best device here: cuda on a GPU machine.
    assert res.device == available_devices()[0] and res.seconds > 0
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        res.model = 'x'


def test_iter_segment_yields_progress_then_returns(photo):
    gen = iter_segment(photo, av=False)
    records = []
    while True:
        try:
            records.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert records and all(isinstance(r, Progress) for r in records)
    assert {'weights', 'vessels'} <= {r.stage for r in records}
    assert isinstance(result, Segmentation)


def test_progress_callback_and_threshold(photo):
    seen = []
    res = segment(photo, av=False, threshold=0.8, progress=seen.append)
    assert seen and res.threshold == 0.8
    assert np.array_equal(res.vessels, (res.probability >= 0.8) & res.fov)


@pytest.mark.parametrize('kind', ['gray', 'uint16', 'float', 'rgba'])
def test_other_photo_kinds_are_normalised(photo, kind):
    if kind == 'gray':
        img = photo[..., 1]
    elif kind == 'uint16':
        img = photo.astype(np.uint16) * 257
    elif kind == 'float':
        img = photo.astype(np.float64) / 255
    else:
        img = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    res = segment(img, av=False)
    ref = segment(photo, av=False)
    assert res.probability.shape == photo.shape[:2]
    if kind in ('uint16', 'float', 'rgba'):
        np.testing.assert_allclose(res.probability, ref.probability, atol=2e-3)


@pytest.mark.parametrize(
    'bad, match',
    [
        (np.zeros((5, 5, 5, 3), np.uint8), 'shape'),
        (np.zeros((10, 10, 3), np.uint8), 'at least'),
        (np.full((64, 64, 3), np.nan), 'NaN'),
        (np.zeros((64, 64, 7), np.uint8), 'shape'),
    ],
)
def test_bad_arrays_raise_clear_errors(bad, match):
    with pytest.raises(InvalidImageError, match=match):
        segment(bad, av=False)


def test_fov_shape_mismatch(photo):
    with pytest.raises(ShapeMismatchError, match='FOV mask'):
        segment(photo, av=False, fov=np.ones((10, 10), bool))


def test_given_fov_is_used(photo):
    fov = np.zeros(photo.shape[:2], bool)
    fov[50:250, 50:250] = True
    res = segment(photo, av=False, fov=fov)
    assert np.array_equal(res.fov, fov)
    assert not res.probability[~fov].any()


def test_unavailable_device_is_refused(photo):
    missing = [d for d in ('cuda', 'mps') if d not in available_devices()]
    if not missing:
        pytest.skip('every device is available here')
    with pytest.raises(DeviceError, match='not available'):
        segment(photo, av=False, device=missing[0])
    with pytest.raises(DeviceError, match='unknown device'):
        segment(photo, av=False, device='tpu')


def test_all_black_and_all_white_photos_do_not_crash():
    for value in (0, 255):
        img = np.full((128, 128, 3), value, np.uint8)
        res = segment(img, av=False)
        assert res.probability.shape == (128, 128)
        assert np.isfinite(res.probability).all()


def test_av_labels_live_on_vessels(photo):
    res = segment(photo, av=True)
    av = res.artery_vein
    assert av.dtype == np.uint8 and av.shape == photo.shape[:2]
    assert set(np.unique(av)) <= {0, 1, 2, 3}
    assert np.array_equal(av > 0, res.vessels)
    assert res.av_model and len(res.av_weights_sha256) == 64


def test_grayscale_av_warns(photo):
    with pytest.warns(UserWarning, match='grayscale'):
        segment(photo[..., 1], av=True)


def test_grey_detection_needs_all_channels_equal():
    from napari_retina_vessels.pipeline import _looks_grey

    grey = np.repeat(RNG_GREY.random((64, 48, 1), dtype=np.float32), 3, -1)
    assert _looks_grey(grey, grey)
    assert _looks_grey(grey[..., 0], grey)
    # Colour off the sparse grid that is checked first still counts.
    tinted = grey.copy()
    tinted[5, 7, 2] += 0.1
    assert not _looks_grey(tinted, tinted)
    tinted = grey.copy()
    tinted[::16, ::16, 0] = 0
    assert not _looks_grey(tinted, tinted)


RNG_GREY = np.random.default_rng(11)


@pytest.mark.data
def test_drive_photo_quality_and_tiling(data_root):
    from napari_retina_vessels.io import imread, read_mask
    from napari_retina_vessels.metrics import roc_auc

    d = data_root / 'DRIVE' / 'test'
    img = imread(d / 'images' / '01_test.tif')
    truth = read_mask(d / '1st_manual' / '01_manual1.gif')
    mask = read_mask(d / 'mask' / '01_test_mask.gif')
    whole = segment(img, av=False, fov=mask)
    assert roc_auc(truth, whole.probability, mask=mask) > 0.95
    tiled = segment(img, av=False, fov=mask, tile=256)
    diff = np.abs(tiled.probability - whole.probability)[mask]
    assert np.percentile(diff, 99) < 0.1
    assert (
        abs(
            roc_auc(truth, tiled.probability, mask=mask)
            - roc_auc(truth, whole.probability, mask=mask)
        )
        < 0.003
    )
