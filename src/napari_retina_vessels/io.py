"""Read and write fundus photographs, masks and label images.

Qt-free; everything else in the package (reader, CLI, datasets, tests)
decodes files through :func:`imread`.
"""

from __future__ import annotations

import gzip
import io as _io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .errors import ImageReadError, InvalidImageError

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
]

#: File name endings this package decodes (lower case).
IMAGE_SUFFIXES = (
    '.tif', '.tiff', '.png', '.jpg', '.jpeg', '.gif', '.bmp',
    '.ppm', '.pgm', '.pnm', '.ppm.gz', '.pgm.gz', '.tif.gz', '.jpe',
)

# Guard against decompression bombs: a header that declares more pixels
# than this is refused before any pixel is decoded (8000 x 8000 x 4 fits).
MAX_PIXELS = 300_000_000

# A gzipped image never needs more bytes than 16-bit RGB at MAX_PIXELS.
_MAX_GZ_BYTES = MAX_PIXELS * 6 + 4096


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def file_stem(path: str | os.PathLike) -> str:
    """File name without its image suffix (``im0001.ppm.gz`` -> ``im0001``).
    """
    path = Path(path)
    name = path.name
    lower = name.lower()
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def is_image_path(path: str | os.PathLike) -> bool:
    """Return True when *path* names a file format this package reads."""
    return _suffix(Path(path)) in IMAGE_SUFFIXES


def _pil_to_array(img) -> np.ndarray:
    mode = img.mode
    if mode == 'P':
        rgb = np.asarray(img.convert('RGB'))
        # A palette of greys (GIF masks and labels) is a grayscale image.
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(
            rgb[..., 0], rgb[..., 2]
        ):
            return np.ascontiguousarray(rgb[..., 0])
        return rgb
    elif mode == '1':
        img = img.convert('L')
    elif mode in ('CMYK', 'YCbCr', 'LAB', 'HSV'):
        img = img.convert('RGB')
    elif mode == 'LA':
        img = img.convert('L')
    elif mode == 'PA':
        img = img.convert('RGB')
    elif mode.startswith('I;16'):
        return np.asarray(img, dtype=np.uint16)
    return np.asarray(img)


def _read_pil(data: bytes | Path) -> np.ndarray:
    from PIL import Image

    src = _io.BytesIO(data) if isinstance(data, bytes) else data
    with warnings.catch_warnings():
        warnings.simplefilter('error', Image.DecompressionBombWarning)
        with Image.open(src) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageReadError(
                    f'the image declares {w} x {h} pixels, more than the '
                    f'{MAX_PIXELS:,} this reader accepts'
                )
            img.load()
            return _pil_to_array(img)


def _read_tiff(data: bytes | Path) -> np.ndarray:
    import tifffile

    src = _io.BytesIO(data) if isinstance(data, bytes) else data
    with tifffile.TiffFile(src) as tif:
        page = tif.pages[0]
        if int(np.prod(page.shape)) > MAX_PIXELS * 4:
            raise ImageReadError(
                f'the image declares shape {page.shape}, too large to read'
            )
        arr = page.asarray()
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] > 4:
        arr = np.moveaxis(arr, 0, -1)  # planar configuration
    return arr


def imread(path: str | os.PathLike) -> npt.NDArray:
    """Read a fundus photograph, mask or label image.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF, PNG, JPEG, GIF, BMP, PPM/PGM or gzipped PPM/PGM file.

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
    if not path.is_file():
        raise ImageReadError(f'{path} does not exist or is not a file')
    if path.stat().st_size == 0:
        raise ImageReadError(f'{path} is empty (0 bytes)')
    suffix = _suffix(path)
    try:
        if suffix.endswith('.gz'):
            with gzip.open(path, 'rb') as fh:
                data: bytes | Path = fh.read(_MAX_GZ_BYTES + 1)
            if len(data) > _MAX_GZ_BYTES:
                raise ImageReadError(
                    'it decompresses to more bytes than any image this '
                    'reader accepts'
                )
            inner = suffix[:-3]
        else:
            data, inner = path, suffix
        if inner in ('.tif', '.tiff'):
            try:
                arr = _read_tiff(data)
            except ImageReadError:
                raise
            except Exception:
                # tifffile needs imagecodecs for LZW/JPEG compression;
                # Pillow decodes the common 8-bit cases (DRIVE is LZW).
                arr = _read_pil(data)
        else:
            arr = _read_pil(data)
    except ImageReadError as err:
        raise ImageReadError(f'cannot read {path}: {err}') from err
    except Exception as err:  # decoders raise many unrelated types
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ImageReadError(
            f'cannot read {path} as an image ({reason}); is the file '
            'complete and in a supported format?'
        ) from err
    arr = np.asarray(arr)
    while arr.ndim > 2 and arr.shape[0] == 1:
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
    return arr > hi / 2


def read_mask(path: str | os.PathLike) -> npt.NDArray[np.bool_]:
    """Read a binary mask (vessels or field of view) as a bool array.

    See :func:`as_mask` for how grey levels become foreground.

    Raises
    ------
    ImageReadError
        When the file cannot be decoded (see :func:`imread`).
    """
    return as_mask(imread(path))


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


def imwrite(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write *array* to *path* atomically (temp file, then rename).

    A failure leaves no partial file behind and an existing *path*
    untouched. Missing parent folders are created.

    Parameters
    ----------
    path : str or os.PathLike
        ``.png`` (bool masks become 0/255), ``.tif``/``.tiff`` (zlib
        compressed) or ``.npy`` (any array).
    array : numpy.ndarray
        The image; PNG takes (H, W) uint8/uint16/bool and (H, W, 3|4)
        uint8.

    Returns
    -------
    pathlib.Path
        *path*.

    Raises
    ------
    InvalidImageError
        For any other file suffix.
    """
    from PIL import Image

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ('.npy', '.tif', '.tiff', '.png'):
        raise InvalidImageError(
            f'cannot write {path.name}: use .png, .tif or .npy'
        )
    arr = np.asarray(array)

    def write(tmp: str) -> None:
        if suffix == '.npy':
            with open(tmp, 'wb') as fh:
                np.save(fh, arr)
        elif suffix in ('.tif', '.tiff'):
            import tifffile

            tifffile.imwrite(tmp, arr, compression='zlib')
        else:
            png = arr.astype(np.uint8) * 255 if arr.dtype == np.bool_ else arr
            Image.fromarray(png).save(tmp, format='PNG')

    return _atomic(path, write)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write *text* (UTF-8) to *path* via a temporary file and a rename,
    so a reader never sees half a file. Missing folders are created."""

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8', newline='') as fh:
            fh.write(text)

    return _atomic(Path(path), write)


def _atomic(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside *path*, then rename.

    A failure removes the temporary file and leaves *path* untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{path.name}.', suffix='.part', dir=path.parent
    )
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file 0600; give it the permissions any
        # other new file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# TIFF resolution units that make a physical pixel size: centimetre and
# millimetre. Inch (the default) is skipped: fundus TIFFs carry dummy
# 72/96 dpi values from whatever program saved them.
_TIFF_UNIT_UM = {3: 1e4, 4: 1e3, 5: 1.0}
_IMAGEJ_UNIT_UM = {
    'micron': 1.0, 'um': 1.0, '\u00b5m': 1.0, '\\u00b5m': 1.0,
    'mm': 1e3, 'cm': 1e4,
}


def read_pixel_spacing(
    path: str | os.PathLike,
) -> tuple[float, float] | None:
    """Return the pixel spacing a TIFF file records, in micrometres.

    Only metric spacings count: a TIFF resolution in centimetres or
    millimetres, or an ImageJ TIFF whose unit is micron, mm or cm. Other
    files, dpi values and unreadable headers give None: a photo's
    spacing on the retina is rarely known.

    Returns
    -------
    tuple of float or None
        ``(row_spacing, column_spacing)`` in micrometres, or None.
    """
    path = Path(path)
    if _suffix(path) not in ('.tif', '.tiff'):
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
