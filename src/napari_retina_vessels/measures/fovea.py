"""Fovea: the dark, avascular centre of the macula, found from the disc.

The fovea lies about 2.25 disc diameters (4.5 disc radii) temporal to
the optic disc, close to the disc's height, on the side of the disc
towards the middle of the photo (a fundus photo is aimed at the
posterior pole, so the disc lies nasal to the middle of the field and
the macula temporal to the disc), between the superior and inferior
vessel arcades, which leave it free of vessels. On a copy about 128 px
wide, like the disc, every place at least one disc radius inside the
field of view is scored by

- its darkness (the photo's red + green, vessels filled) and its vessel
  density, each blurred at half a disc radius less its blur at three
  times that size (the pit against its own neighbourhood, not the
  darker rim of the field nor the sparser vessels there), as z-scores
  over the field of view;
- with a disc it trusts (confidence at least ``TRUST_DISC``): a penalty
  growing with the squared distance from 4.5 disc radii and with the
  squared angle of the disc-place line from the horizontal, and only
  places 2.5-7 disc radii from the disc, within 30 degrees of level
  with it and on the side of it towards the middle of the field count;
- a penalty growing with the squared distance from the middle of the
  field of view (the posterior pole; the only place prior left without
  a disc it trusts).

The lowest score wins. Disc radii here are the prior r0 (1/13 of the
field of view, ``disc._DISC_PER_FOV``), not the detected radius: the
detected radius varies more between photos of one camera than the
disc-fovea distance in r0 does. A disc placed by hand gives its own
radius instead. The weights, the blur and
``TRUST_DISC`` were chosen leave-one-camera-out on hand-placed foveas
of DRIVE, HRF-AV and STARE (``scripts/measures_loco.py fovea``; see
docs/measures.md).

From the disc-fovea axis follow the eye (in an unmirrored fundus
photo the disc is nasal: right of the fovea in a right eye), the
disc-fovea distance and the axis angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .disc import _WORK_WIDTH, Disc, _masked_blur, _shrink, prior_radius

__all__ = ['Fovea', 'find_fovea', 'fovea_row', 'hemifields']

#: Places searched beside a trusted disc: distance from its centre in
#: prior disc radii r0, and the largest angle of the disc-fovea line
#: from the horizontal (degrees). Wide guards around the anatomy (the
#: fovea lies 3-6.5 r0 from the disc, within about 16 degrees of level,
#: on all 56 hand-placed foveas), not fits: the penalties below choose.
_NEAR, _FAR = 2.5, 7.0
_MAX_ANGLE = 30.0
#: Expected disc-fovea distance (r0): 2.25 disc diameters.
_DISTANCE = 4.5
#: Weight of the squared distance from ``_DISTANCE`` (per r0 squared).
DISTANCE_WEIGHT = 0.3
#: Weight of the squared angle from the horizontal (per 10 degrees
#: squared).
_ANGLE_WEIGHT = 0.3
#: Weight of the squared distance from the middle of the field of view
#: (per r0 squared).
CENTRE_WEIGHT = 0.1
#: Blur of the darkness and vessel cues, in r0 (the surround: 3 times).
BLUR = 0.5
#: A detected disc below this confidence is not used to place the fovea
#: (a bright lesion can win the disc's score: the fovea is then sought
#: from its own cues and the middle of the field only).
TRUST_DISC = 0.5
#: The disc is "beside" the middle of the field, so that the macula's
#: side is known, when their columns differ by more than this (r0).
_SIDE_OFFSET = 1.0


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


def _local(a: np.ndarray, w: np.ndarray, s: float) -> np.ndarray:
    """*a* blurred at *s* less its surround at three times that: the
    foveal pit against its own neighbourhood, so that the darker rim of
    the field (vignetting) and its sparser vessels do not win."""
    return _masked_blur(a, w, max(1.0, s)) - _masked_blur(
        a, w, max(1.0, 3 * s)
    )


def _beside_disc(disc, step, r0, yy, xx, mid_x, inside):
    """(allowed places, penalty) of a trusted disc, working pixels."""
    cy = (disc.y - (step - 1) / 2) / step
    cx = (disc.x - (step - 1) / 2) / step
    dy, dx = yy - cy, xx - cx
    d = np.hypot(dy, dx) / r0
    angle = np.degrees(np.arctan2(np.abs(dy), np.abs(dx)))
    allowed = inside & (d >= _NEAR) & (d <= _FAR) & (angle <= _MAX_ANGLE)
    off = (mid_x - cx) / r0
    if abs(off) > _SIDE_OFFSET:
        allowed &= np.sign(dx) == np.sign(off)
    # The macula must fit: some place a disc radius short of the
    # expected distance or farther (else a disc-centred crop would get
    # a "fovea" squeezed in beside the disc).
    if not (allowed & (d >= _DISTANCE - 1)).any():
        allowed[...] = False
    penalty = (
        DISTANCE_WEIGHT * (d - _DISTANCE) ** 2
        + _ANGLE_WEIGHT * (angle / 10.0) ** 2
    )
    return allowed, penalty


def find_fovea(
    image: np.ndarray | None,
    vessels: np.ndarray | None,
    disc: Disc | None,
    *,
    fov: np.ndarray | None = None,
) -> tuple[Fovea | None, str]:
    """Find the fovea; ``(None, reason)`` when it cannot.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) array, optional
        The photo (its darkness is one cue).
    vessels : (H, W) bool, optional
        The vessel map (the fovea is avascular).
    disc : Disc, optional
        The optic disc. Without one, or with a detected one under
        ``TRUST_DISC`` confidence, the fovea is sought without it: then
        the photo is needed.
    fov : (H, W) bool, optional
        Field of view (the whole frame when omitted).

    Returns
    -------
    (Fovea or None, str)
        The fovea (``source='detected'``) and ``''``, or None and why.
    """
    trusted = disc is not None and (
        disc.source != 'detected' or disc.confidence >= TRUST_DISC
    )
    if image is None and (vessels is None or not np.any(vessels)):
        return None, 'no photo and no vessels to find the fovea'
    if image is None and not trusted:
        return None, (
            'no optic disc to find the fovea from'
            if disc is None
            else 'no photo, and the optic disc is too uncertain '
            f'(confidence {disc.confidence:.2f} < {TRUST_DISC}) to find '
            'the fovea from'
        )
    shape = np.shape(image if image is not None else vessels)[:2]
    step = max(1, min(int(round(shape[1] / _WORK_WIDTH)), min(shape) // 8))
    hs, ws = shape[0] // step, shape[1] // step
    if fov is None:
        fov_s = np.ones((hs, ws), bool)
    else:
        fov_s = _shrink(np.asarray(fov, bool), step) > 0.5
    if not fov_s.any():
        return None, 'the field of view is empty'
    # The unit: the prior r0 from the field of view, or the radius of a
    # disc the user placed (a crop's frame says nothing of the disc).
    r0 = prior_radius(fov_s)
    if disc is not None and disc.source != 'detected':
        r0 = disc.radius / step
    ys, xs = np.nonzero(fov_s)
    mid_y, mid_x = float(ys.mean()), float(xs.mean())
    yy, xx = np.mgrid[:hs, :ws].astype(np.float32)
    inside = ndi.binary_erosion(fov_s, iterations=max(1, int(round(r0))))
    band = inside.copy()
    score = CENTRE_WEIGHT * (
        ((yy - mid_y) ** 2 + (xx - mid_x) ** 2) / np.float32(r0 * r0)
    )
    if trusted:
        allowed, penalty = _beside_disc(disc, step, r0, yy, xx, mid_x, inside)
        band &= allowed
        score = score + penalty
    if not band.any():
        return None, (
            'the macula is outside the photo: no place 2-3 disc diameters '
            'from the disc, on its temporal side, inside the field of view'
        )
    w = fov_s.astype(np.float32)
    if image is not None:
        img = np.asarray(image)[::step, ::step][:hs, :ws]
        if img.ndim == 3:
            img = img[..., :3].astype(np.float32)
            g = 0.5 * (img[..., 0] + img[..., 1])
        else:
            g = img.astype(np.float32)
        g = ndi.grey_closing(g, size=(3, 3))
        score = score + _z(_local(g, w, BLUR * r0), inside)
    if vessels is not None and np.any(vessels):
        v = _shrink(np.asarray(vessels)[: hs * step, : ws * step] > 0, step)
        score = score + _z(_local(v, w, BLUR * r0), inside)
    score = np.where(band, score, np.inf)
    iy, ix = np.unravel_index(int(np.argmin(score)), score.shape)
    best = float(score[iy, ix])
    far = (yy - iy) ** 2 + (xx - ix) ** 2 > (2 * r0) ** 2
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
