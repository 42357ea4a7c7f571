"""``review.csv``: a grader's decisions over an output folder."""

from __future__ import annotations

import csv

import pytest

from napari_retina_vessels.errors import RetinaVesselsError
from napari_retina_vessels.measures.review import ReviewLog, review_items

from .test_measure_cli import _write_outputs


def test_review_log_records_and_resumes(tmp_path):
    for name in ('a', 'b', 'c'):
        _write_outputs(tmp_path, name)
    (tmp_path / 'b.corrections.json').write_text(
        '{"segments": [{"at": [1, 2], "label": "vein"}], "disc": [5, 5, 3]}'
    )
    items = review_items(tmp_path)
    assert [i.name for i in items] == ['a', 'b', 'c']
    log = ReviewLog(tmp_path)
    assert log.first_open(['a', 'b', 'c']) == 0
    log.record(items[0], 'accept', grader='AB')
    with pytest.raises(RetinaVesselsError, match='give a reason'):
        log.record(items[1], 'reject', grader='AB')
    with pytest.raises(RetinaVesselsError, match='accept or reject'):
        log.record(items[1], 'maybe')
    log.record(items[1], 'reject', reason='=blurred', grader='AB')
    # Resumed by a new session: starts at c.
    again = ReviewLog(tmp_path)
    assert again.first_open(['a', 'b', 'c']) == 2
    assert again.decision('b') == 'reject'
    with open(tmp_path / 'review.csv', newline='') as f:
        rows = {r['photo']: r for r in csv.DictReader(f)}
    assert rows['b']['corrections'] == '2'
    assert rows['b']['reason'] == "'=blurred"  # not a formula
    assert rows['a']['grader'] == 'AB' and rows['a']['time'].endswith('Z')
    # A new decision replaces the old one.
    again.record(items[1], 'accept')
    assert ReviewLog(tmp_path).decision('b') == 'accept'


def test_a_folder_without_outputs_is_one_line(tmp_path):
    with pytest.raises(RetinaVesselsError, match='no segment outputs'):
        review_items(tmp_path)
