"""``measure``: from vessel (and artery/vein) maps to biomarker tables."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InvalidImageError, ShapeMismatchError
from ..quality import Quality, resolution_caveat
from .calibration import Calibration, file_calibration, pixel_size
from .checks import (
    as_quality,
    check_density,
    check_disc_radius,
    check_pixel_size,
    input_maps,
)
from .disc import Disc, as_disc, disc_evidence, find_disc
from .fovea import Fovea, find_fovea, fovea_row, hemifields
from .fractal import box_counting_dimension
from .graph import trace_segments
from .hemifield import fill_side_calibres
from .result import (
    IMAGE_COLUMNS,
    UNGRADABLE_REASON,
    Measurements,
    _not_measured,
)
from .tables import (
    MIN_VESSELS,
    SEGMENT_COLUMNS,
    calibre_reason,
    fill_calibres,
    segment_table,
)

__all__ = [
    'IMAGE_COLUMNS',
    'SEGMENT_COLUMNS',
    'MIN_CONFIDENCE',
    'MIN_VESSELS',
    'Measurements',
    'UNGRADABLE_REASON',
    'measure',
]

#: A detected disc with a lower confidence is not used for zones.
MIN_CONFIDENCE = 0.15
def _fovea(fovea, image, vessels, disc, fov, um) -> tuple[dict, Any]:
    """The fovea columns: given, found beside the disc, or a reason."""
    reason = ''
    if fovea is not None:
        try:
            y, x = (float(v) for v in fovea)
        except (TypeError, ValueError):
            y = x = float('nan')
        if not np.isfinite([y, x]).all():
            raise InvalidImageError(
                f'a fovea is (y, x) in pixels, got {fovea!r}'
            )
        found = Fovea(y, x, 1.0, 'given')
    else:
        # Without a disc the fovea is sought from the photo alone.
        found, reason = find_fovea(image, vessels, disc, fov=fov)
    row = fovea_row(found, disc, um)
    row['fovea_reason'] = reason
    return row, found


def _fd(mask, what: str) -> tuple[float, str]:
    value, n = box_counting_dimension(mask)
    if np.isfinite(value):
        return round(value, 4), ''
    return (
        float('nan'),
        f'fewer than 2 {what} pixels'
        if n < 2
        else 'the map is too small for three box sizes',
    )


def _mean_tortuosity(tort, length, keep) -> tuple[float, int]:
    k = keep & np.isfinite(tort)
    if not k.any():
        return float('nan'), 0
    return float(np.average(tort[k], weights=length[k])), int(k.sum())


def measure(
    result_or_maps: Any,
    image: npt.ArrayLike | None = None,
    *,
    artery_vein: npt.ArrayLike | None = None,
    probability: npt.ArrayLike | None = None,
    fov: npt.ArrayLike | None = None,
    disc: Disc | tuple[float, float, float] | None = None,
    fovea: tuple[float, float] | None = None,
    pixel_size_um: float | None = None,
    pixel_size_source: str | None = None,
    field_of_view_deg: float | None = None,
    quality: Quality | Mapping[str, Any] | None = None,
    measure_ungradable: bool = False,
    corrections: Any = None,
) -> Measurements:
    """Measure the vessel tree: disc, zones, segments, CRAE/CRVE/AVR, FD.

    A map whose photo the quality gate graded ``ungradable`` (a blank
    frame, a lens-cap shot, not a fundus photo) is not measured unless
    *measure_ungradable* is set: its values would look like data. The
    result then has every measure NaN (``height``, ``width`` and
    ``seconds`` aside), every ``*_reason`` :data:`UNGRADABLE_REASON`, no
    segments and ``measured`` False; the gate's reasons are in
    ``quality.reasons``.

    Parameters
    ----------
    result_or_maps : Segmentation or (H, W) array
        A :class:`~napari_retina_vessels.Segmentation`, or a map: bool
        (or 0/1, 0/255 integers) vessels, an integer A/V map whose
        largest value is 2 or 3 (1 artery, 2 vein, 3 uncertain), or a
        float probability map (vessels where >= 0.5).
    image : (H, W, 3) array or path, optional
        The photo: helps find the optic disc and the field of view. A
        path is read, and a DICOM file's ``PixelSpacing`` (or
        ``HorizontalFieldOfView``) sets the pixel size.
    artery_vein : (H, W) uint8, optional
        A/V labels, when *result_or_maps* is a vessel map.
    probability : (H, W) float, optional
        Vessel probability for sub-pixel edges.
    fov : (H, W) bool, optional
        Field of view for the vessel density (from the photo when
        omitted; the whole frame without a photo).
    disc : Disc or (y, x, radius), optional
        The optic disc in pixels; found automatically when omitted.
    fovea : (y, x), optional
        The fovea in pixels; found beside the disc when omitted (see
        :mod:`.fovea`).
    pixel_size_um : float, optional
        Micrometres per pixel (0.1-1000). When omitted: the photo file's
        DICOM ``PixelSpacing``, else the camera's field of view, else
        the disc, assumed :data:`~.disc.DISC_DIAMETER_UM` (1.8 mm)
        across (see :mod:`.calibration`).
    pixel_size_source : str, optional
        What *pixel_size_um* comes from, for the ``pixel_size_source``
        column (default ``'given'``), e.g. ``'napari layer scale'``.
    field_of_view_deg : float, optional
        The camera's horizontal field of view in degrees (e.g. 45):
        the pixel size is then that many degrees at
        :data:`~.calibration.UM_PER_DEGREE` over the width of the
        photo's field of view, when no pixel size is given.
    quality : Quality or mapping, optional
        The quality gate's grade of the photo the maps came from: a
        :class:`~napari_retina_vessels.quality.Quality`, or a row with
        ``quality_grade`` (and ``quality_score``, ``quality_reasons``)
        such as a result layer's metadata. Default: a Segmentation's
        ``quality``; plain maps have no grade and are measured.
    measure_ungradable : bool
        Measure an ungradable photo's maps anyway (``quality`` still
        says it is ungradable).
    corrections : path, dict or Corrections, optional
        A grader's ``NAME.corrections.json`` (see ``corrections.py``):
        painted pixels edit the maps, its disc replaces the detected one
        (*disc* still wins), each segment correction relabels or excludes
        the segment whose centreline is nearest. Corrections that land on
        no segment are counted in ``corrections_missed`` and named in
        ``corrections_reason``.

    Returns
    -------
    Measurements

    Raises
    ------
    InvalidImageError
        For a map that is not 2-D, an RGB array given as the map, a bad
        disc, pixel size or quality.
    CorrectionsError
        For a malformed corrections file or one painted on another size.
    ShapeMismatchError
        When the maps or the photo differ in height and width.
    """
    import pandas as pd

    t0 = time.perf_counter()
    calib = Calibration()
    if isinstance(image, (str, os.PathLike)):
        from ..io import imread

        calib = file_calibration(image)
        image = imread(image)
    grade = as_quality(result_or_maps, quality)
    vessels, av, prob, fov = input_maps(
        result_or_maps, artery_vein, probability, fov
    )
    corr = None
    if corrections is not None:
        from .correcting import apply_painted
        from .corrections import as_corrections

        corr = as_corrections(corrections)
        vessels, av = apply_painted(vessels, av, corr.painted)
        if disc is None:
            disc = corr.disc
    shape = vessels.shape
    if image is not None and np.shape(image)[:2] != shape:
        raise ShapeMismatchError(
            f'the photo is {np.shape(image)[:2]} but the map is {shape}; '
            'give the map segmented from this photo'
        )
    if min(shape) < 16:
        raise InvalidImageError(
            f'the map must be at least 16 x 16 pixels, got {shape}'
        )
    if pixel_size_um is not None:
        pixel_size_um = check_pixel_size(pixel_size_um)
    if disc is not None:
        # A bad disc is refused either way.
        check_disc_radius(as_disc(disc).radius, shape)
    if (
        grade is not None
        and grade.grade == 'ungradable'
        and not measure_ungradable
    ):
        return _not_measured(shape, vessels, grade, t0)
    if fov is None and image is not None:
        from ..fov import fov_mask

        fov = fov_mask(image)
    fov = np.ones(shape, bool) if fov is None else np.asarray(fov, bool)
    check_density(vessels, fov)

    row: dict[str, Any] = dict.fromkeys(IMAGE_COLUMNS, float('nan'))
    for col in IMAGE_COLUMNS:
        if col.endswith(('_reason', '_source')):
            row[col] = ''
    row.update(height=shape[0], width=shape[1], fov_area_px=int(fov.sum()))
    row['vessel_density'] = (
        round(float((vessels & fov).sum()) / row['fov_area_px'], 6)
        if row['fov_area_px']
        else float('nan')
    )

    # The disc: given, or found where there is evidence for one.
    found: Disc | None = None
    evidence = '' if disc is not None else disc_evidence(image, vessels, fov)
    if disc is not None:
        found = as_disc(disc)
    elif evidence:
        row['disc_reason'] = evidence
    else:
        cand = find_disc(image, vessels if vessels.any() else None, fov=fov)
        row['disc_confidence'] = cand.confidence
        if 2 * cand.radius > min(shape):
            row['disc_reason'] = (
                f'a disc of the expected size ({2 * cand.radius:.0f} px '
                f'across) does not fit a {shape[1]} x {shape[0]} frame; '
                'place it by hand'
            )
        elif cand.confidence >= MIN_CONFIDENCE:
            found = cand
        else:
            row['disc_reason'] = (
                f'no clear optic disc (confidence {cand.confidence:.2f} < '
                f'{MIN_CONFIDENCE}); place it by hand'
            )
            row.update(
                disc_y=round(cand.y, 1),
                disc_x=round(cand.x, 1),
                disc_radius_px=round(cand.radius, 1),
            )
    if found is not None:
        row.update(
            disc_y=round(found.y, 1),
            disc_x=round(found.x, 1),
            disc_radius_px=round(found.radius, 1),
            disc_confidence=found.confidence,
            disc_source=found.source,
        )
        if not (0 <= found.y < shape[0] and 0 <= found.x < shape[1]):
            row['disc_reason'] = 'the disc centre is outside the image'
    um, row['pixel_size_source'] = pixel_size(
        given=pixel_size_um,
        given_source=pixel_size_source,
        calibration=calib,
        field_of_view_deg=field_of_view_deg,
        fov=fov,
        disc=found,
    )
    row['pixel_size_um'] = round(um, 4) if np.isfinite(um) else um
    fovea_cols, fovea = _fovea(fovea, image, vessels, found, fov, um)
    row.update(fovea_cols)

    # Segments.
    soft = None
    if prob is not None:
        soft = np.where(
            vessels, np.maximum(prob, 0.5), np.minimum(prob, 0.499)
        )
    from .correcting import correct_segments, fill_row

    segs, av, report = correct_segments(
        vessels,
        av,
        corr,
        lambda a: (
            trace_segments(vessels, soft=soft, labels=a)
            if vessels.any()
            else trace_segments(vessels)
        ),
    )
    seg_df = segment_table(segs, shape, found, um)
    row['n_segments'] = len(segs)
    fill_row(row, seg_df, corr, report)

    # Fractal dimension.
    empty = 'the vessel map is empty'
    if not vessels.any():
        for col in ('fd_vessels', 'fd_arteries', 'fd_veins'):
            row[f'{col}_reason'] = empty
    else:
        row['fd_vessels'], row['fd_vessels_reason'] = _fd(vessels, 'vessel')
        if av is None:
            row['fd_arteries_reason'] = row['fd_veins_reason'] = (
                'no artery/vein map'
            )
        else:
            row['fd_arteries'], row['fd_arteries_reason'] = _fd(
                av == 1, 'artery'
            )
            row['fd_veins'], row['fd_veins_reason'] = _fd(av == 2, 'vein')

    # CRAE, CRVE, AVR.
    fill_calibres(row, seg_df, found, av, um, bool(vessels.any()), fov)

    # Tortuosity by class: length-weighted mean over segments at least a
    # quarter of a disc radius long (10 px without a disc); shorter ones
    # have chords too short for a stable ratio.
    min_len = 0.25 * found.radius if found is not None else 10.0
    if len(seg_df):
        tort = seg_df['tortuosity'].to_numpy(float)
        length = seg_df['length_px'].to_numpy(float)
        curv = seg_df['curvature_per_px'].to_numpy(float)
        labels = seg_df['label'].to_numpy()
        long = (length >= min_len) & (labels != 'excluded')
        for cls, name in (('artery', 'arteries'), ('vein', 'veins')):
            keep = long & (labels == cls)
            v, n = _mean_tortuosity(tort, length, keep)
            row[f'tortuosity_{name}'] = round(v, 4) if n else v
            row[f'tortuosity_{name}_n'] = n
            if av is None:
                row[f'tortuosity_{name}_reason'] = 'no artery/vein map'
            elif not n:
                row[f'tortuosity_{name}_reason'] = (
                    f'no {cls} segment at least {min_len:.0f} px long'
                )
            if n and np.isfinite(um):
                c, _ = _mean_tortuosity(curv, length, keep)
                row[f'curvature_{name}_per_mm'] = round(c * 1000 / um, 4)
        v, n = _mean_tortuosity(tort, length, long)
        row['tortuosity_vessels'] = round(v, 4) if n else v
        row['tortuosity_vessels_n'] = n
    else:
        row['tortuosity_vessels_n'] = 0
        for name in ('arteries', 'veins'):
            row[f'tortuosity_{name}_n'] = 0
            row[f'tortuosity_{name}_reason'] = (
                empty if not vessels.any() else 'no vessel segments'
            )
    row.update(hemifields(seg_df, segs.paths, found, fovea, min_len))
    fill_side_calibres(
        row, seg_df, um, calibre_reason(bool(vessels.any()), av, found)
    )
    caveat = resolution_caveat(grade)
    for key in ('crae', 'crve', 'avr') if caveat else ():
        # Made, but from a photo too small for calibres: say so.
        if not row[f'{key}_reason']:
            row[f'{key}_reason'] = caveat
    row['seconds'] = round(time.perf_counter() - t0, 3)
    image_df = pd.DataFrame([row], columns=list(IMAGE_COLUMNS))
    return Measurements(
        image_df,
        seg_df,
        found,
        segs.paths,
        vessels,
        quality=grade,
        artery_vein=av,
        corrections=report,
    )
