"""Result layers come and go (issue #32): the console helper never
segments the plugin's outputs nor adds layers for an ungradable photo;
Measure forgets tables whose layers are gone, never offers a FOV mask as
a vessel map, and a segment row click zooms to that segment."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus
from widget_wait import wait_idle

pytestmark = pytest.mark.gui


def test_console_twice_segments_the_photo_not_its_outputs(
    make_napari_viewer,
):
    from napari_retina_vessels import segment_layer
    from napari_retina_vessels.errors import InvalidImageError

    viewer = make_napari_viewer()
    viewer.add_image(fake_fundus(96, 112), name='eye', rgb=True)
    segment_layer(viewer, av=False, views=1)
    names = [ly.name for ly in viewer.layers]
    # The probability layer is now the selected image layer.
    viewer.layers.selection.active = viewer.layers['eye vessels prob']
    segment_layer(viewer, av=False, views=1)
    assert [ly.name for ly in viewer.layers] == names
    with pytest.raises(InvalidImageError, match='result of this plugin'):
        segment_layer(viewer.layers['eye vessels prob'], viewer=viewer)


def test_console_refuses_an_ungradable_photo(make_napari_viewer):
    from napari_retina_vessels import segment_layer
    from napari_retina_vessels._napari.console import UngradableError

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((200, 210, 3), np.uint8), name='b', rgb=True)
    with pytest.raises(UngradableError, match='ungradable'):
        segment_layer(viewer, av=False)
    assert [ly.name for ly in viewer.layers] == ['b']


def test_segment_widget_offers_photos_only(make_napari_viewer):
    from napari_retina_vessels import segment_layer
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget

    viewer = make_napari_viewer()
    viewer.add_image(fake_fundus(96, 112), name='eye', rgb=True)
    segment_layer(viewer, av=False, views=1)
    w = SegmentWidget(viewer)
    assert [ly.name for ly in w.image.choices] == ['eye']


def _measured(make_napari_viewer, qtbot):
    from measures.render import radial_tree

    from napari_retina_vessels._napari.widgets.measure import MeasureWidget

    viewer = make_napari_viewer()
    _, av, _ = radial_tree(
        (300, 300), (150.0, 150.0), 20.0, [5, 7, 4.5, 6.5], [1, 2] * 2
    )
    fov = np.ones((300, 300), np.uint8)
    viewer.add_labels(
        fov, name='eye FOV', metadata={'retina_vessels_layer': 'fov'}
    )
    viewer.add_labels(av, name='eye A/V')
    w = MeasureWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.maps.value = viewer.layers['eye A/V']
    assert w.run() is not None
    wait_idle(qtbot, w)
    assert w.result is not None, w.status.value
    return viewer, w


def test_measure_zooms_to_a_row_and_forgets_removed_layers(
    make_napari_viewer, qtbot
):
    """One measurement (measuring is the slow part): a segment row click
    zooms to it; removing the measured layer clears the tables."""
    from napari_retina_vessels._napari.view import camera

    viewer, w = _measured(make_napari_viewer, qtbot)
    assert 'eye FOV' not in [ly.name for ly in w.maps.choices]
    viewer.reset_view()
    before = camera(viewer).zoom
    w.highlight(0)
    path = np.asarray(w.result.paths[0], float)
    lo, hi = path.min(axis=0), path.max(axis=0)
    assert np.allclose(camera(viewer).center[-2:], (lo + hi) / 2)
    assert camera(viewer).zoom > before
    assert w.segment_table.native.rowCount() > 0
    viewer.layers.remove('eye A/V')
    assert w.result is None
    assert w.segment_table.native.rowCount() == 0
    assert w.image_table.native.rowCount() == 0
    # No fallback to the FOV mask: nothing left to measure.
    assert w.maps.value is None and not w.run_button.enabled
