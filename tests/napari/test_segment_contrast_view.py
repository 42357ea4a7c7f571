"""The Segment widget's A/V contrast choice reaches the options the
pipeline runs with, and follows the artery / vein box."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus
from widget_wait import run_and_wait

from napari_retina_vessels.options import choices
from napari_retina_vessels.weights import list_models

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(
        not list_models(task='av'), reason='no artery/vein model'
    ),
]


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


def test_contrast_choice_follows_av_and_reaches_the_run(
    widget, qtbot, monkeypatch
):
    import napari_retina_vessels.pipeline as pipeline

    viewer, w = widget
    # The CLI's choices, from the one list in options.
    assert tuple(w.contrast_view.choices) == choices('contrast_view')
    # The default of the options (the one place it is set).
    assert w.contrast_view.value == 'auto'
    w.contrast_view.value = 'none'
    w.av.value = False
    assert not w.contrast_view.enabled
    w.av.value = True
    assert w.contrast_view.enabled

    seen = []
    real = pipeline.iter_segment

    def recording(image, **options):
        seen.append(options.get('contrast_view'))
        return (yield from real(image, **options))

    monkeypatch.setattr(pipeline, 'iter_segment', recording)
    viewer.add_image(fake_fundus(120, 136), name='eye', rgb=True)
    w.views.value = 1
    w.show_artery_prob.value = True
    run_and_wait(qtbot, w, 120_000)
    plain = viewer.layers['eye artery prob'].data.copy()
    w.contrast_view.value = 'clahe'
    run_and_wait(qtbot, w, 120_000)
    assert seen == ['none', 'clahe']
    clahe = viewer.layers['eye artery prob'].data
    both = np.isfinite(plain) & np.isfinite(clahe)
    # The A/V stage saw another photo: its probabilities moved.
    assert both.any() and not np.allclose(plain[both], clahe[both])
