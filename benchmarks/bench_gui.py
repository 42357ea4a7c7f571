"""GUI responsiveness while the Segment widget works.

A 5 ms QTimer runs on the GUI thread while the widget segments a DRIVE
test photo; the longest gap between two ticks is the longest stall of the
event loop. Also prints the time from the click to the layers.

Run under a display: ``xvfb-run -a python benchmarks/bench_gui.py``.
In napari the allocator tuning is opt-in; compare with
``RETINA_VESSELS_TUNE_MALLOC=1 xvfb-run -a python benchmarks/bench_gui.py``
(each line says whether it was on).
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    import napari_retina_vessels as nrv
    from napari_retina_vessels import _allocator
    from napari_retina_vessels._napari.widgets.segment import SegmentWidget
    from napari_retina_vessels.io.datasets import data_root

    path = data_root() / 'DRIVE' / 'test' / 'images' / '01_test.tif'
    viewer = napari.Viewer(show=True)
    viewer.add_image(nrv.imread(path), name='01_test', rgb=True)
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget)
    app = QApplication.instance()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)

    for run in range(3):
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda t=ticks: t.append(time.perf_counter()))
        timer.start()
        t0 = time.perf_counter()
        widget.run()
        while widget._worker is not None:
            app.processEvents()
            time.sleep(0.001)
        t1 = time.perf_counter()
        for _ in range(10):  # let the layers draw
            app.processEvents()
            time.sleep(0.005)
        timer.stop()
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        label = 'first run (loads weights)' if run == 0 else f'run {run + 1}'
        tuned = 'on' if _allocator._state else 'off'
        print(
            f'{label}: click -> layers {t1 - t0:.2f} s; longest GUI '
            f'stall {1000 * max(gaps):.0f} ms over {len(gaps)} ticks '
            f'(allocator tuning {tuned})'
        )
    viewer.close()


if __name__ == '__main__':
    sys.exit(main())
