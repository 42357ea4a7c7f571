"""Fovea: the dark, avascular centre of the macula, found from the disc.

The fovea lies about 2.5 disc diameters (5 disc radii) temporal to the
optic disc, close to the disc's height, between the superior and
inferior vessel arcades, which leave it free of vessels. Candidates are
the places 3.5-7.5 detected disc radii from the disc centre, within 20
degrees of the horizontal through the disc (both chosen
leave-one-camera-out; see docs/measures.md)
and at least one disc radius inside the field of view. Each is scored
by its darkness (the photo's red + green, vessels filled) and its vessel
density, each blurred at the disc's size less its blur at three times
that size (the pit against its neighbourhood, not the darker rim of the
field), both as z-scores over the candidates; the lowest sum wins. On a
copy about 128 px wide, like the disc.

From the disc-fovea axis follow the eye (in an unmirrored fundus
photo the disc is nasal: right of the fovea in a right eye), the
disc-fovea distance and the axis angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .disc import _WORK_WIDTH, Disc, _masked_blur, _shrink

__all__ = ['Fovea', 'find_fovea', 'fovea_row', 'hemifields']

#: Candidate distances from the disc centre, in detected disc radii, and
#: the largest angle of the disc-fovea axis from the horizontal
#: (degrees): chosen leave-one-camera-out on hand-placed foveas of DRIVE,
#: HRF-AV and STARE (``scripts/measures_loco.py fovea``).
_NEAR, _FAR = 3.5, 7.5
_MAX_ANGLE = 20.0


@dataclass(frozen=True)
class Fovea:
    """A fovea in image pixels.

    Attributes
    ----------
    y, x : float
        Centre (row, column), full-resolution pixels.
    confidence : float
        In [0, 1]: how much the best place stands out from the best one
        at least two disc radii away (1 for a fovea the user placed).
    source : str
        ``'detected'`` or ``'given'``.
    """

    y: float
    x: float
    confidence: float = 1.0
    source: str = 'given'


def _z(a: np.ndarray, where: np.ndarray) -> np.ndarray:
    v = a[where]
    sd = float(v.std()) if v.size else 0.0
    return (a - float(v.mean())) / sd if sd > 0 else np.zeros_like(a)


def _local(a: np.ndarray, w: np.ndarray, r: float) -> np.ndarray:
    """*a* at the disc's scale less its surround at three times that:
    the foveal pit against its own neighbourhood, so that the darker
    rim of the field (vignetting) and its sparser vessels do not win."""
    return _masked_blur(a, w, max(1.0, r)) - _masked_blur(
        a, w, max(1.0, 3 * r)
    )


def find_fovea(
    image: np.ndarray | None,
    vessels: np.ndarray | None,
    disc: Disc,
    *,
    fov: np.ndarray | None = None,
) -> tuple[Fovea | None, str]:
    """Find the fovea beside *disc*; ``(None, reason)`` when it cannot.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array, optional
        The photo (its darkness is one cue).
    vessels : (H, W) bool, optional
        The vessel map (the fovea is avascular).
    disc : Disc
        The optic disc.
    fov : (H, W) bool, optional
        Field of view (the whole frame when omitted).

    Returns
    -------
    (Fovea or None, str)
        The fovea (``source='detected'``) and ``''``, or None and why.
    """
    if image is None and (vessels is None or not np.any(vessels)):
        return None, 'no photo and no vessels to find the fovea'
    shape = np.shape(image if image is not None else vessels)[:2]
    step = max(1, min(int(round(shape[1] / _WORK_WIDTH)), min(shape) // 8))
    hs, ws = shape[0] // step, shape[1] // step
    if fov is None:
        fov_s = np.ones((hs, ws), bool)
    else:
        fov_s = _shrink(np.asarray(fov, bool), step) > 0.5
    r = disc.radius / step
    cy, cx = (disc.y - (step - 1) / 2) / step, (disc.x - (step - 1) / 2) / step
    yy, xx = np.mgrid[:hs, :ws].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    d = np.hypot(dy, dx)
    inside = ndi.binary_erosion(fov_s, iterations=max(1, int(round(r))))
    band = (
        (d >= _NEAR * r)
        & (d <= _FAR * r)
        & (np.abs(dy) <= np.tan(np.radians(_MAX_ANGLE)) * np.abs(dx))
        & inside
    )
    if not band.any():
        return None, (
            'the macula is outside the photo: no place 2-4 disc diameters '
            'from the disc, level with it, inside the field of view'
        )
    w = fov_s.astype(np.float32)
    score = np.zeros((hs, ws), np.float32)
    if image is not None:
        img = np.asarray(image)[::step, ::step][:hs, :ws]
        if img.ndim == 3:
            img = img[..., :3].astype(np.float32)
            g = 0.5 * (img[..., 0] + img[..., 1])
        else:
            g = img.astype(np.float32)
        g = ndi.grey_closing(g, size=(3, 3))
        score += _z(_local(g, w, r), band)
    if vessels is not None and np.any(vessels):
        v = _shrink(np.asarray(vessels)[: hs * step, : ws * step] > 0, step)
        score += _z(_local(v, w, r), band)
    score = np.where(band, score, np.inf)
    iy, ix = np.unravel_index(int(np.argmin(score)), score.shape)
    best = float(score[iy, ix])
    far = (yy - iy) ** 2 + (xx - ix) ** 2 > (2 * r) ** 2
    rest = score[far & band]
    margin = float(rest.min()) - best if rest.size else 2.0
    half = (step - 1) / 2
    return (
        Fovea(
            y=iy * step + half,
            x=ix * step + half,
            confidence=round(float(np.clip(margin / 2.0, 0.0, 1.0)), 3),
            source='detected',
        ),
        '',
    )


def fovea_row(
    fovea: Fovea | None, disc: Disc | None, um: float
) -> dict[str, float | str]:
    """The ``measures.csv`` columns of the fovea and the disc-fovea axis.

    ``eye`` is ``'right'`` when the disc lies right of the fovea in the
    image (an unmirrored photo), else ``'left'``; ``axis_angle_deg`` is
    the angle of the disc-fovea line below the horizontal (positive:
    the fovea lower than the disc, as it usually is).
    """
    nan = float('nan')
    row: dict[str, float | str] = {
        'fovea_y': nan,
        'fovea_x': nan,
        'fovea_confidence': nan,
        'fovea_source': '',
        'eye': '',
        'disc_fovea_px': nan,
        'disc_fovea_um': nan,
        'disc_fovea_dd': nan,
        'axis_angle_deg': nan,
    }
    if fovea is None:
        return row
    row.update(
        fovea_y=round(fovea.y, 1),
        fovea_x=round(fovea.x, 1),
        fovea_confidence=fovea.confidence,
        fovea_source=fovea.source,
    )
    if disc is None:
        return row
    dy, dx = fovea.y - disc.y, fovea.x - disc.x
    dist = float(np.hypot(dy, dx))
    row.update(
        eye='right' if dx < 0 else 'left',
        disc_fovea_px=round(dist, 1),
        disc_fovea_dd=round(dist / (2 * disc.radius), 3),
        axis_angle_deg=round(float(np.degrees(np.arctan2(dy, abs(dx)))), 1),
    )
    if np.isfinite(um):
        row['disc_fovea_um'] = round(dist * um, 1)
    return row


def hemifields(seg_df, paths, disc, fovea, min_len: float) -> dict:
    """Split the segments into hemifields; tortuosity per side.

    Kept for callers of earlier releases: see :func:`.hemifield.split`
    (the disc-fovea axis, or the horizontal through the disc without a
    fovea).
    """
    from .hemifield import split

    return split(seg_df, paths, disc, fovea, min_len)
