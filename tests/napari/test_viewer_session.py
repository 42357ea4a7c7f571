"""A longer viewer session: segment twice with A/V, then measure.

napari's activity-dock progress bar runs the event loop whenever it
changes; updating it per progress record re-entered the Segment
widget's progress slot records deep and crashed the canvas in a longer
session. These tests run such a session in one viewer and check that
the slot is never re-entered into napari's progress.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus
from widget_wait import wait_idle

from napari_retina_vessels.progress import Progress
from napari_retina_vessels.weights import list_models

pytestmark = pytest.mark.gui

HAS_AV = bool(list_models(task='av'))


class _ReentrantBar:
    """Stands in for napari's progress: like the real one, changing its
    description delivers queued progress records (here: one more)."""

    def __init__(self, widget):
        self.widget = widget
        self.descriptions: list[str] = []
        self.depth = 0
        self.max_depth = 0

    def set_description(self, desc):
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        self.descriptions.append(desc)
        self.widget._on_progress(Progress('vessels', 2, 9))
        self.depth -= 1

    def close(self):
        pass


def test_progress_names_each_stage_once_without_reentry(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    bar = _ReentrantBar(w)
    w._pbar, w._job_name = bar, 'eye'
    for i in range(1, 10):
        w._on_progress(Progress('vessels', i, 9))
    for i in range(1, 4):
        w._on_progress(Progress('artery/vein', i, 3))
    assert bar.max_depth == 1  # never re-entered
    assert bar.descriptions == ['eye: vessels', 'eye: artery/vein']
    # The widget's own bar still follows every record.
    assert (w.progress.value, w.progress.max) == (3, 3)


@pytest.mark.slow
def test_segment_twice_with_av_then_measure(make_napari_viewer, qtbot):
    from napari_retina_vessels._napari.widgets.measure import (
        SEGMENTS_LAYER,
        MeasureWidget,
    )
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    seg = SegmentWidget(viewer)
    mea = MeasureWidget(viewer)
    viewer.window.add_dock_widget(seg)
    viewer.window.add_dock_widget(mea, tabify=True)
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    seg.av.value = HAS_AV
    for _ in range(2):
        assert seg.run() is not None
        wait_idle(qtbot, seg, 120_000)
        assert seg._pbar is None  # the activity entry is closed
    assert 'eye vessels' in viewer.layers
    if HAS_AV:
        assert 'eye A/V' in viewer.layers
    name = 'eye A/V' if HAS_AV else 'eye vessels'
    mea.maps.value = viewer.layers[name]
    assert mea.run() is not None
    wait_idle(qtbot, mea)
    assert mea.result is not None, mea.status.value
    assert SEGMENTS_LAYER in viewer.layers
    assert np.asarray(viewer.layers[SEGMENTS_LAYER].data).max() >= 0
