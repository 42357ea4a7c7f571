"""Artery/vein votes: the vessel graph and the vote along it."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import line

from napari_retina_vessels.av import (
    CALIBRE_BINS,
    JUNCTION_AGREEMENT,
    VOTES,
    check_vote,
    graph_vote,
    label_av,
    segment_consistency,
    vessel_graph,
    vote,
)
from napari_retina_vessels.errors import InvalidOptionError


def _draw(shape, lines, width=3):
    """A vessel map of straight vessels ``(r0, c0, r1, c1)``, *width*
    pixels wide, and the index of the vessel each pixel belongs to."""
    from scipy import ndimage as ndi

    which = np.zeros(shape, np.int32)
    for k, (r0, c0, r1, c1) in enumerate(lines, 1):
        one = np.zeros(shape, bool)
        one[line(r0, c0, r1, c1)] = True
        one = ndi.binary_dilation(one, iterations=width // 2)
        which[one & (which == 0)] = k
    return which > 0, which


def test_a_crossing_is_one_four_way_junction_with_straight_pairs():
    vessels, _ = _draw((101, 101), [(50, 5, 50, 95), (5, 50, 95, 50)])
    g = vessel_graph(vessels)
    assert g.n == 4
    assert len(g.pairs) == 6  # every pair of the 4 arms
    assert set(g.degree.tolist()) == {4}
    angles = np.sort(g.angle)
    # Two arms go straight on (about 180 degrees), four meet at right
    # angles.
    np.testing.assert_allclose(angles[:4], 90, atol=8)
    np.testing.assert_allclose(angles[4:], 180, atol=8)


def test_a_fork_is_a_three_way_junction():
    vessels, _ = _draw(
        (121, 121), [(60, 5, 60, 60), (60, 60, 10, 110), (60, 60, 110, 110)]
    )
    g = vessel_graph(vessels)
    assert g.n == 3
    assert set(g.degree.tolist()) == {3}
    # Trunk to each branch: about 135 degrees; branch to branch: 90.
    np.testing.assert_allclose(np.sort(g.angle), [90, 135, 135], atol=10)


def test_empty_and_junction_free_maps():
    g = vessel_graph(np.zeros((20, 20), bool))
    assert g.n == 0 and len(g.pairs) == 0
    p = np.full((20, 20), 0.3, np.float32)
    np.testing.assert_array_equal(graph_vote(g, p), p)
    vessels, _ = _draw((40, 40), [(20, 2, 20, 37)])
    g = vessel_graph(vessels)
    assert g.n == 1 and len(g.pairs) == 0
    out = graph_vote(g, np.where(vessels, 0.8, 0).astype(np.float32))
    assert np.all(out[vessels & (g.seg_of > 0)] > 0.5)


def _artery_crossing_two_veins():
    """An artery (vessel 1) crossing two veins (2, 3): the artery is cut
    into three segments, its middle one between the veins."""
    vessels, which = _draw(
        (121, 161),
        [(60, 5, 60, 155), (5, 55, 115, 55), (5, 105, 115, 105)],
    )
    p = np.where(which == 1, 0.85, 0.15).astype(np.float32)
    middle = (which == 1) & (np.arange(161)[None] > 60)
    middle &= np.arange(161)[None] < 100
    p[middle] = 0.4  # the network is unsure, and wrong, here
    p[~vessels] = 0
    return vessels, which, middle, p


def test_the_graph_vote_corrects_a_segment_by_the_vessel_it_continues():
    vessels, which, middle, p = _artery_crossing_two_veins()
    g = vessel_graph(vessels)
    inside = g.seg_of > 0
    seg = label_av(vessels, segment_consistency(vessels, p))
    graph = label_av(vessels, graph_vote(g, p))
    # The segment vote keeps the middle of the artery a vein ...
    assert np.all(seg[middle & inside] == 2)
    # ... the graph vote makes it artery: it goes straight on between
    # two artery segments through two crossings.
    assert np.all(graph[middle & inside] == 1)
    # The veins stay veins: at a crossing, arms at right angles rarely
    # share a class.
    veins = (which >= 2) & inside
    assert np.all(graph[veins] == 2)
    # Without strength, each segment keeps its own decision.
    none = label_av(vessels, graph_vote(g, p, strength=0))
    assert np.all(none[middle & inside] == 2)


def test_a_confident_segment_outvotes_unsure_neighbours():
    # A fork of three alike vessels: the trunk confidently vein, its
    # branches barely artery. All three end vein; with the trunk
    # unsure as well, the branches keep artery.
    vessels, which = _draw(
        (121, 121), [(60, 5, 60, 60), (60, 60, 10, 110), (60, 60, 110, 110)]
    )
    g = vessel_graph(vessels)
    inside = g.seg_of > 0
    p = np.where(which == 1, 0.03, 0.55).astype(np.float32)
    out = label_av(vessels, graph_vote(g, p))
    assert np.all(out[vessels & inside] == 2)
    p = np.where(which == 1, 0.45, 0.55).astype(np.float32)
    out = label_av(vessels, graph_vote(g, p))
    assert np.all(out[(which > 1) & inside] == 1)


def test_pixels_near_junctions_keep_their_own_probability():
    vessels, _, _, p = _artery_crossing_two_veins()
    g = vessel_graph(vessels)
    out = graph_vote(g, p)
    near = vessels & (g.seg_of == 0)
    assert near.any()
    np.testing.assert_array_equal(out[near], p[near])
    np.testing.assert_array_equal(out[~vessels], p[~vessels])


def test_vote_dispatch_and_names():
    vessels, _, _, p = _artery_crossing_two_veins()
    g = vessel_graph(vessels)
    np.testing.assert_array_equal(vote(vessels, p, 'none'), p)
    np.testing.assert_array_equal(
        vote(vessels, p, 'segment', g), segment_consistency(vessels, p)
    )
    np.testing.assert_array_equal(vote(vessels, p, True), graph_vote(g, p))
    assert VOTES == ('graph', 'segment', 'none')
    assert check_vote(True) == 'graph'
    assert check_vote(False) == 'none'
    assert check_vote('Segment') == 'segment'
    with pytest.raises(InvalidOptionError, match='graph, segment, none'):
        check_vote('majority')


def test_the_agreement_table_is_a_probability_table():
    assert JUNCTION_AGREEMENT.shape == (4, 9, len(CALIBRE_BINS) + 1)
    assert np.all((JUNCTION_AGREEMENT > 0) & (JUNCTION_AGREEMENT < 1))
    # Going straight on through a junction with the same calibre keeps
    # the class more often than meeting at an acute angle, at every
    # junction degree, and more often than with a very different
    # calibre.
    alike = JUNCTION_AGREEMENT[1:, :, -1]
    assert np.all(alike[:, -1] > alike[:, 0])
    assert np.all(alike[:, -1] > JUNCTION_AGREEMENT[1:, -1, 0])


def test_calibre_ratio_of_a_thin_branch():
    vessels, _ = _draw(
        (121, 121),
        [(60, 5, 60, 115)],
        width=7,
    )
    thin, _ = _draw((121, 121), [(60, 60, 5, 60)], width=3)
    g = vessel_graph(vessels | thin)
    # Trunk halves: same calibre; trunk to branch: about 3 / 7.
    ratios = np.sort(g.calibre_ratio)
    assert ratios[-1] > 0.9
    assert ratios[0] < 0.6
