"""napari-native behaviour of the plugin: activity-dock progress,
notifications, stacks, saving results and reading them back, DICOM."""

from __future__ import annotations

import types

import numpy as np
import pytest
from synthetic import FAKE_PATIENT, fake_fundus, write_dicom
from widget_wait import wait_idle, wait_threshold

from napari_retina_vessels.weights import list_models

pytestmark = pytest.mark.gui

HAS_AV = bool(list_models(task='av'))
PLUGIN = 'napari-retina-vessels'


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


@pytest.fixture
def notes():
    """Every napari notification shown during the test."""
    from napari.utils.notifications import notification_manager

    seen: list = []
    notification_manager.notification_ready.connect(seen.append)
    yield seen
    notification_manager.notification_ready.disconnect(seen.append)


def _wait(qtbot, w, timeout=600_000):
    wait_idle(qtbot, w, timeout)


def _stack(n=3, h=96, w=112):
    return np.stack([fake_fundus(h, w, seed=i) for i in range(n)])


def test_stack_is_segmented_frame_by_frame(widget, qtbot, notes):
    from napari.utils import progress

    viewer, w = widget
    viewer.add_image(_stack(), name='series', rgb=True, scale=(1, 2, 2))
    assert w.run_button.enabled, w.status.value
    w.av.value = HAS_AV
    seen = {'frames': [], 'in_dock': False}

    show = w._on_progress

    def on_progress(rec):
        if rec.stage == 'frames':
            seen['frames'].append(rec.done)
        # the job shows in napari's activity dock while it runs
        seen['in_dock'] |= w._pbar in progress._all_instances
        show(rec)

    # Seen through the widget's own handler, connected before the worker
    # starts: connecting to the returned worker could miss the first
    # record on a busy machine.
    w._on_progress = on_progress
    assert w.run() is not None
    _wait(qtbot, w)
    assert seen['frames'] == [0, 1, 2, 3] and seen['in_dock']
    assert w._pbar is None  # closed when the job ended
    ves = viewer.layers['series vessels']
    assert ves.data.shape == (3, 96, 112)
    assert tuple(ves.scale) == (1, 2, 2)
    assert viewer.layers['series vessels prob'].data.dtype == np.float32
    if HAS_AV:
        assert viewer.layers['series A/V'].data.shape == (3, 96, 112)
        assert not ves.visible  # the A/V layer colours the same pixels
    assert '3 frames' in w.status.value
    # The notification is one line; the whole sentence is in the widget.
    infos = [n.message for n in notes if n.severity == 'info']
    assert any(m.startswith('Segmented series in ') for m in infos)
    assert 'vessel density' in w.status.value
    # re-thresholding works on the whole stack, no rerun
    w.threshold.value = 0.2
    wait_threshold(qtbot, w)
    assert ves.metadata['threshold'] == pytest.approx(0.2)
    assert ves.data.sum() > 0


def test_cancel_between_frames_leaves_no_layer(widget, qtbot, notes):
    viewer, w = widget
    viewer.add_image(_stack(), name='series', rgb=True)
    w.av.value = False
    n = len(viewer.layers)
    frames = []

    def on_progress(rec):
        if rec.stage == 'frames':
            frames.append(rec.done)
            if rec.done == 1:  # first frame done: cancel before the next
                w.cancel()

    worker = w.run()
    worker.yielded.connect(on_progress)
    _wait(qtbot, w)
    assert frames[-1] <= 2 and 3 not in frames  # stopped before the end
    assert len(viewer.layers) == n
    assert 'Cancelled' in w.status.value
    assert any('Cancelled' in n.message for n in notes)
    assert w.run_button.enabled and not w.save_button.enabled


def test_failure_is_one_notification(
    widget, qtbot, monkeypatch, notes, tmp_path
):
    from napari.utils.notifications import notification_manager

    from napari_retina_vessels import _registry, weights

    # as in the napari app (tests print errors to stderr instead)
    monkeypatch.setattr(notification_manager, 'catch_error', True)
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
    viewer.add_image(fake_fundus(64, 64), name='eye', rgb=True)
    w.model.choices = [('remote-only', 'remote-only')]
    w.model.value = 'remote-only'
    w.av.value = False
    w.run()
    _wait(qtbot, w)
    errors = [n for n in notes if n.severity == 'error']
    assert len(errors) == 1
    assert 'cannot download' in errors[0].message
    assert errors[0].message in w.status.value


def test_status_survives_other_layer_changes(widget, qtbot):
    viewer, w = widget
    viewer.add_image(fake_fundus(96, 96), name='eye', rgb=True)
    w.av.value = False
    w.run()
    _wait(qtbot, w)
    done = w.status.value
    assert 'vessel density' in done
    viewer.add_points([[10, 10]], name='marks')
    viewer.layers.remove('marks')
    assert w.status.value == done


def test_keep_earlier_results(widget, qtbot):
    viewer, w = widget
    viewer.add_image(fake_fundus(96, 96), name='eye', rgb=True)
    w.av.value = False
    w.keep.value = True
    w.threshold.value = 0.3
    w.run()
    _wait(qtbot, w)
    w.threshold.value = 0.6
    w.run()
    _wait(qtbot, w)
    names = [ly.name for ly in viewer.layers]
    kept = [n for n in names if n.startswith('eye vessels [')]
    assert len(kept) == 2, names
    assert any('t=0.30' in n for n in kept)
    assert any('t=0.60' in n for n in kept)


def test_save_and_read_back(widget, qtbot, tmp_path, notes):
    from napari_retina_vessels._napari.reader import napari_get_reader

    viewer, w = widget
    photo = fake_fundus(96, 112)
    viewer.add_image(photo, name='eye', rgb=True)
    w.av.value = HAS_AV
    w.run()
    _wait(qtbot, w)
    w.save_folder.value = tmp_path / 'out'
    paths = w.save()
    names = sorted(p.name for p in paths)
    expected = ['eye.done.json', 'eye_prob.png', 'eye_vessels.png']
    if HAS_AV:
        expected += ['eye_av.png', 'eye_av_overlay.png']
    assert names == sorted(expected)
    assert any('Saved' in n.message for n in notes)

    # the reader opens the files back as the layers they came from
    reader = napari_get_reader(str(tmp_path / 'out'))
    layers = {
        kw['name']: (data, kw, kind)
        for data, kw, kind in reader(str(tmp_path / 'out'))
    }
    res = w._result
    prob = layers['eye vessels prob']
    assert prob[2] == 'image' and prob[0].dtype == np.float32
    assert np.abs(prob[0] - res.probability).max() <= 0.5 / 255 + 1e-6
    assert prob[1]['metadata']['model'] == res.model
    ves = layers['eye vessels']
    assert ves[2] == 'labels'
    np.testing.assert_array_equal(ves[0].astype(bool), res.vessels)
    if HAS_AV:
        np.testing.assert_array_equal(layers['eye A/V'][0], res.artery_vein)
        assert layers['eye A/V overlay'][0].shape == photo.shape

    # the npe2 writer writes the same files from the selected layers
    viewer.layers.selection = {
        viewer.layers[n]
        for n in (
            'eye',
            'eye vessels prob',
            'eye vessels',
            *(['eye A/V'] if HAS_AV else []),
        )
    }
    written = viewer.layers.save(
        str(tmp_path / 'by_writer'), selected=True, plugin=PLUGIN
    )
    assert sorted(p.split('/')[-1].split('\\')[-1] for p in written) == sorted(
        expected
    )
    a = (tmp_path / 'out' / 'eye_vessels.png').read_bytes()
    b = (tmp_path / 'by_writer' / 'eye_vessels.png').read_bytes()
    assert a == b


def test_stack_results_save_per_frame(widget, qtbot, tmp_path):
    viewer, w = widget
    viewer.add_image(_stack(2, 64, 64), name='s', rgb=True)
    w.av.value = False
    w.run()
    _wait(qtbot, w)
    w.save_folder.value = tmp_path
    names = {p.name for p in w.save()}
    assert {'s-000_prob.png', 's-001_vessels.png', 's-001.done.json'} <= names


def test_folder_opened_as_stack(tmp_path, make_napari_viewer):
    from napari_retina_vessels.io import imwrite

    for i in range(3):
        imwrite(tmp_path / f'p{i}.png', fake_fundus(48, 56, seed=i))
    viewer = make_napari_viewer()
    layers = viewer.open(str(tmp_path), stack=True, plugin=PLUGIN)
    assert len(layers) == 1
    assert layers[0].data.shape == (3, 48, 56, 3) and layers[0].rgb


def test_dicom_round_trip(widget, qtbot, tmp_path):
    pytest.importorskip('pydicom')
    viewer, w = widget
    photo = fake_fundus(96, 112)
    path = tmp_path / 'eye.dcm'
    write_dicom(path, photo, spacing_mm=(0.01, 0.0125))
    (layer,) = viewer.open(str(path), plugin=PLUGIN)
    np.testing.assert_array_equal(layer.data, photo)
    assert tuple(layer.scale) == pytest.approx((10.0, 12.5))
    text = repr(layer.metadata)
    for value in FAKE_PATIENT.values():
        assert value not in text
    assert layer.metadata['DICOM']['modality'] == 'OP'
    w.image.value = layer
    w.av.value = False
    w.run()
    _wait(qtbot, w)
    ves = viewer.layers['eye vessels']
    assert tuple(ves.scale) == pytest.approx((10.0, 12.5))
    w.save_folder.value = tmp_path / 'out'
    w.save()
    back = viewer.open(
        str(tmp_path / 'out' / 'eye_vessels.png'), plugin=PLUGIN
    )
    np.testing.assert_array_equal(
        back[0].data.astype(bool), ves.data.astype(bool)
    )


def test_multi_frame_dicom_is_a_stack(tmp_path, make_napari_viewer):
    pytest.importorskip('pydicom')
    frames = _stack(3, 40, 48)
    path = tmp_path / 'series.dcm'
    write_dicom(path, frames)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin=PLUGIN)
    assert layer.data.shape == (3, 40, 48, 3)
    assert tuple(layer.scale) == pytest.approx((1.0, 10.0, 12.5))


def test_multiscale_uses_the_level_the_pipeline_needs():
    from napari_retina_vessels._napari.frames import layer_input

    levels = [
        np.zeros((2400, 2400, 3), np.uint8),
        np.zeros((1200, 1200, 3), np.uint8),
        np.zeros((600, 600, 3), np.uint8),
        np.zeros((300, 300, 3), np.uint8),
    ]
    layer = types.SimpleNamespace(
        data=levels,
        rgb=True,
        multiscale=True,
        scale=(0.5, 0.5),
        translate=(3, 4),
        name='big',
    )
    got = layer_input(layer)
    assert got.level == 2 and got.data is levels[2] and not got.stack
    assert got.geometry == {'scale': (2.0, 2.0), 'translate': (3.0, 4.0)}


def test_default_layout_tabs_the_widgets(make_napari_viewer):
    from napari_retina_vessels._napari.launch import WIDGETS, dock_layout

    viewer = make_napari_viewer()
    docks = [dock for dock, _ in dock_layout(viewer)]
    assert len(docks) == len(WIDGETS)
    window = viewer.window._qt_window
    tabbed = window.tabifiedDockWidgets(docks[0])
    assert set(tabbed) >= set(docks[1:])
