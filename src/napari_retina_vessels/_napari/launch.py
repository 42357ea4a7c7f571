"""``python -m napari_retina_vessels``: napari with the plugin, ready.

Opens the viewer with the sample fundus photograph (or the files given on
the command line) and the plugin's widgets docked as tabs, Segment in
front.
"""

from __future__ import annotations

import sys

#: The plugin's widgets, docked as tabs in this order (the first in front).
WIDGETS = ('Segment vessels', 'Vessel metrics')


def dock_layout(viewer) -> list[tuple]:
    """Dock the plugin's widgets as tabs of one dock area, Segment in
    front, so the canvas keeps most of the window.

    Returns
    -------
    list of (dock widget, widget)
        In :data:`WIDGETS` order.
    """
    docked = [
        viewer.window.add_plugin_dock_widget(
            'napari-retina-vessels', name, tabify=i > 0
        )
        for i, name in enumerate(WIDGETS)
    ]
    if docked:
        from qtpy.QtCore import QTimer

        # napari makes the last tab current once the window shows; bring
        # Segment to the front after that.
        front = docked[0][0]
        front.raise_()
        QTimer.singleShot(0, front.raise_)
    return docked


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
