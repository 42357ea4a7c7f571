"""Odd images through the Segment widget: a result or a message, never a
traceback or a half-made layer."""

from __future__ import annotations

import numpy as np
import pytest
from widget_wait import wait_idle

pytestmark = pytest.mark.gui

CASES = {
    'nan_float': (np.full((64, 64, 3), np.nan, np.float32), True),
    'one_pixel': (np.zeros((1, 1, 3), np.uint8), True),
    'all_black': (np.zeros((96, 96, 3), np.uint8), True),
    'all_white': (np.full((96, 96, 3), 255, np.uint8), True),
    'uint16_gray': (
        np.random.default_rng(0).integers(0, 4096, (96, 96)).astype(np.uint16),
        False,
    ),
    'float_gray': (np.random.default_rng(1).random((96, 96)), False),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_segment_widget_odd_images(name, make_napari_viewer, qtbot):
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    data, rgb = CASES[name]
    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    viewer.add_image(data, name=name, rgb=rgb)
    w.av.value = False
    n = len(viewer.layers)
    worker = w.run()
    assert worker is not None
    wait_idle(qtbot, w, 60_000)
    if len(viewer.layers) == n:  # refused: a one-line message says why
        assert w.status.value and '\n' not in w.status.value
        assert 'Traceback' not in w.status.value
    else:
        prob = viewer.layers[f'{name} vessels prob'].data
        assert np.isfinite(prob).all()
    assert w.run_button.enabled


def test_metrics_widget_mismatched_shapes(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.metrics import MetricsWidget

    viewer = make_napari_viewer()
    w = MetricsWidget(viewer)
    viewer.add_image(np.random.default_rng(0).random((50, 60)), name='pred')
    viewer.add_labels(np.zeros((40, 40), np.uint8), name='truth')
    w.reset_choices()
    w.prediction.value = viewer.layers['pred']
    w.truth.value = viewer.layers['truth']
    w.compute()
    msg = w.status.value
    assert '\n' not in msg
    assert '60' in msg and '40' in msg, msg  # names both sizes
