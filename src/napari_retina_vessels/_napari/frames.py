"""What of an image layer is segmented: one rule for the widget and the
console helper (no napari import: the layer is read through its
attributes).

- ``(H, W)`` grey and ``(H, W, 3|4)`` RGB layers are one photo;
- ``(N, H, W)`` grey and ``(N, H, W, 3|4)`` RGB layers are a stack of
  photos, segmented frame by frame (a folder opened with
  ``stack=True``, a multi-frame DICOM, a Dask-backed series);
- multiscale layers give the smallest level whose shorter side still
  holds the canonical FOV diameter (:data:`CANONICAL_DIAMETER`), since
  the pipeline would shrink a larger one to about that size anyway; the
  result layers get that level's pixel size so they overlay the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidImageError
from ..preprocessing import CANONICAL_DIAMETER, MIN_SIZE

__all__ = ['LayerInput', 'layer_input']


@dataclass(frozen=True)
class LayerInput:
    """The pixels to segment and where the result layers go.

    Attributes
    ----------
    data : array-like
        (H, W[, 3]) or, for a stack, (N, H, W[, 3]); possibly lazy
        (Dask, zarr): frames are loaded one at a time.
    stack : bool
        True for (N, ...) data.
    geometry : dict
        ``scale`` and ``translate`` for the result layers.
    level : int
        Multiscale level used (0 for single-scale layers).
    """

    data: Any
    stack: bool
    geometry: dict
    level: int = 0


def _photo_shape(shape: tuple, rgb: bool) -> tuple:
    return tuple(shape[:-1]) if rgb else tuple(shape)


def _pick_level(levels: list, rgb: bool) -> int:
    """Smallest level whose shorter photo side is >= the canonical size."""
    best = 0
    for i, level in enumerate(levels):
        h, w = _photo_shape(tuple(level.shape), rgb)[-2:]
        if min(h, w) >= CANONICAL_DIAMETER:
            best = i
    return best


def layer_input(layer: Any) -> LayerInput:
    """The pixels of an image layer to segment, and the result geometry.

    Parameters
    ----------
    layer : napari.layers.Image
        Any object with ``data``, ``rgb``, ``multiscale``, ``scale``,
        ``translate`` and ``name``.

    Raises
    ------
    InvalidImageError
        When the layer is neither a photo nor a stack of photos.
    """
    rgb = bool(getattr(layer, 'rgb', False))
    multiscale = bool(getattr(layer, 'multiscale', False))
    levels = list(layer.data) if multiscale else [layer.data]
    level = _pick_level(levels, rgb) if multiscale else 0
    data = levels[level]
    shape = _photo_shape(tuple(data.shape), rgb)
    # A photo of any size goes to the pipeline (which explains what is
    # wrong with it); three axes must look like frames of photos.
    if len(shape) not in (2, 3) or (
        len(shape) == 3 and min(shape[-2:]) < MIN_SIZE
    ):
        full = tuple(levels[0].shape)
        raise InvalidImageError(
            f'layer {layer.name!r} is {full}: choose a photograph (H, W) '
            f'or (H, W, 3), or a stack of them (N, H, W[, 3]) with frames '
            f'of at least {MIN_SIZE} pixels a side'
        )
    stack = len(shape) == 3
    ndim = len(shape)
    scale = [float(s) for s in tuple(layer.scale)[-ndim:]]
    if level:
        full = _photo_shape(tuple(levels[0].shape), rgb)
        for axis in (-2, -1):
            scale[axis] *= full[axis] / shape[axis]
    geometry = {
        'scale': tuple(scale),
        'translate': tuple(float(t) for t in tuple(layer.translate)[-ndim:]),
    }
    return LayerInput(data, stack, geometry, level)
