"""The Review widget: open a folder, step, decide, resume."""

from __future__ import annotations

import csv

import pytest

pytestmark = pytest.mark.gui


def test_review_steps_decides_and_resumes(make_napari_viewer, tmp_path):
    from measures.test_measure_cli import _write_outputs

    from napari_retina_vessels._napari.widgets.review import (
        MAP_LAYER,
        ReviewWidget,
    )

    for name in ('a', 'b'):
        _write_outputs(tmp_path, name)
    viewer = make_napari_viewer()
    w = ReviewWidget(viewer)
    viewer.window.add_dock_widget(w)
    assert not w.next_button.enabled
    w.folder.value = tmp_path / 'nothing-here'
    assert not w.open()
    assert 'no segment outputs' in w.status.value
    w.folder.value = tmp_path
    assert w.open()
    assert '1 / 2: a' in w.position.value
    assert MAP_LAYER in viewer.layers
    assert viewer.layers[MAP_LAYER].metadata['path'].endswith('a_av.png')
    # The keys: PageDown, PageUp.
    from app_model.types import KeyBinding

    viewer.keymap[KeyBinding.from_str('PageDown')](viewer)
    assert '2 / 2: b' in w.position.value
    viewer.keymap[KeyBinding.from_str('PageUp')](viewer)
    assert '1 / 2: a' in w.position.value
    w.next()
    assert '2 / 2: b' in w.position.value
    w.previous()
    w.grader.value = 'AB'
    w.decide('reject')  # no reason: refused, stays
    assert 'reason' in w.status.value and w.index == 0
    w.reason.value = 'vessels out of focus'
    assert w.decide('reject')['decision'] == 'reject'
    assert w.index == 1
    # A new widget resumes at b.
    w2 = ReviewWidget(viewer)
    w2.folder.value = tmp_path
    w2.open()
    assert w2.index == 1
    w2.reason.value = ''
    w2.decide('accept')
    assert 'Last photo reviewed' in w2.status.value
    with open(tmp_path / 'review.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [(r['photo'], r['decision']) for r in rows] == [
        ('a', 'reject'),
        ('b', 'accept'),
    ]
