"""The Metrics widget in a real viewer: table, ROC, overlay, A/V, errors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels import metrics as M

pytestmark = pytest.mark.gui

H, W = 60, 70


def _maps(seed=0):
    rng = np.random.default_rng(seed)
    truth = np.zeros((H, W), np.uint8)
    truth[20:23, 5:65] = 1
    truth[5:55, 30:32] = 1
    prob = np.clip(0.6 * rng.random((H, W)) + 0.3 * truth, 0, 1)
    prob = prob.astype(np.float32)
    fov = np.zeros((H, W), np.uint8)
    fov[2:58, 3:67] = 1
    return truth, prob, fov


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.metrics import MetricsWidget

    viewer = make_napari_viewer()
    w = MetricsWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


def _table(w) -> dict[str, str]:
    return dict(zip(w.table.row_headers, w.table['value'], strict=True))


def _select(w, viewer, pred, truth, mask=None):
    w.prediction.value = viewer.layers[pred]
    w.truth.value = viewer.layers[truth]
    w.mask.value = viewer.layers[mask] if mask else None


def test_needs_two_layers(widget):
    viewer, w = widget
    assert 'prediction layer and a ground-truth layer' in w.status.value
    assert not w.compute_button.enabled
    assert w.compute() is None
    assert len(viewer.layers) == 0


def test_probability_map_table_roc_and_overlay(widget):
    viewer, w = widget
    truth, prob, fov = _maps()
    viewer.add_image(prob, name='prob')
    viewer.add_labels(truth, name='manual')
    viewer.add_labels(fov, name='fov')
    _select(w, viewer, 'prob', 'manual', 'fov')
    assert w.compute_button.enabled
    result = w.compute()
    expected = M.vessel_metrics(truth, prob, mask=fov, threshold=0.5)
    assert result == expected
    table = _table(w)
    assert table['ROC AUC'] == f'{expected["auc"]:.4f}'
    assert table['F1 / Dice'] == f'{expected["f1"]:.4f}'
    assert table['clDice'] == f'{expected["cldice"]:.4f}'
    assert table['threshold'] == '0.5000'
    assert len(table) == len(M.METRIC_KEYS)
    assert w._canvas is not None and w._canvas.isVisibleTo(w.native)
    assert 'prob' in w.status.value and 'errors' in w.status.value

    overlay = viewer.layers['prob errors']
    from napari.layers import Labels

    assert isinstance(overlay, Labels)
    pred = prob >= 0.5
    t = truth.astype(bool)
    inside = fov.astype(bool)
    np.testing.assert_array_equal(overlay.data == 1, t & pred & inside)
    np.testing.assert_array_equal(overlay.data == 2, ~t & pred & inside)
    np.testing.assert_array_equal(overlay.data == 3, t & ~pred & inside)
    assert list(overlay.features['class']) == [
        'background',
        'true positive',
        'false positive',
        'false negative',
    ]
    colours = {tuple(np.round(overlay.colormap.map(i), 3)) for i in (1, 2, 3)}
    assert len(colours) == 3  # distinct
    assert overlay.colormap.map(0)[3] == 0  # background transparent
    # hovering a false negative names its class
    r, c = np.argwhere(overlay.data == 3)[0]
    status = overlay.get_status((r, c), world=True)
    text = status['coordinates'] if isinstance(status, dict) else status
    assert 'false negative' in text
    # the overlay is not offered as a prediction or truth
    assert 'prob errors' not in [n for n, _ in w._layer_choices()]


def test_threshold_recomputes_and_overlay_updates_in_place(widget):
    viewer, w = widget
    truth, prob, fov = _maps(1)
    viewer.add_image(prob, name='prob', metadata={'threshold': 0.4})
    viewer.add_labels(truth, name='manual')
    _select(w, viewer, 'prob', 'manual')
    assert w.threshold.value == pytest.approx(0.4)  # from the metadata
    w.compute()
    n_layers = len(viewer.layers)
    w.threshold.value = 0.8
    assert _table(w)['threshold'] == '0.8000'
    assert (
        _table(w)['sensitivity']
        == f'{M.sensitivity(truth, prob, threshold=0.8):.4f}'
    )
    assert len(viewer.layers) == n_layers
    np.testing.assert_array_equal(
        viewer.layers['prob errors'].data == 2, (truth == 0) & (prob >= 0.8)
    )


def test_binary_labels_prediction_has_no_roc(widget):
    viewer, w = widget
    truth, prob, _ = _maps(2)
    viewer.add_labels((prob >= 0.5).astype(np.int32) * 5, name='seg')
    viewer.add_image(truth.astype(np.float32), name='truth image')
    _select(w, viewer, 'seg', 'truth image')
    w.compute()
    table = _table(w)
    assert table['ROC AUC'] == 'n/a' and table['PR AUC (AP)'] == 'n/a'
    assert table['F1 / Dice'] == f'{M.f1(truth, prob):.4f}'
    assert not w._canvas.isVisibleTo(w.native)


def test_shape_mismatch_is_a_message(widget):
    viewer, w = widget
    truth, prob, _ = _maps()
    viewer.add_image(prob, name='prob')
    viewer.add_labels(truth[:50, :40], name='small')
    _select(w, viewer, 'prob', 'small')
    assert not w.compute_button.enabled
    assert "'small' is 40 x 50" in w.status.value
    assert 'same size' in w.status.value
    assert w.compute() is None
    assert 'prob errors' not in viewer.layers


def test_invalid_probability_and_rgb_are_messages(widget):
    viewer, w = widget
    truth, prob, _ = _maps()
    viewer.add_image(prob * 3, name='raw')
    viewer.add_labels(truth, name='manual')
    _select(w, viewer, 'raw', 'manual')
    assert w.compute() is None
    assert '[0, 1]' in w.status.value
    viewer.add_image(np.zeros((H, W, 3), np.uint8), name='photo', rgb=True)
    w.prediction.value = viewer.layers['photo']
    assert 'single-channel' in w.status.value


def test_artery_vein_layers(widget):
    viewer, w = widget
    truth = np.zeros((H, W), np.uint8)
    truth[10:12, 5:60] = 1
    truth[30:32, 5:60] = 2
    truth[40, 5:60] = 3
    pred = truth.copy()
    pred[10:12, 5:20] = 2  # arteries called veins
    pred[30:32, 50:60] = 0  # veins missed
    viewer.add_labels(truth, name='av truth')
    viewer.add_labels(pred, name='av pred')
    _select(w, viewer, 'av pred', 'av truth')
    result = w.compute()
    assert result == M.av_metrics(truth, pred)
    table = _table(w)
    assert table['A/V accuracy, all labelled'] == f'{result["all"]["acc"]:.4f}'
    assert table['sensitivity (artery), all'] == f'{80 / 110:.4f}'
    assert table['labelled pixels'] == '220'
    assert not w._canvas.isVisibleTo(w.native)
    overlay = viewer.layers['av pred errors']
    assert (overlay.data[10:12, 5:20] == 2).all()  # swapped
    assert (overlay.data[30:32, 50:60] == 3).all()  # missed
    assert (overlay.data[30:32, 5:50] == 1).all()  # correct
    assert (overlay.data[40] == 0).all()  # uncertain is not scored
    assert 'artery/vein swapped' in list(overlay.features['class'])


def test_copy_and_export(widget, tmp_path, qtbot):
    from qtpy.QtWidgets import QApplication

    viewer, w = widget
    truth, prob, fov = _maps()
    viewer.add_image(prob, name='prob')
    viewer.add_labels(truth, name='manual')
    _select(w, viewer, 'prob', 'manual')
    w.export_csv()
    assert 'Compute first' in w.status.value
    result = w.compute()
    w.copy()
    text = QApplication.clipboard().text()
    lines = text.splitlines()
    assert lines[0].split('\t')[:2] == ['metric', 'value']
    assert len(lines) == 1 + len(M.METRIC_KEYS)
    auc_row = next(ln.split('\t') for ln in lines if ln.startswith('ROC'))
    assert float(auc_row[1]) == pytest.approx(result['auc'], abs=1e-12)
    assert auc_row[2:4] == ['prob', 'manual']
    assert 'Copied' in w.status.value

    assert w.export_csv() is None
    assert 'CSV file' in w.status.value
    out = tmp_path / 'metrics.csv'
    w.csv_path.value = out
    assert w.export_csv() == out
    assert out.read_text() == text.replace('\t', ',')
    assert str(out) in w.status.value
