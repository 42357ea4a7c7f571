"""Pixel size on the retina: from what the photo says, in order.

1. an explicit ``pixel_size_um`` (the user's calibration; in the Measure
   widget also the layer's scale, which the reader sets from a DICOM
   file's ``PixelSpacing``);
2. the DICOM ``PixelSpacing`` of the photo file (spacing on the retina;
   ``ImagerPixelSpacing`` is the detector's and is not used);
3. the camera's field of view (DICOM ``HorizontalFieldOfView``, or
   ``field_of_view_deg`` given) over the width of the photo's field of
   view, at :data:`UM_PER_DEGREE` on the retina;
4. last, the optic disc assumed
   :data:`~.disc.DISC_DIAMETER_UM` across.

:func:`pixel_size` applies that order; its ``source`` is the
``pixel_size_source`` column of ``measures.csv``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checks import check_pixel_size
from .disc import DISC_DIAMETER_UM, Disc

__all__ = [
    'UM_PER_DEGREE',
    'Calibration',
    'file_calibration',
    'pixel_size',
]

#: Micrometres on the retina per degree of visual field in the
#: Gullstrand schematic eye (0.288 mm/deg), the factor fundus camera
#: makers and Bennett-style corrections start from.
UM_PER_DEGREE = 288.0


@dataclass(frozen=True)
class Calibration:
    """What a photo file says about its scale (each field optional)."""

    pixel_size_um: float | None = None
    pixel_size_source: str | None = None
    field_of_view_deg: float | None = None


def file_calibration(path: str | os.PathLike | None) -> Calibration:
    """The DICOM ``PixelSpacing`` and ``HorizontalFieldOfView`` of *path*.

    Other files, and DICOM files without them (or unreadable headers),
    give an empty :class:`Calibration`; pixels are not read.
    """
    if path is None or Path(path).suffix.lower() not in ('.dcm', '.dicom'):
        return Calibration()
    try:
        from ..io._dicom_guard import dicom_header

        ds = dicom_header(path)  # a deflated file: not inflated whole
    except Exception:  # noqa: BLE001 - no header we can parse: no scale
        return Calibration()
    um = source = fov = None
    spacing = ds.get('PixelSpacing')
    try:
        row, col = (float(v) * 1000.0 for v in spacing)
    except (TypeError, ValueError):
        row = col = float('nan')
    if np.isfinite([row, col]).all() and row > 0 and col > 0:
        um, source = float(np.sqrt(row * col)), 'DICOM PixelSpacing'
    try:
        fov = float(ds.get('HorizontalFieldOfView'))
    except (TypeError, ValueError):
        fov = None
    if fov is not None and not 0 < fov <= 200:
        fov = None
    return Calibration(um, source, fov)


def _fov_width(fov: np.ndarray) -> int:
    cols = np.flatnonzero(fov.any(axis=0))
    return int(cols[-1] - cols[0] + 1) if cols.size else 0


def pixel_size(
    *,
    given: float | None,
    given_source: str | None,
    calibration: Calibration,
    field_of_view_deg: float | None,
    fov: np.ndarray,
    disc: Disc | None,
) -> tuple[float, str]:
    """(micrometres per pixel, source) in the module's order.

    NaN and a reason when nothing gives a scale.
    """
    if given is not None:
        return check_pixel_size(given), given_source or 'given'
    if calibration.pixel_size_um is not None:
        return (
            check_pixel_size(
                calibration.pixel_size_um, 'the DICOM PixelSpacing'
            ),
            calibration.pixel_size_source or 'file',
        )
    deg = field_of_view_deg or calibration.field_of_view_deg
    width = _fov_width(fov)
    if deg and width:
        um = deg * UM_PER_DEGREE / width
        return (
            check_pixel_size(um, 'the pixel size from the field of view'),
            f'camera field of view {deg:g} degrees over {width} px',
        )
    if disc is not None:
        return (
            DISC_DIAMETER_UM / (2 * disc.radius),
            f'disc diameter assumed {DISC_DIAMETER_UM / 1000:g} mm',
        )
    return float('nan'), 'unknown: no pixel size and no disc'
