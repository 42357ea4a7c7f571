"""Image file formats behind :mod:`..io`: which names are images, and one
guarded decoder per format.

Every decoder checks what a header declares before it decodes a pixel
(decompression bombs, gzip bombs, absurd TIFF tiles); :func:`decode`
picks the decoder from the suffix. :mod:`..io` is the public face: read
files through :func:`..io.imread`, not through this module.
"""

from __future__ import annotations

import gzip
import io as _io
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import ImageReadError

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


def decode(path: Path, suffix: str) -> np.ndarray:
    """Decode the image file *path* of format *suffix* (not DICOM or a
    camera export: :mod:`.clinical` reads those).

    Raises
    ------
    ImageReadError
        One sentence naming *path*, whatever the decoder raised.
    """
    try:
        if suffix.endswith('.gz'):
            inner = suffix[:-3]
            data: bytes | Path = gunzip(path, inner)
        else:
            data, inner = path, suffix
        if inner in ('.tif', '.tiff'):
            try:
                arr = read_tiff(data)
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
