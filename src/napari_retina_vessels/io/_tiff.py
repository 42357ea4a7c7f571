"""TIFF behind :mod:`..io`: the main series of a file, through the decode
guard (:func:`._formats.check_declared`: samples x bytes x frames and the
compression ratio before any tile is decoded), turned as its Orientation
tag says."""

from __future__ import annotations

import io as _io
from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from . import _formats
from ._formats import check_declared


def _check_tiff_page(page) -> None:
    """Refuse a TIFF page whose header asks for absurd buffers."""
    w, h = int(page.imagewidth), int(page.imagelength)
    _formats._check_pixels(w, h)
    tw, tl = int(page.tilewidth or 0), int(page.tilelength or 0)
    # Tiles are multiples of 16 pixels; one larger than its (rounded up)
    # image only makes the decoder allocate memory for nothing.
    if (tw or tl) and (tw > -(-w // 16) * 16 or tl > -(-h // 16) * 16):
        raise ImageReadError(
            f'the image is {w} x {h} pixels but declares tiles of '
            f'{tw} x {tl}; the file is damaged or crafted'
        )


def _tag_value(page, name: str, default: int) -> int:
    tag = page.tags.get(name)
    try:
        return int(tag.value) if tag is not None else default
    except (TypeError, ValueError):
        return default


def _check_tiff_bytes(series, data: bytes | Path) -> None:
    """The decode guard for a TIFF series: samples x bytes x frames."""
    page = series.keyframe
    w, h = int(page.imagewidth), int(page.imagelength)
    samples = int(page.samplesperpixel or 1)
    if samples > 4:
        raise ImageReadError(
            f'the image declares {samples} samples per pixel; a photo '
            'has 1 (grey), 3 (RGB) or 4 (RGBA)'
        )
    itemsize = np.dtype(series.dtype).itemsize
    total = int(np.prod(series.shape, dtype=np.float64))
    stored = len(data) if isinstance(data, bytes) else data.stat().st_size
    check_declared(
        w,
        h,
        samples=samples,
        itemsize=itemsize,
        frames=max(1, total // max(1, w * h * samples)),
        stored=stored,
    )


# TIFF/EXIF Orientation -> how to turn the stored (row, column) array
# into the picture as seen: (transpose first, then flip rows, columns);
# the same eight cases as Pillow's ImageOps.exif_transpose.
_ORIENT = {
    2: (False, False, True),
    3: (False, True, True),
    4: (False, True, False),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}


def orient(arr: np.ndarray, orientation: int, image_dims: int) -> np.ndarray:
    """Apply a TIFF Orientation tag to *arr*, whose last *image_dims*
    axes are (row, column[, sample])."""
    how = _ORIENT.get(int(orientation))
    if how is None:
        return arr
    transpose, flip_rows, flip_cols = how
    row = arr.ndim - image_dims
    if transpose:
        arr = np.swapaxes(arr, row, row + 1)
    if flip_rows:
        arr = np.flip(arr, row)
    if flip_cols:
        arr = np.flip(arr, row + 1)
    return np.ascontiguousarray(arr)


def _tiff_layout(series) -> tuple[tuple[int, ...], str]:
    """(frame dims, image axes) of a tifffile series, from its header.

    Samples (``S``, or ImageJ's 3-channel ``C``) belong to the image;
    every other axis before ``YX`` is a frame axis.
    """
    axes, shape = series.axes, tuple(series.shape)
    image = ''.join(a for a in axes if a in 'YXS')
    if (
        'S' not in axes
        and 'C' in axes
        and shape[axes.index('C')] in (3, 4)
        and axes.index('C') == len(axes) - 3
    ):
        image = 'C' + image
    lead = tuple(n for a, n in zip(axes, shape) if a not in image)
    return lead, image


def read_tiff(data: bytes | Path, *, frames: bool = False) -> np.ndarray:
    """Decode the main image series of a TIFF.

    Returns (H, W) or (H, W, S); with *frames* (N, H, W[, S]). A file
    with several frames is an error unless *frames*; more than one
    frame axis (a 5-D array) always is.
    """
    import tifffile

    src = _io.BytesIO(data) if isinstance(data, bytes) else data
    with tifffile.TiffFile(src) as tif:
        # The first series is the image; thumbnails are other series.
        series = tif.series[0]
        _check_tiff_page(series.keyframe)
        lead, image = _tiff_layout(series)
        lead = tuple(n for n in lead if n != 1)
        n = int(np.prod(lead)) if lead else 1
        _formats._check_pixels(
            int(series.keyframe.imagewidth),
            int(series.keyframe.imagelength),
            n,
        )
        if len(lead) > 1:
            raise ImageReadError(
                f'the file holds a {len(series.shape)}-D array of shape '
                f'{tuple(series.shape)} (axes {series.axes}); expected a '
                '2-D image, an RGB photograph or one stack of them'
            )
        if lead and not frames:
            raise ImageReadError(
                f'the file holds a stack of {n} images; open it in napari '
                '(one layer with a frame slider) or read every frame with '
                'napari_retina_vessels.io.read_stack'
            )
        _check_tiff_bytes(series, data)
        turn = _tag_value(series.keyframe, 'Orientation', 1)
        arr = series.asarray()
    if image[0] in 'SC':  # planar configuration: samples before YX
        arr = np.moveaxis(arr, -3, -1)
    arr = orient(arr, turn, 2 if image[-1] == 'X' else 3)
    return (
        arr.reshape((n, *arr.shape[-len(image) :]))
        if frames
        else arr.reshape(arr.shape[-len(image) :])
    )
