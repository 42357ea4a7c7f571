"""The Measure widget takes the pixel size from the layer: its scale,
or the DICOM pixel spacing the reader put in its metadata."""

from __future__ import annotations

import numpy as np
import pytest
from widget_wait import wait_idle

pytestmark = pytest.mark.gui


def _av():
    from measures.render import radial_tree

    _, av, _ = radial_tree(
        (300, 300), (150, 150), 20, [5, 7, 4.5, 6.5], [1, 2] * 2
    )
    return av


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.measure import MeasureWidget

    viewer = make_napari_viewer()
    w = MeasureWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


def _run(qtbot, w):
    assert w.run() is not None
    wait_idle(qtbot, w)
    return w.result.image.iloc[0]


def test_layer_scale_sets_the_pixel_size(widget, qtbot):
    viewer, w = widget
    viewer.add_labels(_av(), name='av', scale=(12.5, 12.5))
    w.maps.value = viewer.layers['av']
    row = _run(qtbot, w)
    assert row['pixel_size_um'] == pytest.approx(12.5)
    assert row['pixel_size_source'] == 'napari layer scale'
    # A value typed in the widget wins.
    w.pixel_size.value = 6.0
    row = _run(qtbot, w)
    assert row['pixel_size_um'] == 6.0
    assert row['pixel_size_source'] == 'given'


def test_dicom_spacing_read_by_the_reader(widget, qtbot, tmp_path):
    pytest.importorskip('pydicom')
    from synthetic import write_dicom

    from napari_retina_vessels._napari.reader import napari_get_reader

    viewer, w = widget
    av = _av()
    path = tmp_path / 'eye.dcm'
    photo = np.zeros((*av.shape, 3), np.uint8)
    photo[...] = (170, 90, 30)
    write_dicom(path, photo, spacing_mm=(0.0125, 0.0125))
    for data, kwargs, kind in napari_get_reader(str(path))(str(path)):
        viewer._add_layer_from_data(data, kwargs, kind)
    viewer.add_labels(av, name='av')
    w.maps.value = viewer.layers['av']
    w.photo.value = viewer.layers[0]
    row = _run(qtbot, w)
    assert row['pixel_size_um'] == pytest.approx(12.5)
    assert 'pixel spacing' in row['pixel_size_source']


def test_fovea_drawn_and_moved_like_the_disc(widget, qtbot):
    from measures.test_fovea import _scene

    from napari_retina_vessels._napari.widgets.measure import FOVEA_LAYER

    viewer, w = widget
    photo, vessels = _scene()
    viewer.add_image(photo, name='photo')
    viewer.add_labels(vessels.astype(np.uint8), name='vessels')
    w.maps.value = viewer.layers['vessels']
    w.photo.value = viewer.layers['photo']
    row = _run(qtbot, w)
    assert row['fovea_source'] == 'detected'
    points = viewer.layers[FOVEA_LAYER]
    np.testing.assert_allclose(
        points.data[0], [row['fovea_y'], row['fovea_x']]
    )
    points.data = np.array([[170.0, 210.0]])  # the user moves it
    row = _run(qtbot, w)
    assert row['fovea_source'] == 'given'
    assert (row['fovea_y'], row['fovea_x']) == (170.0, 210.0)
    assert row['eye'] in ('left', 'right')
