"""The viewer's camera: one place that knows napari's name for it.

napari 0.9 moved ``viewer.camera`` to ``viewer.scene.camera`` (the old
name warns); older versions have only the old name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: How much of the canvas's shorter side a zoomed-to box fills.
FILL = 1 / 3
#: Smallest box (world units) zoomed to, so a tiny segment keeps context.
MIN_EXTENT = 40.0


def camera(viewer: Any) -> Any:
    """The viewer's camera model, without napari's deprecation."""
    scene = getattr(viewer, 'scene', None)
    cam = getattr(scene, 'camera', None)
    return cam if cam is not None else viewer.camera


def zoom_to(viewer: Any, lo: Any, hi: Any) -> None:
    """Centre the 2D view on the box (*lo*, *hi*) (world (y, x)) and
    zoom so that it fills :data:`FILL` of the canvas."""
    lo = np.asarray(lo, float)[-2:]
    hi = np.asarray(hi, float)[-2:]
    cam = camera(viewer)
    extent = max(float(np.max(hi - lo)), MIN_EXTENT)
    # napari >= 0.9: viewer.canvas.size (height, width); the private
    # _canvas_size of older versions is deprecated for plugins there.
    size = getattr(getattr(viewer, 'canvas', None), 'size', None)
    if not size or min(size) <= 0:
        size = (600, 600)
    cam.center = tuple(float(c) for c in (lo + hi) / 2)
    cam.zoom = FILL * float(min(size)) / extent
