"""CRAE, CRVE and AVR per hemifield, split by one axis for every side."""

import numpy as np
import pytest

from napari_retina_vessels.measures import measure
from napari_retina_vessels.measures.disc import Disc
from napari_retina_vessels.measures.fovea import Fovea
from napari_retina_vessels.measures.hemifield import (
    AXIS_FOVEA,
    AXIS_HORIZONTAL,
    SIDE_COLUMNS,
    axis,
)
from napari_retina_vessels.measures.knudtson import (
    ARTERY_K,
    VEIN_K,
    knudtson,
)
from napari_retina_vessels.measures.result import IMAGE_COLUMNS

from .render import radial_tree

SHAPE, CENTRE, R = (400, 400), (200.0, 200.0), 25.0
# Spokes k = 0..5 point down the photo (inferior), 6..11 up (superior).
INF_ART, INF_VEIN = [6.0, 5.5, 5.0], [9.0, 8.0, 7.5]
SUP_ART, SUP_VEIN = [4.5, 4.0, 3.5], [7.0, 6.5, 6.0]


def _tree():
    widths = [w for pair in zip(INF_ART, INF_VEIN) for w in pair]
    widths += [w for pair in zip(SUP_ART, SUP_VEIN) for w in pair]
    return radial_tree(SHAPE, CENTRE, R, widths, [1, 2] * 6)


def _measure(**kw):
    vessels, av, soft = _tree()
    return measure(
        vessels,
        artery_vein=av,
        probability=soft,
        disc=(*CENTRE, R),
        pixel_size_um=5.0,
        **kw,
    )


def test_each_side_has_the_calibres_of_its_own_vessels():
    # The fovea level with the disc, to its right: the axis is horizontal.
    row = _measure(fovea=(CENTRE[0], CENTRE[1] + 5 * R)).image.iloc[0]
    assert row['hemifield_axis'] == AXIS_FOVEA
    for side, art, vein in (
        ('superior', SUP_ART, SUP_VEIN),
        ('inferior', INF_ART, INF_VEIN),
    ):
        assert row[f'crae_{side}_n'] == 3 and row[f'crve_{side}_n'] == 3
        crae, crve = knudtson(art, ARTERY_K), knudtson(vein, VEIN_K)
        assert row[f'crae_{side}_px'] == pytest.approx(crae, rel=0.05)
        assert row[f'crve_{side}_px'] == pytest.approx(crve, rel=0.05)
        assert row[f'crae_{side}_um'] == pytest.approx(
            5 * row[f'crae_{side}_px'], rel=1e-3
        )
        assert row[f'avr_{side}'] == pytest.approx(crae / crve, rel=0.06)
        assert row[f'avr_{side}_reason'] == ''
    # The wider inferior vessels give the larger calibres, and the
    # whole-image values still take the six widest of both sides.
    assert row['crae_inferior_px'] > row['crae_superior_px']
    assert row['crae_n'] == 6 and row['crve_n'] == 6


def test_a_tilted_axis_moves_the_vessels_near_it():
    # With the fovea 40 degrees below the horizontal (beyond the usual
    # range, to make the point), the spoke at 15 degrees below the
    # horizontal on the fovea's side lies above the axis: superior.
    a = np.radians(40)
    fovea = (CENTRE[0] + 5 * R * np.sin(a), CENTRE[1] + 5 * R * np.cos(a))
    m = _measure(fovea=fovea)
    row = m.image.iloc[0]
    mid = np.array([p[len(p) // 2] for p in m.paths], float)
    ang = np.degrees(np.arctan2(mid[:, 0] - CENTRE[0], mid[:, 1] - CENTRE[1]))
    spoke = np.abs(ang - 15) < 5
    assert spoke.any()
    assert set(m.segments['hemifield'][spoke]) == {'superior'}
    assert row['crae_superior_n'] + row['crae_inferior_n'] == 6


def test_without_a_fovea_the_horizontal_through_the_disc():
    ny, nx, name = axis(Disc(10, 10, 3), None)
    assert (ny, nx, name) == (-1.0, 0.0, AXIS_HORIZONTAL)
    ny, nx, name = axis(Disc(10, 10, 3), Fovea(10, 40))
    assert name == AXIS_FOVEA and (ny, nx) == pytest.approx((-1.0, 0.0))
    assert axis(None, Fovea(10, 40)) is None


def test_too_few_vessels_on_a_side_give_a_count_reason():
    # Only the inferior half: the superior side has no vessels.
    vessels, av, soft = _tree()
    upper = np.arange(SHAPE[0])[:, None] < CENTRE[0] - 2
    for a in (vessels, av, soft):
        a[upper & np.ones(SHAPE, bool)] = 0
    row = measure(
        vessels,
        artery_vein=av,
        disc=(*CENTRE, R),
        fovea=(CENTRE[0], CENTRE[1] + 5 * R),
        pixel_size_um=5.0,
    ).image.iloc[0]
    assert row['crae_inferior_n'] == 3 and np.isfinite(row['crae_inferior_px'])
    assert np.isnan(row['crae_superior_px'])
    assert row['crae_superior_reason'].startswith(
        '0 arterioles measured in zone B superior of the disc-fovea axis'
    )
    assert 'needs both CRAE and CRVE superior' in row['avr_superior_reason']


def test_no_axis_or_no_av_map_gives_the_reason_on_every_side():
    vessels, av, _ = _tree()
    row = measure(vessels, disc=(*CENTRE, R)).image.iloc[0]
    assert row['crae_superior_reason'] == 'no artery/vein map'
    assert row['avr_inferior_reason'] == 'no artery/vein map'
    # No photo and too little tree to place a disc: no axis, no sides.
    m = np.zeros((200, 200), np.uint8)
    m[100, 80:100] = 1
    row = measure(m > 0, artery_vein=m).image.iloc[0]
    assert row['hemifield_axis'] == ''
    for col in SIDE_COLUMNS:
        if col.endswith('_reason'):
            assert row[col] == 'no optic disc: zone B is unknown', col
        elif not col.endswith('_n'):
            assert np.isnan(row[col]), col


def test_side_columns_are_added_not_renamed():
    cols = list(IMAGE_COLUMNS)
    for old in ('crae_px', 'crve_px', 'avr', 'tortuosity_superior'):
        assert old in cols
    assert cols.index('hemifield_axis') > cols.index('tortuosity_inferior')
    assert set(SIDE_COLUMNS) <= set(cols)
