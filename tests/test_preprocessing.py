"""Colour normalisation, canonical scale, resizing and standardising."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels import preprocessing as pp
from napari_retina_vessels.errors import InvalidImageError

RNG = np.random.default_rng(3)


# -- as_rgb_float ---------------------------------------------------------


def _check(out: np.ndarray, shape: tuple[int, int]) -> None:
    assert out.dtype == np.float32
    assert out.shape == (*shape, 3)
    assert out.flags['C_CONTIGUOUS']
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_uint8_rgb():
    img = RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    img[0, 0] = (0, 128, 255)
    out = pp.as_rgb_float(img)
    _check(out, (40, 50))
    np.testing.assert_allclose(out, img / 255.0, atol=1e-6)
    np.testing.assert_allclose(out[0, 0], [0, 128 / 255, 1], atol=1e-6)


def test_uint8_fast_path_equals_the_general_integer_formula():
    img = RNG.integers(0, 256, (33, 47, 3), dtype=np.uint8)
    img[0, :2] = ((0, 0, 0), (255, 255, 255))
    general = np.clip(
        (img.astype(np.float32) - 0.0) / 255.0, 0, 1, dtype=np.float32
    )
    np.testing.assert_array_equal(pp.as_rgb_float(img), general)
    gray = pp.as_rgb_float(img[..., 1])
    assert gray.shape == (33, 47, 3)
    np.testing.assert_array_equal(gray[..., 2], general[..., 1])


def test_uint8_keeps_its_full_range_even_when_dark():
    img = np.full((40, 40, 3), 10, np.uint8)
    np.testing.assert_allclose(pp.as_rgb_float(img), 10 / 255, atol=1e-6)


def test_uint16_full_range():
    img = RNG.integers(0, 65536, (40, 50, 3), dtype=np.uint16)
    img[0, 0, 0] = 65535
    out = pp.as_rgb_float(img)
    _check(out, (40, 50))
    np.testing.assert_allclose(out, img / 65535.0, atol=1e-6)


def test_uint16_holding_12_bit_data():
    img = RNG.integers(0, 4096, (40, 50, 3), dtype=np.uint16)
    img[0, 0, 0] = 4095
    out = pp.as_rgb_float(img)
    np.testing.assert_allclose(out, img / 4095.0, atol=1e-6)
    assert out.max() == pytest.approx(1.0)


def test_one_hot_pixel_does_not_set_the_scale_of_12_bit_data():
    # 12-bit data in uint16 with a single saturated pixel: the scale
    # follows the 12-bit range, not the one 65535 (which is clipped).
    rng = np.random.default_rng(0)
    img = rng.integers(0, 4096, (200, 220, 3)).astype(np.uint16)
    hot = img.copy()
    hot[7, 9, 0] = 65535
    out = pp.as_rgb_float(hot)
    np.testing.assert_allclose(
        np.delete(out.reshape(-1, 3), 7 * 220 + 9, 0),
        np.delete(pp.as_rgb_float(img).reshape(-1, 3), 7 * 220 + 9, 0),
    )
    assert out[7, 9, 0] == 1.0


def test_float_hot_pixel_is_clipped_not_the_scale():
    img = np.linspace(0, 4000, 200 * 200).reshape(200, 200)
    hot = img.copy()
    hot[0, 0] = 1e12
    out = pp.as_rgb_float(hot)
    assert 0.49 < out[100, 100, 0] < 0.51
    assert out[0, 0, 0] == 1.0


def test_float_in_unit_range_is_kept():
    img = RNG.random((40, 50, 3)).astype(np.float64) * 0.5
    out = pp.as_rgb_float(img)
    _check(out, (40, 50))
    np.testing.assert_allclose(out, img, atol=1e-6)


def test_float_outside_unit_range_is_rescaled():
    img = RNG.random((40, 50, 3)) * 400 - 100
    out = pp.as_rgb_float(img)
    _check(out, (40, 50))
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1)
    np.testing.assert_allclose(
        out, (img - img.min()) / (img.max() - img.min()), atol=1e-5
    )


def test_gray_is_repeated_to_rgb():
    img = RNG.integers(0, 256, (40, 50), dtype=np.uint8)
    out = pp.as_rgb_float(img)
    _check(out, (40, 50))
    for c in range(3):
        np.testing.assert_allclose(out[..., c], img / 255.0, atol=1e-6)
    single = pp.as_rgb_float(img[..., None])
    np.testing.assert_array_equal(single, out)


def test_rgba_drops_alpha():
    rgb = RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.zeros((40, 50), np.uint8)])
    np.testing.assert_array_equal(pp.as_rgb_float(rgba), pp.as_rgb_float(rgb))


def test_bool():
    img = RNG.random((40, 50)) > 0.5
    out = pp.as_rgb_float(img)
    _check(out, (40, 50))
    np.testing.assert_array_equal(out[..., 1], img.astype(np.float32))


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad):
    img = RNG.random((40, 50, 3)).astype(np.float32)
    img[3, 4, 1] = bad
    with pytest.raises(InvalidImageError, match='NaN or infinite'):
        pp.as_rgb_float(img)


@pytest.mark.parametrize('shape', [(31, 100, 3), (100, 31), (5, 5, 3)])
def test_too_small_is_refused(shape):
    with pytest.raises(InvalidImageError, match='at least 32 x 32'):
        pp.as_rgb_float(np.zeros(shape, np.uint8))


@pytest.mark.parametrize(
    'shape', [(40, 40, 2), (40, 40, 5), (2, 40, 40, 3), (40,)]
)
def test_bad_shapes_are_refused(shape):
    with pytest.raises(InvalidImageError, match='expected a'):
        pp.as_rgb_float(np.zeros(shape, np.uint8))


def test_unsupported_dtype_is_refused():
    with pytest.raises(InvalidImageError, match='dtype complex'):
        pp.as_rgb_float(np.zeros((40, 40, 3), np.complex64))


def test_minimum_size_is_accepted():
    _check(pp.as_rgb_float(np.zeros((32, 32, 3), np.uint8)), (32, 32))


# -- canonical scale and resize -------------------------------------------


def _disc(h: int, w: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2) <= radius


def _diameter(fov: np.ndarray) -> int:
    rows = np.flatnonzero(fov.any(axis=1))
    cols = np.flatnonzero(fov.any(axis=0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


def test_canonical_scale_of_drive_sized_fov_is_one():
    assert pp.canonical_scale(_disc(584, 565, 270)) == 1.0
    # Within 3 % of the canonical diameter: unchanged.
    near = _disc(584, 565, 266)
    assert 0.97 < 540 / _diameter(near) < 1.03
    assert pp.canonical_scale(near) == 1.0
    # Just outside: scaled.
    off = _disc(584, 565, 260)
    assert pp.canonical_scale(off) == pytest.approx(540 / _diameter(off))
    assert pp.canonical_scale(off) > 1.03


def test_canonical_scale_of_large_and_small_fovs():
    big = _disc(2000, 2200, 540)
    assert _diameter(big) in (1080, 1081)
    assert pp.canonical_scale(big) == pytest.approx(540 / _diameter(big))
    small = _disc(300, 300, 135)
    assert pp.canonical_scale(small) == pytest.approx(540 / _diameter(small))
    assert 1.9 < pp.canonical_scale(small) < 2.1


def test_canonical_scale_of_a_disc_cut_top_and_bottom():
    cut = _disc(700, 1200, 540)  # about 1081 wide, cut to 700 tall
    assert cut[0].any() and cut[-1].any()
    assert pp.canonical_scale(cut) == pytest.approx(540 / _diameter(cut))
    assert pp.canonical_scale(cut) < 0.6


def test_canonical_scale_of_an_empty_fov_uses_the_image():
    assert pp.canonical_scale(np.zeros((400, 1080), bool)) == pytest.approx(
        0.5
    )


def test_scaled_shape():
    assert pp.scaled_shape((584, 565, 3), 1.0) == (584, 565)
    assert pp.scaled_shape((2336, 3504), 0.25) == (584, 876)
    assert pp.scaled_shape((10, 10), 0.01) == (1, 1)


@pytest.mark.parametrize('shape', [(30, 50), (200, 120), (64, 64)])
def test_resize_shapes(shape):
    rgb = RNG.random((64, 64, 3)).astype(np.float32)
    out = pp.resize(rgb, shape)
    assert out.shape == (*shape, 3) and out.dtype == np.float32
    gray = pp.resize(rgb[..., 0], shape)
    assert gray.shape == shape and gray.dtype == np.float32
    # One channel and three channels take different vectorised paths
    # (torch's interpolate when torch is loaded): float32 rounding only.
    np.testing.assert_allclose(gray, out[..., 0], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ('src', 'dst'),
    [((97, 131), (31, 40)), ((31, 40), (97, 131)), ((60, 90), (80, 45))],
    ids=['down', 'up', 'mixed'],
)
def test_resize_by_torch_equals_pillows_bilinear(src, dst):
    # PyTorch resizes where it is loaded (here, as in segmentation);
    # Pillow where it is not (the quality gate): the same values.
    import torch  # noqa: F401

    yy, xx = np.mgrid[: src[0], : src[1]]
    img = (np.sin(xx / 7.0) * np.cos(yy / 5.0) + RNG.random(src)).astype(
        np.float32
    )
    pil = pp._resize_pillow(img, dst)
    np.testing.assert_allclose(pp.resize(img, dst), pil, atol=1e-5)
    rgb = np.stack([img, 2 * img, -img], -1)
    np.testing.assert_allclose(pp.resize(rgb, dst)[..., 2], -pil, atol=1e-5)
    np.testing.assert_allclose(
        pp._resize_pillow(rgb, dst)[..., 1], 2 * pil, atol=1e-5
    )


def test_resize_refuses_other_shapes():
    with pytest.raises(ValueError, match=r'\(H, W\[, C\]\)'):
        pp.resize(np.zeros((2, 8, 8, 3), np.float32), (4, 4))


def test_resize_keeps_constant_images_constant_and_copies():
    flat = np.full((50, 60, 3), 0.25, np.float32)
    np.testing.assert_allclose(pp.resize(flat, (23, 91)), 0.25, atol=1e-6)
    same = pp.resize(flat, (50, 60))
    assert same is not flat
    np.testing.assert_array_equal(same, flat)


def test_resize_down_then_up_is_close_for_smooth_images():
    yy, xx = np.mgrid[:120, :160]
    smooth = np.sin(xx / 15.0)[..., None] * np.cos(yy / 20.0)[..., None]
    smooth = np.repeat(smooth.astype(np.float32), 3, axis=-1)
    back = pp.resize(pp.resize(smooth, (60, 80)), (120, 160))
    assert np.abs(back - smooth)[5:-5, 5:-5].max() < 0.05


# -- standardise ----------------------------------------------------------


def test_standardise_inside_and_outside_the_fov():
    rgb = RNG.random((60, 70, 3)).astype(np.float32)
    rgb[..., 2] *= 0.1  # channels with different spreads
    fov = _disc(60, 70, 25)
    out = pp.standardise(rgb, fov)
    assert out.shape == (3, 60, 70) and out.dtype == np.float32
    assert (out[:, ~fov] == 0).all()
    inside = out[:, fov]
    np.testing.assert_allclose(inside.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(inside.std(axis=1), 1, atol=1e-4)


def test_standardise_flat_channel_stays_zero():
    rgb = RNG.random((40, 40, 3)).astype(np.float32)
    rgb[..., 0] = 0.0  # red-free photo
    fov = np.ones((40, 40), bool)
    out = pp.standardise(rgb, fov)
    assert np.isfinite(out).all()
    assert (out[0] == 0).all()


def test_standardise_empty_fov_uses_the_whole_image():
    rgb = RNG.random((40, 40, 3)).astype(np.float32)
    out = pp.standardise(rgb, np.zeros((40, 40), bool))
    # Statistics come from the whole image, but outside the FOV (all of
    # it) is still zero.
    assert np.isfinite(out).all() and (out == 0).all()


# -- local_standardise ----------------------------------------------------


def _vessel_photo(h=160, w=170):
    """Dark lines on a flat background inside a disc, and its FOV."""
    yy, xx = np.mgrid[:h, :w]
    img = np.full((h, w, 3), 0.5, np.float32)
    for x0 in (30, 70, 110, 140):
        img[np.abs(xx - x0 - 0.2 * yy) < 2] -= 0.15
    return img, _disc(h, w, 75)


def test_local_standardise_removes_uneven_illumination():
    img, fov = _vessel_photo()
    yy, xx = np.mgrid[:160, :170]
    ramp = (0.4 + 1.2 * xx / 170)[..., None].astype(np.float32)
    flat = pp.local_standardise(img, fov)
    lit = pp.local_standardise(img * ramp, fov)
    assert flat.shape == (3, 160, 170) and flat.dtype == np.float32
    assert (lit[:, ~fov] == 0).all()
    inside = lit[:, fov]
    np.testing.assert_allclose(inside.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(inside.std(axis=1), 1, atol=1e-3)
    # A brightness ramp across the photo changes the global standardisation
    # a lot and the local one little: vessels look alike on both sides.
    core = _disc(160, 170, 60)
    err_local = np.abs(lit - flat)[:, core].mean()
    err_global = np.abs(
        pp.standardise(img * ramp, fov) - pp.standardise(img, fov)
    )[:, core].mean()
    assert err_local < 0.25 * err_global


def test_local_standardise_flat_channel_and_empty_fov_stay_finite():
    img, fov = _vessel_photo()
    img[..., 0] = 0.0
    out = pp.local_standardise(img, fov)
    assert np.isfinite(out).all() and (out[0] == 0).all()
    out = pp.local_standardise(img, np.zeros(fov.shape, bool))
    assert np.isfinite(out).all() and (out == 0).all()


def test_normalise_input_dispatches_and_refuses_unknown_modes():
    img, fov = _vessel_photo()
    np.testing.assert_array_equal(
        pp.normalise_input(img, fov, 'global'), pp.standardise(img, fov)
    )
    np.testing.assert_array_equal(
        pp.normalise_input(img, fov, 'local'), pp.local_standardise(img, fov)
    )
    with pytest.raises(ValueError, match='unknown input normalisation'):
        pp.normalise_input(img, fov, 'clahe')
