"""The fovea beside the disc: found, given, or a reason; eye and axis."""

import numpy as np
import pytest

from napari_retina_vessels.errors import InvalidImageError
from napari_retina_vessels.measures import measure

from .render import tube

SHAPE = (320, 420)
DISC = (150.0, 90.0, 18.0)
FOVEA = (162.0, 195.0)


def _scene(mirror=False):
    """A photo with a bright disc, a dark fovea and arcades around it."""
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]].astype(float)
    photo = np.zeros((*SHAPE, 3), np.float32)
    photo[...] = (170, 90, 30)
    cy, cx, r = DISC
    photo[np.hypot(yy - cy, xx - cx) < r] = (250, 220, 150)
    dark = np.exp(-(np.hypot(yy - FOVEA[0], xx - FOVEA[1]) ** 2) / 300)
    photo *= 1 - 0.35 * dark[..., None]
    soft = np.zeros(SHAPE)
    # Arcades: above and below the fovea; others leave the disc nasally.
    for end in [(40, 330), (280, 330), (40, 10), (280, 10), (150, 5)]:
        mid = ((cy + end[0]) / 2, (cx + end[1]) / 2)
        soft = np.maximum(soft, tube(SHAPE, [(cy, cx), mid, end], 5.0))
    vessels = soft >= 0.5
    photo[vessels] *= 0.6
    photo = photo.astype(np.uint8)
    if mirror:
        return photo[:, ::-1].copy(), vessels[:, ::-1].copy()
    return photo, vessels


def _row(m):
    return m.image.iloc[0]


def test_fovea_found_with_eye_distance_and_axis():
    photo, vessels = _scene()
    row = _row(measure(vessels, photo, disc=DISC))
    err = np.hypot(row['fovea_y'] - FOVEA[0], row['fovea_x'] - FOVEA[1])
    assert err < DISC[2]
    assert row['fovea_source'] == 'detected' and row['fovea_reason'] == ''
    assert row['eye'] == 'left'  # the disc is left of the fovea
    assert row['disc_fovea_px'] == pytest.approx(
        np.hypot(FOVEA[0] - DISC[0], FOVEA[1] - DISC[1]), abs=DISC[2]
    )
    assert row['axis_angle_deg'] > 0  # the fovea below the disc
    assert row['disc_fovea_um'] == pytest.approx(
        row['disc_fovea_px'] * row['pixel_size_um'], rel=0.01
    )


def test_a_mirrored_photo_is_the_other_eye():
    photo, vessels = _scene(mirror=True)
    disc = (DISC[0], SHAPE[1] - 1 - DISC[1], DISC[2])
    row = _row(measure(vessels, photo, disc=disc))
    assert row['eye'] == 'right'
    assert abs(row['fovea_x'] - (SHAPE[1] - 1 - FOVEA[1])) < DISC[2]


def test_a_given_fovea_is_kept():
    photo, vessels = _scene()
    row = _row(measure(vessels, photo, disc=DISC, fovea=(170, 200)))
    assert (row['fovea_y'], row['fovea_x']) == (170, 200)
    assert row['fovea_source'] == 'given' and row['fovea_confidence'] == 1
    with pytest.raises(InvalidImageError, match='fovea'):
        measure(vessels, photo, disc=DISC, fovea=(np.nan, 3))


def test_no_fovea_without_a_disc_or_outside_the_photo():
    photo, vessels = _scene()
    m = np.zeros((200, 200), bool)
    m[100, 80:100] = True
    row = _row(measure(m))
    assert np.isnan(row['fovea_y']) and 'no optic disc' in row['fovea_reason']
    # A crop around the disc: no room for the macula.
    crop = (slice(90, 210), slice(30, 150))
    row = _row(measure(vessels[crop], photo[crop], disc=(60, 60, 18)))
    assert np.isnan(row['fovea_y'])
    assert 'macula is outside' in row['fovea_reason']


@pytest.mark.parametrize('mirror', [False, True])
def test_segments_split_by_the_disc_fovea_axis(mirror):
    photo, vessels = _scene(mirror=mirror)
    disc = DISC if not mirror else (DISC[0], SHAPE[1] - 1 - DISC[1], DISC[2])
    m = measure(vessels, photo, disc=disc)
    seg, row = m.segments, m.image.iloc[0]
    mid_y = np.array([p[len(p) // 2][0] for p in m.paths])
    far = np.abs(mid_y - DISC[0]) > 40  # clearly off the axis
    assert far.sum() >= 2
    expect = np.where(mid_y < DISC[0], 'superior', 'inferior')
    assert list(seg['hemifield'][far]) == list(expect[far])
    assert np.isfinite(row['tortuosity_superior'])
    assert np.isfinite(row['tortuosity_inferior'])


def test_no_hemifields_without_a_disc():
    # One straight vessel converges nowhere: no clear disc, so neither
    # the disc-fovea axis nor the horizontal through the disc is known.
    m = np.zeros((200, 200), bool)
    m[:, 90:96] = True
    out = measure(m, pixel_size_um=10.0)
    assert set(out.segments['hemifield']) <= {''}
    row = out.image.iloc[0]
    assert np.isnan(row['tortuosity_superior'])
    assert row['hemifield_axis'] == ''


def test_without_a_fovea_the_sides_split_at_the_disc_horizontal():
    photo, vessels = _scene()
    # A crop around the disc: no room for the macula, so no fovea.
    crop = (slice(90, 210), slice(30, 150))
    m = measure(vessels[crop], photo[crop], disc=(60, 60, 18))
    row = m.image.iloc[0]
    assert np.isnan(row['fovea_y'])
    assert row['hemifield_axis'] == 'horizontal through the disc'
    mid_y = np.array([p[len(p) // 2][0] for p in m.paths])
    far = np.abs(mid_y - 60) > 20
    assert far.sum() >= 2
    expect = np.where(mid_y < 60, 'superior', 'inferior')
    assert list(m.segments['hemifield'][far]) == list(expect[far])


def _dark(shape, at, sigma=200.0, depth=0.35):
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    d2 = (yy - at[0]) ** 2 + (xx - at[1]) ** 2
    return 1 - depth * np.exp(-d2 / sigma)


def test_the_fovea_is_sought_on_the_disc_side_towards_the_middle():
    # A darker spot on the nasal side of the disc (the rim of the field
    # beyond it) must not win: the macula is temporal to the disc.
    from napari_retina_vessels.measures import Disc, find_fovea

    photo, vessels = _scene()
    photo = photo * _dark(SHAPE, (150, 25), 150, 0.8)[..., None]
    vessels = vessels.copy()
    vessels[:, :60] = False  # as free of vessels there as the macula
    disc = Disc(*DISC, confidence=1.0, source='detected')
    f, why = find_fovea(photo.astype(np.uint8), vessels, disc)
    assert why == ''
    assert np.hypot(f.y - FOVEA[0], f.x - FOVEA[1]) < DISC[2]


def test_without_a_trusted_disc_the_fovea_comes_from_the_photo():
    from napari_retina_vessels.measures import Disc, find_fovea
    from napari_retina_vessels.measures.fovea import TRUST_DISC

    photo, vessels = _scene()
    # A detected disc under TRUST_DISC in the wrong place is ignored,
    # and no disc at all gives the same fovea.
    wrong = Disc(40.0, 380.0, 18.0, TRUST_DISC / 2, 'detected')
    got = [find_fovea(photo, vessels, d)[0] for d in (wrong, None)]
    for f in got:
        assert np.hypot(f.y - FOVEA[0], f.x - FOVEA[1]) < DISC[2]
    assert (got[0].y, got[0].x) == (got[1].y, got[1].x)
    # Without a photo the uncertain disc cannot be replaced.
    f, why = find_fovea(None, vessels, wrong)
    assert f is None and 'too uncertain' in why


def test_measure_finds_the_fovea_from_the_photo_without_a_clear_disc(
    monkeypatch,
):
    # A disc under the confidence measure needs is no disc: the fovea is
    # still found from the photo, with no axis (no eye, no distance).
    from napari_retina_vessels.measures import Disc, core

    def unclear(*args, **kwargs):
        return Disc(40.0, 380.0, 18.0, 0.05, 'detected')

    monkeypatch.setattr(core, 'find_disc', unclear)
    photo, vessels = _scene()
    row = _row(measure(vessels, photo))
    assert 'no clear optic disc' in row['disc_reason']
    assert np.hypot(row['fovea_y'] - FOVEA[0], row['fovea_x'] - FOVEA[1]) < (
        DISC[2]
    )
    assert row['fovea_source'] == 'detected' and row['fovea_reason'] == ''
    assert row['eye'] == '' and np.isnan(row['disc_fovea_px'])
