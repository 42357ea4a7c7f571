"""Screenshot of a grading session: the Review and Measure widgets.

Opens a ``retina-vessels segment`` output folder (made with ``--av``) in
the Review widget, measures the photo shown with the Measure widget,
flips the widest zone-B artery to vein through the corrections panel,
and writes ``docs/images/grading.png``. The picture uses the
scikit-image sample photo (CC0; dataset photos are not committed). Run
under a display::

    mkdir -p /tmp/sample
    python -c "from skimage import data; from napari_retina_vessels.io \\
import imwrite; imwrite('/tmp/sample/retina.png', data.retina())"
    retina-vessels segment /tmp/sample/retina.png --av --views 1 \\
        --out /tmp/grading
    retina-vessels measure /tmp/grading --out /tmp/grading
    xvfb-run -a python scripts/screenshot_grading.py /tmp/grading
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / 'docs' / 'images'


def _wait(w, seconds: float = 600) -> None:
    from qtpy.QtWidgets import QApplication

    t0 = time.time()
    while (
        w._worker is not None or w.corrections._pending
    ) and time.time() - t0 < seconds:
        QApplication.processEvents()
        time.sleep(0.05)


def main(folder: str) -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_retina_vessels._napari.widgets.measure import MeasureWidget
    from napari_retina_vessels._napari.widgets.review import (
        MAP_LAYER,
        PHOTO_LAYER,
        ReviewWidget,
    )

    viewer = napari.Viewer()
    review = ReviewWidget(viewer)
    viewer.window.add_dock_widget(review, name='Review', area='left')
    review.folder.value = folder
    review.grader.value = 'AB'
    assert review.open(), review.status.value
    w = MeasureWidget(viewer)
    viewer.window.add_dock_widget(w, name='Measure')
    w.maps.value = viewer.layers[MAP_LAYER]
    if PHOTO_LAYER in viewer.layers:
        w.photo.value = viewer.layers[PHOTO_LAYER]
    w.run()
    _wait(w)
    seg = w.result.segments
    used = seg[(seg['label'] == 'artery') & seg['in_crae_crve']]
    w.corrections.grader.value = 'AB'
    w.corrections.click.value = 'flip artery/vein'
    w.corrections.click_segment(
        int(used['zone_b_calibre_px'].idxmax()), 'flip artery/vein'
    )
    _wait(w)
    viewer.layers[MAP_LAYER].visible = False
    viewer.window._qt_window.resize(1700, 1000)
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    IMAGES.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(IMAGES / 'grading.png'), canvas_only=False)
    print(
        w.result.image.iloc[0][
            ['crae_um', 'crve_um', 'avr', 'corrected', 'grader']
        ].to_dict()
    )
    viewer.close()


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else '/tmp/grading')
