"""Screenshot of the default layout (widgets as tabs) after a Segment run.

Run under a display (``xvfb-run -a python scripts/screenshot_segment.py``).
Uses the sample photo shipped with scikit-image (CC0) by default, or a
photo given on the command line. Writes docs/images/segment_widget.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'docs' / 'images' / 'segment_widget.png'


def main() -> None:
    from napari_retina_vessels._napari.launch import dock_layout

    viewer = napari.Viewer(show=True)
    # A 1280 x 800 screen: the layout must fit it (issue #32).
    viewer.window._qt_window.resize(1280, 800)
    if len(sys.argv) > 1:
        viewer.open(sys.argv[1], plugin='napari-retina-vessels')
    else:
        viewer.open_sample('napari-retina-vessels', 'retina')
    # the layout python -m napari_retina_vessels opens: widgets as tabs
    (dock, widget), *_ = dock_layout(viewer)
    widget.av.value = widget.av.enabled
    worker = widget.run()
    while widget._worker is not None:
        QApplication.processEvents()
    assert worker is not None
    viewer.reset_view()
    QApplication.processEvents()
    dock.raise_()
    QApplication.processEvents()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(OUT), canvas_only=False)
    print(f'wrote {OUT}: {widget.status.value}')
    viewer.close()


if __name__ == '__main__':
    main()
