"""The Measure widget in a real viewer: worker, layers, tables, disc, CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from widget_wait import wait_idle

pytestmark = pytest.mark.gui


def _tree(shape=(300, 300), centre=(150.0, 150.0), r=20.0):
    """A/V labels of 8 vessels leaving a disc, and a photo with the disc."""
    from measures.render import radial_tree

    _, av, _ = radial_tree(
        shape, centre, r, [5, 7, 4.5, 6.5, 4, 6, 5.5, 7.5], [1, 2] * 4
    )
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    photo = np.zeros((*shape, 3), np.uint8)
    photo[...] = (170, 90, 30)
    photo[np.hypot(yy - centre[0], xx - centre[1]) < r] = (250, 220, 150)
    photo[av > 0] //= 2
    return av, photo


@pytest.fixture
def widget(make_napari_viewer):
    from napari_retina_vessels._napari.widgets.measure import MeasureWidget

    viewer = make_napari_viewer()
    w = MeasureWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


def _measure(qtbot, w):
    worker = w.run()
    assert worker is not None
    assert not w.run_button.enabled  # no second job while one runs
    # The first run in a process also compiles skan's numba code (and
    # a shared CI machine can be slow).
    wait_idle(qtbot, w)
    return w.result


def test_needs_a_map(widget):
    viewer, w = widget
    assert 'vessel or artery/vein map' in w.status.value
    assert not w.run_button.enabled and w.run() is None


def test_measure_draws_disc_zones_segments_and_tables(widget, qtbot, tmp_path):
    from napari_retina_vessels._napari.widgets.measure import (
        DISC_LAYER,
        SEGMENTS_LAYER,
        ZONES_LAYER,
    )

    viewer, w = widget
    av, photo = _tree()
    viewer.add_image(photo, name='photo')
    viewer.add_labels(av, name='av')
    w.maps.value = viewer.layers['av']
    w.photo.value = viewer.layers['photo']
    w.pixel_size.value = 5.0
    m = _measure(qtbot, w)
    assert m is not None and len(m.segments) >= 8
    assert m.disc is not None
    assert np.hypot(m.disc.y - 150, m.disc.x - 150) < 20
    for name in (DISC_LAYER, ZONES_LAYER, SEGMENTS_LAYER):
        assert name in viewer.layers
    assert len(viewer.layers[ZONES_LAYER].data) == 3
    table = dict(zip(w.image_table.row_headers, w.image_table['value']))
    assert table['segments'] == str(len(m.segments))
    assert table['pixel size (µm)'] == '5'
    assert len(w.segment_table.row_headers) == len(m.segments)
    assert 'segments measured' in w.status.value

    # Clicking a row highlights that segment.
    w.segment_table.native.setCurrentCell(3, 0)
    seg = viewer.layers[SEGMENTS_LAYER]
    assert seg.selected_label == 4 and seg.show_selected_label

    # Colour by class: arteries red.
    w.colour_by.value = 'class'
    first_artery = int(np.flatnonzero(m.segments['label'] == 'artery')[0])
    colour = seg.colormap.map(np.array([first_artery + 1]))[0]
    assert colour[0] > 0.9 and colour[2] < 0.5

    # Move the disc: measuring again uses the moved disc.
    disc = viewer.layers[DISC_LAYER]
    disc.data = [disc.data[0] + np.array([10.0, -5.0])]
    old = (m.disc.y, m.disc.x)
    m2 = _measure(qtbot, w)
    assert m2.disc.source == 'given'
    assert (m2.disc.y, m2.disc.x) == pytest.approx(
        (old[0] + 10, old[1] - 5), abs=0.5
    )

    # Export.
    w.csv_folder.value = tmp_path
    assert w.export_csv() == tmp_path
    with open(tmp_path / 'segments.csv', newline='') as f:
        assert len(list(csv.DictReader(f))) == len(m2.segments)
    assert 'Wrote' in w.status.value


def test_photo_of_another_size_is_refused(widget):
    viewer, w = widget
    viewer.add_labels(_tree()[0], name='av')
    viewer.add_image(np.zeros((100, 120, 3), np.uint8), name='photo')
    w.maps.value = viewer.layers['av']
    w.photo.value = viewer.layers['photo']
    assert not w.run_button.enabled
    assert '120 x 100' in w.status.value


def test_empty_map_measures_with_reasons(widget, qtbot):
    viewer, w = widget
    viewer.add_labels(np.zeros((80, 90), np.uint8), name='empty')
    w.maps.value = viewer.layers['empty']
    m = _measure(qtbot, w)
    assert m is not None and len(m.segments) == 0
    table = dict(zip(w.image_table.row_headers, w.image_table['note']))
    assert 'empty' in table['CRAE (µm)']


def _place_disc(viewer, shape, y, x, r):
    """An 'optic disc' layer as the user leaves it after moving it."""
    from napari_retina_vessels._napari.widgets.measure import (
        DISC_LAYER,
        disc_shapes,
    )
    from napari_retina_vessels.measures import Disc

    viewer.add_shapes(
        disc_shapes(Disc(y, x, r)),
        shape_type='ellipse',
        name=DISC_LAYER,
        metadata={'measure_layer': True, 'shape': shape},
    )


def test_no_vessels_in_zone_b_is_explained(widget, qtbot):
    from measures.render import tube

    viewer, w = widget
    vessels = tube((300, 300), [(20, 20), (20, 280)], 4) >= 0.5
    av = vessels.astype(np.uint8)
    av[:, 150:] *= 2
    viewer.add_labels(av, name='far vessels')
    w.maps.value = viewer.layers['far vessels']
    _place_disc(viewer, av.shape, 200, 150, 20)
    m = _measure(qtbot, w)
    assert m is not None and m.disc.source == 'given'
    notes = dict(zip(w.image_table.row_headers, w.image_table['note']))
    assert 'zone B' in notes['CRAE (µm)'] and 'zone B' in notes['CRVE (µm)']
    values = dict(zip(w.image_table.row_headers, w.image_table['value']))
    assert values['AVR'] == 'n/a' and notes['AVR']


def test_disc_at_the_border_is_explained(widget, qtbot):
    viewer, w = widget
    av, photo = _tree(centre=(150.0, 6.0))
    viewer.add_image(photo, name='photo')
    viewer.add_labels(av, name='av')
    w.maps.value = viewer.layers['av']
    w.photo.value = viewer.layers['photo']
    _place_disc(viewer, av.shape, 150, 6, 20)
    m = _measure(qtbot, w)
    assert m is not None and m.disc.source == 'given'
    notes = dict(zip(w.image_table.row_headers, w.image_table['note']))
    assert 'outside the image' in notes['CRAE (µm)']
    assert 'segments measured' in w.status.value


def _blank_row():
    from napari_retina_vessels.quality import Quality

    return Quality('ungradable', 0.1, ('blank frame',)).row()


def test_ungradable_map_is_not_measured_unless_asked(widget, qtbot):
    viewer, w = widget
    av, photo = _tree()
    viewer.add_image(photo, name='photo')
    # A result layer of an ungradable photo (the console helper's, or a
    # segment output opened with the reader) records its grade.
    viewer.add_labels(av, name='av', metadata=_blank_row())
    w.maps.value = viewer.layers['av']
    w.photo.value = viewer.layers['photo']
    assert not w.run_button.enabled and w.run() is None
    assert 'graded ungradable (blank frame)' in w.status.value
    assert 'measure ungradable photos' in w.status.value

    w.measure_ungradable.value = True
    assert w.run_button.enabled
    m = _measure(qtbot, w)
    assert m.measured and m.quality.grade == 'ungradable'
    assert len(m.segments) >= 8
    assert 'segments measured' in w.status.value
    assert 'graded ungradable (blank frame)' in w.status.value

    # Another map without a grade is measured as always.
    w.measure_ungradable.value = False
    viewer.add_labels(av, name='av, no grade')
    w.maps.value = viewer.layers['av, no grade']
    assert w.run_button.enabled


def test_reader_carries_the_grade_to_the_widget(widget, tmp_path):
    import json

    from PIL import Image

    viewer, w = widget
    # As `retina-vessels segment` writes it: class indices 0-3.
    Image.fromarray(_tree()[0]).save(tmp_path / 'eye_av.png')
    row = {'name': 'eye', 'model': 'default', **_blank_row()}
    (tmp_path / 'eye.done.json').write_text(json.dumps({'row': row}))
    viewer.open(str(tmp_path / 'eye_av.png'), plugin='napari-retina-vessels')
    layer = viewer.layers[-1]
    assert layer.metadata['quality_grade'] == 'ungradable'
    assert layer.metadata['quality_reasons'] == 'blank frame'
    w.maps.value = layer
    assert not w.run_button.enabled
    assert 'graded ungradable' in w.status.value
