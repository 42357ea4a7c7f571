"""Read and write fundus photographs, masks and label images.

Qt-free; everything else in the package (reader, CLI, datasets, tests)
decodes files through :func:`imread`. This module is the public face:
the per-format decoders and their size guards live in
:mod:`._formats`, the atomic writers in :mod:`._writing`; every public
name of both is importable from here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import ImageReadError, InvalidImageError, first_line
from . import _formats, _tiff
from ._formats import IMAGE_SUFFIXES, file_stem, image_suffix, is_image_path
from ._formats import MAX_PIXELS as MAX_PIXELS  # the decoders' size limit
from ._writing import (
    SOFTWARE,
    check_output_file,
    csv_cell,
    imwrite,
    write_text_atomic,
    written_by_us,
)

__all__ = [
    'IMAGE_SUFFIXES',
    'is_image_path',
    'imread',
    'read_mask',
    'as_mask',
    'read_av',
    'av_from_rgb',
    'imwrite',
    'write_text_atomic',
    'file_stem',
    'read_pixel_spacing',
    'read_stack',
    'read_npy',
    'check_output_file',
    'csv_cell',
    'written_by_us',
    'SOFTWARE',
]


def imread(path: str | os.PathLike) -> npt.NDArray:
    """Read a fundus photograph, mask or label image.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF, PNG, JPEG, GIF, BMP, PPM/PGM or gzipped PPM/PGM file, a
        single-frame DICOM file (pydicom) or a Topcon/Heidelberg export
        holding one fundus photograph (oct-converter); see
        :mod:`.clinical` for several frames and the pixel spacing.

    Returns
    -------
    numpy.ndarray
        (H, W, 3) for colour images (alpha is dropped), (H, W) for
        grayscale images, masks and labels. The dtype is the file's own:
        uint8 for 8-bit files, uint16 for 16-bit ones (16-bit RGB PNGs
        excepted: Pillow decodes them to 8 bits), float for
        floating-point TIFFs, bool for 1-bit TIFFs.

    Raises
    ------
    ImageReadError
        When the file is missing, empty, truncated or not an image.
    """
    path = Path(path)
    _check_file(path)
    if path.stat().st_size == 0:
        raise ImageReadError(f'{path} is empty (0 bytes)')
    suffix = image_suffix(path)
    if suffix in ('.dcm', '.dicom', '.fda', '.fds', '.e2e'):
        arr = _read_clinical_frame(path)
    else:
        arr = _formats.decode(path, suffix)
    return _check_decoded(arr, path)


def _read_clinical_frame(path: Path) -> np.ndarray:
    from .clinical import read_clinical

    image = read_clinical(path)
    arr = image.pixels
    frames = int(image.info.get('frames', image.info.get('fundus_images', 1)))
    if frames > 1:
        raise ImageReadError(
            f'{path} holds {frames} images; open it in napari (one layer '
            'with a frame slider) or read them all with '
            'napari_retina_vessels.io.clinical.read_clinical'
        )
    return arr


def _check_file(path: Path) -> None:
    """ImageReadError unless *path* is a regular file, saying which."""
    if path.is_file():
        return
    if not path.exists():
        raise ImageReadError(f'{path} does not exist')
    kind = 'a folder' if path.is_dir() else 'a device, pipe or socket'
    raise ImageReadError(
        f'{path} is {kind}, not an image file; give the path of a photo'
    )


def read_npy(path: str | os.PathLike) -> npt.NDArray:
    """Load a ``.npy`` array after checking what its header declares.

    ``numpy.load`` allocates the declared array before reading: a
    192-byte file declaring 2e6 x 2e6 values would ask for terabytes.
    Object arrays (pickles) are refused too.

    Raises
    ------
    ImageReadError
        For a missing, damaged, truncated, pickled or oversized file.
    """
    from numpy.lib import format as npf

    path = Path(path)
    try:
        with open(path, 'rb') as fh:
            version = npf.read_magic(fh)
            read = {
                (1, 0): npf.read_array_header_1_0,
                (2, 0): npf.read_array_header_2_0,
            }.get(version)
            if read is None:
                raise ValueError(f'unsupported .npy version {version}')
            shape, _, dtype = read(fh)
            start = fh.tell()
        size = path.stat().st_size
    except (OSError, ValueError) as err:
        reason = first_line(err)
        raise ImageReadError(f'cannot read {path} ({reason})') from err
    n = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if dtype.hasobject:
        raise ImageReadError(
            f'{path} holds Python objects, not numbers; save a numeric array'
        )
    limit = 4 * _formats.MAX_PIXELS
    if n > limit:
        raise ImageReadError(
            f'{path} declares an array of shape {shape}, more than the '
            f'{limit:,} values this reader accepts'
        )
    if size < start + n * dtype.itemsize:
        raise ImageReadError(
            f'{path} is truncated: it declares shape {shape} of '
            f'{dtype} but holds {size:,} bytes'
        )
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ImageReadError(f'cannot read {path} ({err})') from err


def read_stack(path: str | os.PathLike) -> npt.NDArray:
    """Read every frame of a multi-page TIFF as one stack.

    The pages (or the frame axis) of a TIFF's main series are the frames
    of a stack; :func:`imread` refuses such a file rather than return
    its first plane. A file with more than one frame axis (a 5-D array)
    is an error here too. Any other image gives a stack of one frame.

    Returns
    -------
    numpy.ndarray
        (N, H, W) or (N, H, W, 3), in the file's dtype.

    Raises
    ------
    ImageReadError
        As :func:`imread`.
    """
    path = Path(path)
    suffix = image_suffix(path)
    if suffix not in ('.tif', '.tiff', '.tif.gz'):
        return imread(path)[None]
    _check_file(path)
    with _formats.decoding(
        path,
        'an image stack',
        'is the file complete and uncompressed or zlib-compressed?',
    ):
        gz = suffix.endswith('.gz')
        data = _formats.gunzip(path, '.tif') if gz else path
        stack = _tiff.read_tiff(data, frames=True)
    return np.stack([_check_decoded(frame, path) for frame in stack])


def _check_decoded(arr: np.ndarray, path: Path) -> np.ndarray:
    arr = np.asarray(arr)
    # Drop leading length-1 axes (a one-page stack, a one-plane image),
    # but not the row axis of a one-row photo, (1, W, 3).
    while (
        arr.ndim > 2
        and arr.shape[0] == 1
        and (arr.ndim > 3 or arr.shape[-1] not in (1, 2, 3, 4))
    ):
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim == 3 and arr.shape[-1] == 2:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise ImageReadError(
            f'{path} holds an array of shape {arr.shape}; expected a 2-D '
            'image or an RGB photograph'
        )
    if arr.size == 0:
        raise ImageReadError(f'{path} holds no pixels')
    return np.ascontiguousarray(arr)


def _gray(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3:
        return arr.max(axis=-1)
    return arr


def as_mask(array: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Binarise a decoded mask image: foreground above half its maximum.

    A 0/1 or 0/255 mask keeps its foreground exactly; a mask saved as
    JPEG keeps it despite the compression noise. Colour masks use the
    brightest channel.

    Parameters
    ----------
    array : array-like
        (H, W) or (H, W, 3) mask of any dtype.

    Returns
    -------
    numpy.ndarray
        (H, W) bool.
    """
    arr = _gray(np.asarray(array))
    if arr.dtype == np.bool_:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        top = np.nanmax(arr) if arr.size else 0.0
        top = float(top) if np.isfinite(top) and top > 0 else 1.0
        return arr > 0.5 * top
    hi = int(arr.max()) if arr.size else 0
    if hi <= 1:
        return arr > 0
    mask = arr > hi / 2
    ones = int(np.count_nonzero(arr == 1))
    if ones > np.count_nonzero(mask):
        # A 0/1 mask with a few stray high pixels: cutting at half the
        # maximum would keep only the strays (an empty truth scoring
        # F1 0 in silence). JPEG noise of a 0/255 mask has few 1s.
        raise InvalidImageError(
            f'the mask mixes two encodings: {ones:,} pixels are 1 (a 0/1 '
            f'mask) but the largest value is {hi}; save it as 0/1 or '
            '0/255 only'
        )
    return mask


def read_mask(path: str | os.PathLike) -> npt.NDArray[np.bool_]:
    """Read a binary mask (vessels or field of view) as a bool array.

    See :func:`as_mask` for how grey levels become foreground.

    Raises
    ------
    ImageReadError
        When the file cannot be decoded (see :func:`imread`).
    """
    try:
        return as_mask(imread(path))
    except InvalidImageError as err:
        raise InvalidImageError(f'{path}: {err}') from None


def av_from_rgb(rgb: np.ndarray) -> npt.NDArray[np.uint8]:
    """Convert an RGB artery/vein drawing to class labels.

    Red is artery (1), blue vein (2); green (crossing), white (uncertain)
    and any other non-black colour become 3 (uncertain). Near-red and
    near-blue stray pixels go to the nearest class.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise InvalidImageError(
            f'an RGB artery/vein image must be (H, W, 3), got {rgb.shape}'
        )
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    hi = 255 if rgb.dtype == np.uint8 else int(rgb.max() or 1)
    t = hi // 2
    out = np.zeros(rgb.shape[:2], np.uint8)
    on = (r > t) | (g > t) | (b > t)
    out[on] = 3
    out[(r > t) & (g <= t) & (b <= t)] = 1
    out[(b > t) & (g <= t) & (r <= t)] = 2
    return out


def read_av(path: str | os.PathLike) -> npt.NDArray[np.uint8]:
    """Read artery/vein labels: RGB drawings (RITE) or class-index images.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8: 0 background, 1 artery, 2 vein, 3 crossing or
        uncertain.
    """
    arr = imread(path)
    if arr.ndim == 3:
        return av_from_rgb(arr)
    if arr.max() > 3:
        raise ImageReadError(
            f'{path} is a single-channel image with values up to '
            f'{arr.max()}; artery/vein labels must be 0-3 or an RGB drawing'
        )
    return arr.astype(np.uint8)


# TIFF resolution units that make a physical pixel size: centimetre and
# millimetre. Inch (the default) is skipped: fundus TIFFs carry dummy
# 72/96 dpi values from whatever program saved them.
_TIFF_UNIT_UM = {3: 1e4, 4: 1e3, 5: 1.0}
_IMAGEJ_UNIT_UM = {
    'micron': 1.0,
    'um': 1.0,
    '\u00b5m': 1.0,
    '\\u00b5m': 1.0,
    'mm': 1e3,
    'cm': 1e4,
}


def read_pixel_spacing(
    path: str | os.PathLike,
) -> tuple[float, float] | None:
    """Return the pixel spacing a TIFF or DICOM file records, in
    micrometres.

    Only metric spacings count: a TIFF resolution in centimetres or
    millimetres, an ImageJ TIFF whose unit is micron, mm or cm, or a
    DICOM ``PixelSpacing`` (``ImagerPixelSpacing``). Other files, dpi
    values and unreadable headers give None: a photo's spacing on the
    retina is rarely known.

    Returns
    -------
    tuple of float or None
        ``(row_spacing, column_spacing)`` in micrometres, or None.
    """
    path = Path(path)
    if image_suffix(path) in ('.dcm', '.dicom'):
        from .clinical import dicom_pixel_spacing

        return dicom_pixel_spacing(path)
    if image_suffix(path) not in ('.tif', '.tiff'):
        return None
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            unit = tags.get('ResolutionUnit')
            xres = tags.get('XResolution')
            yres = tags.get('YResolution')
            ij = tif.imagej_metadata or {}
            if xres is None or yres is None:
                return None
            unit = int(unit.value) if unit is not None else 2
            factor = _TIFF_UNIT_UM.get(unit)
            ij_unit = str(ij.get('unit', '')).lower()
            if ij_unit in _IMAGEJ_UNIT_UM:
                factor = _IMAGEJ_UNIT_UM[ij_unit]
            if factor is None:
                return None
            xr = xres.value[0] / xres.value[1] if xres.value[1] else 0
            yr = yres.value[0] / yres.value[1] if yres.value[1] else 0
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        # A header we cannot parse simply records no spacing.
        return None
    if xr <= 0 or yr <= 0:
        return None
    return (factor / yr, factor / xr)
