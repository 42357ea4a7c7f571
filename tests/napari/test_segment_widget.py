"""The Segment widget in a real viewer: run, cancel, re-threshold, errors."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus
from widget_wait import wait_idle, wait_threshold

from napari_retina_vessels.weights import list_models

pytestmark = pytest.mark.gui

HAS_AV = bool(list_models(task='av'))


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


def _run(qtbot, w, timeout=60_000):
    worker = w.run()
    assert worker is not None
    wait_idle(qtbot, w, timeout)
    return worker


def _set_threshold(qtbot, w, value):
    """Move the slider and wait until the layers show its value (the
    widget re-thresholds once the slider rests)."""
    w.threshold.value = value
    wait_threshold(qtbot, w)


def test_no_image_disables_run(widget):
    viewer, w = widget
    assert not w.run_button.enabled
    assert 'image layer' in w.status.value
    assert w.run() is None


def test_segment_adds_layers_with_metadata(widget, qtbot):
    viewer, w = widget
    viewer.add_image(fake_fundus(), name='eye', rgb=True, scale=(2, 2))
    assert w.image.value is viewer.layers['eye']
    assert w.run_button.enabled
    w.av.value = HAS_AV
    _run(qtbot, w)
    prob = viewer.layers['eye vessels prob']
    ves = viewer.layers['eye vessels']
    assert prob.data.dtype == np.float32
    assert ves.data.shape == (300, 320)
    assert set(np.unique(ves.data)) <= {0, 1}
    assert tuple(ves.scale) == (2, 2)
    meta = ves.metadata
    assert {
        'model',
        'weights_sha256',
        'device',
        'threshold',
        'seconds',
    } <= set(meta)
    assert len(meta['weights_sha256']) == 64
    if HAS_AV:
        av = viewer.layers['eye A/V']
        assert set(np.unique(av.data)) <= {0, 1, 2, 3}
        assert list(av.features['class'][:3]) == [
            'background',
            'artery',
            'vein',
        ]
    # The widget's device is 'auto': cuda on a GPU machine, else cpu.
    from napari_retina_vessels.inference import available_devices

    device = available_devices()[0]
    assert meta['device'] == device
    assert 'eye' in w.status.value and f's on {device}' in w.status.value
    assert w.run_button.enabled and not w.cancel_button.enabled


def test_arithmetic_choice_reaches_the_result(widget, qtbot):
    # 'auto' may be bf16 on this CPU; fp32 asks for exact float32, and
    # the layers say which arithmetic ran.
    viewer, w = widget
    viewer.add_image(fake_fundus(96, 112), name='eye', rgb=True)
    w.av.value = False
    w.precision.value = 'fp32'
    _run(qtbot, w)
    assert viewer.layers['eye vessels'].metadata['arithmetic'] == 'fp32'
    w.precision.value = 'bf16'
    _run(qtbot, w)
    assert viewer.layers['eye vessels'].metadata['arithmetic'] == 'bf16'


def test_artery_probability_layer(widget, qtbot):
    viewer, w = widget
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    assert not w.show_artery_prob.value  # off by default
    w.av.value = False
    assert not w.show_artery_prob.enabled
    w.av.value = True
    w.show_artery_prob.value = True
    _run(qtbot, w)
    layer = viewer.layers['eye artery prob']
    av = viewer.layers['eye A/V'].data
    ves = viewer.layers['eye vessels'].data.astype(bool)
    p = layer.data
    assert p.dtype == np.float32 and p.shape == ves.shape
    assert np.isnan(p[~ves]).all() and np.isfinite(p[ves]).all()
    # The labels are the probability cut at 0.5.
    assert ((p[ves] >= 0.5) == (av[ves] == 1)).all()
    # Re-thresholding keeps the probability layer on the vessel map.
    _set_threshold(qtbot, w, 0.2)
    ves2 = viewer.layers['eye vessels'].data.astype(bool)
    assert ves2.sum() > ves.sum()
    assert np.isfinite(layer.data[ves2]).all()


def test_rerun_updates_layers_in_place(widget, qtbot):
    viewer, w = widget
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    w.av.value = False
    _run(qtbot, w)
    layer = viewer.layers['eye vessels']
    n = len(viewer.layers)
    _run(qtbot, w)
    assert viewer.layers['eye vessels'] is layer
    assert len(viewer.layers) == n


def test_threshold_rethresholds_without_rerun(widget, qtbot, monkeypatch):
    viewer, w = widget
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    w.av.value = HAS_AV
    _run(qtbot, w)
    prob = viewer.layers['eye vessels prob'].data

    import napari_retina_vessels.pipeline as pipeline

    def boom(*a, **k):
        raise AssertionError('the model must not run again')

    monkeypatch.setattr(pipeline, 'iter_segment', boom)
    _set_threshold(qtbot, w, 0.2)
    low = viewer.layers['eye vessels'].data.astype(bool)
    _set_threshold(qtbot, w, 0.8)
    high = viewer.layers['eye vessels'].data.astype(bool)
    fov = w._result.fov
    assert np.array_equal(high, (prob >= 0.8) & fov)
    assert low.sum() >= high.sum()
    assert viewer.layers['eye vessels'].metadata['threshold'] == 0.8
    if HAS_AV:
        assert np.array_equal(viewer.layers['eye A/V'].data > 0, high)


def test_threshold_drag_applies_only_its_last_value(
    widget, qtbot, monkeypatch
):
    # Re-thresholding takes up to a second on the GUI thread: a drag
    # must not run it once per slider step, only where the slider stops.
    viewer, w = widget
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    w.av.value = HAS_AV
    _run(qtbot, w)
    first = w._result
    cls = type(first)
    real = cls.with_threshold
    calls = []

    def counted(self, threshold):
        calls.append(threshold)
        return real(self, threshold)

    monkeypatch.setattr(cls, 'with_threshold', counted)
    drag = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.72]
    for value in drag:
        w.threshold.value = value
        qtbot.wait(10)  # events flow between steps, as in a real drag
    final = w.threshold.value
    wait_threshold(qtbot, w)
    assert 0 < len(calls) < len(drag)
    assert calls[-1] == pytest.approx(final)
    want = real(first, final)
    ves = viewer.layers['eye vessels']
    assert np.array_equal(ves.data.astype(bool), want.vessels)
    assert ves.metadata['threshold'] == pytest.approx(final)
    if HAS_AV:
        assert np.array_equal(viewer.layers['eye A/V'].data, want.artery_vein)
    assert w._result.threshold == pytest.approx(final)


def test_save_right_after_a_slider_move_saves_the_slider_threshold(
    widget, qtbot, tmp_path
):
    viewer, w = widget
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    w.av.value = False
    _run(qtbot, w)
    w.threshold.value = 0.3
    w.save_folder.value = tmp_path
    assert w.save()  # before the slider's wait is over
    assert not w.threshold_pending
    assert w._result.threshold == pytest.approx(0.3)


def test_cancel_leaves_no_layer(widget, qtbot):
    viewer, w = widget
    viewer.add_image(fake_fundus(1200, 1200), name='big', rgb=True)
    w.av.value = False
    n = len(viewer.layers)
    worker = w.run()
    worker.yielded.connect(lambda rec: w.cancel())
    wait_idle(qtbot, w, 60_000)
    assert len(viewer.layers) == n
    assert 'Cancelled' in w.status.value
    assert w.run_button.enabled


def test_second_click_does_not_start_second_job(widget, qtbot):
    viewer, w = widget
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    w.av.value = False
    assert w.run() is not None
    assert w.run() is None
    assert not w.run_button.enabled
    wait_idle(qtbot, w, 60_000)


def test_missing_weights_show_message_not_traceback(
    widget, qtbot, monkeypatch, tmp_path
):
    from napari_retina_vessels import _registry, weights

    viewer, w = widget
    monkeypatch.setitem(
        _registry.REGISTRY,
        'remote-only',
        {
            'file': 'remote-only.pt',
            'sha256': '0' * 64,
            'arch': 'wnet',
            'task': 'vessels',
            'shipped': False,
            'description': 'test',
        },
    )
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', 'http://127.0.0.1:9/')
    monkeypatch.setenv('RETINA_VESSELS_CACHE_DIR', str(tmp_path))
    weights._cached_model.cache_clear()
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    w.model.choices = [('remote-only', 'remote-only')]
    w.model.value = 'remote-only'
    w.av.value = False
    n = len(viewer.layers)
    _run(qtbot, w)
    assert len(viewer.layers) == n
    assert 'cannot download' in w.status.value
    assert '\n' not in w.status.value


def test_bad_layer_shape_is_explained(widget):
    viewer, w = widget
    viewer.add_image(np.zeros((2, 4, 64, 64), np.uint8), name='volume')
    assert not w.run_button.enabled
    assert 'volume' in w.status.value and '(N, H, W' in w.status.value


def test_console_segment_layer(make_napari_viewer):
    from napari_retina_vessels import segment_layer

    viewer = make_napari_viewer()
    viewer.add_image(fake_fundus(), name='eye', rgb=True)
    res = segment_layer(viewer, av=False)
    assert 'eye vessels' in viewer.layers
    assert res.probability.shape == (300, 320)
