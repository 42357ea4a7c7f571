"""PPM/PGM behind :mod:`..io`: the header parser (shared with the gzip
guard) and a decoder that keeps 16-bit samples, binary or ASCII; 8-bit
files go to Pillow through :func:`._formats.open_pil`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageReadError
from . import _formats


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


def read_pnm(data: bytes | Path) -> np.ndarray:
    """Decode a PNM; 16-bit ones, binary (P5, P6) or ASCII (P2, P3),
    keep their 16 bits (Pillow reduces 16-bit PPM to 8 bits)."""
    if isinstance(data, Path):
        with open(data, 'rb') as fh:
            head = fh.read(_formats._GZ_HEAD)
    else:
        head = data[: _formats._GZ_HEAD]
    hdr = _pnm_header(head)
    if hdr is None or hdr[0] not in (2, 3, 5, 6) or hdr[4] <= 255:
        return _formats._read_pil(data)
    kind, w, h, ch, maxval, offset = hdr
    _formats._check_pixels(w, h)
    raw = data.read_bytes() if isinstance(data, Path) else data
    n = w * h * ch
    if kind in (2, 3):
        return _ascii_pnm(raw[offset - 1 :], w, h, ch, maxval)
    if len(raw) < offset + 2 * n:
        raise ImageReadError(
            f'the file is truncated: its header declares {w} x {h} 16-bit '
            f'pixels, {offset + 2 * n:,} bytes, but it holds {len(raw):,}'
        )
    arr = np.frombuffer(raw, '>u2', count=n, offset=offset)
    return arr.astype(np.uint16).reshape((h, w, ch) if ch == 3 else (h, w))


def _ascii_pnm(text: bytes, w: int, h: int, ch: int, maxval: int):
    """The samples of a plain (ASCII) PGM/PPM, as uint16."""
    import re

    text = re.sub(rb'#[^\n]*', b' ', text)
    vals = np.fromstring(text.decode('ascii'), dtype=np.int64, sep=' ')
    n = w * h * ch
    if vals.size < n:
        raise ImageReadError(
            f'the file is truncated: its header declares {w} x {h} '
            f'pixels, {n:,} values, but it holds {vals.size:,}'
        )
    vals = vals[:n]
    if vals.min(initial=0) < 0 or vals.max(initial=0) > maxval:
        raise ImageReadError(
            f'the file holds values outside 0..{maxval}, its declared maximum'
        )
    return vals.astype(np.uint16).reshape((h, w, ch) if ch == 3 else (h, w))
