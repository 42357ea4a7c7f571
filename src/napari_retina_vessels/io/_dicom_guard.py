"""The decode guard in front of pydicom: what a DICOM file declares is
checked before its pixels (or its deflated dataset) are decoded.

pydicom inflates a Deflated Explicit VR file whole, in one
``zlib.decompress`` (1.4 MB became 4.4 GB), and returns every frame its
pixel data can hold whatever ``NumberOfFrames`` says (195 KB gave a
(200000000, 1) array). Here the deflated stream is inflated in bounded
steps and the pixel data must match the header. The limits are
:func:`._formats.check_declared`'s, shared by every decoder.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ImageReadError
from ._formats import check_declared, inflate, open_pil

_DEFLATED = '1.2.840.10008.1.2.1.99'


def dcmread_guarded(pydicom, path: Path):
    """``pydicom.dcmread(path)``, but a deflated dataset is inflated
    through :func:`._formats.inflate` (bounded by the file's size)."""
    from pydicom.filereader import read_file_meta_info

    try:
        meta = read_file_meta_info(path)
    except Exception:  # noqa: BLE001 - no preamble: dcmread says why
        return pydicom.dcmread(path)
    syntax = str(meta.get('TransferSyntaxUID', ''))
    length = meta.get('FileMetaInformationGroupLength')
    if syntax != _DEFLATED or length is None:
        return pydicom.dcmread(path)
    from pydicom.dataset import FileDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset

    # preamble (128) + 'DICM' (4) + the group length element (12)
    start = 128 + 4 + 12 + int(length)
    with open(path, 'rb') as fh:
        preamble = fh.read(128)
        fh.seek(start)
        raw = fh.read()
    data = inflate(
        raw, stored=len(raw), declared=lambda head: _declared(head, len(raw))
    )
    ds = read_dataset(
        DicomBytesIO(data), is_implicit_VR=False, is_little_endian=True
    )
    out = FileDataset(str(path), ds, preamble=preamble, file_meta=meta)
    out.set_original_encoding(False, True, ds._character_set)
    return out


def dicom_header(path: str | Path):
    """The dataset of a DICOM file without its pixels (for its pixel
    spacing, field of view...): ``dcmread(stop_before_pixels=True)``,
    which for a deflated file would still inflate it whole (2 MB became
    4 GB); here only the first megabyte is inflated."""
    import zlib

    import pydicom
    from pydicom.filereader import read_file_meta_info

    meta = read_file_meta_info(path)
    length = meta.get('FileMetaInformationGroupLength')
    if str(meta.get('TransferSyntaxUID', '')) != _DEFLATED or length is None:
        return pydicom.dcmread(path, stop_before_pixels=True)
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset

    with open(path, 'rb') as fh:
        fh.seek(128 + 4 + 12 + int(length))
        raw = fh.read(1 << 20)
    head = zlib.decompressobj(-15).decompress(raw, 1 << 20)
    return read_dataset(
        DicomBytesIO(head),
        is_implicit_VR=False,
        is_little_endian=True,
        stop_when=lambda tag, vr, length: tag == 0x7FE00010,
    )


def _declared(head: bytes, stored: int) -> int | None:
    """Bytes a deflated dataset may inflate to, from its first inflated
    bytes (the header before the pixel data); None when they do not
    reach the pixel data."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset

    seen = []

    def at_pixels(tag, vr, length) -> bool:
        seen.append(tag == 0x7FE00010)
        return seen[-1]

    try:
        ds = read_dataset(
            DicomBytesIO(head),
            is_implicit_VR=False,
            is_little_endian=True,
            stop_when=at_pixels,
        )
        if not (seen and seen[-1]):
            return None
        dims = _dims(ds)
    except Exception:  # noqa: BLE001 - a header cut short: no limit yet
        return None
    rows, cols, frames, samples, bits = dims
    return len(head) + check_declared(
        cols,
        rows,
        samples=samples,
        itemsize=max(1, -(-bits // 8)),
        frames=frames,
        stored=stored,
    )


def _dims(ds) -> tuple[int, int, int, int, int]:
    """(rows, columns, frames, samples per pixel, bits allocated)."""
    return (
        int(ds.get('Rows', 0)),
        int(ds.get('Columns', 0)),
        int(ds.get('NumberOfFrames', 1) or 1),
        int(ds.get('SamplesPerPixel', 1) or 1),
        int(ds.get('BitsAllocated', 8) or 8),
    )


def check_dicom_pixels(ds, stored: int) -> None:
    """Refuse pixel data that decodes to more than the header allows or
    holds more frames than it declares (before ``pixel_array``)."""
    rows, cols, frames, samples, bits = _dims(ds)
    syntax = str(getattr(ds.file_meta, 'TransferSyntaxUID', ''))
    encapsulated = bool(getattr(ds.file_meta, 'TransferSyntaxUID', None)) and (
        ds.file_meta.TransferSyntaxUID.is_encapsulated
    )
    if samples > 4:
        raise ImageReadError(
            f'it declares {samples} samples per pixel; a photo has 1 '
            '(grey), 3 (RGB) or 4'
        )
    compressed = encapsulated or syntax == _DEFLATED
    check_declared(
        cols,
        rows,
        samples=samples,
        itemsize=max(1, -(-bits // 8)),
        frames=frames,
        stored=stored if compressed else None,
    )
    if encapsulated:
        _check_frames(ds, rows, cols, frames)
        return
    frame_bytes = rows * cols * samples * bits // 8
    if str(ds.get('PhotometricInterpretation', '')) == 'YBR_FULL_422':
        frame_bytes = frame_bytes * 2 // 3
    held = len(ds.PixelData)
    if frame_bytes and held >= (frames + 1) * frame_bytes:
        raise ImageReadError(
            f'its pixel data holds {held:,} bytes, {held // frame_bytes:,} '
            f'frames of {cols} x {rows}, but it declares {frames}; the '
            'file is damaged or crafted'
        )


def _check_frames(ds, rows: int, cols: int, frames: int) -> None:
    """Each compressed frame's own header (JPEG, JPEG 2000) must declare
    the size the DICOM header does."""
    from pydicom.encaps import generate_frames

    for k, frame in enumerate(
        generate_frames(ds.PixelData, number_of_frames=frames), 1
    ):
        try:
            with open_pil(bytes(frame)) as img:
                size = img.size
        except ImageReadError:
            raise
        except Exception:  # noqa: BLE001 - a codec Pillow lacks: pydicom's
            return
        if size != (cols, rows):
            raise ImageReadError(
                f'frame {k} holds a {size[0]} x {size[1]} image but the '
                f'header declares {cols} x {rows}; the file is damaged '
                'or crafted'
            )
