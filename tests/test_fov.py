"""Automatic field-of-view masks: synthetic apertures and DRIVE."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels import io
from napari_retina_vessels.errors import InvalidImageError
from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import datasets


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def fundus(
    h: int,
    w: int,
    *,
    radius: float,
    seed: int = 0,
    centre: tuple[float, float] | None = None,
):
    """A fake photo: a vignetted reddish disc with dark vessel lines on a
    noisy near-black border. Returns (uint8 RGB, true aperture)."""
    rng = np.random.default_rng(seed)
    cy, cx = centre or ((h - 1) / 2, (w - 1) / 2)
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - cy, xx - cx) / radius
    inside = r <= 1.0
    # Bright centre, darker rim, as real cameras vignette.
    level = np.where(inside, 170 - 110 * r**2, 0.0)
    for k in range(6):  # dark "vessels" crossing the disc
        angle = k * np.pi / 6
        dist = np.abs((yy - cy) * np.cos(angle) - (xx - cx) * np.sin(angle))
        level = np.where(inside & (dist < 2), level * 0.6, level)
    noise = rng.normal(0, 3, (h, w))
    red = np.clip(level + noise + 4, 0, 255)
    rgb = np.stack([red, 0.5 * red, 0.25 * red], axis=-1).astype(np.uint8)
    return rgb, inside


def test_circular_aperture():
    photo, truth = fundus(300, 320, radius=130)
    mask = fov_mask(photo)
    assert mask.dtype == np.bool_ and mask.shape == truth.shape
    assert dice(mask, truth) > 0.99


def test_large_photo_is_scaled_back_smoothly():
    # Longer side above the working size: the mask is computed small.
    photo, truth = fundus(900, 1100, radius=420)
    mask = fov_mask(photo)
    assert mask.shape == truth.shape
    assert dice(mask, truth) > 0.99
    assert (mask != truth).mean() < 0.01


def test_disc_cut_at_top_and_bottom():
    # The aperture is wider than the sensor is tall (CHASE, HRF, ...).
    photo, truth = fundus(240, 360, radius=150)
    assert truth[0].any() and truth[-1].any()
    mask = fov_mask(photo)
    assert dice(mask, truth) > 0.99
    # The cut edges stay in the mask: rows 0 and -1 are not eroded.
    assert mask[0].sum() >= 0.9 * truth[0].sum()
    assert mask[-1].sum() >= 0.9 * truth[-1].sum()


def test_dark_lesion_inside_is_not_a_hole():
    photo, truth = fundus(300, 300, radius=130)
    photo[140:170, 90:120] = 3  # a dark haemorrhage, as dark as the border
    mask = fov_mask(photo)
    assert mask[140:170, 90:120].all()
    assert dice(mask, truth) > 0.99


def test_off_centre_disc():
    photo, truth = fundus(300, 400, radius=110, centre=(150, 140))
    assert dice(fov_mask(photo), truth) > 0.99


def test_no_dark_border_gives_all_true():
    rng = np.random.default_rng(1)
    photo = rng.integers(80, 200, (120, 140, 3), dtype=np.uint8)
    mask = fov_mask(photo)
    assert mask.shape == (120, 140) and mask.all()


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16, np.float32])
def test_flat_images_do_not_crash(dtype):
    for value in (0, 1):
        photo = np.full((64, 80, 3), value, dtype)
        mask = fov_mask(photo)
        assert mask.shape == (64, 80) and mask.dtype == np.bool_
        assert mask.all()


def test_tiny_images():
    assert fov_mask(np.zeros((2, 2), np.uint8)).all()
    assert fov_mask(np.zeros((1, 50, 3), np.uint8)).shape == (1, 50)


@pytest.mark.parametrize('kind', ['gray', 'rgba', 'uint16', 'float', 'green'])
def test_input_kinds(kind):
    photo, truth = fundus(200, 220, radius=90)
    if kind == 'gray':
        photo = photo[..., 0]
    elif kind == 'rgba':
        photo = np.dstack([photo, np.full(truth.shape, 255, np.uint8)])
    elif kind == 'uint16':
        photo = photo.astype(np.uint16) * 257
    elif kind == 'float':
        photo = photo.astype(np.float32) / 255
    elif kind == 'green':  # red-free photograph: only the green channel
        photo = np.stack(
            [
                np.zeros_like(photo[..., 0]),
                photo[..., 0],
                np.zeros_like(photo[..., 0]),
            ],
            axis=-1,
        )
    assert dice(fov_mask(photo), truth) > 0.99


def test_nan_pixels_count_as_dark():
    photo, truth = fundus(200, 220, radius=90)
    photo = photo.astype(np.float32)
    photo[:5] = np.nan
    assert dice(fov_mask(photo), truth) > 0.99


def test_explicit_threshold():
    photo, truth = fundus(200, 220, radius=90)
    assert dice(fov_mask(photo, threshold=0.1), truth) > 0.99
    # Above the whole photo's brightness: nothing is found -> all True.
    assert fov_mask(photo, threshold=2.0).all()


@pytest.mark.parametrize(
    'shape', [(10, 10, 2), (10, 10, 5), (3, 10, 10, 3), (10,)]
)
def test_bad_shapes(shape):
    with pytest.raises(InvalidImageError, match='expected an'):
        fov_mask(np.zeros(shape, np.uint8))


# -- the real datasets ----------------------------------------------------


def _dataset_dice(folder) -> np.ndarray:
    scores = []
    for sample in datasets.discover(folder):
        photo = io.imread(sample.image)
        scores.append(dice(fov_mask(photo), io.read_mask(sample.fov)))
    return np.array(scores)


@pytest.mark.data
@pytest.mark.slow
def test_drive_fov_masks_match_the_dataset(data_root):
    folder = data_root / 'DRIVE'
    if not folder.is_dir():
        pytest.skip(f'{folder} is missing')
    scores = _dataset_dice(folder)
    assert scores.size == 40
    assert scores.mean() >= 0.98
    assert scores.min() >= 0.97, np.argmin(scores)


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize(
    ('name', 'count', 'least'),
    [
        ('STARE', 20, 0.97),
        # LWNet's CHASE masks trace the aperture loosely on a few photos.
        ('CHASE_DB1', 28, 0.95),
    ],
)
def test_other_fov_masks_match_the_dataset(data_root, name, count, least):
    folder = data_root / name
    if not folder.is_dir():
        pytest.skip(f'{folder} is missing')
    scores = _dataset_dice(folder)
    assert scores.size == count
    assert scores.mean() >= 0.98
    assert scores.min() >= least, np.argmin(scores)


@pytest.mark.parametrize('r', [1, 2, 3, 5, 7])
def test_disc_morphology_equals_scipy(r):
    # The mask's outline is smoothed by opening and closing with a disc,
    # built from horizontal runs for speed: it must give exactly what
    # scipy gives with the disc as structuring element (outside False).
    from scipy import ndimage as ndi

    from napari_retina_vessels.fov import _dilate, _erode

    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = xx**2 + yy**2 <= r * r
    rng = np.random.default_rng(r)
    for _ in range(20):
        h, w = rng.integers(3, 60, 2)
        field = ndi.gaussian_filter(rng.random((h, w)), rng.uniform(0.5, 3))
        m = field > rng.uniform(0.35, 0.65)
        np.testing.assert_array_equal(
            _erode(m, r), ndi.binary_erosion(m, disk, border_value=0)
        )
        np.testing.assert_array_equal(
            _dilate(m, r), ndi.binary_dilation(m, disk, border_value=0)
        )
    for m in (np.ones((9, 7), bool), np.zeros((9, 7), bool)):
        np.testing.assert_array_equal(
            _erode(m, r), ndi.binary_erosion(m, disk, border_value=0)
        )
        np.testing.assert_array_equal(
            _dilate(m, r), ndi.binary_dilation(m, disk, border_value=0)
        )


def test_fill_holes_equals_scipys():
    from scipy import ndimage as ndi

    from napari_retina_vessels.fov import _fill_holes

    rng = np.random.default_rng(5)
    for _ in range(50):
        mask = ndi.gaussian_filter(rng.random((60, 70)), 2) > 0.5
        np.testing.assert_array_equal(
            _fill_holes(mask), ndi.binary_fill_holes(mask)
        )
    full = np.ones((5, 5), bool)
    np.testing.assert_array_equal(_fill_holes(full), full)
