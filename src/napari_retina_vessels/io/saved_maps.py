"""Saved probability maps: one reader for every command that reads
them back (``evaluate --predictions``, ``measure`` on segment outputs).

Torch- and Qt-free.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DatasetError, InvalidImageError

__all__ = [
    'PREDICTION_SUFFIXES',
    'as_probability',
    'find_prediction',
    'read_prediction',
]

#: Suffixes of saved prediction files, in the order they are looked for.
PREDICTION_SUFFIXES = ('.png', '.tif', '.tiff', '.npy')


def find_prediction(
    folder: str | os.PathLike, stem: str, *, suffix: str = ''
) -> Path:
    """Path of the saved map ``folder/<stem><suffix>.png|.tif|.tiff|.npy``.

    For the vessel map (no *suffix*) ``<stem>_prob.*``, the name
    ``retina-vessels segment`` writes, is looked for next, so a
    ``segment`` output folder can be scored as it is.

    Raises
    ------
    DatasetError
        When none of these files exists; the message names the file.
    """
    folder = Path(folder)
    endings = (suffix,) if suffix else ('', '_prob')
    for ending in endings:
        for ext in PREDICTION_SUFFIXES:
            path = folder / f'{stem}{ending}{ext}'
            if path.is_file():
                return path
    names = ' or '.join(f'{stem}{e}.png' for e in endings)
    raise DatasetError(
        f'no prediction for {stem}: expected {names} in {folder} (or .tif, '
        '.tiff, .npy); save one per photo or drop --predictions'
    )


def read_prediction(path: str | os.PathLike) -> np.ndarray:
    """Read a saved vessel probability map.

    Returns
    -------
    numpy.ndarray
        (H, W): uint8 (probability x 255, 8-bit PNG), uint16 (x 65535,
        16-bit PNG), float in [0, 1] (TIFF, NPY), or bool (binary map).

    Raises
    ------
    ImageReadError, InvalidImageError
    """
    from . import imread

    path = Path(path)
    if path.suffix.lower() == '.npy':
        from . import read_npy

        arr = read_npy(path)
    else:
        arr = imread(path)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        if not np.array_equal(arr[..., 0], arr[..., 1]):
            raise InvalidImageError(
                f'{path} is a colour image; a probability map must have '
                'one channel'
            )
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InvalidImageError(
            f'{path} has shape {arr.shape}; a probability map is (H, W)'
        )
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32, copy=False)
        if np.isnan(arr).any():
            raise InvalidImageError(
                f'{path} holds {int(np.isnan(arr).sum()):,} NaN values; '
                'float maps must be probabilities in [0, 1]'
            )
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 1:
            raise InvalidImageError(
                f'{path} holds values {lo:g}..{hi:g}; float maps must be '
                'probabilities in [0, 1]'
            )
    elif arr.dtype not in (np.bool_, np.uint8, np.uint16):
        raise InvalidImageError(
            f'{path} is {arr.dtype}; save 8- or 16-bit PNGs or float '
            'TIFF/NPY maps'
        )
    return arr


def as_probability(arr: np.ndarray) -> np.ndarray:
    """A map from :func:`read_prediction` as float32 probabilities:
    8-bit / 255, 16-bit / 65535, bool 0/1, float as it is."""
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
    if arr.dtype in scale:
        return arr.astype(np.float32) / np.float32(scale[arr.dtype])
    return arr.astype(np.float32)
