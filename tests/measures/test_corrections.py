"""A grader's corrections: the file format and measuring with them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_retina_vessels.errors import CorrectionsError
from napari_retina_vessels.measures import (
    ARTERY_K,
    VEIN_K,
    knudtson,
    measure,
)
from napari_retina_vessels.measures.corrections import (
    Corrections,
    load_corrections,
    save_corrections,
)

from .render import radial_tree

SHAPE, CENTRE, R = (400, 400), (200.0, 200.0), 25.0
ART = [6.0, 5.5, 5.0, 4.5, 4.0, 3.5]
VEIN = [9.0, 8.0, 7.5, 7.0, 6.5, 6.0]


@pytest.fixture(scope='module')
def tree():
    widths = [w for pair in zip(ART, VEIN) for w in pair]
    labels = [lab for _ in ART for lab in (1, 2)]
    return radial_tree(SHAPE, CENTRE, R, widths, labels)


def _measure(tree, **kw):
    vessels, av, soft = tree
    return measure(
        vessels, artery_vein=av, probability=soft, disc=(*CENTRE, R), **kw
    )


def _mid(m, i):
    s = m.segments.iloc[i]
    return [int(s['y_mid']), int(s['x_mid'])]


def _widest(m, label):
    s = m.segments[m.segments['label'] == label]
    return int(s['calibre_px'].idxmax())


def test_flip_and_exclude_change_crae_crve_as_the_labels_say(tree):
    plain = _measure(tree)
    assert (plain.segments['corrected'] == '').all()
    assert plain.image.iloc[0]['corrected'] == 0
    a, v = _widest(plain, 'artery'), _widest(plain, 'vein')
    corr = {
        'grader': 'AB',
        'segments': [
            {'at': _mid(plain, a), 'label': 'vein'},
            {'at': _mid(plain, v), 'label': 'exclude'},
        ],
    }
    m = _measure(tree, corrections=corr)
    row = m.image.iloc[0]
    assert row['grader'] == 'AB' and row['corrected'] == 2
    assert row['corrections_missed'] == 0
    seg = m.segments
    assert seg.loc[a, 'label'] == 'vein' and seg.loc[a, 'corrected'] == 'vein'
    assert seg.loc[v, 'label'] == 'excluded'
    assert seg.loc[v, 'corrected'] == 'exclude'
    # The widest artery now counts among the venules, the widest venule
    # in neither: the Knudtson values of the remaining widths.
    assert row['crae_n'] == 5 and row['crve_n'] == 6
    assert row['crae_px'] == pytest.approx(knudtson(ART[1:], ARTERY_K), 0.05)
    assert row['crve_px'] == pytest.approx(
        knudtson(sorted([ART[0], *VEIN[1:]])[::-1], VEIN_K), 0.05
    )
    assert not seg.loc[v, 'in_crae_crve']
    # The corrected A/V map is the one measured.
    assert (m.artery_vein[m.segment_map() == a + 1] == 2).all()


def test_a_correction_on_no_segment_is_reported_not_dropped(tree):
    m = _measure(
        tree,
        corrections={'segments': [{'at': [5, 5], 'label': 'vein'}]},
    )
    row = m.image.iloc[0]
    assert row['corrections_missed'] == 1 and row['corrected'] == 0
    assert 'vein at (5, 5)' in row['corrections_reason']
    assert m.corrections[0]['segment'] is None
    assert m.corrections[0]['status'].startswith('no segment')


def test_a_correction_follows_its_vessel_to_a_new_segmentation(tree):
    plain = _measure(tree)
    a = _widest(plain, 'artery')
    corr = {'segments': [{'at': _mid(plain, a), 'label': 'exclude'}]}
    # A new segmentation: vessels one pixel wider everywhere.
    from scipy import ndimage as ndi

    vessels, av, _ = tree
    wider = ndi.binary_dilation(vessels)
    grown = ndi.grey_dilation(av, size=3)
    m = measure(wider, artery_vein=grown, disc=(*CENTRE, R), corrections=corr)
    row = m.image.iloc[0]
    assert row['corrections_missed'] == 0
    assert (m.segments['label'] == 'excluded').sum() == 1
    assert row['crae_n'] == 5


def test_painted_pixels_edit_the_maps(tree):
    plain = _measure(tree)
    painted = np.zeros(SHAPE, np.uint8)
    painted[10:20, 10:60] = 1  # a new vessel, far from the tree
    a = _widest(plain, 'artery')
    y, x = _mid(plain, a)
    painted[y - 8 : y + 9, x - 8 : x + 9] = 2  # cut the widest artery
    m = _measure(tree, corrections={'segments': []} | {'painted': None})
    assert m.image.iloc[0]['corrected'] == 0
    m = _measure(tree, corrections=Corrections(painted=painted))
    assert m.vessels[15, 30] and not m.vessels[y, x]
    assert m.image.iloc[0]['corrected'] == 2  # two painted strokes
    assert (
        m.image.iloc[0]['n_segments'] == plain.image.iloc[0]['n_segments'] + 2
    )
    with pytest.raises(CorrectionsError, match='another photo'):
        _measure(tree, corrections=Corrections(painted=painted[:50]))


def test_the_corrections_disc_replaces_the_detected_one(tree):
    vessels, av, soft = tree
    m = measure(vessels, artery_vein=av, corrections={'disc': [*CENTRE, R]})
    row = m.image.iloc[0]
    assert (row['disc_y'], row['disc_x'], row['disc_radius_px']) == (
        *CENTRE,
        R,
    )
    assert row['corrected'] == 1


def test_save_and_load_round_trip(tmp_path):
    painted = np.zeros((40, 50), np.uint8)
    painted[3:6, 4:9] = 1
    painted[20, 20] = 2
    corr = Corrections(
        image='01_test',
        grader='AB',
        time='2026-12-07T10:00:00Z',
        software='0.2.0',
        disc=(12.0, 13.5, 4.0),
    ).with_segment((5, 6), 'vein')
    corr = corr.with_segment((7, 8), 'exclude').with_segment((5, 6), None)
    corr.painted = painted
    path = save_corrections(corr, tmp_path, '01_test')
    assert path.name == '01_test.corrections.json'
    data = json.loads(path.read_text())
    assert data['painted'] == '01_test.painted.png'
    assert data['segments'] == [{'at': [7, 8], 'label': 'exclude'}]
    back = load_corrections(path)
    assert back.grader == 'AB' and back.disc == (12.0, 13.5, 4.0)
    assert back.segments == corr.segments
    assert np.array_equal(back.painted, painted)
    assert len(back) == 1 + 2 + 1
    # Nothing painted any more: the PNG goes too.
    corr.painted = None
    save_corrections(corr, tmp_path, '01_test')
    assert not (tmp_path / '01_test.painted.png').exists()
    assert 'painted' not in json.loads(path.read_text())


@pytest.mark.parametrize(
    ('content', 'match'),
    [
        ('{"segments": [', 'not readable JSON'),
        ('[1, 2]', 'one JSON object'),
        ('{"version": 9}', 'version 9 is not known'),
        ('{"segments": [{"at": [1, 2], "label": "x"}]}', "label 'x'"),
        ('{"segments": [{"at": "here", "label": "vein"}]}', '"at"'),
        ('{"segments": {}}', 'must be a list'),
        ('{"disc": [1, 2]}', 'disc'),
        ('{"disc": [1, 2, -3]}', 'positive radius'),
        ('{"grader": 5}', '"grader" must be text'),
        ('{"painted": "gone.png"}', 'painted image is unreadable'),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, match):
    path = tmp_path / 'a.corrections.json'
    path.write_text(content)
    with pytest.raises(CorrectionsError, match=match) as info:
        load_corrections(path)
    assert '\n' not in str(info.value)
    assert str(path) in str(info.value)


def test_bad_painted_values_and_missing_file(tmp_path):
    from napari_retina_vessels.io import imwrite

    imwrite(tmp_path / 'p.png', np.full((8, 8), 7, np.uint8))
    path = tmp_path / 'a.corrections.json'
    path.write_text('{"painted": "p.png"}')
    with pytest.raises(CorrectionsError, match='0, 1 .added. and 2'):
        load_corrections(path)
    with pytest.raises(CorrectionsError, match='no corrections file'):
        load_corrections(tmp_path / 'none.corrections.json')
    with pytest.raises(CorrectionsError, match='got int'):
        measure(np.ones((20, 20), bool), corrections=3)


@pytest.mark.data
def test_flipping_the_widest_zone_b_artery_equals_a_relabelled_map(
    data_root,
):
    """The issue's target, on RITE (DRIVE photos with manual A/V)."""
    from napari_retina_vessels.io import imread, read_av

    folder = data_root / 'RITE' / 'test'
    photo = imread(folder / 'images' / '01_test.tif')
    av = read_av(folder / 'av' / '01_test.png')
    plain = measure(av, photo, artery_vein=av)
    seg = plain.segments
    used = seg[(seg['label'] == 'artery') & seg['in_crae_crve']]
    i = int(used['zone_b_calibre_px'].idxmax())
    at = [int(seg.loc[i, 'y_mid']), int(seg.loc[i, 'x_mid'])]
    corrected = measure(
        av,
        photo,
        artery_vein=av,
        corrections={'segments': [{'at': at, 'label': 'vein'}]},
    )
    # The manual map: that vessel's pixels painted vein (crossings kept).
    manual = av.copy()
    manual[(plain.segment_map() == i + 1) & (manual != 3)] = 2
    relabelled = measure(av, photo, artery_vein=manual)
    cols = ['crae_px', 'crve_px', 'avr', 'crae_n', 'crve_n']
    got = corrected.image.iloc[0][cols].to_numpy(float)
    want = relabelled.image.iloc[0][cols].to_numpy(float)
    assert np.array_equal(got, want)
    before = plain.image.iloc[0][cols].to_numpy(float)
    assert got[0] != before[0] and got[1] != before[1]


def test_centrelines_are_the_traced_paths(tree):
    """Corrections snap to :func:`centrelines` before tracing: they must
    be the paths the tracing finds."""
    from napari_retina_vessels.measures.correcting import centrelines
    from napari_retina_vessels.measures.graph import trace_segments

    vessels, av, soft = tree
    arteries = vessels & (av == 1)
    for v, labels in (
        (vessels, None),
        (vessels, av),
        (arteries, np.where(arteries, av, 0).astype(np.uint8)),
    ):
        got = centrelines(v, labels)
        want = trace_segments(v, soft=soft, labels=labels).paths
        assert len(got) == len(want)
        assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_centrelines_of_the_same_map_are_reused(tree):
    from napari_retina_vessels.measures.correcting import centrelines

    vessels = tree[0]
    first = centrelines(vessels)
    assert centrelines(vessels.copy()) is first
    other = vessels.copy()
    other[:, :150] = False
    cut = centrelines(other)
    assert sum(map(len, cut)) < sum(map(len, first))
    assert centrelines(vessels) is not first  # the cache holds one map


def test_snapping_sees_the_segments_measure_reports():
    """A vein touching an artery is two segments on their own centres;
    a correction at the vein's centre lands on the vein's segment (not
    on one centreline of the union), and the flip relabels that vessel
    only."""
    av = np.zeros((120, 120), np.uint8)
    av[:, 40:46] = 1
    av[:, 46:54] = 2
    plain = measure(av)
    seg = plain.segments
    assert list(seg['label']) == ['artery', 'vein']
    at = [60, int(seg.loc[1, 'x_mid'])]
    m = measure(av, corrections={'segments': [{'at': at, 'label': 'exclude'}]})
    assert m.corrections[0]['segment'] == 1
    assert m.corrections[0]['distance'] <= 0.5
    assert list(m.segments['label']) == ['artery', 'excluded']
    # Flipped, the vein joins the artery: one artery, one centreline
    # between the two, and the correction lands on it.
    m = measure(av, corrections={'segments': [{'at': at, 'label': 'artery'}]})
    assert (m.artery_vein[av > 0] == 1).all()
    assert list(m.segments['label']) == ['artery']
    assert m.corrections[0]['status'] == 'applied'
    assert m.corrections[0]['segment'] == 0
    assert m.segments.loc[0, 'corrected'] == 'artery'
    assert m.image.iloc[0]['corrections_missed'] == 0


def test_a_flipped_segment_keeps_its_index(tree):
    plain = _measure(tree)
    for label in ('artery', 'vein'):
        i = _widest(plain, label)
        other = 'vein' if label == 'artery' else 'artery'
        corr = {'segments': [{'at': _mid(plain, i), 'label': other}]}
        m = _measure(tree, corrections=corr)
        assert m.corrections[0]['segment'] == i
        assert m.segments.loc[i, 'label'] == other
        assert np.array_equal(m.paths[i], plain.paths[i])


def test_a_painted_stroke_takes_one_label():
    from napari_retina_vessels.measures.correcting import apply_painted

    vessels = np.zeros((60, 100), bool)
    av = np.zeros((60, 100), np.uint8)
    vessels[:, 10:14] = True
    av[:, 10:14] = 1  # an artery on the left
    vessels[:, 80:84] = True
    av[:, 80:84] = 2  # a vein on the right
    painted = np.zeros((60, 100), np.uint8)
    painted[30:33, 20:70] = 1  # nearer the artery at its left end
    painted[5:8, 70:78] = 1  # a short stroke next to the vein
    _, got = apply_painted(vessels, av, painted)
    assert (got[30:33, 20:70] == 1).all()
    assert (got[5:8, 70:78] == 2).all()
