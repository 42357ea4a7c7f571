"""measure() on the maps of a photo the quality gate graded ungradable."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels.errors import InvalidImageError
from napari_retina_vessels.measures import (
    IMAGE_COLUMNS,
    SEGMENT_COLUMNS,
    UNGRADABLE_REASON,
    measure,
)
from napari_retina_vessels.quality import Quality

from .render import radial_tree

CENTRE, R = (150.0, 150.0), 20.0
BLANK = Quality('ungradable', 0.1, ('blank frame', 'no contrast'))


def _segmentation(quality):
    """A Segmentation of six arterioles and six venules, graded *quality*."""
    from napari_retina_vessels.pipeline import Segmentation

    vessels, av, soft = radial_tree(
        (300, 300), CENTRE, R, [5.0, 8.0] * 6, [1, 2] * 6
    )
    return Segmentation(
        probability=soft.astype(np.float32),
        vessels=vessels,
        artery_vein=av,
        fov=np.ones(vessels.shape, bool),
        model='test',
        weights_sha256='',
        device='cpu',
        seconds=0.0,
        threshold=0.5,
        quality=quality,
    )


def _assert_not_measured(m):
    row = m.image.iloc[0]
    assert not m.measured
    assert list(m.image.columns) == list(IMAGE_COLUMNS)
    assert list(m.segments.columns) == list(SEGMENT_COLUMNS)
    assert len(m.segments) == 0 and m.paths == [] and m.disc is None
    reasons = [c for c in IMAGE_COLUMNS if c.endswith('_reason')]
    assert all(row[c] == UNGRADABLE_REASON for c in reasons)
    numbers = [
        c
        for c in IMAGE_COLUMNS
        if not c.endswith(('_reason', '_source'))
        and c not in ('height', 'width', 'seconds')
    ]
    assert all(np.isnan(row[c]) for c in numbers), row[numbers]
    assert (row['height'], row['width']) == (300, 300)
    assert not m.segment_map().any()


def test_an_ungradable_segmentation_is_not_measured():
    m = measure(_segmentation(BLANK), disc=(*CENTRE, R))
    _assert_not_measured(m)
    assert m.quality is BLANK
    assert m.quality.reason == 'blank frame; no contrast'


def test_an_ungradable_segmentation_is_measured_when_asked():
    m = measure(
        _segmentation(BLANK), disc=(*CENTRE, R), measure_ungradable=True
    )
    row = m.image.iloc[0]
    assert m.measured and m.quality.grade == 'ungradable'
    assert row['crae_n'] == row['crve_n'] == 6
    assert np.isfinite(row['avr']) and row['avr_reason'] == ''
    assert len(m.segments) >= 12


@pytest.mark.parametrize('grade', ['good', 'usable', None])
def test_gradable_or_ungraded_segmentations_are_measured(grade):
    quality = Quality(grade, 0.9) if grade else None
    m = measure(_segmentation(quality), disc=(*CENTRE, R))
    assert m.measured and m.quality is quality
    assert np.isfinite(m.image.iloc[0]['avr'])


def test_maps_with_a_recorded_grade_follow_it():
    seg = _segmentation(None)
    # A result layer's metadata holds the grade as Quality.row() writes it.
    meta = {'model': 'test', **BLANK.row()}
    m = measure(seg.artery_vein, quality=meta, disc=(*CENTRE, R))
    _assert_not_measured(m)
    assert m.quality.grade == 'ungradable'
    assert m.quality.reasons == ('blank frame', 'no contrast')
    assert m.quality.score == pytest.approx(0.1)
    # Metadata without a grade (a map drawn by hand): measured.
    m = measure(seg.artery_vein, quality={'model': 'x'}, disc=(*CENTRE, R))
    assert m.measured and m.quality is None
    # The grade given wins over the Segmentation's.
    good = Quality('good', 1.0)
    assert measure(_segmentation(BLANK), quality=good).measured


def test_an_ungradable_result_still_refuses_bad_input():
    seg = _segmentation(BLANK)
    with pytest.raises(InvalidImageError, match='radius > 0'):
        measure(seg, disc=(150, 150, 0))
    with pytest.raises(InvalidImageError, match='quality must be'):
        measure(seg, quality='ungradable')


def test_an_ungradable_result_writes_csv(tmp_path):
    m = measure(_segmentation(BLANK))
    m.to_csv(tmp_path, name='blank')
    text = (tmp_path / 'measures.csv').read_text()
    assert UNGRADABLE_REASON in text
    assert (tmp_path / 'segments.csv').read_text().count('\n') == 1


def test_calibres_of_a_low_resolution_photo_say_so():
    reason = (
        'low resolution: the field of view is 140 pixels across '
        '(calibres need 360)'
    )
    small = Quality('usable', 0.75, (reason,))
    row = measure(_segmentation(small), disc=(*CENTRE, R)).image.iloc[0]
    for key in ('crae', 'crve', 'avr'):
        assert np.isfinite(row[key if key == 'avr' else f'{key}_px'])
        assert row[f'{key}_reason'] == f'less reliable calibres: {reason}'
    # The same grade as a recorded row (layer metadata, done.json).
    row = measure(
        _segmentation(None).artery_vein,
        quality=small.row(),
        disc=(*CENTRE, R),
    ).image.iloc[0]
    assert row['crae_reason'].endswith('(calibres need 360)')
    good = measure(_segmentation(Quality('good', 1.0)), disc=(*CENTRE, R))
    assert good.image.iloc[0]['crae_reason'] == ''
