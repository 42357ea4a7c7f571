"""What :func:`~.core.measure` accepts: maps, labels, grades, sizes.

One check per kind of input, each a one-sentence
:class:`~napari_retina_vessels.errors.InvalidImageError` that names the
value and what to do: a map that is not 2-D, unknown artery/vein labels,
NaN or infinite probabilities, a vessel map that covers most of the
field of view, an implausible pixel size or disc.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InvalidImageError, ShapeMismatchError
from ..quality import Quality

__all__ = [
    'AV_LABELS',
    'MAX_VESSEL_FRACTION',
    'PIXEL_SIZE_RANGE_UM',
    'as_quality',
    'check_density',
    'check_disc_radius',
    'check_finite',
    'check_labels',
    'check_pixel_size',
    'input_maps',
]

#: The values an artery/vein map may hold: background, artery, vein,
#: uncertain or crossing.
AV_LABELS = (0, 1, 2, 3)
#: A vessel map covering more of the field of view than this is refused:
#: vessels cover about a tenth of a fundus photo's field of view (at most
#: 17 % in the manual maps of four cameras); a photo thresholded far too
#: low covers 46 % or more. Every value from 20 to 45 % tells them apart
#: on each camera left out; 35 % is the middle (``scripts/measures_loco.py
#: share``).
MAX_VESSEL_FRACTION = 0.35
#: Plausible micrometres per pixel on the retina: a 45-degree field of
#: about 12 mm is 0.1 um/px at 120,000 pixels across and 1000 um/px at
#: 12 pixels; values outside are a unit mistake (metres, nanometres) or
#: arithmetic gone wrong.
PIXEL_SIZE_RANGE_UM = (0.1, 1000.0)
#: The smallest disc radius in pixels a pixel size is derived from or a
#: given disc may have (below it 1.8 mm would span under 5 pixels).
MIN_DISC_RADIUS_PX = 2.0


def _values(arr: np.ndarray) -> set[int]:
    if arr.dtype == np.uint8:
        return {int(v) for v in np.flatnonzero(np.bincount(arr.ravel()))}
    return {int(v) for v in np.unique(arr)}


def check_labels(arr, what: str, values: set[int] | None = None) -> None:
    """Refuse an A/V map holding values other than :data:`AV_LABELS`."""
    arr = np.asarray(arr)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise InvalidImageError(
                f'the {what} must hold whole labels 0-3, got {arr.dtype} '
                'values that are not'
            )
        arr = arr.astype(np.int64)
    if values is None:
        values = _values(arr.astype(np.uint8) if arr.dtype == bool else arr)
    unknown = sorted(values - set(AV_LABELS))
    if unknown:
        shown = ', '.join(str(v) for v in unknown[:5])
        raise InvalidImageError(
            f'the {what} holds unknown label(s) {shown}; artery/vein labels '
            'are 0 background, 1 artery, 2 vein, 3 uncertain'
        )


def check_finite(arr: np.ndarray, what: str) -> None:
    """Refuse a float map with NaN or infinite values."""
    if np.issubdtype(arr.dtype, np.floating):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise InvalidImageError(
                f'the {what} has {bad} NaN or infinite value(s); give '
                'probabilities in [0, 1]'
            )


def check_density(vessels: np.ndarray, fov: np.ndarray) -> None:
    """Refuse a vessel map covering most of the field of view."""
    area = int(np.count_nonzero(fov))
    if not area:
        return
    frac = np.count_nonzero(vessels & fov) / area
    if frac > MAX_VESSEL_FRACTION:
        raise InvalidImageError(
            f'the vessel map covers {frac:.1%} of the field of view; a '
            f'vessel map covers about 10% (at most '
            f'{MAX_VESSEL_FRACTION:.0%} is measured): check the threshold '
            'or that the map is not inverted'
        )


def check_pixel_size(um: float, what: str = 'the pixel size') -> float:
    """*um* as a float when it is in :data:`PIXEL_SIZE_RANGE_UM`."""
    lo, hi = PIXEL_SIZE_RANGE_UM
    try:
        value = float(um)
    except (TypeError, ValueError):
        value = float('nan')
    if not (np.isfinite(value) and lo <= value <= hi):
        raise InvalidImageError(
            f'{what} must be {lo:g}-{hi:g} micrometres per pixel, got {um!r}'
        )
    return value


def check_disc_radius(radius: float, shape: tuple[int, int]) -> None:
    """Refuse a disc radius under 2 px or over the image's larger side."""
    top = float(max(shape))
    if not MIN_DISC_RADIUS_PX <= radius <= top:
        raise InvalidImageError(
            f'a disc radius of {radius:g} px is implausible for a '
            f'{shape[1]} x {shape[0]} image; give {MIN_DISC_RADIUS_PX:g}-'
            f'{top:g} px'
        )


def as_quality(result_or_maps, quality) -> Quality | None:
    """The grade given, else the Segmentation's, as a :class:`Quality`."""
    if quality is None:
        quality = getattr(result_or_maps, 'quality', None)
    if quality is None or isinstance(quality, Quality):
        return quality
    if isinstance(quality, Mapping):
        # A row as Quality.row() writes it: layer metadata, done.json.
        grade = quality.get('quality_grade')
        if not grade:
            return None
        reasons = quality.get('quality_reasons') or ''
        try:
            score = float(quality.get('quality_score', float('nan')))
        except (TypeError, ValueError):
            score = float('nan')
        return Quality(
            str(grade),
            score,
            tuple(r for r in str(reasons).split('; ') if r),
        )
    raise InvalidImageError(
        'quality must be a Quality, a row with quality_grade (as in '
        f'layer metadata) or None, got {type(quality).__name__}'
    )


def input_maps(result_or_maps, artery_vein, probability, fov):
    """(vessels bool, A/V or None, probability or None, fov or None)."""
    if hasattr(result_or_maps, 'vessels'):  # a Segmentation
        seg = result_or_maps
        vessels = np.asarray(seg.vessels, bool)
        if artery_vein is None:
            artery_vein = getattr(seg, 'artery_vein', None)
        if probability is None:
            probability = getattr(seg, 'probability', None)
        if fov is None:
            fov = getattr(seg, 'fov', None)
    else:
        arr = np.asarray(result_or_maps)
        if arr.ndim == 3 and arr.shape[-1] in (3, 4):
            raise InvalidImageError(
                'measure takes a vessel or artery/vein map, got an RGB '
                f'image of shape {arr.shape}; segment the photo first'
            )
        if arr.ndim != 2:
            raise InvalidImageError(
                f'a vessel map must be (H, W), got shape {arr.shape}'
            )
        if arr.dtype == bool:
            vessels = arr
        elif np.issubdtype(arr.dtype, np.floating):
            check_finite(arr, 'vessel probability map')
            if probability is None:
                probability = arr
            vessels = arr >= 0.5
        elif np.issubdtype(arr.dtype, np.integer):
            values = _values(arr)
            if values <= {0, 1} or values <= {0, 255}:
                vessels = arr > 0
            else:
                check_labels(arr, 'map', values)
                if artery_vein is None:
                    artery_vein = arr
                vessels = arr > 0
        else:
            raise InvalidImageError(
                f'a vessel map must be bool, integer or float, got {arr.dtype}'
            )
    shapes = {'vessel map': vessels.shape}
    for name, a in (
        ('artery/vein map', artery_vein),
        ('probability map', probability),
        ('FOV', fov),
    ):
        if a is not None:
            shapes[name] = np.shape(a)[:2]
    if len(set(shapes.values())) > 1:
        raise ShapeMismatchError(
            f'the maps must have the same height and width, got {shapes}'
        )
    if probability is not None:
        probability = np.asarray(probability)
        check_finite(probability, 'probability map')
    if artery_vein is not None:
        artery_vein = np.asarray(artery_vein)
        check_labels(artery_vein, 'artery/vein map')
        vessels = vessels | (artery_vein > 0)
    return vessels, artery_vein, probability, fov
