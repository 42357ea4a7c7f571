"""``python -m napari_retina_vessels``: napari with the plugin, ready.

Opens the viewer with the sample fundus photograph (or the files given on
the command line) and the Segment widget docked.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import napari

    paths = list(sys.argv[1:] if argv is None else argv)
    viewer = napari.Viewer(title='napari-retina-vessels')
    if paths:
        viewer.open(paths, plugin='napari-retina-vessels')
    else:
        viewer.open_sample('napari-retina-vessels', 'retina')
    viewer.window.add_plugin_dock_widget('napari-retina-vessels',
                                         'Segment vessels')
    viewer.window.add_plugin_dock_widget('napari-retina-vessels',
                                         'Vessel metrics')
    napari.run()
    return 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
