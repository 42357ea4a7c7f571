"""The Measure widget's corrections: click, paint, undo, redo, save."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from widget_wait import wait_idle

pytestmark = pytest.mark.gui


@pytest.fixture
def measured(make_napari_viewer, qtbot):
    from measures.render import radial_tree

    from napari_retina_vessels._napari.widgets.measure import MeasureWidget

    viewer = make_napari_viewer()
    w = MeasureWidget(viewer)
    viewer.window.add_dock_widget(w)
    _, av, _ = radial_tree(
        (300, 300),
        (150.0, 150.0),
        20.0,
        [5, 7, 4.5, 6.5, 4, 6, 5.5, 7.5],
        [1, 2] * 4,
    )
    viewer.add_labels(av, name='av')
    w.maps.value = viewer.layers['av']
    _wait(qtbot, w, w.run())
    return viewer, w


def _wait(qtbot, w, worker=True):
    assert worker is not None
    wait_idle(qtbot, w)
    return w.result


def _widest(m, label):
    s = m.segments[m.segments['label'] == label]
    return int(s['calibre_px'].idxmax())


def test_click_flip_exclude_undo_redo(measured, qtbot):
    from napari_retina_vessels._napari.widgets.measure import SEGMENTS_LAYER

    viewer, w = measured
    panel = w.corrections
    m0 = w.result
    crae0 = m0.image.iloc[0]['crae_n']
    a = _widest(m0, 'artery')
    # A click on the layer, as napari delivers it.
    panel.click.value = 'flip artery/vein'
    assert w.colour_by.value == 'class'
    layer = viewer.layers[SEGMENTS_LAYER]
    y, x = (int(m0.segments.loc[a, c]) for c in ('y_mid', 'x_mid'))
    panel._on_click(layer, SimpleNamespace(position=(y, x)))
    m1 = _wait(qtbot, w)
    assert m1.segments.loc[a, 'label'] == 'vein'
    assert m1.segments.loc[a, 'corrected'] == 'vein'
    assert m1.image.iloc[0]['crae_n'] == crae0 - 1
    assert '1 correction' in panel.info.value
    # Drawn apart from the other veins (cyan, not blue).
    colour = layer.colormap.map(np.array([a + 1]))[0]
    assert colour[1] > 0.8 and colour[0] < 0.2
    v = _widest(m1, 'vein')
    panel.click_segment(v, 'exclude')
    m2 = _wait(qtbot, w)
    assert m2.segments.loc[v, 'label'] == 'excluded'
    assert not m2.segments.loc[v, 'in_crae_crve']
    panel.undo()
    assert (_wait(qtbot, w).segments['label'] == 'excluded').sum() == 0
    panel.redo()
    assert (_wait(qtbot, w).segments['label'] == 'excluded').sum() == 1
    # Include again; flip the flipped segment back.
    panel.click_segment(v, 'include again')
    panel.click_segment(a, 'flip artery/vein')
    m3 = _wait(qtbot, w)
    assert (m3.segments['corrected'] == '').all()
    assert m3.image.iloc[0]['crae_n'] == crae0


def test_paint_then_save_and_reload(measured, qtbot, tmp_path):
    from napari_retina_vessels._napari.widgets.corrections import PAINT_LAYER
    from napari_retina_vessels._napari.widgets.measure import MeasureWidget

    viewer, w = measured
    panel = w.corrections
    n0 = len(w.result.segments)
    panel.start_painting()
    paint = viewer.layers[PAINT_LAYER]
    assert paint.mode == 'paint' and paint.selected_label == 1
    data = np.zeros((300, 300), np.uint8)
    data[20:26, 20:120] = 1  # a new vessel far from the tree
    paint.data = data
    paint.events.paint(value=[])
    m = _wait(qtbot, w)
    assert m.vessels[22, 60]
    assert len(m.segments) == n0 + 1
    assert m.image.iloc[0]['corrected'] == 1
    panel.grader.value = 'AB'
    assert panel.save() is None  # nowhere to save yet: says so
    assert 'CSV folder' in panel.info.value
    w.csv_folder.value = tmp_path
    path = panel.save()
    assert path == tmp_path / 'av.corrections.json'
    saved = json.loads(path.read_text())
    assert saved['grader'] == 'AB' and saved['painted'] == 'av.painted.png'
    # The disc was not moved: it is not a correction.
    assert saved['disc'] is None and saved['image'] == 'av'
    from napari_retina_vessels._napari.widgets.measure import DISC_LAYER

    disc = viewer.layers[DISC_LAYER]
    disc.data = [disc.data[0] + np.array([4.0, 0.0])]
    saved = json.loads(panel.save().read_text())
    assert saved['disc'][0] == pytest.approx(w.result.disc.y + 4, abs=0.5)
    # Undo the stroke: the paint layer follows.
    panel.undo()
    _wait(qtbot, w)
    assert not paint.data.any()

    # A new widget on the same map picks the saved corrections up.
    w2 = MeasureWidget(viewer)
    w2.csv_folder.value = tmp_path
    w2.corrections._source = None
    w2.corrections.on_source(viewer.layers['av'])
    assert w2.corrections.grader.value == 'AB'
    assert w2.corrections.corrections.painted[22, 60] == 1
