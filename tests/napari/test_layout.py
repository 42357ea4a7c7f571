"""The launcher's layout fits a 1280 x 800 window (issue #32).

All three widgets docked as tabs, the canvas keeps at least half of the
window, the window does not grow, each results table has room for
eight rows, options fold away and the Measure tables can leave the dock
for a window of their own and come back.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def _settle(n=10):
    from qtpy.QtWidgets import QApplication

    for _ in range(n):
        QApplication.processEvents()


@pytest.fixture
def launched(make_napari_viewer):
    import numpy as np

    from napari_retina_vessels._napari.launch import dock_layout

    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(1280, 800)
    viewer.add_image(np.zeros((300, 300, 3), np.uint8), rgb=True)
    docked = dock_layout(viewer)
    _settle()
    return viewer, docked


def test_three_tabs_and_half_the_window_is_canvas(launched):
    from napari_retina_vessels._napari.launch import WIDGETS

    viewer, docked = launched
    window = viewer.window._qt_window
    assert [d.windowTitle() for d, _ in docked] == [t for _, t in WIDGETS]
    assert set(window.tabifiedDockWidgets(docked[0][0])) >= {
        d for d, _ in docked[1:]
    }
    for dock, _ in docked:
        dock.raise_()
        _settle()
        # No dock asks for more than the screen: the window keeps its
        # size (and napari has no grown size to remember).
        assert (window.width(), window.height()) == (1280, 800)
        canvas = viewer.window._qt_viewer.canvas.native
        assert canvas.width() >= window.width() / 2, dock.windowTitle()


def test_tables_show_eight_rows(launched):
    from qtpy.QtWidgets import QTableWidget

    _, docked = launched
    tables = [
        t for _, w in docked for t in w.native.findChildren(QTableWidget)
    ]
    assert len(tables) >= 3  # Measure's two, Metrics' one
    for t in tables:
        header = t.horizontalHeader().sizeHint().height()
        row = t.verticalHeader().defaultSectionSize()
        rows = (t.minimumHeight() - header) / row
        assert rows >= 8


def test_options_fold_away(launched):
    _, docked = launched
    seg = docked[0][1]
    assert not seg.more_options.visible
    assert seg.options_toggle.text.startswith('▸')
    seg.options_toggle.clicked.emit()
    _settle()
    assert seg.more_options.visible and seg.device.visible
    assert seg.options_toggle.text.startswith('▾')
    seg.options_toggle.clicked.emit()
    assert not seg.more_options.visible


def test_measure_tables_undock_and_come_back(launched):
    _, docked = launched
    measure = docked[1][1]
    native = measure.tables.content.native
    home = native.parentWidget()
    measure.tables.button.clicked.emit()
    _settle()
    assert measure.tables.undocked and native.isWindow()
    assert native.isVisible()
    native.close()  # closing the window puts the tables back
    _settle()
    assert not measure.tables.undocked and not native.isWindow()
    assert native.parentWidget() is home


def test_notifications_fit_one_line(make_napari_viewer, qtbot):
    """Every notification the Segment widget sends is one line of
    napari's 400-px notification, whatever the layer's name."""
    from qtpy.QtGui import QFontMetrics
    from qtpy.QtWidgets import QApplication

    from napari_retina_vessels._napari.widgets import _text as T

    name = T.short_name('a very long layer name from a folder of photos')
    notes = [
        T.DONE_NOTE.format(name=name, seconds=1234.5),
        T.USABLE_NOTE.format(name=name),
        T.UNGRADABLE_NOTE.format(name=name),
        T.SAVED_NOTE.format(n=12),
        T.SAVE_FAILED_NOTE,
        T.CANCELLED,
        T.NOTHING_TO_SAVE,
        T.CHOOSE_FOLDER,
    ]
    metrics = QFontMetrics(QApplication.font())
    for note in notes:
        assert len(note) <= T.NOTE_CHARS, note
        # 400 px less the icon, the two buttons and the margins
        assert metrics.horizontalAdvance(note) <= 300, note


def test_deprecated_napari_api_is_an_error_here(make_napari_viewer):
    """tests/napari/conftest.py turns napari's deprecations into errors;
    the plugin reaches the camera through the current name."""
    from napari_retina_vessels._napari.view import camera

    viewer = make_napari_viewer()
    assert camera(viewer) is viewer.scene.camera
    with pytest.raises(DeprecationWarning):
        _ = viewer.camera


def test_docks_need_no_sideways_scrolling(launched):
    """Long sentences wrap and choices elide: each widget fits its dock's
    width, so nothing is cut off at the right."""
    from qtpy.QtWidgets import QWidget

    _, docked = launched
    long = 'a long result sentence that names the model and more ' * 3
    for dock, w in docked:
        w.status.value = long
        dock.raise_()
        _settle()
        area = w.native.findChild(QWidget, 'retina_vessels_scroll')
        body = area.widget()
        assert body.minimumSizeHint().width() <= area.viewport().width(), (
            dock.windowTitle()
        )
