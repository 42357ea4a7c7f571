"""Screenshot of the viewer with the Metrics widget docked, after Compute.

Run under a display (``xvfb-run -a python scripts/screenshot_metrics.py``).
Writes docs/images/metrics_widget.png.

By default the photo is a synthetic fundus phantom drawn here, so its
vessel map is known exactly and no dataset image ends up in the
repository; the shipped model segments it and the widget scores the
model's probability map against the phantom's vessels. To show a real
case instead, pass a photo, its vessel annotation and (optionally) its
FOV mask::

    xvfb-run -a python scripts/screenshot_metrics.py PHOTO TRUTH [MASK]
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'docs' / 'images' / 'metrics_widget.png'


def _branch(canvas, y, x, angle, width, length, rng, depth):
    """Draw a wandering vessel and, recursively, its thinner branches."""
    yy, xx = np.mgrid[: canvas.shape[0], : canvas.shape[1]]
    step = 2.0
    for i in range(int(length / step)):
        angle += rng.normal(0, 0.06)
        y += step * np.sin(angle)
        x += step * np.cos(angle)
        r = max(0.6, width * (1 - 0.5 * i * step / length)) / 2
        y0, y1 = int(max(0, y - r - 1)), int(min(canvas.shape[0], y + r + 2))
        x0, x1 = int(max(0, x - r - 1)), int(min(canvas.shape[1], x + r + 2))
        if y0 >= y1 or x0 >= x1:
            return
        d = (yy[y0:y1, x0:x1] - y) ** 2 + (xx[y0:y1, x0:x1] - x) ** 2
        canvas[y0:y1, x0:x1] |= d <= r * r
        if depth and i and i % int(45 / step) == 0:
            side = rng.choice([-1, 1])
            _branch(
                canvas,
                y,
                x,
                angle + side * rng.uniform(0.5, 1.0),
                width * 0.6,
                length * 0.55,
                rng,
                depth - 1,
            )


def phantom(h: int = 584, w: int = 565, seed: int = 3):
    """An RGB fundus-like photo with its exact vessel map and FOV."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx, radius = h / 2, w / 2, 0.47 * min(h, w)
    fov = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    disc_y, disc_x = cy - 10, cx + 0.55 * radius
    vessels = np.zeros((h, w), bool)
    for angle, width in (
        (-2.4, 8),
        (2.4, 8),
        (-2.0, 6),
        (2.0, 6),
        (-0.9, 5),
        (0.9, 5),
        (3.1, 4),
    ):
        _branch(
            vessels,
            disc_y,
            disc_x,
            np.pi + angle if abs(angle) < 1.5 else angle,
            width,
            330,
            rng,
            depth=2,
        )
    vessels &= fov
    shade = 1 - 0.45 * ((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2
    disc = np.exp(-((yy - disc_y) ** 2 + (xx - disc_x) ** 2) / 900)
    macula = np.exp(-((yy - cy) ** 2 + (xx - cx + 0.25 * radius) ** 2) / 2500)
    base = np.stack(
        [
            200 * shade + 55 * disc - 30 * macula,
            95 * shade + 120 * disc - 25 * macula,
            35 * shade + 70 * disc - 10 * macula,
        ],
        -1,
    )
    dark = ndi.gaussian_filter(vessels.astype(float), 0.8)[..., None]
    photo = base * (1 - dark * np.array([0.35, 0.55, 0.55]))
    photo += rng.normal(0, 3, photo.shape)
    photo = np.clip(photo, 0, 255) * fov[..., None]
    return photo.astype(np.uint8), vessels, fov


def main(argv: list[str]) -> None:
    from napari_retina_vessels._napari.launch import dock_layout
    from napari_retina_vessels._napari.widgets.metrics import MetricsWidget
    from napari_retina_vessels.io import imread, read_mask
    from napari_retina_vessels.pipeline import segment

    if argv:
        photo, truth = imread(argv[0]), read_mask(argv[1])
        fov = read_mask(argv[2]) if len(argv) > 2 else None
        name = Path(argv[0]).stem
    else:
        photo, truth, fov = phantom()
        name = 'phantom'
    result = segment(photo, av=False, fov=fov)
    fov = result.fov

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1280, 800)  # a 1280 x 800 screen
    viewer.add_image(photo, name=name, rgb=True)
    viewer.add_labels(fov.astype(np.uint8), name=f'{name} FOV', visible=False)
    viewer.add_labels(
        truth.astype(np.uint8), name=f'{name} reference', visible=False
    )
    viewer.add_image(
        result.probability,
        name=f'{name} vessels prob',
        colormap='magma',
        contrast_limits=(0, 1),
        metadata=result.metadata(),
        visible=False,
    )
    # the layout python -m napari_retina_vessels opens, Metrics in front
    docked = dock_layout(viewer)
    dock, widget = next(
        (d, x) for d, x in docked if isinstance(x, MetricsWidget)
    )
    widget.prediction.value = viewer.layers[f'{name} vessels prob']
    widget.truth.value = viewer.layers[f'{name} reference']
    widget.mask.value = viewer.layers[f'{name} FOV']
    widget.compute()
    viewer.layers.selection.active = viewer.layers[
        f'{name} vessels prob errors'
    ]
    viewer.reset_view()
    for _ in range(5):
        QApplication.processEvents()
    dock.raise_()  # after the launcher's own raise of Segment
    for _ in range(5):
        QApplication.processEvents()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(OUT), canvas_only=False)
    print(f'wrote {OUT}: {widget.status.value}')
    viewer.close()


if __name__ == '__main__':
    main(sys.argv[1:])
