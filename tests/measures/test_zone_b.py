"""CRAE and CRVE count each zone-B vessel once, measured on its trunk."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels.measures import (
    ARTERY_K,
    VEIN_K,
    knudtson,
    measure,
)

from .render import tube

CENTRE, R, SHAPE = (300.0, 300.0), 40.0, (600, 600)


def _polar(r, a):
    return (CENTRE[0] + r * R * np.sin(a), CENTRE[1] + r * R * np.cos(a))


def _draw(vessels):
    """Render ``[(points, width, label), ...]`` into (bool, A/V, soft)."""
    soft = np.zeros(SHAPE)
    av = np.zeros(SHAPE, np.uint8)
    for pts, w, lab in vessels:
        s = tube(SHAPE, pts, w)
        av[(s >= 0.5) & (s > soft)] = lab
        soft = np.maximum(soft, s)
    return soft >= 0.5, av, soft


def _tree(fork_veins=(), branch_arteries=()):
    """Six arterioles and six venules leaving the disc at even angles.

    Venules listed in *fork_veins* fork at 2.5 disc radii into two
    branches of 0.8 their width; arterioles in *branch_arteries* give off
    a side branch of half their width at 2.4 radii. Returns the drawing
    and the true trunk widths by class.
    """
    art = [6.0, 5.5, 5.0, 4.5, 4.0, 3.5]
    vein = [9.0, 8.0, 7.5, 7.0, 6.5, 6.0]
    drawn = []
    for k in range(12):
        a = 2 * np.pi * (k + 0.5) / 12
        lab, w = (1, art[k // 2]) if k % 2 == 0 else (2, vein[k // 2])
        i = k // 2
        if lab == 2 and i in fork_veins:
            fork = _polar(2.5, a)
            drawn.append(([_polar(1, a), fork], w, lab))
            for turn in (-0.22, 0.22):
                drawn.append(([fork, _polar(6, a + turn)], 0.8 * w, lab))
        else:
            drawn.append(([_polar(1, a), _polar(6, a)], w, lab))
        if lab == 1 and i in branch_arteries:
            drawn.append(([_polar(2.4, a), _polar(5, a + 0.35)], w / 2, lab))
    return drawn, art, vein


def _measure(drawn):
    vessels, av, soft = _draw(drawn)
    return measure(
        vessels, artery_vein=av, probability=soft, disc=(*CENTRE, R)
    )


def test_forks_and_side_branches_in_zone_b_count_once():
    drawn, art, vein = _tree(fork_veins=(0, 2), branch_arteries=(0, 1))
    m = _measure(drawn)
    row, seg = m.image.iloc[0], m.segments
    # Each fork leaves three pieces in zone B, each side branch two more:
    # without grouping CRVE would take a trunk and its branches.
    in_b = seg[seg['zone_b_vessel'] >= 0]
    assert len(in_b) > 12
    assert in_b['zone_b_vessel'].nunique() == 12
    assert row['crae_n'] == 6 and row['crve_n'] == 6
    assert seg['zone_b_trunk'].sum() == 12
    assert row['crae_px'] == pytest.approx(knudtson(art, ARTERY_K), rel=0.05)
    assert row['crve_px'] == pytest.approx(knudtson(vein, VEIN_K), rel=0.05)
    # The chosen segments are the trunks: as wide as the drawn trunks.
    used = seg[seg['in_crae_crve']].sort_values('zone_b_calibre_px')
    expected = sorted(art + vein)
    assert used['zone_b_calibre_px'].to_numpy() == pytest.approx(
        expected, abs=0.6
    )


def test_a_vessel_crossed_in_zone_b_is_one_vessel_of_each_class():
    a = 2 * np.pi * 0.5 / 12
    vein = ([_polar(1, a), _polar(6, a)], 8.0, 2)
    # An arteriole crossing the venule obliquely at 2.5 disc radii.
    mid = np.array(_polar(2.5, a))
    d = np.array([np.cos(a + 1.0), -np.sin(a + 1.0)]) * 40
    artery = ([mid - d, mid + d], 4.0, 1)
    m = _measure([vein, artery])
    seg = m.segments
    for label in ('vein', 'artery'):
        ids = seg.loc[
            (seg['label'] == label) & (seg['zone_b_vessel'] >= 0),
            'zone_b_vessel',
        ]
        assert ids.nunique() == 1, label
    row = m.image.iloc[0]
    assert row['crve_n'] == 1 and row['crae_n'] == 1
    trunks = seg[seg['zone_b_trunk']].set_index('label')
    assert trunks.loc['vein', 'zone_b_calibre_px'] == pytest.approx(8, abs=0.6)
    assert trunks.loc['artery', 'zone_b_calibre_px'] == pytest.approx(
        4, abs=0.6
    )


def test_separate_vessels_that_fork_before_zone_b_stay_separate():
    # A venule forking at 1.5 disc radii: two vessels cross zone B.
    a = 0.3
    fork = _polar(1.5, a)
    drawn = [
        ([_polar(1, a), fork], 9.0, 2),
        ([fork, _polar(6, a - 0.3)], 7.0, 2),
        ([fork, _polar(6, a + 0.3)], 6.0, 2),
    ]
    m = _measure(drawn)
    seg = m.segments
    ids = seg.loc[seg['zone_b_vessel'] >= 0, 'zone_b_vessel']
    assert ids.nunique() == 2
    assert m.image.iloc[0]['crve_n'] == 2
