"""The Segment widget and the quality gate: no vessel map of a blank or
non-fundus image is presented as a result, and the grade agrees with
the API's."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus
from widget_wait import wait_idle

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


def _run(qtbot, w, timeout=120_000):
    worker = w.run()
    assert worker is not None
    wait_idle(qtbot, w, timeout)


def test_blank_image_adds_no_layers_and_warns(widget, qtbot, monkeypatch):
    from napari.utils import notifications

    from napari_retina_vessels import segment

    warnings = []
    monkeypatch.setattr(notifications, 'show_warning', warnings.append)
    viewer, w = widget
    blank = np.zeros((200, 210, 3), np.uint8)
    viewer.add_image(blank, name='blank', rgb=True)
    w.av.value = False
    _run(qtbot, w)
    assert [ly.name for ly in viewer.layers] == ['blank']
    assert 'ungradable' in w.status.value
    assert warnings and 'ungradable' in warnings[-1]
    q = segment(blank, av=False).quality
    assert q.grade == 'ungradable' and q.reason in w.status.value


def test_gradable_photo_grade_matches_the_api(widget, qtbot):
    from napari_retina_vessels import segment

    viewer, w = widget
    photo = fake_fundus(300, 320, seed=2)
    viewer.add_image(photo, name='eye', rgb=True)
    w.av.value = False
    _run(qtbot, w)
    meta = viewer.layers['eye vessels'].metadata
    q = segment(photo, av=False).quality
    assert meta['quality_grade'] == q.grade != 'ungradable'
    assert meta['quality_reasons'] == q.reason
