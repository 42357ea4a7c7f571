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
from typing import Any

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
    'read_stack',
    'read_npy',
    'check_output_file',
    'csv_cell',
    'written_by_us',
    'SOFTWARE',
]

#: File name endings this package decodes (lower case).
IMAGE_SUFFIXES = (
    '.tif',
    '.tiff',
    '.png',
    '.jpg',
    '.jpeg',
    '.gif',
    '.bmp',
    '.ppm',
    '.pgm',
    '.pnm',
    '.ppm.gz',
    '.pgm.gz',
    '.tif.gz',
    '.jpe',
    # clinical formats, decoded by .clinical (pydicom, oct-converter)
    '.dcm',
    '.dicom',
    '.fda',
    '.fds',
    '.e2e',
)

# Guard against decompression bombs: a header that declares more pixels
# than this (10000 x 10000; the largest fundus cameras make 24 million)
# is refused before any pixel is decoded, and so is a TIFF tile larger
# than its image or a gzip stream longer than its header declares.
MAX_PIXELS = 100_000_000

# A gzipped image never needs more bytes than 16-bit RGB at MAX_PIXELS.
_MAX_GZ_BYTES = MAX_PIXELS * 6 + 4096

# How much of a gzip stream is read before its header must make sense.
_GZ_HEAD = 1 << 16


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def file_stem(path: str | os.PathLike) -> str:
    """File name without its image suffix (``im0001.ppm.gz`` -> ``im0001``)."""
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
            # A camera's EXIF orientation says how the photo is seen.
            from PIL import ImageOps

            img = ImageOps.exif_transpose(img)
            return _pil_to_array(img)


def _pnm_header(head: bytes) -> tuple[int, int, int, int, int, int] | None:
    """(kind, width, height, channels, maxval, data offset) of a PNM
    header (P1-P6), or None when *head* does not start with one."""
    if len(head) < 3 or head[:1] != b'P' or head[1:2] not in b'123456':
        return None
    kind = int(head[1:2])
    need = 2 if kind in (1, 4) else 3
    vals: list[int] = []
    i = 2
    while len(vals) < need:
        while i < len(head) and (
            head[i : i + 1].isspace() or head[i : i + 1] == b'#'
        ):
            if head[i : i + 1] == b'#':
                j = head.find(b'\n', i)
                if j < 0:
                    return None
                i = j
            i += 1
        j = i
        while j < len(head) and head[j : j + 1].isdigit():
            j += 1
        if j == i or j - i > 9:
            return None
        vals.append(int(head[i:j]))
        i = j
    maxval = vals[2] if need == 3 else 1
    return (kind, vals[0], vals[1], 3 if kind in (3, 6) else 1, maxval, i + 1)


def _pnm_bytes(hdr: tuple[int, ...]) -> int:
    """Bytes a PNM file with header *hdr* holds at most."""
    kind, w, h, ch, maxval, offset = hdr
    if kind == 4:
        return offset + -(-w // 8) * h
    per = 2 if maxval > 255 else 1
    if kind in (1, 2, 3):  # ASCII: digits and separators
        per = 7
    return offset + w * h * ch * per


def _read_pnm(data: bytes | Path) -> np.ndarray:
    """Decode a PNM; binary 16-bit ones keep their 16 bits (Pillow
    reduces 16-bit PPM to 8 bits)."""
    if isinstance(data, Path):
        with open(data, 'rb') as fh:
            head = fh.read(_GZ_HEAD)
    else:
        head = data[:_GZ_HEAD]
    hdr = _pnm_header(head)
    if hdr is None or hdr[0] not in (5, 6) or hdr[4] <= 255:
        return _read_pil(data)
    kind, w, h, ch, _, offset = hdr
    _check_pixels(w, h)
    raw = data.read_bytes() if isinstance(data, Path) else data
    n = w * h * ch
    if len(raw) < offset + 2 * n:
        raise ImageReadError(
            f'the file is truncated: its header declares {w} x {h} 16-bit '
            f'pixels, {offset + 2 * n:,} bytes, but it holds {len(raw):,}'
        )
    arr = np.frombuffer(raw, '>u2', count=n, offset=offset)
    return arr.astype(np.uint16).reshape((h, w, ch) if ch == 3 else (h, w))


def _tiff_tags(buf: bytes) -> dict[int, int] | int | None:
    """Inline integer tags of a TIFF's first IFD, read from its first
    bytes: a dict, the number of bytes needed when the IFD lies further
    on, or None when *buf* is not a TIFF."""
    import struct

    if len(buf) < 16 or buf[:2] not in (b'II', b'MM'):
        return None
    e = '<' if buf[:2] == b'II' else '>'
    version = struct.unpack(e + 'H', buf[2:4])[0]
    if version == 42:
        off, nfmt, cfmt = struct.unpack(e + 'I', buf[4:8])[0], 'H', 'I'
    elif version == 43:
        off, nfmt, cfmt = struct.unpack(e + 'Q', buf[8:16])[0], 'Q', 'Q'
    else:
        return None
    nsize, csize = struct.calcsize(nfmt), struct.calcsize(cfmt)
    if off + nsize > len(buf):
        return off + nsize
    n = struct.unpack(e + nfmt, buf[off : off + nsize])[0]
    entry = 4 + 2 * csize
    end = off + nsize + min(n, 4096) * entry
    if end > len(buf):
        return end
    tags: dict[int, int] = {}
    for k in range(min(n, 4096)):
        p = off + nsize + k * entry
        tag, typ = struct.unpack(e + 'HH', buf[p : p + 4])
        count = struct.unpack(e + cfmt, buf[p + 4 : p + 4 + csize])[0]
        fmt = {3: 'H', 4: 'I', 16: 'Q'}.get(typ)
        if count == 1 and fmt:
            q = p + 4 + csize
            tags[tag] = struct.unpack(
                e + fmt, buf[q : q + struct.calcsize(fmt)]
            )[0]
    return tags


def _gz_limit(head: bytes, inner: str, eof: bool) -> int:
    """Bytes the gzipped image may decompress to, from its header, or
    ``-n`` when its first *n* bytes are needed to tell."""
    if inner in ('.tif', '.tiff'):
        tags = _tiff_tags(head)
        if isinstance(tags, int):
            if tags > _MAX_GZ_BYTES:
                raise ImageReadError(
                    'its TIFF header points beyond any image this reader '
                    'accepts'
                )
            return -tags if not eof else _MAX_GZ_BYTES
        if tags is None:
            if eof:
                return _MAX_GZ_BYTES  # the decoder says what is wrong
            raise ImageReadError('it does not hold a TIFF image')
        w, h = tags.get(256, 0), tags.get(257, 0)
        _check_pixels(w, h)
        tw, tl = tags.get(322, 0), tags.get(323, 0)
        if tw * tl > max(-(-w // 16) * 16 * -(-h // 16) * 16, 256):
            raise ImageReadError(
                f'the image is {w} x {h} pixels but declares tiles of '
                f'{tw} x {tl}; the file is damaged or crafted'
            )
        # Up to 8 bytes a sample, and a few frames of a stack.
        raw = w * h * max(1, tags.get(277, 1)) * 8
        return min(_MAX_GZ_BYTES, 16 * raw + (1 << 20))
    hdr = _pnm_header(head)
    if hdr is None:
        if eof:
            return _MAX_GZ_BYTES
        raise ImageReadError('it does not hold a PPM/PGM image')
    _check_pixels(hdr[1], hdr[2])
    return min(_MAX_GZ_BYTES, _pnm_bytes(hdr) + 4096)


def _gunzip(path: Path, inner: str) -> bytes:
    """Decompress *path*, stopping as soon as the stream is longer than
    its image header declares (a gzip bomb never fills memory)."""
    buf = bytearray()
    limit = -_GZ_HEAD  # negative: check the header once this long
    with gzip.open(path, 'rb') as fh:
        while True:
            cap = _MAX_GZ_BYTES if limit < 0 else limit
            chunk = fh.read(min(1 << 20, cap + 1 - len(buf)))
            eof = not chunk
            buf += chunk
            if limit < 0 and (len(buf) >= -limit or eof):
                limit = _gz_limit(bytes(buf), inner, eof)
            if len(buf) > (_MAX_GZ_BYTES if limit < 0 else limit):
                raise ImageReadError(
                    'it decompresses to more bytes than its header '
                    'declares or this reader accepts'
                )
            if eof:
                return bytes(buf)


def _check_pixels(w: int, h: int, frames: int = 1) -> None:
    if w * h * frames > MAX_PIXELS:
        what = f'{w} x {h} pixels' + (
            f' x {frames} frames' if frames > 1 else ''
        )
        raise ImageReadError(
            f'the image declares {what}, more than the {MAX_PIXELS:,} '
            'pixels this reader accepts'
        )


def _check_tiff_page(page) -> None:
    """Refuse a TIFF page whose header asks for absurd buffers."""
    w, h = int(page.imagewidth), int(page.imagelength)
    _check_pixels(w, h)
    tw, tl = int(page.tilewidth or 0), int(page.tilelength or 0)
    # Tiles are multiples of 16 pixels; one larger than its (rounded up)
    # image only makes the decoder allocate memory for nothing.
    if (tw or tl) and (tw > -(-w // 16) * 16 or tl > -(-h // 16) * 16):
        raise ImageReadError(
            f'the image is {w} x {h} pixels but declares tiles of '
            f'{tw} x {tl}; the file is damaged or crafted'
        )


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


def _read_tiff(data: bytes | Path, *, frames: bool = False) -> np.ndarray:
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
        _check_pixels(
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
        arr = series.asarray()
    if image[0] in 'SC':  # planar configuration: samples before YX
        arr = np.moveaxis(arr, -3, -1)
    return (
        arr.reshape((n, *arr.shape[-len(image) :]))
        if frames
        else arr.reshape(arr.shape[-len(image) :])
    )


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
    suffix = _suffix(path)
    if suffix in ('.dcm', '.dicom', '.fda', '.fds', '.e2e'):
        arr = _read_clinical_frame(path)
    else:
        arr = _decode(path, suffix)
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
            'napari_retina_vessels.clinical.read_clinical'
        )
    return arr


def _decode(path: Path, suffix: str) -> np.ndarray:
    try:
        if suffix.endswith('.gz'):
            inner = suffix[:-3]
            data: bytes | Path = _gunzip(path, inner)
        else:
            data, inner = path, suffix
        if inner in ('.tif', '.tiff'):
            try:
                arr = _read_tiff(data)
            except ImageReadError:
                raise
            except Exception:  # noqa: BLE001 - any codec failure: Pillow
                # tifffile needs imagecodecs for LZW/JPEG compression;
                # Pillow decodes the common 8-bit cases (DRIVE is LZW).
                arr = _read_pil(data)
        elif inner in ('.ppm', '.pgm', '.pnm'):
            arr = _read_pnm(data)
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
    return arr


def check_output_file(path: str | os.PathLike, what: str = 'file') -> Path:
    """Check, before any work, that *path* can be written as a file.

    Raises
    ------
    InvalidImageError
        When *path* is a folder or a device, or its folder cannot be
        created or written to.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidImageError(
            f'the {what} {path} is a folder; give a file name'
        )
    if path.exists() and not path.is_file():
        raise InvalidImageError(
            f'the {what} {path} is not a regular file; give a file name'
        )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        ok = os.access(parent, os.W_OK | os.X_OK)
    except OSError:
        ok = False
    if not ok:
        raise InvalidImageError(
            f'cannot write the {what} {path}: its folder is not writable'
        )
    return path


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
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ImageReadError(f'cannot read {path} ({reason})') from err
    n = int(np.prod(shape, dtype=np.float64)) if shape else 1
    if dtype.hasobject:
        raise ImageReadError(
            f'{path} holds Python objects, not numbers; save a numeric array'
        )
    if n > 4 * MAX_PIXELS:
        raise ImageReadError(
            f'{path} declares an array of shape {shape}, more than the '
            f'{4 * MAX_PIXELS:,} values this reader accepts'
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
    suffix = _suffix(path)
    if suffix not in ('.tif', '.tiff', '.tif.gz'):
        return imread(path)[None]
    _check_file(path)
    try:
        data = _gunzip(path, '.tif') if suffix.endswith('.gz') else path
        stack = _read_tiff(data, frames=True)
    except ImageReadError as err:
        raise ImageReadError(f'cannot read {path}: {err}') from err
    except Exception as err:  # decoders raise many unrelated types
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ImageReadError(
            f'cannot read {path} as an image stack ({reason}); is the file '
            'complete and uncompressed or zlib-compressed?'
        ) from err
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

            tifffile.imwrite(tmp, arr, compression='zlib', software=SOFTWARE)
        else:
            from PIL.PngImagePlugin import PngInfo

            png = arr.astype(np.uint8) * 255 if arr.dtype == np.bool_ else arr
            info = PngInfo()
            info.add_text('Software', SOFTWARE)
            Image.fromarray(png).save(tmp, format='PNG', pnginfo=info)

    return _atomic(path, write)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write *text* (UTF-8) to *path* via a temporary file and a rename,
    so a reader never sees half a file. Missing folders are created."""

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8', newline='') as fh:
            fh.write(text)

    return _atomic(Path(path), write)


#: The ``Software`` tag of every PNG and TIFF that :func:`imwrite` makes:
#: how a batch recognises its own outputs (and never overwrites a file
#: it did not write).
SOFTWARE = 'napari-retina-vessels'


def written_by_us(path: str | os.PathLike) -> bool:
    """Whether *path* is a PNG or TIFF that :func:`imwrite` wrote.

    Reads the header only; False for other files, unreadable ones and
    ``.npy`` (which has no place for the tag).
    """
    path = Path(path)
    try:
        if _suffix(path) == '.png':
            from PIL import Image

            with Image.open(path) as img:
                return img.info.get('Software') == SOFTWARE
        if _suffix(path) in ('.tif', '.tiff'):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                tag = tif.pages[0].tags.get('Software')
                return tag is not None and tag.value == SOFTWARE
    except Exception:  # noqa: BLE001 - a file we cannot parse is not ours
        return False
    return False


def csv_cell(value: Any) -> Any:
    """*value* as a safe CSV cell (``summary.csv``, evaluation tables).

    None becomes empty. Text that is not valid UTF-8 (a file name from
    another system) shows its odd bytes as ``\\xNN`` instead of making
    the whole file unwritable, and text a spreadsheet would run as a
    formula (starting with ``= + - @``, tab or carriage return) gets a
    leading ``'``.
    """
    if value is None:
        return ''
    if not isinstance(value, str):
        return value
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        try:
            raw = value.encode('utf-8', 'surrogateescape')
        except UnicodeEncodeError:
            raw = value.encode('utf-8', 'backslashreplace')
        value = raw.decode('utf-8', 'backslashreplace')
    if value[:1] in ('=', '+', '-', '@', '\t', '\r'):
        value = "'" + value
    return value


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
    if _suffix(path) in ('.dcm', '.dicom'):
        from .clinical import dicom_pixel_spacing

        return dicom_pixel_spacing(path)
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
