"""Degenerate inputs give reasons or one-line errors, never numbers."""

import numpy as np
import pytest

from napari_retina_vessels.errors import InvalidImageError
from napari_retina_vessels.measures import find_disc, measure


def _row(m):
    return m.image.iloc[0]


@pytest.mark.parametrize('n', [1, 20])
def test_a_few_pixels_and_no_photo_give_no_disc(n):
    m = np.zeros((200, 200), bool)
    m[100, 80 : 80 + n] = True
    row = _row(measure(m))
    assert np.isnan(row['disc_y']) and np.isnan(row['pixel_size_um'])
    assert 'too little vessel tree' in row['disc_reason']
    assert row['disc_source'] == ''
    with pytest.raises(InvalidImageError, match='too little vessel tree'):
        find_disc(None, m)


def test_an_all_true_map_is_refused():
    with pytest.raises(InvalidImageError, match='covers 100.0%'):
        measure(np.ones((200, 200), bool))


def test_a_random_strip_does_not_raise_from_find_disc():
    rng = np.random.default_rng(0)
    for p in (0.3, 0.5, 0.7):
        try:
            m = measure(rng.random((16, 5000)) > p)
        except InvalidImageError as err:
            assert 'field of view' in str(err)
        else:
            # A disc as large as the frame expects cannot fit a strip.
            assert np.isnan(_row(m)['pixel_size_um'])


@pytest.mark.parametrize('bad', [5, 7])
def test_unknown_labels_are_one_line_errors(bad):
    av = np.zeros((64, 64), np.uint8)
    av[:, 10:14] = 1
    av[3, 3] = bad
    with pytest.raises(InvalidImageError, match=f'unknown label.*{bad}'):
        measure(av)
    with pytest.raises(InvalidImageError, match='artery/vein map'):
        measure(av > 0, artery_vein=av)


def test_nan_maps_are_one_line_errors():
    prob = np.zeros((64, 64), np.float32)
    prob[:, 10:14] = 0.9
    prob[5, 5] = np.nan
    with pytest.raises(InvalidImageError, match='1 NaN'):
        measure(prob)
    with pytest.raises(InvalidImageError, match='probability map'):
        measure(prob > 0.5, probability=prob)


@pytest.mark.parametrize('size', [1e-300, 0.0, -1.0, 1e9, float('nan')])
def test_implausible_pixel_size_is_refused(size):
    m = np.zeros((64, 64), bool)
    m[:, 10:14] = True
    with pytest.raises(InvalidImageError, match='micrometres per pixel'):
        measure(m, pixel_size_um=size)


@pytest.mark.parametrize('radius', [1e9, 0.5])
def test_implausible_disc_radius_is_refused(radius):
    m = np.zeros((64, 64), bool)
    m[:, 10:14] = True
    with pytest.raises(InvalidImageError, match='implausible'):
        measure(m, disc=(30, 30, radius))


def test_a_vessel_tree_with_no_photo_still_places_the_disc():
    from .render import tube

    soft = np.zeros((300, 300))
    for a in np.linspace(0, 2 * np.pi, 9)[:-1]:
        end = (150 + 140 * np.sin(a), 150 + 140 * np.cos(a))
        soft = np.maximum(soft, tube((300, 300), [(150, 150), end], 6.0))
    row = _row(measure(soft >= 0.5))
    assert row['disc_reason'] == ''
    assert np.hypot(row['disc_y'] - 150, row['disc_x'] - 150) < 30
