"""Measures on synthetic maps of known geometry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from napari_retina_vessels.errors import (
    InvalidImageError,
    ShapeMismatchError,
)
from napari_retina_vessels.measures import (
    ARTERY_K,
    IMAGE_COLUMNS,
    SEGMENT_COLUMNS,
    VEIN_K,
    Disc,
    box_counting_dimension,
    find_disc,
    knudtson,
    measure,
    zone_mask,
)

from .render import (
    arc_chord,
    mean_abs_curvature,
    radial_tree,
    sierpinski,
    sinusoid,
    tube,
)

SHAPE = (200, 320)


def _longest(m):
    return m.segments.loc[m.segments['length_px'].idxmax()]


# -- calibre, length, orientation of straight tubes -------------------------


@pytest.mark.parametrize('width', [3.0, 4.5, 6.0, 8.5])
@pytest.mark.parametrize('soft_input', [False, True])
def test_straight_tube_width_length_orientation(width, soft_input):
    p0, p1 = (150.0, 40.0), (60.0, 280.0)  # 20.6 degrees, 256 px
    soft = tube(SHAPE, [p0, p1], width)
    vessels = soft >= 0.5
    m = measure(
        vessels,
        probability=soft if soft_input else None,
        disc=(100, 160, 20),
        pixel_size_um=10.0,
    )
    seg = _longest(m)
    assert len(m.segments) == 1
    assert abs(seg['calibre_px'] - width) <= max(0.5, 0.1 * width)
    true_length = np.hypot(p1[0] - p0[0], p1[1] - p0[1])
    assert seg['length_px'] == pytest.approx(true_length, rel=0.04)
    assert seg['length_um'] == pytest.approx(seg['length_px'] * 10, rel=1e-3)
    assert seg['tortuosity'] == pytest.approx(1.0, abs=0.01)
    angle = np.degrees(np.arctan2(p0[0] - p1[0], p1[1] - p0[1]))
    assert seg['orientation_deg'] == pytest.approx(angle, abs=1.0)
    assert seg['curvature_per_px'] < 0.004


def test_subpixel_widths_differ_by_less_than_a_pixel():
    p0, p1 = (150.0, 40.0), (60.0, 280.0)
    got = []
    for w in (4.0, 4.4, 4.8):
        soft = tube(SHAPE, [p0, p1], w)
        got.append(
            _longest(
                measure(soft >= 0.5, probability=soft, disc=(100, 160, 20))
            )['calibre_px']
        )
    assert np.all(np.diff(got) > 0.2)
    assert np.allclose(got, [4.0, 4.4, 4.8], atol=0.25)


# -- tortuosity of sinusoids ------------------------------------------------


@pytest.mark.parametrize('amplitude', [6.0, 12.0, 20.0])
def test_sinusoid_tortuosity_and_curvature(amplitude):
    wavelength = 100.0
    pts = sinusoid(30, 290, 100, amplitude, wavelength)
    soft = tube(SHAPE, pts, 3.0)
    m = measure(soft >= 0.5, probability=soft, disc=(20, 20, 10))
    seg = _longest(m)
    arc, chord = arc_chord(pts)
    assert seg['tortuosity'] == pytest.approx(arc / chord, rel=0.03)
    kappa = mean_abs_curvature(amplitude, wavelength, 30, 290)
    assert seg['curvature_per_px'] == pytest.approx(kappa, rel=0.2)
    assert abs(seg['calibre_px'] - 3.0) <= 0.5


def test_tortuosity_orders_with_amplitude():
    values = []
    for amplitude in (0.0, 5.0, 10.0, 20.0):
        pts = sinusoid(30, 290, 100, amplitude, 100.0)
        soft = tube(SHAPE, pts, 3.0)
        seg = _longest(measure(soft >= 0.5, disc=(20, 20, 10)))
        values.append((seg['tortuosity'], seg['curvature_per_px']))
    t, k = np.array(values).T
    assert np.all(np.diff(t) > 0) and np.all(np.diff(k) > 0)


# -- fractal dimension -------------------------------------------------------


def test_box_counting_known_dimensions():
    d, _ = box_counting_dimension(sierpinski(512))
    assert d == pytest.approx(np.log2(3), abs=0.03)
    line = np.zeros((256, 256), bool)
    line[100, :] = True
    assert box_counting_dimension(line)[0] == pytest.approx(1.0, abs=0.02)
    assert box_counting_dimension(np.ones((256, 256)))[0] == pytest.approx(
        2.0, abs=0.01
    )
    assert np.isnan(box_counting_dimension(np.zeros((64, 64)))[0])


def test_branching_tree_dimension_between_line_and_plane():
    # A binary tree whose branches halve in length each level: its box-
    # counting dimension over the rendered scales lies between 1 and the
    # Sierpinski triangle's (the same branching with overlap).
    pts = []

    def grow(y, x, angle, length, depth):
        if depth == 0:
            return
        y1 = y - length * np.cos(angle)
        x1 = x + length * np.sin(angle)
        pts.append([(y, x), (y1, x1)])
        for da in (-0.5, 0.5):
            grow(y1, x1, angle + da, length * 0.62, depth - 1)

    grow(500, 256, 0.0, 160, 9)
    soft = np.zeros((512, 512))
    for seg in pts:
        soft = np.maximum(soft, tube((512, 512), seg, 1.5))
    d, _ = box_counting_dimension(soft >= 0.5)
    assert 1.15 < d < np.log2(3)


# -- Knudtson ----------------------------------------------------------------


def test_knudtson_hand_computed():
    w = [10, 9, 8, 7, 6, 5]
    k = ARTERY_K
    r1 = [
        k * np.sqrt(10**2 + 5**2),
        k * np.sqrt(9**2 + 6**2),
        k * np.sqrt(8**2 + 7**2),
    ]  # 9.839, 9.519, 9.355
    r2 = [k * np.sqrt(r1[0] ** 2 + r1[2] ** 2), r1[1]]  # widest+narrowest
    expected = k * np.sqrt(r2[0] ** 2 + r2[1] ** 2)
    assert knudtson(w, k) == pytest.approx(expected, rel=1e-9)
    assert knudtson(w, k) == pytest.approx(13.4427, abs=1e-3)
    # Only the six widest count; order does not matter.
    assert knudtson([1, *w[::-1], 2], k) == pytest.approx(expected)
    assert knudtson([7.0], VEIN_K) == 7.0
    assert knudtson([3, 4], VEIN_K) == pytest.approx(0.95 * 5)
    assert np.isnan(knudtson([], VEIN_K))


def test_crae_crve_avr_on_a_radial_tree():
    shape, centre, r = (400, 400), (200.0, 200.0), 25.0
    art = [6.0, 5.5, 5.0, 4.5, 4.0, 3.5]
    vein = [9.0, 8.0, 7.5, 7.0, 6.5, 6.0]
    widths = [w for pair in zip(art, vein) for w in pair]
    labels = [lab for _ in art for lab in (1, 2)]
    vessels, av, soft = radial_tree(shape, centre, r, widths, labels)
    m = measure(
        vessels,
        artery_vein=av,
        probability=soft,
        disc=(*centre, r),
        pixel_size_um=5.0,
    )
    row = m.image.iloc[0]
    assert row['crae_n'] == 6 and row['crve_n'] == 6
    crae, crve = knudtson(art, ARTERY_K), knudtson(vein, VEIN_K)
    assert row['crae_px'] == pytest.approx(crae, rel=0.05)
    assert row['crve_px'] == pytest.approx(crve, rel=0.05)
    assert row['crae_um'] == pytest.approx(row['crae_px'] * 5, rel=1e-3)
    assert row['avr'] == pytest.approx(crae / crve, rel=0.06)
    assert row['pixel_size_source'] == 'given'
    assert row['avr_reason'] == ''
    assert m.segments['in_crae_crve'].sum() == 12
    assert row['tortuosity_arteries'] == pytest.approx(1.0, abs=0.01)
    assert row['tortuosity_arteries_n'] == 6


def test_pixel_size_from_the_disc_assumption():
    vessels, av, _ = radial_tree(
        (300, 300), (150, 150), 20, [4] * 6, [1, 2] * 3
    )
    row = measure(vessels, artery_vein=av, disc=(150, 150, 20)).image.iloc[0]
    assert row['pixel_size_um'] == pytest.approx(1800 / 40)
    assert '1.8 mm' in row['pixel_size_source']


# -- optic disc -------------------------------------------------------------


def _fundus_with_disc(cy, cx, r, shape=(300, 320)):
    """Orange FOV, a bright disc and vessels converging on it."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = np.zeros((*shape, 3), np.float32)
    fov = (yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2 < (
        0.48 * min(shape)
    ) ** 2
    img[fov] = (0.7, 0.35, 0.12)
    d = np.hypot(yy - cy, xx - cx)
    img[fov & (d < r)] = (1.0, 0.85, 0.6)
    vessels, _, _ = radial_tree(
        shape, (cy, cx), r * 0.8, [5, 4, 5, 4, 3, 4], [1, 2] * 3
    )
    vessels &= fov
    img[vessels] *= 0.5
    return (img * 255).astype(np.uint8), vessels, fov


@pytest.mark.parametrize('use', ['photo', 'vessels', 'both'])
def test_find_disc_on_a_synthetic_fundus(use):
    img, vessels, fov = _fundus_with_disc(140, 100, 22)
    disc = find_disc(
        img if use != 'vessels' else None,
        vessels if use != 'photo' else None,
        fov=fov,
    )
    assert np.hypot(disc.y - 140, disc.x - 100) < 22
    assert disc.source == 'detected' and 0 <= disc.confidence <= 1
    assert 10 < disc.radius < 40


def test_disc_radius_ignores_a_bright_patch_beside_the_disc():
    # A bright patch touching the disc on one side (peripapillary
    # atrophy, a bright field border) joined the disc's connected blob
    # and pushed the radius to the 1.4 r0 limit (RITE 03_test): zone B
    # then lay 40 % too far out. The ring profile only feels it as a
    # share of each ring.
    img, vessels, fov = _fundus_with_disc(150, 150, 22)
    plain = find_disc(img, vessels, fov=fov)
    # A uniform disc's edge, blurred at the disc's scale, reads a little
    # wide at the rim level (a real disc's rim is paler: see below).
    assert plain.radius == pytest.approx(22, rel=0.15)
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    patch = fov & (np.abs(yy - 150) < 14) & (xx > 150) & (xx < 216)
    img[patch] = (255, 216, 153)
    disc = find_disc(img, vessels, fov=fov)
    assert np.hypot(disc.y - 150, disc.x - 150) < 11
    # The patch, as bright as the disc and 3 radii long, adds 17 %.
    assert disc.radius < 1.2 * plain.radius


def test_disc_radius_reaches_the_pale_rim_around_the_cup():
    # A real disc is brightest at its cup and paler over the rim around
    # it; a drawn outline includes the rim. Half way between the centre
    # and the surround fell at the cup's edge (DRIVE-disc radii read
    # 16 % short); the rim level reaches the outer edge.
    img, vessels, fov = _fundus_with_disc(150, 150, 22)
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    d = np.hypot(yy - 150, xx - 150)
    img[fov & (d < 22) & (d >= 11) & ~vessels] = (240, 180, 120)
    disc = find_disc(img, vessels, fov=fov)
    assert disc.radius == pytest.approx(22, rel=0.1)


def test_zones():
    disc = Disc(50, 50, 10)
    b, c = zone_mask((121, 121), disc, 'B'), zone_mask((121, 121), disc, 'c')
    assert b[50, 50 + 25] and not b[50, 50 + 15] and not b[50, 50 + 35]
    assert c[50, 50 + 45] and not c[50, 50 + 55]
    assert not (b & ~c).any()
    with pytest.raises(InvalidImageError, match='zone'):
        zone_mask((10, 10), disc, 'D')


# -- bad input: explained rows or one-line errors ---------------------------


def test_empty_map_gives_an_explained_row():
    m = measure(np.zeros((64, 64), bool))
    row = m.image.iloc[0]
    assert list(m.image.columns) == list(IMAGE_COLUMNS)
    assert list(m.segments.columns) == list(SEGMENT_COLUMNS)
    assert row['n_segments'] == 0 and len(m.segments) == 0
    assert np.isnan(row['crae_px']) and row['crae_reason']
    assert 'empty' in row['fd_vessels_reason']
    assert row['disc_reason']


def test_no_vessels_in_zone_b_says_so():
    vessels = tube((300, 300), [(20, 20), (20, 280)], 4) >= 0.5
    av = vessels.astype(np.uint8)
    av[:, 150:] *= 2
    row = measure(vessels, artery_vein=av, disc=(200, 150, 20)).image.iloc[0]
    assert np.isnan(row['crae_px']) and np.isnan(row['avr'])
    assert 'zone B' in row['crae_reason']
    assert row['crae_n'] == 0 and row['avr_reason']


def test_no_av_map_says_so():
    vessels, _, _ = radial_tree((300, 300), (150, 150), 20, [4] * 6, [1] * 6)
    row = measure(vessels, disc=(150, 150, 20)).image.iloc[0]
    assert row['crae_reason'] == 'no artery/vein map'
    assert np.isfinite(row['fd_vessels'])
    assert row['fd_arteries_reason'] == 'no artery/vein map'


def test_disc_at_the_border_measures_what_is_inside():
    img, vessels, fov = _fundus_with_disc(150, 12, 22)
    m = measure(vessels, img, fov=fov)
    assert len(m.image) == 1
    m = measure(vessels, img, fov=fov, disc=(150, 2, 22))
    assert m.image.iloc[0]['disc_source'] == 'given'


@pytest.mark.parametrize('disc', [None, (150, 2, 22), (150, -10, 22)])
def test_disc_at_the_border_says_zone_b_is_cut_off(disc):
    img, _, fov = _fundus_with_disc(150, 12, 22)
    _, av, _ = radial_tree(
        fov.shape, (150, 12), 22 * 0.8, [5, 4, 5, 4, 3, 4], [1, 2] * 3
    )
    row = measure(av * fov, img, fov=fov, disc=disc).image.iloc[0]
    for key in ('crae', 'crve'):
        assert np.isnan(row[f'{key}_px'])
        assert 'near the edge' in row[f'{key}_reason']
        assert '\n' not in row[f'{key}_reason']
    assert row['avr_reason']
    if disc is not None and disc[1] < 0:
        assert row['disc_reason'] == 'the disc centre is outside the image'


def test_size_mismatch_and_wrong_maps_are_one_line_errors():
    vessels = np.zeros((64, 64), bool)
    with pytest.raises(ShapeMismatchError, match='photo') as err:
        measure(vessels, np.zeros((60, 64, 3), np.uint8))
    assert '\n' not in str(err.value)
    with pytest.raises(ShapeMismatchError):
        measure(vessels, artery_vein=np.zeros((64, 65), np.uint8))
    with pytest.raises(InvalidImageError, match='segment the photo'):
        measure(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InvalidImageError, match='disc'):
        measure(vessels, disc=(1, 2))
    with pytest.raises(InvalidImageError, match='pixel size'):
        measure(vessels, pixel_size_um=-1)
    with pytest.raises(InvalidImageError):
        find_disc()


def test_segment_map_and_csv(tmp_path):
    vessels, av, _ = radial_tree(
        (300, 300), (150, 150), 20, [4] * 6, [1, 2] * 3
    )
    m = measure(vessels, artery_vein=av, disc=(150, 150, 20))
    labels = m.segment_map()
    assert labels.shape == vessels.shape
    assert set(np.unique(labels[vessels])) <= set(range(1, len(m.paths) + 1))
    assert not labels[~vessels].any()
    m.to_csv(tmp_path, name='tree')
    text = (tmp_path / 'measures.csv').read_text()
    assert text.startswith('name,height') and 'tree' in text
    assert (tmp_path / 'segments.csv').read_text().count('\n') == len(
        m.segments
    ) + 1


def test_integer_av_map_is_recognised():
    vessels, av, _ = radial_tree(
        (300, 300), (150, 150), 20, [4] * 6, [1, 2] * 3
    )
    m = measure(av, disc=(150, 150, 20))
    assert set(m.segments['label']) == {'artery', 'vein'}
    m = measure(vessels.astype(np.uint8) * 255, disc=(150, 150, 20))
    assert set(m.segments['label']) == {'vessel'}


def test_importing_measures_leaves_torch_qt_and_skan_unloaded():
    code = (
        'import sys, napari_retina_vessels.measures, '
        'napari_retina_vessels as n; n.measure; '
        "print(sorted(m for m in ('torch', 'qtpy', 'napari', 'skan', "
        "'numba') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == '[]'
