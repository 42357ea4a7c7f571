"""``measure``: from vessel (and artery/vein) maps to biomarker tables."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InvalidImageError, ShapeMismatchError
from ..quality import Quality
from .disc import DISC_DIAMETER_UM, Disc, as_disc, find_disc
from .fractal import box_counting_dimension
from .graph import LABEL_NAMES, Segments, trace_segments
from .knudtson import ARTERY_K, VEIN_K, knudtson
from .zone_b import zone_b_vessels

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
#: Fewest arterioles (venules) in zone B for a CRAE (CRVE); the revised
#: Knudtson formulas use six, fewer make the value less comparable.
MIN_VESSELS = 3
#: The ``*_reason`` of every measure of a map whose photo the quality
#: gate graded ``ungradable``, when it is not measured (the default).
UNGRADABLE_REASON = 'not measured: the photo is ungradable'

#: Columns of the per-image table, in order.
IMAGE_COLUMNS = (
    'height',
    'width',
    'disc_y',
    'disc_x',
    'disc_radius_px',
    'disc_confidence',
    'disc_source',
    'disc_reason',
    'pixel_size_um',
    'pixel_size_source',
    'fov_area_px',
    'vessel_density',
    'n_segments',
    'fd_vessels',
    'fd_vessels_reason',
    'fd_arteries',
    'fd_arteries_reason',
    'fd_veins',
    'fd_veins_reason',
    'crae_px',
    'crae_um',
    'crae_n',
    'crae_reason',
    'crve_px',
    'crve_um',
    'crve_n',
    'crve_reason',
    'avr',
    'avr_reason',
    'tortuosity_arteries',
    'tortuosity_arteries_n',
    'tortuosity_arteries_reason',
    'tortuosity_veins',
    'tortuosity_veins_n',
    'tortuosity_veins_reason',
    'tortuosity_vessels',
    'tortuosity_vessels_n',
    'curvature_arteries_per_mm',
    'curvature_veins_per_mm',
    'seconds',
)

#: Columns of the per-segment table, in order.
SEGMENT_COLUMNS = (
    'segment',
    'label',
    'kind',
    'length_px',
    'length_um',
    'calibre_px',
    'calibre_sd_px',
    'calibre_um',
    'calibre_sd_um',
    'tortuosity',
    'curvature_per_px',
    'curvature_per_mm',
    'orientation_deg',
    'zone',
    'zone_b_calibre_px',
    'zone_b_calibre_um',
    'zone_b_vessel',
    'zone_b_trunk',
    'in_crae_crve',
    'y0',
    'x0',
    'y1',
    'x1',
    'n_pixels',
)

_KINDS = {0: 'end-end', 1: 'junction-end', 2: 'junction-junction', 3: 'loop'}


@dataclass
class Measurements:
    """What :func:`measure` returns.

    Attributes
    ----------
    image : pandas.DataFrame
        One row, :data:`IMAGE_COLUMNS`. A measure that could not be made
        is NaN and its ``*_reason`` column says why; ``*_n`` columns
        count the segments a measure used.
    segments : pandas.DataFrame
        One row per vessel segment, :data:`SEGMENT_COLUMNS`; lengths and
        calibres in pixels and, when the pixel size is known, µm.
    disc : Disc or None
        The optic disc used for zones (None when none was found).
    paths : list of (n, 2) int arrays
        Skeleton pixels of each segment (row ``i`` of ``segments``).
    vessels : (H, W) bool
        The vessel map measured.
    quality : Quality or None
        The quality gate's grade of the photo the maps came from, when
        known (a Segmentation's ``quality``, or the ``quality`` given).
    measured : bool
        False for an ungradable photo that was not measured: every
        measure is NaN, every ``*_reason`` is
        :data:`UNGRADABLE_REASON` and there are no segments.
    """

    image: Any
    segments: Any
    disc: Disc | None
    paths: list[np.ndarray] = field(repr=False)
    vessels: np.ndarray = field(repr=False)
    quality: Quality | None = None
    measured: bool = True

    def segment_map(self) -> npt.NDArray[np.int32]:
        """(H, W) int32: each vessel pixel's nearest segment + 1, else 0."""
        from scipy import ndimage as ndi

        seeds = np.zeros(self.vessels.shape, np.int32)
        for i, p in enumerate(self.paths, 1):
            seeds[p[:, 0], p[:, 1]] = i
        if not self.paths:
            return seeds
        _, (iy, ix) = ndi.distance_transform_edt(
            seeds == 0, return_indices=True
        )
        out = seeds[iy, ix]
        out[~self.vessels] = 0
        return out

    def to_csv(self, folder, name: str = 'image') -> None:
        """Write ``measures.csv`` and ``segments.csv`` into *folder*."""
        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.image.assign(name=name)[['name', *IMAGE_COLUMNS]].to_csv(
            folder / 'measures.csv', index=False
        )
        self.segments.assign(name=name)[['name', *SEGMENT_COLUMNS]].to_csv(
            folder / 'segments.csv', index=False
        )


def _quality(result_or_maps, quality) -> Quality | None:
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


def _not_measured(shape, vessels, quality, t0) -> Measurements:
    """The result for an ungradable photo: reasons, no numbers."""
    import pandas as pd

    row: dict[str, Any] = dict.fromkeys(IMAGE_COLUMNS, float('nan'))
    for col in IMAGE_COLUMNS:
        if col.endswith('_reason'):
            row[col] = UNGRADABLE_REASON
        elif col.endswith('_source'):
            row[col] = ''
    row.update(height=shape[0], width=shape[1])
    row['seconds'] = round(time.perf_counter() - t0, 3)
    return Measurements(
        pd.DataFrame([row], columns=list(IMAGE_COLUMNS)),
        pd.DataFrame(columns=list(SEGMENT_COLUMNS)),
        None,
        [],
        vessels,
        quality=quality,
        measured=False,
    )


def _maps(result_or_maps, artery_vein, probability, fov):
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
            if probability is None:
                probability = arr
            vessels = arr >= 0.5
        else:
            top = int(arr.max()) if arr.size else 0
            if artery_vein is None and top in (2, 3):
                artery_vein = arr
            vessels = arr > 0
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
    if artery_vein is not None:
        artery_vein = np.asarray(artery_vein)
        vessels = vessels | (artery_vein > 0)
    return vessels, artery_vein, probability, fov


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
    pixel_size_um: float | None = None,
    quality: Quality | Mapping[str, Any] | None = None,
    measure_ungradable: bool = False,
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
    image : (H, W, 3) array, optional
        The photo: helps find the optic disc and the field of view.
    artery_vein : (H, W) uint8, optional
        A/V labels, when *result_or_maps* is a vessel map.
    probability : (H, W) float, optional
        Vessel probability for sub-pixel edges.
    fov : (H, W) bool, optional
        Field of view for the vessel density (from the photo when
        omitted; the whole frame without a photo).
    disc : Disc or (y, x, radius), optional
        The optic disc in pixels; found automatically when omitted.
    pixel_size_um : float, optional
        Micrometres per pixel. When omitted it comes from the disc,
        assumed :data:`~.disc.DISC_DIAMETER_UM` (1.8 mm) across.
    quality : Quality or mapping, optional
        The quality gate's grade of the photo the maps came from: a
        :class:`~napari_retina_vessels.quality.Quality`, or a row with
        ``quality_grade`` (and ``quality_score``, ``quality_reasons``)
        such as a result layer's metadata. Default: a Segmentation's
        ``quality``; plain maps have no grade and are measured.
    measure_ungradable : bool
        Measure an ungradable photo's maps anyway (``quality`` still
        says it is ungradable).

    Returns
    -------
    Measurements

    Raises
    ------
    InvalidImageError
        For a map that is not 2-D, an RGB array given as the map, a bad
        disc, pixel size or quality.
    ShapeMismatchError
        When the maps or the photo differ in height and width.
    """
    import pandas as pd

    t0 = time.perf_counter()
    grade = _quality(result_or_maps, quality)
    vessels, av, prob, fov = _maps(
        result_or_maps, artery_vein, probability, fov
    )
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
    if pixel_size_um is not None and not (
        np.isfinite(pixel_size_um) and pixel_size_um > 0
    ):
        raise InvalidImageError(
            f'the pixel size must be a positive number of micrometres, got '
            f'{pixel_size_um}'
        )
    if disc is not None:
        as_disc(disc)  # a bad disc is refused either way
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

    # The disc.
    found: Disc | None = None
    if disc is not None:
        found = as_disc(disc)
    elif vessels.any() or image is not None:
        cand = find_disc(image, vessels if vessels.any() else None, fov=fov)
        row['disc_confidence'] = cand.confidence
        if cand.confidence >= MIN_CONFIDENCE:
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
    else:
        row['disc_reason'] = 'no photo and an empty vessel map'
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
    if pixel_size_um is not None:
        um = float(pixel_size_um)
        row['pixel_size_source'] = 'given'
    elif found is not None:
        um = DISC_DIAMETER_UM / (2 * found.radius)
        row['pixel_size_source'] = (
            f'disc diameter assumed {DISC_DIAMETER_UM / 1000:g} mm'
        )
    else:
        um = float('nan')
        row['pixel_size_source'] = 'unknown: no pixel size and no disc'
    row['pixel_size_um'] = round(um, 4) if np.isfinite(um) else um

    # Segments.
    soft = None
    if prob is not None:
        soft = np.where(
            vessels, np.maximum(prob, 0.5), np.minimum(prob, 0.499)
        )
    segs = (
        trace_segments(vessels, soft=soft, labels=av)
        if vessels.any()
        else trace_segments(vessels)
    )
    seg_df = _segment_table(segs, shape, found, um)
    row['n_segments'] = len(segs)

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
    _calibres(row, seg_df, found, av, um, bool(vessels.any()), fov)

    # Tortuosity by class: length-weighted mean over segments at least a
    # quarter of a disc radius long (10 px without a disc); shorter ones
    # have chords too short for a stable ratio.
    min_len = 0.25 * found.radius if found is not None else 10.0
    if len(seg_df):
        tort = seg_df['tortuosity'].to_numpy(float)
        length = seg_df['length_px'].to_numpy(float)
        curv = seg_df['curvature_per_px'].to_numpy(float)
        long = length >= min_len
        labels = seg_df['label'].to_numpy()
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
    row['seconds'] = round(time.perf_counter() - t0, 3)
    image_df = pd.DataFrame([row], columns=list(IMAGE_COLUMNS))
    return Measurements(
        image_df, seg_df, found, segs.paths, vessels, quality=grade
    )


def _segment_table(segs: Segments, shape, disc: Disc | None, um: float):
    import pandas as pd

    n = len(segs)
    cols: dict[str, Any] = {'segment': np.arange(n)}
    cols['label'] = [LABEL_NAMES.get(int(v), 'vessel') for v in segs.label]
    cols['kind'] = [_KINDS.get(int(k), str(k)) for k in segs.kind]
    mean = np.array(
        [
            np.nanmean(w) if np.isfinite(w).any() else np.nan
            for w in segs.widths
        ]
    )
    sd = np.array(
        [
            np.nanstd(w) if np.isfinite(w).sum() > 1 else np.nan
            for w in segs.widths
        ]
    )
    cols['length_px'] = np.round(segs.length, 2)
    cols['calibre_px'] = np.round(mean, 3)
    cols['calibre_sd_px'] = np.round(sd, 3)
    with np.errstate(invalid='ignore', divide='ignore'):
        tort = np.where(segs.chord > 0, segs.arc / segs.chord, np.nan)
    cols['tortuosity'] = np.round(tort, 4)
    cols['curvature_per_px'] = np.round(segs.curvature, 5)
    cols['orientation_deg'] = np.round(segs.orientation, 1)
    zone = ['' for _ in range(n)]
    zb = np.full(n, np.nan)
    dists = []
    if disc is not None:
        for i, (p, w) in enumerate(zip(segs.paths, segs.widths)):
            d = np.hypot(p[:, 0] - disc.y, p[:, 1] - disc.x) / disc.radius
            dists.append(d)
            mid = d[len(d) // 2]
            zone[i] = (
                'disc'
                if mid < 1
                else 'A'
                if mid < 2
                else 'B'
                if mid <= 3
                else 'C'
                if mid <= 5
                else 'outside'
            )
            inb = (d >= 2) & (d <= 3) & np.isfinite(w)
            if inb.sum() >= 3:
                zb[i] = float(np.mean(w[inb]))
    cols['zone'] = zone
    cols['zone_b_calibre_px'] = np.round(zb, 3)
    if disc is not None:
        cols['zone_b_vessel'], cols['zone_b_trunk'] = zone_b_vessels(
            segs, disc, dists, mean, zb
        )
    else:
        cols['zone_b_vessel'] = np.full(n, -1)
        cols['zone_b_trunk'] = np.zeros(n, bool)
    cols['in_crae_crve'] = np.zeros(n, bool)
    s = um if np.isfinite(um) else np.nan
    cols['length_um'] = np.round(segs.length * s, 1)
    cols['calibre_um'] = np.round(mean * s, 2)
    cols['calibre_sd_um'] = np.round(sd * s, 2)
    cols['curvature_per_mm'] = np.round(segs.curvature * 1000 / s, 4)
    cols['zone_b_calibre_um'] = np.round(zb * s, 2)
    ends = np.array([[*p[0], *p[-1]] for p in segs.paths]).reshape(n, 4)
    cols['y0'], cols['x0'], cols['y1'], cols['x1'] = ends.T
    cols['n_pixels'] = [len(p) for p in segs.paths]
    return pd.DataFrame(cols, columns=list(SEGMENT_COLUMNS))


#: Below this share of zone B inside the field of view, a CRAE or CRVE
#: that lacks vessels says that the disc is near the edge.
_ZONE_B_INSIDE = 0.75


def _zone_b_inside(disc: Disc, fov: np.ndarray) -> float:
    """Share of zone B (2 to 3 disc radii) inside the image and *fov*."""
    r = disc.radius * np.linspace(2, 3, 6)[:, None]
    a = np.linspace(0, 2 * np.pi, 180, endpoint=False)[None, :]
    y = np.rint(disc.y + r * np.sin(a)).astype(int).ravel()
    x = np.rint(disc.x + r * np.cos(a)).astype(int).ravel()
    h, w = fov.shape
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    inside[inside] = fov[y[inside], x[inside]]
    return float(inside.mean())


def _calibres(row, seg_df, disc, av, um, any_vessels, fov) -> None:
    """Fill CRAE, CRVE and AVR (with counts and reasons) into *row*."""
    if not any_vessels:
        reason = 'the vessel map is empty'
    elif av is None:
        reason = 'no artery/vein map'
    elif disc is None:
        reason = 'no optic disc: zone B is unknown'
    else:
        reason = ''
    results = {}
    for cls, key, k in (
        ('artery', 'crae', ARTERY_K),
        ('vein', 'crve', VEIN_K),
    ):
        row[f'{key}_n'] = 0
        if reason:
            row[f'{key}_reason'] = reason
            continue
        # One calibre per vessel: its trunk's (zone_b.py).
        sel = seg_df[
            (seg_df['label'] == cls)
            & seg_df['zone_b_trunk']
            & np.isfinite(seg_df['zone_b_calibre_px'])
        ]
        top = sel.nlargest(6, 'zone_b_calibre_px')
        n = len(top)
        row[f'{key}_n'] = n
        if n < MIN_VESSELS:
            plural = 'arterioles' if cls == 'artery' else 'venules'
            row[f'{key}_reason'] = (
                f'{n} {plural} measured in zone B; at least {MIN_VESSELS} '
                'are needed'
            )
            inside = _zone_b_inside(disc, fov)
            if inside < _ZONE_B_INSIDE:
                row[f'{key}_reason'] += (
                    f' ({1 - inside:.0%} of zone B is outside the image '
                    'or its field of view: the disc is near the edge)'
                )
            continue
        seg_df.loc[top.index, 'in_crae_crve'] = True
        value = knudtson(top['zone_b_calibre_px'].to_numpy(), k)
        results[key] = value
        row[f'{key}_px'] = round(value, 3)
        if np.isfinite(um):
            row[f'{key}_um'] = round(value * um, 2)
    if 'crae' in results and 'crve' in results:
        row['avr'] = round(results['crae'] / results['crve'], 4)
    else:
        row['avr_reason'] = reason or 'needs both CRAE and CRVE'
