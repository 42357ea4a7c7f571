"""Image-quality gate: is this a gradable colour fundus photograph?

Screening cohorts hold blank frames, lens-cap shots, photos of the wrong
thing, blurred and badly exposed photos. Segmenting them gives numbers
that look like data. The gate grades every photo before its vessel map is
believed, from cheap image measures (field of view, exposure, contrast,
focus, colour) and, once the model has run, from the model's own
confidence (uncertain probabilities, plausible vessel density).

Grades: ``'good'``, ``'usable'`` (segmented, but a measure is marginal:
read the reasons) and ``'ungradable'`` (the vessel map is not a result).
Each check scores 1 when good, 0.5 at the usable limit and 0 at or past
the ungradable limit, linearly between; the photo's score is the lowest
check score and its grade follows from it. Thresholds were chosen on the
photos of DRIVE, CHASE_DB1, STARE, RITE and HRF-AV and on synthetic
degradations of them (``scripts/quality_table.py``, ``docs/quality.md``).

Torch-free and cheap: the measures are taken on a copy whose FOV is
:data:`WORK_DIAMETER` pixels across.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    'GRADES',
    'WORK_DIAMETER',
    'LIMITS',
    'FLOORS',
    'Quality',
    'assess',
    'assess_image',
    'assess_prediction',
    'image_measures',
]

#: The grades, best first.
GRADES = ('good', 'usable', 'ungradable')

#: FOV diameter (pixels) of the copy the image measures are taken on.
WORK_DIAMETER = 256

#: measure -> (good limit, ungradable limit). A measure at or beyond its
#: good limit scores 1, at its ungradable limit 0 (0.5 halfway). Limits
#: where good > ungradable mean "higher is better".
LIMITS: dict[str, tuple[float, float]] = {
    # FOV diameter over the image's longer side.
    'fov_fraction': (0.45, 0.2),
    # How well the FOV fills a disc (a camera aperture is one).
    'fov_roundness': (0.96, 0.9),
    # Mean brightness (brightest channel) inside the FOV.
    'brightness': (0.3, 0.04),
    # Share of FOV pixels that are black (< 0.03), or washed out (two
    # channels or more above 0.97: the red channel alone often is).
    'dark_fraction': (0.15, 0.6),
    'saturated_fraction': (0.05, 0.4),
    # Spread of the green channel inside the FOV, over its mean.
    'contrast': (0.09, 0.03),
    # Fine over coarse detail of the green channel (focus).
    'sharpness': (0.22, 0.06),
    # Share of FOV pixels the model is unsure about (0.25 < p < 0.75).
    'uncertain_fraction': (0.06, 0.2),
    # Share of FOV pixels at or above the threshold (vessel density).
    'vessel_density_low': (0.04, 0.005),
    'vessel_density_high': (0.2, 0.4),
}

#: Checks that alone never make a photo ungradable (their score is at
#: least this): a sparse vessel map may be a sparse retina, or a small
#: photo; blank and non-fundus images fail other checks.
FLOORS = {'vessel_density_low': 0.5}

_REASONS = {
    'fov_fraction': 'the field of view is small ({:.0%} of the image)',
    'fov_roundness': 'the bright region is not a round camera aperture '
    '(roundness {:.2f}): not a fundus photo?',
    'brightness': 'under-exposed (mean brightness {:.2f})',
    'dark_fraction': '{:.0%} of the field of view is black',
    'saturated_fraction': '{:.0%} of the field of view is saturated',
    'contrast': 'low contrast ({:.3f})',
    'sharpness': 'blurred or out of focus (sharpness {:.2f})',
    'uncertain_fraction': 'the model is unsure about {:.0%} of the field '
    'of view',
    'vessel_density_low': 'implausibly few vessels (density {:.1%})',
    'vessel_density_high': 'implausibly many vessels (density {:.1%})',
}


@dataclass(frozen=True)
class Quality:
    """The grade of one photo.

    Attributes
    ----------
    grade : {'good', 'usable', 'ungradable'}
    score : float
        In [0, 1]: the lowest check score; 1 is good throughout, below
        0.5 ungradable.
    reasons : tuple of str
        One phrase per check that is not good, worst first.
    kind : str
        ``'colour'``, ``'grayscale'``, ``'red-free'`` or ``'not a
        fundus photo'``.
    measures : dict
        Every measure (floats), for tables and thresholds.
    """

    grade: str
    score: float
    reasons: tuple[str, ...] = ()
    kind: str = 'colour'
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """The reasons as one sentence fragment ('' when good)."""
        return '; '.join(self.reasons)

    def row(self) -> dict[str, Any]:
        """``quality_grade``, ``quality_score``, ``quality_reasons``
        (for CSV rows and layer metadata)."""
        return {
            'quality_grade': self.grade,
            'quality_score': round(self.score, 3),
            'quality_reasons': self.reason,
        }


def _score(value: float, limits: tuple[float, float]) -> float:
    good, bad = limits
    if good == bad:
        return 1.0
    t = (value - bad) / (good - bad)  # 0 at bad, 1 at good
    return float(min(1.0, max(0.0, t)))


def _grade(score: float) -> str:
    if score >= 0.999:
        return 'good'
    return 'usable' if score >= 0.5 else 'ungradable'


def _block_mean(arr: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k x k block (the last rows and columns that do not
    fill a block are dropped), float32.

    Summed as k * k strided slices: NumPy's mean over the two block
    axes of a reshaped array took 18 ms on a DRIVE photo, this 3 ms.
    """
    if k <= 1:
        return arr
    h, w = arr.shape[0] // k * k, arr.shape[1] // k * k
    a = arr[:h, :w]
    acc = np.array(a[::k, ::k], np.float32)
    for i in range(k):
        for j in range(k):
            if i or j:
                acc += a[i::k, j::k]
    acc /= np.float32(k * k)
    return acc


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage as ndi

    return ndi.gaussian_filter(img, sigma, mode='nearest', truncate=3.0)


def _diameter(fov: np.ndarray) -> int:
    rows = np.flatnonzero(fov.any(axis=1))
    cols = np.flatnonzero(fov.any(axis=0))
    if rows.size == 0:
        return 0
    return int(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))


def _roundness(m: np.ndarray) -> float:
    """How well a FOV mask fills the disc of its width (cut at its
    bounding box, as apertures cut at the top and bottom are): 1 for a
    camera's aperture, lower for whatever bright blob a non-fundus photo
    has."""
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    if rows.size < 3 or cols.size < 3:
        return 0.0
    r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
    box = m[r0 : r1 + 1, c0 : c1 + 1]
    yy, xx = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
    radius = max(r1 - r0, c1 - c0) / 2 + 0.5
    disc = (yy - (r0 + r1) / 2) ** 2 + (xx - (c0 + c1) / 2) ** 2 <= radius**2
    union = (box | disc).sum()
    return float((box & disc).sum() / union) if union else 0.0


def image_measures(
    rgb: npt.NDArray[np.float32], fov: npt.NDArray[np.bool_]
) -> dict[str, float]:
    """The image measures of the gate.

    Parameters
    ----------
    rgb : (H, W, 3) float32 in [0, 1]
        The photo (any scale).
    fov : (H, W) bool
        Its field-of-view mask.

    Returns
    -------
    dict of str to float
        ``fov_found`` (1 when a dark border was found), ``fov_fraction``,
        ``brightness``, ``dark_fraction``, ``saturated_fraction``,
        ``contrast``, ``sharpness``, ``gray_difference`` (mean channel
        difference), ``red_share``, ``green_share``, ``blue_share``
        (channel means over their sum, inside the FOV).
    """
    from scipy import ndimage as ndi

    fov = np.asarray(fov, bool)
    h, w = fov.shape
    diameter = _diameter(fov)
    out: dict[str, float] = {
        'fov_found': float(not fov.all()),
        'fov_fraction': diameter / max(h, w, 1),
    }
    k = max(1, int(diameter // WORK_DIAMETER))
    small = _block_mean(np.asarray(rgb, np.float32), k)
    m = _block_mean(fov.astype(np.float32), k) > 0.5
    # Measures stay off the rim, where the aperture edge is the sharpest
    # and darkest thing in the photo.
    inner = ndi.binary_erosion(m, iterations=3) if m.sum() > 400 else m
    if not inner.any():
        inner = m if m.any() else np.ones(m.shape, bool)
    out['fov_roundness'] = _roundness(m) if out['fov_found'] else 1.0
    # The channels one by one: reductions over a 3-long last axis are
    # several times slower in NumPy than elementwise maxima and sums.
    r, g_px, b = (small[..., c][inner] for c in range(3))
    bright = np.maximum(np.maximum(r, g_px), b)
    darkest = np.minimum(np.minimum(r, g_px), b)
    means = np.array([r.mean(), g_px.mean(), b.mean()])
    total = float(means.sum()) or 1.0
    g = small[..., 1]
    out.update(
        brightness=float(bright.mean()),
        dark_fraction=float((bright < 0.03).mean()),
        saturated_fraction=float(
            ((r + g_px + b) - bright - darkest > 0.97).mean()
        ),
        contrast=float(g_px.std() / max(g_px.mean(), 0.02)),
        gray_difference=float(
            np.abs(r - g_px).mean() + np.abs(g_px - b).mean()
        ),
        red_share=float(means[0] / total),
        green_share=float(means[1] / total),
        blue_share=float(means[2] / total),
    )
    # Focus: detail finer than a small vessel against detail up to a
    # large vessel's width. Blur removes the first long before the second.
    fine = g - _blur(g, 1.0)
    coarse = g - _blur(g, 4.0)
    sc = float(coarse[inner].std())
    out['sharpness'] = float(fine[inner].std() / sc) if sc > 1e-6 else 0.0
    return out


def _kind(m: dict[str, float]) -> str:
    """Colour fundus, grayscale, red-free or not a fundus photo."""
    if m['gray_difference'] < 0.01:
        return 'grayscale'
    if m['green_share'] > 0.8:
        return 'red-free'
    # Fundus photos are red-orange: red clearly the strongest channel
    # (noise and grey are balanced, sky and sea blue). Non-fundus photos
    # with warm colours are caught by the shape of their "aperture".
    reddish = (
        m['red_share'] > m['green_share'] + 0.02
        and m['red_share'] > m['blue_share'] + 0.04
    )
    if not reddish:
        return 'not a fundus photo'
    if m.get('fov_roundness', 1.0) < LIMITS['fov_roundness'][1]:
        return 'not a fundus photo'
    return 'colour'


def _judge(
    measures: dict[str, float], checks: list[str], kind: str
) -> tuple[float, list[tuple[float, str]]]:
    found = []
    for name in checks:
        key = name.removesuffix('_high').removesuffix('_low')
        value = measures.get(key)
        if value is None:
            continue
        s = max(_score(value, LIMITS[name]), FLOORS.get(name, 0.0))
        if s < 0.999:
            found.append((s, _REASONS[name].format(value)))
    if kind == 'not a fundus photo':
        found.append(
            (
                0.0,
                'not a colour fundus photograph (its colours '
                'are not those of a retina)',
            )
        )
    elif kind in ('grayscale', 'red-free'):
        found.append(
            (
                0.75,
                f'{kind} photo: artery/vein labels rely on '
                'colour and are less reliable',
            )
        )
    if not measures.get('fov_found', 1.0) and kind != 'not a fundus photo':
        found.append(
            (
                0.75,
                'no dark border: the field of view is taken '
                'as the whole image',
            )
        )
    score = min([1.0, *(s for s, _ in found)])
    found.sort(key=lambda t: t[0])
    return score, found


_IMAGE_CHECKS = [
    'fov_fraction',
    'fov_roundness',
    'brightness',
    'dark_fraction',
    'saturated_fraction',
    'contrast',
    'sharpness',
]
_MODEL_CHECKS = [
    'uncertain_fraction',
    'vessel_density_low',
    'vessel_density_high',
]


def _quality(measures: dict[str, float], checks: list[str]) -> Quality:
    kind = _kind(measures)
    if (
        measures['contrast'] < LIMITS['contrast'][1]
        or measures['brightness'] < LIMITS['brightness'][1]
    ):
        kind = 'colour' if kind == 'not a fundus photo' else kind
    score, found = _judge(measures, checks, kind)
    return Quality(
        grade=_grade(score),
        score=score,
        reasons=tuple(r for _, r in found),
        kind=kind,
        measures=dict(measures),
    )


def assess_image(
    rgb: npt.NDArray[np.float32], fov: npt.NDArray[np.bool_]
) -> Quality:
    """Grade a photo from its image measures alone (before the model).

    Parameters
    ----------
    rgb : (H, W, 3) float32 in [0, 1]
    fov : (H, W) bool

    Returns
    -------
    Quality
    """
    return _quality(image_measures(rgb, fov), _IMAGE_CHECKS)


def prediction_measures(
    probability: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    threshold: float,
) -> dict[str, float]:
    """``uncertain_fraction`` and ``vessel_density`` of a probability
    map inside its FOV (on every fourth pixel: they are shares)."""
    p = np.asarray(probability)[::2, ::2]
    m = np.asarray(fov, bool)[::2, ::2]
    inside = p[m] if m.any() else p.ravel()
    if inside.size == 0:
        return {'uncertain_fraction': 1.0, 'vessel_density': 0.0}
    return {
        'uncertain_fraction': float(
            ((inside > 0.25) & (inside < 0.75)).mean()
        ),
        'vessel_density': float((inside >= threshold).mean()),
    }


def assess_prediction(
    quality: Quality,
    probability: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    threshold: float,
) -> Quality:
    """Add the model's own confidence to an image grade.

    Parameters
    ----------
    quality : Quality
        From :func:`assess_image`.
    probability : (H, W) float32 in [0, 1]
    fov : (H, W) bool
    threshold : float
        The vessel cut-off.

    Returns
    -------
    Quality
        With ``uncertain_fraction`` and ``vessel_density`` measured and
        judged.
    """
    measures = {
        **quality.measures,
        **prediction_measures(probability, fov, threshold),
    }
    q = _quality(measures, _IMAGE_CHECKS + _MODEL_CHECKS)
    return replace(q, kind=quality.kind)


def assess(
    image: npt.ArrayLike,
    *,
    fov: npt.ArrayLike | None = None,
    probability: npt.ArrayLike | None = None,
    threshold: float = 0.5,
) -> Quality:
    """Grade a fundus photograph (and, when given, its vessel map).

    Parameters
    ----------
    image : array-like
        (H, W, 3) RGB or (H, W) photo of any dtype (see
        :func:`~.preprocessing.as_rgb_float`).
    fov : array-like, optional
        (H, W) bool mask; computed with :func:`~.fov.fov_mask` when
        omitted.
    probability : array-like, optional
        The model's (H, W) vessel probability map, to judge its
        confidence too.
    threshold : float
        Vessel cut-off for the density.

    Returns
    -------
    Quality

    Raises
    ------
    InvalidImageError
        For arrays that are not photographs.
    """
    from .fov import fov_mask
    from .preprocessing import (
        as_rgb_float,
        canonical_scale,
        resize,
        scaled_shape,
    )

    rgb = as_rgb_float(image)
    mask = fov_mask(rgb) if fov is None else np.asarray(fov, bool)
    # The canonical copy, as segment() grades it.
    shape = scaled_shape(rgb.shape, canonical_scale(mask))
    rgb_s = resize(rgb, shape)
    fov_s = resize(mask.astype(np.float32), shape) > 0.5
    q = assess_image(rgb_s, fov_s)
    if probability is not None:
        prob_s = resize(np.asarray(probability, np.float32), shape)
        q = assess_prediction(q, prob_s, fov_s, threshold)
    return q
