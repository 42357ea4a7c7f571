"""``python -m napari_retina_vessels``: napari with the plugin, ready.

Opens the viewer with the sample fundus photograph (or the files given on
the command line) and the plugin's widgets docked as tabs, Segment in
front.
"""

from __future__ import annotations

import sys

#: The plugin's widgets, docked as tabs in this order (the first in
#: front), with their tab titles.
WIDGETS = (
    ('Segment vessels', 'Segment'),
    ('Measure', 'Measure'),
    ('Vessel metrics', 'Metrics'),
)
#: Width (px) of napari's own layer docks on the left when launched.
LEFT_DOCK_WIDTH = 280


def dock_layout(viewer) -> list[tuple]:
    """Dock the plugin's widgets as tabs of one dock area, Segment in
    front, so the canvas keeps at least half of a 1280 x 800 window.

    Returns
    -------
    list of (dock widget, widget)
        In :data:`WIDGETS` order.
    """
    docked = []
    for i, (name, tab) in enumerate(WIDGETS):
        dock, widget = viewer.window.add_plugin_dock_widget(
            'napari-retina-vessels', name, tabify=i > 0
        )
        dock.setWindowTitle(tab)  # the tab's title: short, not cut
        docked.append((dock, widget))
    if docked:
        from qtpy.QtCore import QTimer

        # napari makes the last tab current and sizes the docks once the
        # window shows; bring Segment to the front and narrow the docks
        # after that.
        front = docked[0][0]

        def settle() -> None:
            front.raise_()
            fit_docks(viewer, front)

        settle()
        # A timer owned by the dock: it never fires once the window
        # (closed before the event loop ran, say) is gone.
        timer = QTimer(front)
        timer.setSingleShot(True)
        timer.timeout.connect(settle)
        timer.start(0)
    return docked


def fit_docks(viewer, dock) -> None:
    """Give *dock* (the plugin's) :data:`~._layout.DOCK_WIDTH` and
    napari's left docks :data:`LEFT_DOCK_WIDTH`: the rest is canvas."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QDockWidget

    from .widgets._layout import DOCK_WIDTH

    window = viewer.window._qt_window
    left = [
        d
        for d in window.findChildren(QDockWidget)
        if d.isVisible()
        and window.dockWidgetArea(d) == Qt.DockWidgetArea.LeftDockWidgetArea
    ]
    docks = [*left[:1], dock]
    widths = [LEFT_DOCK_WIDTH, DOCK_WIDTH][-len(docks) :]
    window.resizeDocks(docks, widths, Qt.Orientation.Horizontal)


def main(argv: list[str] | None = None) -> int:
    import napari

    paths = list(sys.argv[1:] if argv is None else argv)
    viewer = napari.Viewer(title='napari-retina-vessels')
    if paths:
        viewer.open(paths, plugin='napari-retina-vessels')
    else:
        viewer.open_sample('napari-retina-vessels', 'retina')
    dock_layout(viewer)
    napari.run()
    return 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
