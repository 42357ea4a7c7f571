"""The Segment widget's model-file picker: a .pt from ``train``, checked
as ``retina-vessels segment --model FILE`` checks it."""

from __future__ import annotations

import shutil

import pytest
from synthetic import fake_fundus
from widget_wait import wait_idle

from napari_retina_vessels.weights import list_models, weights_path

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    viewer.add_image(fake_fundus(96, 112), name='eye', rgb=True)
    w = SegmentWidget(viewer)
    w.av.value = False
    w.views.value = 1  # the cheapest run: the model is what is tested
    return viewer, w


def _shipped(task):
    return next(m['name'] for m in list_models(task=task) if m['shipped'])


def test_a_broken_file_is_explained_and_blocks_run(widget, tmp_path):
    _, w = widget
    bad = tmp_path / 'mine.pt'
    bad.write_bytes(b'not a torch file')
    w.model_file.value = bad
    assert 'Cannot use the model file' in w.status.value
    assert 'not a valid weights file' in w.status.value
    assert not w.run_button.enabled and w.run() is None
    w.model_file.value = tmp_path / 'missing.pt'
    assert 'there is no file' in w.status.value
    w.model_file.line_edit.value = ''  # cleared: the model above again
    assert w.run_button.enabled and w.status.value == 'Ready.'


def test_an_av_model_file_is_refused(widget, tmp_path):
    if not list_models(task='av'):
        pytest.skip('no shipped artery/vein model')
    _, w = widget
    path = tmp_path / 'av.pt'
    shutil.copy(weights_path(_shipped('av'), download=False), path)
    w.model_file.value = path
    assert 'not a vessels model' in w.status.value
    assert not w.run_button.enabled


def test_a_model_file_is_used(widget, tmp_path, qtbot):
    viewer, w = widget
    path = tmp_path / 'my-model.pt'
    shutil.copy(weights_path(_shipped('vessels'), download=False), path)
    w.model_file.value = path
    assert 'my-model' in w.status.value and w.run_button.enabled
    assert w.run() is not None
    wait_idle(qtbot, w, 120_000)
    assert viewer.layers['eye vessels'].metadata['model'] == 'my-model'
