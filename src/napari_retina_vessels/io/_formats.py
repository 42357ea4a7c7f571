"""Image file formats behind :mod:`..io`: which names are images, and one
guarded decoder per format.

Every decoder checks what a header declares before it decodes a pixel
(decompression bombs, gzip bombs, absurd TIFF tiles); :func:`decode`
picks the decoder from the suffix. :mod:`..io` is the public face: read
files through :func:`..io.imread`, not through this module.
"""

from __future__ import annotations

import contextlib
import gzip
import io as _io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import ImageReadError, first_line

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

# Bytes a decoded file may declare: 8-bit RGBA (or 16-bit RGB at two
# thirds) of MAX_PIXELS. Samples, bits and frames multiply the pixels, so
# a header within the pixel cap can still ask for gigabytes.
MAX_DECODED_BYTES = 4 * MAX_PIXELS

# Compression ratio (decoded bytes / stored bytes) a file may declare once
# it decodes to more than _RATIO_FREE_BYTES: a blank mask compresses
# 1000-fold but stays small; a photo compresses at most ~20-fold. With
# the byte cap this keeps any input of 10 MB under 1 GB while decoding.
MAX_RATIO = 32
_RATIO_FREE_BYTES = 128 << 20

# A gzipped image never needs more bytes than 16-bit RGB at MAX_PIXELS.
_MAX_GZ_BYTES = MAX_PIXELS * 6 + 4096

# How much of a gzip stream is read before its header must make sense.
_GZ_HEAD = 1 << 16
# ... and of a deflated stream (DICOM) before its header is checked.
_HEAD = 1 << 16


def image_suffix(path: Path) -> str:
    """The longest image suffix *path* ends with (``.ppm.gz``), lower
    case; else its last suffix."""
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
    return image_suffix(Path(path)) in IMAGE_SUFFIXES


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
    return _in_blocks(img)


def _in_blocks(img, block: int = 1 << 24) -> np.ndarray:
    """``np.asarray(img)``, copied a band of rows at a time for a large
    image: Pillow's array interface makes its whole ``tobytes()`` twice
    over, which put a 93 Mpx photo near 1 GB."""
    if img.width * img.height * len(img.getbands()) <= block:
        return np.asarray(img)
    row = np.asarray(img.crop((0, 0, img.width, 1)))
    out = np.empty((img.height, *row.shape[1:]), row.dtype)
    step = max(1, block // max(1, row.nbytes))
    for y in range(0, img.height, step):
        end = min(y + step, img.height)
        out[y:end] = np.asarray(img.crop((0, y, img.width, end)))
    return out


@contextlib.contextmanager
def open_pil(data: bytes | Path):
    """Open an image with Pillow, header only, through the decode guard.

    Our pixel cap rules, not Pillow's ``MAX_IMAGE_PIXELS`` (89 Mpx,
    which turned a 93 Mpx photo under our cap into a "decompression
    bomb"): its warning is ignored and its error above twice that said
    in our words.
    """
    from PIL import Image

    src = _io.BytesIO(data) if isinstance(data, bytes) else data
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)
        try:
            img = Image.open(src)
        except Image.DecompressionBombError as err:
            raise ImageReadError(
                f'the image declares more than the {MAX_PIXELS:,} pixels '
                'this reader accepts'
            ) from err
        with img:
            _check_pixels(*img.size)
            yield img


def _read_pil(data: bytes | Path) -> np.ndarray:
    from PIL import ImageOps

    with open_pil(data) as img:
        img.load()
        # A camera's EXIF orientation says how the photo is seen; in
        # place: a copy would add a whole image to the peak (a 93 Mpx
        # PNG went over 1 GB).
        ImageOps.exif_transpose(img, in_place=True)
        return _pil_to_array(img)


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
        samples = max(1, tags.get(277, 1))
        if samples > 4:  # as read_tiff: refused before inflating
            raise ImageReadError(
                f'the image declares {samples} samples per pixel; a photo '
                'has 1 (grey), 3 (RGB) or 4 (RGBA)'
            )
        # Up to 8 bytes a sample, and a few frames of a stack.
        raw = w * h * samples * 8
        return min(_MAX_GZ_BYTES, 16 * raw + (1 << 20))
    from ._pnm import _pnm_bytes, _pnm_header

    hdr = _pnm_header(head)
    if hdr is None:
        if eof:
            return _MAX_GZ_BYTES
        raise ImageReadError('it does not hold a PPM/PGM image')
    _check_pixels(hdr[1], hdr[2])
    return min(_MAX_GZ_BYTES, _pnm_bytes(hdr) + 4096)


def gunzip(path: Path, inner: str) -> bytes:
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


def check_declared(
    w: int,
    h: int,
    *,
    samples: int = 1,
    itemsize: int = 1,
    frames: int = 1,
    stored: int | None = None,
) -> int:
    """The decode guard: refuse a header before its pixels are decoded.

    Every decoder calls this with what its header declares (width,
    height, samples per pixel, bytes per sample, frames) and, for
    compressed data, the bytes actually *stored*. Returns the declared
    byte count.

    Raises
    ------
    ImageReadError
        When the pixels, the bytes or the compression ratio exceed what
        this reader accepts (one sentence, without the file name).
    """
    _check_pixels(w, h, frames)
    n = w * h * max(1, samples) * max(1, itemsize) * max(1, frames)
    what = f'{w} x {h} pixels x {samples} samples of {itemsize} byte(s)'
    if frames > 1:
        what += f' x {frames} frames'
    if n > MAX_DECODED_BYTES:
        raise ImageReadError(
            f'the image declares {what}, {n:,} bytes, more than the '
            f'{MAX_DECODED_BYTES:,} this reader decodes'
        )
    if (
        stored is not None
        and n > _RATIO_FREE_BYTES
        and n > MAX_RATIO * max(stored, 1)
    ):
        raise ImageReadError(
            f'the image declares {what}, {n:,} bytes from {stored:,} '
            f'stored: more than {MAX_RATIO}-fold compression, the file '
            'is damaged or crafted'
        )
    return n


def inflate(
    raw: bytes,
    *,
    stored: int,
    wbits: int = -15,
    declared: Callable[[bytes], int | None] | None = None,
) -> bytes:
    """Inflate a zlib/deflate stream, refusing it as soon as it grows
    past :func:`check_declared`'s limits for *stored* bytes.

    *declared*, given the first 64 kB inflated, may return the byte
    count the stream's own header declares: the limit then tightens to
    it (plus 64 kB), so a stream longer than its header says is refused
    before it is inflated whole.
    """
    import zlib

    limit = min(
        MAX_DECODED_BYTES + (1 << 20),
        max(_RATIO_FREE_BYTES, MAX_RATIO * max(stored, 1)),
    )
    z = zlib.decompressobj(wbits)
    out = bytearray()
    view = memoryview(raw)
    asked = declared is None
    why = 'than this reader accepts'
    for start in range(0, len(raw), 1 << 20):
        data = view[start : start + (1 << 20)]
        while data and not z.eof:
            step = (1 << 22) if asked else _HEAD
            # max_length >= 1 here: 0 would mean "no limit"
            out += z.decompress(data, min(limit + 1 - len(out), step))
            if not asked and (len(out) >= _HEAD or z.eof):
                asked = True
                n = declared(bytes(out))
                if n is not None and n + _HEAD < limit:
                    limit, why = n + _HEAD, 'than its header declares'
            if len(out) > limit:
                raise ImageReadError(
                    f'it inflates to more than {limit:,} bytes from '
                    f'{stored:,} stored, more {why}; the file is damaged '
                    'or crafted'
                )
            data = z.unconsumed_tail
        if z.eof:
            break
    return bytes(out + z.flush())


def decode(path: Path, suffix: str) -> np.ndarray:
    """Decode the image file *path* of format *suffix* (not DICOM or a
    camera export: :mod:`.clinical` reads those).

    Raises
    ------
    ImageReadError
        One sentence naming *path*, whatever the decoder raised.
    """
    with decoding(path):
        if suffix.endswith('.gz'):
            inner = suffix[:-3]
            data: bytes | Path = gunzip(path, inner)
        else:
            data, inner = path, suffix
        if inner in ('.tif', '.tiff'):
            from ._tiff import read_tiff

            try:
                arr = read_tiff(data)
            except ImageReadError:
                raise
            except Exception:  # noqa: BLE001 - any codec failure: Pillow
                # tifffile needs imagecodecs for LZW/JPEG compression;
                # Pillow decodes the common 8-bit cases (DRIVE is LZW).
                arr = _read_pil(data)
        elif inner in ('.ppm', '.pgm', '.pnm'):
            from ._pnm import read_pnm

            arr = read_pnm(data)
        else:
            arr = _read_pil(data)
    return arr


@contextlib.contextmanager
def decoding(
    path: Path,
    what: str = 'an image',
    hint: str = 'is the file complete and in a supported format?',
):
    """Whatever a decoder raises inside, one :class:`ImageReadError`
    sentence naming *path* outside."""
    try:
        yield
    except ImageReadError as err:
        raise ImageReadError(f'cannot read {path}: {err}') from err
    except Exception as err:  # decoders raise many unrelated types
        reason = first_line(err)
        raise ImageReadError(
            f'cannot read {path} as {what} ({reason}); {hint}'
        ) from err


def torch_zip_problem(path: str | os.PathLike) -> str | None:
    """Why the torch file *path* must not be loaded, or None.

    ``torch.save`` stores its zip entries uncompressed, so a weights
    file or checkpoint never holds more than its own size. A DEFLATED
    entry (1.1 MB declaring 1.4 GB), an entry whose declared size is
    not its stored size, or entries adding up to more than the file are
    refused before ``torch.load`` inflates anything. Files that are not
    zips (torch's legacy format) hold nothing compressed and pass.
    """
    import zipfile

    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        return f'its zip directory is broken ({type(err).__name__})'
    size = os.path.getsize(path)
    total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            return (
                f'entry {info.filename!r} is compressed, which torch.save '
                'never does'
            )
        if info.file_size != info.compress_size:
            return f'entry {info.filename!r} declares another size'
        total += info.file_size
    if total > size:
        return f'its entries declare {total:,} bytes in a {size:,}-byte file'
    return None
