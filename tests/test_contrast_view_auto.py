"""``contrast_view='auto'`` (#28, round three): the A/V stage takes the
CLAHE mirror view only for a photo unlike its training photos."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels.contrast_views import (
    AUTO_THRESHOLD,
    REFERENCE,
    STATISTICS,
    distance,
    equalised_view,
    photo_statistics,
)
from napari_retina_vessels.options import SegmentOptions


def _hazy(photo: np.ndarray) -> np.ndarray:
    """The photo behind a 50 % bright veil (contrast halved)."""
    x = photo.astype(np.float32) / 255
    veil = np.array([0.75, 0.7, 0.65], np.float32)
    return np.round((0.5 * x + 0.5 * veil) * 255).astype(np.uint8)


@pytest.fixture(scope='module')
def photos():
    clear = fake_fundus()
    return clear, _hazy(clear)


def _canonical(photo):
    from napari_retina_vessels._quality_features import canonical_copy

    rgb_s, fov_s, _ = canonical_copy(photo)
    return rgb_s, fov_s


def test_statistics_of_a_hand_made_photo():
    h = w = 200
    yy, xx = np.mgrid[:h, :w]
    fov = (yy - 100) ** 2 + (xx - 100) ** 2 < 95**2
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[...] = (0.6, 0.3, 0.15)
    # Green alternates 0.2 / 0.4 in columns: mean 0.3, std 0.1.
    rgb[..., 1] = np.where(xx % 2, 0.4, 0.2)
    st = photo_statistics(rgb, fov)
    assert set(st) == set(STATISTICS)
    assert st['contrast'] == pytest.approx(0.1 / 0.3, rel=0.02)
    # The smooth background is 0.3: the green deviates by a third.
    assert st['detail'] == pytest.approx(1 / 3, rel=0.05)
    # Darkest channel (blue 0.15) over the brightest (red 0.6).
    assert st['haze'] == pytest.approx(0.25, rel=0.01)
    assert st['log_red_green'] == pytest.approx(np.log(2), abs=0.01)
    assert st['log_green_blue'] == pytest.approx(np.log(2), abs=0.01)
    # An empty field of view has no statistics to speak of.
    empty = photo_statistics(rgb, np.zeros((h, w), bool))
    assert empty == dict.fromkeys(STATISTICS, 0.0)


def test_distance_is_in_reference_standard_deviations():
    mean = {k: m for k, (m, _) in REFERENCE.items()}
    assert distance(mean) == 0.0
    sd = REFERENCE['haze'][1]
    hazier = {**mean, 'haze': mean['haze'] + 3 * sd}
    assert distance(hazier) == pytest.approx(3.0)
    clearer = {**mean, 'haze': mean['haze'] - 3 * sd}
    assert distance(clearer) == pytest.approx(3.0)  # both sides
    assert distance(clearer, rule={'haze': 1}) == 0.0
    # Colour alone is not in the rule: a cast it reads elsewhere.
    cast = {**mean, 'log_green_blue': mean['log_green_blue'] + 10}
    assert distance(cast) == 0.0


def test_auto_equalises_only_a_photo_unlike_the_training_photos(photos):
    clear, hazy = (_canonical(p) for p in photos)
    assert distance(photo_statistics(*clear)) < AUTO_THRESHOLD
    assert distance(photo_statistics(*hazy)) > AUTO_THRESHOLD
    assert equalised_view(*clear, 'auto') is None
    assert equalised_view(*hazy, 'auto') is not None
    assert equalised_view(*clear, 'clahe') is not None
    assert equalised_view(*hazy, 'none') is None


def test_auto_is_the_default_and_is_recorded():
    from napari_retina_vessels.batch._settings import options_of

    assert SegmentOptions().contrast_view == 'auto'
    record = SegmentOptions().record()
    assert record['contrast_view'] == 'auto'
    assert options_of(record).contrast_view == 'auto'
    # A marker written before 'auto' (no contrast view recorded) ran
    # with none: resuming it must not mix two kinds of maps.
    old = {k: v for k, v in record.items() if k != 'contrast_view'}
    assert options_of(old).contrast_view == 'none'


@pytest.mark.slow
def test_a_mixed_batch_gives_each_photo_its_own_choice(photos):
    """In one forward batch, the clear photo gets what 'none' gives and
    the hazy one what 'clahe' gives, as when each runs alone."""
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.pipeline import segment

    kw = {'device': 'cpu', 'precision': 'fp32', 'engine': 'torch'}
    clear, hazy = photos
    both = list(
        segment_many([clear, hazy], batch_size=2, contrast_view='auto', **kw)
    )
    alone_none = segment(clear, contrast_view='none', **kw)
    alone_clahe = segment(hazy, contrast_view='clahe', **kw)
    plain_hazy = segment(hazy, contrast_view='none', **kw)
    for got, want in ((both[0], alone_none), (both[1], alone_clahe)):
        np.testing.assert_allclose(
            got.artery_probability, want.artery_probability, atol=1e-5
        )
        assert np.array_equal(got.artery_vein, want.artery_vein)
    # ... and the view did change the hazy photo's A/V map.
    assert not np.allclose(
        both[1].artery_probability, plain_hazy.artery_probability, atol=1e-3
    )


@pytest.mark.data
@pytest.mark.slow
def test_reference_is_the_training_photos_statistics(data_root):
    """The shipped table is what ``scripts/av_auto_view.py --reference``
    measures: a change to :func:`photo_statistics` must refit it."""
    from napari_retina_vessels._quality_features import canonical_copy
    from napari_retina_vessels.io.datasets import discover, load_sample

    held_out = {'RITE': ('39', '40'), 'HRF-AV': ('08_g', '08_h')}
    rows = []
    for camera, names in held_out.items():
        for s in discover(data_root / camera / 'training'):
            if s.name.startswith(names):
                continue
            rgb_s, fov_s, _ = canonical_copy(load_sample(s)['image'])
            rows.append(photo_statistics(rgb_s, fov_s))
    assert len(rows) == 40
    for name, (mean, sd) in REFERENCE.items():
        values = [r[name] for r in rows]
        assert np.mean(values) == pytest.approx(mean, rel=0.02, abs=2e-3)
        assert np.std(values) == pytest.approx(sd, rel=0.05, abs=2e-3)
