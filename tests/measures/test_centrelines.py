"""Per-class centrelines: touching, crossing and parallel vessels."""

import numpy as np
import pytest

from napari_retina_vessels.measures import measure


def _rows(av, **kw):
    seg = measure(av, **kw).segments
    return seg.sort_values('label').reset_index(drop=True)


def test_touching_artery_and_vein_are_two_segments_on_their_centres():
    # The one-liner: before, one vein row at 8.49 px.
    av = np.zeros((200, 200), np.uint8)
    av[:, 90:96] = 1
    av[:, 96:104] = 2
    seg = _rows(av)
    assert list(seg['label']) == ['artery', 'vein']
    assert seg['calibre_px'].tolist() == pytest.approx([6.0, 8.0], abs=0.1)
    # Each centreline runs down the middle of its own vessel.
    art = measure(av).paths[0]
    assert np.median(np.abs(art[:, 1] - 92.5)) <= 0.5


def test_touching_equals_a_two_pixel_gap():
    touching = np.zeros((200, 200), np.uint8)
    touching[:, 90:96] = 1
    touching[:, 96:104] = 2
    gap = np.zeros((200, 200), np.uint8)
    gap[:, 90:96] = 1
    gap[:, 98:106] = 2
    a, b = _rows(touching), _rows(gap)
    assert a['calibre_px'].tolist() == pytest.approx(
        b['calibre_px'].tolist(), abs=0.05
    )
    assert a['length_px'].tolist() == pytest.approx(
        b['length_px'].tolist(), abs=1.0
    )


def test_crossing_keeps_both_vessels_whole():
    # An artery crossing a vein, the crossing labelled 3 (both).
    av = np.zeros((200, 200), np.uint8)
    av[:, 90:96] = 1
    av[90:98, :] = 2
    av[90:98, 90:96] = 3
    seg = _rows(av)
    assert list(seg['label']) == ['artery', 'vein']
    assert seg['length_px'].min() > 190  # neither is cut at the crossing
    assert seg['calibre_px'].tolist() == pytest.approx([6.0, 8.0], abs=0.1)


def test_parallel_tubes_are_measured_alike_at_any_gap():
    for gap in (0, 1, 4):
        av = np.zeros((200, 200), np.uint8)
        av[:, 60:66] = 1
        av[:, 66 + gap : 74 + gap] = 2
        seg = _rows(av)
        assert list(seg['label']) == ['artery', 'vein'], gap
        assert seg['calibre_px'].tolist() == pytest.approx(
            [6.0, 8.0], abs=0.1
        ), gap


def test_an_uncertain_piece_is_one_segment_not_two():
    av = np.zeros((200, 200), np.uint8)
    av[:, 40:46] = 1
    av[:, 140:146] = 3
    seg = _rows(av)
    assert sorted(seg['label']) == ['artery', 'uncertain']


def test_touching_vessels_with_a_probability_map():
    av = np.zeros((200, 200), np.uint8)
    av[:, 90:96] = 1
    av[:, 96:104] = 2
    prob = np.where(av > 0, 0.9, 0.05).astype(np.float32)
    seg = _rows(av > 0, artery_vein=av, probability=prob)
    assert list(seg['label']) == ['artery', 'vein']
    assert seg['calibre_px'].tolist() == pytest.approx([6.0, 8.0], abs=0.3)
