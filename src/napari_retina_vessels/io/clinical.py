"""Clinical photo formats: DICOM ophthalmic photographs, camera exports.

Qt-free and torch-free. :func:`~..io.imread` hands these files here, so
the CLI, the batch runner and the napari reader all read them alike.

- **DICOM** (``.dcm``, ``.dicom``; pydicom, the ``dicom`` extra):
  Ophthalmic Photography and other single- or multi-frame colour or
  grey images, uncompressed or JPEG (Pillow decodes baseline JPEG).
  ``PixelSpacing`` (or ``ImagerPixelSpacing``), in millimetres, becomes
  the pixel spacing in micrometres.
- **Camera vendor exports**: the fundus photograph inside Topcon
  ``.fda`` / ``.fds`` files (read here, after the chunk layout that
  oct-converter documents: its own Topcon readers call ``np.fromstring``,
  which NumPy 2.3 removed) and the fundus images of Heidelberg ``.e2e``
  files (oct-converter, the ``vendor`` extra; untested: no sample file
  can be made without the proprietary format's full description).

Patient data (name, identifiers, birth date, dates, institution...) is
never printed, never put in :attr:`ClinicalImage.info`, and never in an
error message; :func:`read_dicom` returns it only when asked
(``patient=True``). oct-converter's own printing is silenced for the
same reason.
"""

from __future__ import annotations

import contextlib
import io as _io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError

__all__ = [
    'DICOM_SUFFIXES',
    'VENDOR_SUFFIXES',
    'PATIENT_KEYWORDS',
    'ClinicalImage',
    'dicom_pixel_spacing',
    'read_dicom',
    'read_vendor',
    'read_clinical',
]

#: File name endings read with pydicom (lower case).
DICOM_SUFFIXES = ('.dcm', '.dicom')
#: File name endings read with oct-converter (lower case).
VENDOR_SUFFIXES = ('.fda', '.fds', '.e2e')

#: DICOM attributes that identify a patient, a visit or a clinician; only
#: ``read_dicom(..., patient=True)`` returns them.
PATIENT_KEYWORDS = (
    'PatientName',
    'PatientID',
    'IssuerOfPatientID',
    'OtherPatientIDs',
    'PatientBirthDate',
    'PatientSex',
    'PatientAge',
    'PatientSize',
    'PatientWeight',
    'PatientAddress',
    'AccessionNumber',
    'StudyID',
    'StudyDate',
    'StudyTime',
    'SeriesDate',
    'AcquisitionDateTime',
    'ContentDate',
    'InstitutionName',
    'InstitutionAddress',
    'ReferringPhysicianName',
    'PerformingPhysicianName',
    'OperatorsName',
    'StudyInstanceUID',
    'SeriesInstanceUID',
    'SOPInstanceUID',
)

# Attributes safe to show: what the image is, not whose it is.
_INFO_KEYWORDS = {
    'Modality': 'modality',
    'SOPClassUID': 'sop_class',
    'ImageLaterality': 'laterality',
    'Laterality': 'laterality',
    'Manufacturer': 'manufacturer',
    'ManufacturerModelName': 'device_model',
    'PhotometricInterpretation': 'photometric',
}


@dataclass
class ClinicalImage:
    """Pixels of a clinical file and what may be shown about them.

    Attributes
    ----------
    pixels : numpy.ndarray
        (H, W) grey or (H, W, 3) RGB; (N, H, W[, 3]) for a multi-frame
        DICOM or an export holding several fundus photos.
    pixel_spacing : tuple of float or None
        ``(row, column)`` spacing in micrometres, when the file has one.
    info : dict
        Non-identifying facts: format, modality, laterality, maker...
    patient : dict or None
        Identifying attributes; only filled when asked for.
    """

    pixels: np.ndarray
    pixel_spacing: tuple[float, float] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    patient: dict[str, str] | None = None


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def read_clinical(
    path: str | os.PathLike, *, patient: bool = False
) -> ClinicalImage:
    """Read a DICOM or vendor file by its name ending (see the module)."""
    path = Path(path)
    if _suffix(path) in DICOM_SUFFIXES:
        return read_dicom(path, patient=patient)
    return read_vendor(path)


def _import_pydicom():
    try:
        import pydicom
    except ImportError as err:
        raise ImageReadError(
            'reading DICOM files needs pydicom: pip install '
            '"napari-retina-vessels[dicom]"'
        ) from err
    return pydicom


def _spacing_um(ds) -> tuple[float, float] | None:
    for keyword in ('PixelSpacing', 'ImagerPixelSpacing'):
        value = ds.get(keyword)
        if value is None:
            continue
        try:
            row, col = (float(v) * 1000.0 for v in value)
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0:
            return (row, col)
    return None


def dicom_pixel_spacing(
    path: str | os.PathLike,
) -> tuple[float, float] | None:
    """``(row, column)`` pixel spacing of a DICOM file in micrometres, or
    None (no spacing, no pydicom, unreadable header); reads no pixels."""
    try:

        from ._dicom_guard import dicom_header

        ds = dicom_header(path)
    except Exception:  # noqa: BLE001 - a header we cannot parse: no spacing
        return None
    return _spacing_um(ds)


def read_dicom(
    path: str | os.PathLike, *, patient: bool = False
) -> ClinicalImage:
    """Read a DICOM photograph (single- or multi-frame).

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM file (``.dcm``); ophthalmic photography or any other
        single-channel or RGB image.
    patient : bool
        Also return the identifying attributes (:data:`PATIENT_KEYWORDS`
        present in the file) in :attr:`ClinicalImage.patient`. Off by
        default: nothing identifying leaves this function.

    Returns
    -------
    ClinicalImage
        ``pixels`` (H, W[, 3]) or (N, H, W[, 3]), RGB for colour files
        (YBR is converted), MONOCHROME1 inverted so that bright is high.

    Raises
    ------
    ImageReadError
        When pydicom is missing, or the file is not DICOM, has no pixel
        data, is too large or cannot be decoded.
    """
    from ._dicom_guard import check_dicom_pixels, dcmread_guarded

    pydicom = _import_pydicom()
    path = Path(path)
    try:
        ds = dcmread_guarded(pydicom, path)
    except ImageReadError as err:
        raise ImageReadError(f'cannot read {path}: {err}') from err
    except Exception as err:  # pydicom raises many unrelated types
        raise ImageReadError(
            f'cannot read {path} as DICOM ({type(err).__name__}); is it a '
            'complete DICOM file?'
        ) from err
    if 'PixelData' not in ds:
        raise ImageReadError(
            f'{path} is a DICOM file without an image (no pixel data); '
            'open the photograph files of the study instead'
        )
    frames = int(ds.get('NumberOfFrames', 1) or 1)
    try:
        check_dicom_pixels(ds, path.stat().st_size)
    except ImageReadError as err:
        raise ImageReadError(f'cannot read {path}: {err}') from err
    try:
        arr = np.asarray(ds.pixel_array)
    except Exception as err:  # decoders raise many unrelated types
        syntax = getattr(
            getattr(ds, 'file_meta', None), 'TransferSyntaxUID', None
        )
        name = getattr(syntax, 'name', None) or str(syntax)
        raise ImageReadError(
            f'cannot decode the pixels of {path} ({name}); install '
            'pylibjpeg or convert the file to uncompressed DICOM or PNG'
        ) from err
    photometric = str(ds.get('PhotometricInterpretation', ''))
    if photometric == 'MONOCHROME1':
        top = (
            np.iinfo(arr.dtype).max
            if arr.dtype.kind in 'ui'
            else float(arr.max())
        )
        if arr.dtype.kind in 'ui':
            top = min(top, 2 ** int(ds.get('BitsStored', 8)) - 1)
        arr = (top - arr).astype(arr.dtype)
    samples = int(ds.get('SamplesPerPixel', 1))
    if samples == 4 or (
        samples == 1 and arr.ndim == 3 and arr.shape[-1] == 4 and frames == 1
    ):
        arr = arr[..., :3]
    info = {'format': 'DICOM'}
    for keyword, key in _INFO_KEYWORDS.items():
        value = ds.get(keyword)
        if value not in (None, '') and key not in info:
            info[key] = str(getattr(value, 'name', value))
    if frames > 1:
        info['frames'] = frames
    who = None
    if patient:
        who = {
            k: str(ds.get(k))
            for k in PATIENT_KEYWORDS
            if ds.get(k) not in (None, '')
        }
    return ClinicalImage(np.ascontiguousarray(arr), _spacing_um(ds), info, who)


def _topcon_chunks(path: Path) -> dict[bytes, tuple[int, int]]:
    """Name -> (offset, size) of the chunks of a Topcon .fda/.fds file."""
    import struct

    chunks: dict[bytes, tuple[int, int]] = {}
    total = path.stat().st_size
    with open(path, 'rb') as fh:
        head = fh.read(15)
        if len(head) < 15 or head[:4] != b'FOCT':
            raise ValueError('no FOCT header')
        while True:
            size_byte = fh.read(1)
            if not size_byte or size_byte[0] == 0:
                return chunks
            name = fh.read(size_byte[0])
            raw = fh.read(4)
            if len(raw) < 4:
                raise ValueError('truncated chunk table')
            (size,) = struct.unpack('<I', raw)
            offset = fh.tell()
            if offset + size > total:
                raise ValueError('truncated chunk')
            chunks.setdefault(name, (offset, size))
            fh.seek(size, 1)


def _read_topcon(path: Path) -> np.ndarray | None:
    """The colour fundus photo of a Topcon file, or None if it has none.

    ``.fda``: chunk ``@IMG_FUNDUS``, a 24-byte header (width, height,
    bits, slices, 4-byte format, size) then a JPEG in BGR order.
    ``.fds``: chunk ``@IMG_OBS``, a 21-byte header (1-byte format) then
    raw interleaved BGR pixels.
    """
    import struct

    from ._formats import check_declared, open_pil

    chunks = _topcon_chunks(path)
    for name, header, fmt in (
        (b'@IMG_FUNDUS', 24, '<IIII4sI'),
        (b'@IMG_OBS', 21, '<IIIIBI'),
    ):
        if name not in chunks:
            continue
        offset, size = chunks[name]
        with open(path, 'rb') as fh:
            fh.seek(offset)
            fields = struct.unpack(fmt, fh.read(header))
            width, height, data_size = fields[0], fields[1], fields[-1]
            if data_size > size - header:
                raise ValueError('image larger than its chunk')
            data = fh.read(data_size)
        check_declared(width, height, samples=3)
        if name == b'@IMG_FUNDUS':
            # The JPEG's own header rules: it may declare far more
            # pixels than the chunk header (a 13000^2 JPEG in 2 MB).
            with open_pil(data) as img:
                check_declared(*img.size, samples=3, stored=len(data))
                bgr = np.asarray(img.convert('RGB'))
        else:
            bgr = np.frombuffer(data, np.uint8)[: height * width * 3]
            bgr = bgr.reshape(height, width, 3)
        return np.ascontiguousarray(bgr[..., ::-1])
    return None


def _read_e2e(path: Path) -> list[np.ndarray]:
    try:
        from oct_converter.readers import E2E
    except ImportError as err:
        raise ImageReadError(
            'reading Heidelberg .e2e exports needs oct-converter: pip '
            'install "napari-retina-vessels[vendor]"'
        ) from err
    # oct-converter prints what it parses, patient data included: none
    # of it reaches the user's terminal or log.
    with contextlib.redirect_stdout(_io.StringIO()):
        found = E2E(path).read_fundus_image() or []
    return [
        _as_uint8_rgb(f.image)
        for f in found
        if getattr(f, 'image', None) is not None
    ]


def _as_uint8_rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return np.ascontiguousarray(arr)


def read_vendor(path: str | os.PathLike) -> ClinicalImage:
    """Read the fundus photograph(s) of a Topcon or Heidelberg export.

    Topcon files need nothing extra; ``.e2e`` needs oct-converter.

    Parameters
    ----------
    path : str or os.PathLike
        A Topcon ``.fda`` / ``.fds`` or Heidelberg ``.e2e`` file.

    Returns
    -------
    ClinicalImage
        ``pixels`` (H, W, 3) uint8 RGB (Topcon) or (H, W) grey; (N, H, W)
        when an ``.e2e`` file holds several fundus images of one size.

    Raises
    ------
    ImageReadError
        When the file holds no fundus image or cannot be parsed, or
        oct-converter is missing for an ``.e2e`` file.
    """
    from ._formats import MAX_PIXELS

    path = Path(path)
    suffix = _suffix(path)
    if suffix not in VENDOR_SUFFIXES:
        raise ImageReadError(
            f'{path.name} is not a Topcon (.fda, .fds) or Heidelberg '
            '(.e2e) file'
        )
    try:
        if suffix == '.e2e':
            images = _read_e2e(path)
        else:
            rgb = _read_topcon(path)
            images = [] if rgb is None else [rgb]
    except ImageReadError as err:
        raise ImageReadError(f'cannot read {path}: {err}') from err
    except Exception as err:  # the parsers raise many unrelated types
        raise ImageReadError(
            f'cannot read the fundus photograph of {path} '
            f'({type(err).__name__}); is it a complete export?'
        ) from err
    if not images:
        raise ImageReadError(
            f'{path} holds no fundus photograph (only OCT data?); export '
            'the fundus image from the device software instead'
        )
    if sum(im.size for im in images) > 3 * MAX_PIXELS:
        raise ImageReadError(
            f'{path} holds more pixels than this reader accepts'
        )
    shapes = {im.shape for im in images}
    pixels = (
        images[0]
        if len(images) == 1
        else (np.stack(images) if len(shapes) == 1 else images[0])
    )
    info = {
        'format': {
            '.fda': 'Topcon FDA',
            '.fds': 'Topcon FDS',
            '.e2e': 'Heidelberg E2E',
        }[suffix]
    }
    if len(images) > 1:
        info['fundus_images'] = len(images)
    return ClinicalImage(pixels, None, info, None)
