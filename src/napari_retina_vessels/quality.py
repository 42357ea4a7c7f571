"""Image-quality gate: is this a gradable colour fundus photograph?

Screening cohorts hold blank frames, lens-cap shots, photos of the wrong
thing, blurred, hazy and badly exposed photos. Segmenting them gives
numbers that look like data. The gate grades every photo in three steps:

1. **Cheap verdicts** (:func:`precheck`), known before any network runs:
   a blank frame or an empty or tiny field of view ends the photo there.
2. **The learned model** (:mod:`._quality_model`): a small classifier
   over cheap image features (focus, vessel contrast, haze, exposure,
   colour, aperture geometry, noise; :mod:`._quality_features`), trained
   on graded photos (DRIMDB), synthetic degradations of the development
   photos and pictures that are not fundus photos, its threshold chosen
   leave-one-camera-out (``scripts/quality_model.py``,
   ``docs/quality.md``). It gives the probability that the photo is
   gradable and readable reasons. Rules on top: a photo with few pixels
   across its field of view is at most ``usable``.
3. **After segmentation** (:func:`assess_prediction`): the model's own
   confidence, whether vessels are visible at all (density and length
   of the map; "no vessels visible"), and evidence that the picture is
   a retina (a connected vessel tree converging on the bright disc, not
   a mesh); a picture that fails is ``ungradable``, "not a fundus
   photograph". A clear retina map lifts a photo only the image model
   doubted to ``usable`` (:data:`CLEAR_MAP`).

Grades: ``'good'``, ``'usable'`` (segmented, but read the reasons) and
``'ungradable'`` (the vessel map is not a result). The score is in
[0, 1]; below 0.5 is ungradable. Torch-free and cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ._quality_evidence import clear_map, map_findings
from ._quality_features import (  # noqa: F401  (imported from here too)
    WORK_DIAMETER,
    _block_mean,
    diameter,
)
from ._quality_measures import image_measures, prediction_measures

__all__ = [
    'GRADES',
    'WORK_DIAMETER',
    'LIMITS',
    'FLOORS',
    'MIN_RESOLUTION',
    'Quality',
    'assess',
    'assess_image',
    'assess_prediction',
    'image_measures',
    'precheck',
    'prediction_measures',
    'resolution_caveat',
]

#: The grades, best first.
GRADES = ('good', 'usable', 'ungradable')

#: Checks after segmentation: measure -> (good limit, ungradable limit).
#: A measure at or beyond its good limit scores 1, at its ungradable
#: limit 0 (0.5 halfway). Limits where good > ungradable mean "higher is
#: better".
LIMITS: dict[str, tuple[float, float]] = {
    # FOV diameter over the image's longer side (the cheap verdict's
    # ungradable limit; the model weighs smaller fields itself).
    'fov_fraction': (0.45, 0.2),
    # Share of FOV pixels the model is unsure about (0.25 < p < 0.75).
    'uncertain_fraction': (0.06, 0.2),
    # Share of FOV pixels at or above the threshold (vessel density).
    'vessel_density_low': (0.04, 0.005),
    'vessel_density_high': (0.2, 0.4),
}

#: Checks that alone never make a photo ungradable (their score is at
#: least this): a sparse vessel map may be a sparse retina.
FLOORS = {'vessel_density_low': 0.5}

#: Pixels across the field of view (in the photo as given) below which a
#: photo is at most ``usable``: a vessel 120 um wide (about 9 pixels at
#: the canonical 540) is then under 6 pixels wide, and a half-pixel error
#: at each edge moves its calibre by more than 15 %.
MIN_RESOLUTION = 360

#: Smallest FOV diameter (pixels, as given) worth running a network on.
MIN_FOV_PIXELS = 48

#: Retina evidence after segmentation (``docs/quality.md`` says how each
#: limit and the rule were chosen): a real vessel map is mostly one tree
#: (``tree_share``: its largest connected piece over all vessel pixels)
#: whose vessels crowd towards the bright disc (``disc_convergence``:
#: vessel density near the brightest spot over the mean density), held
#: almost all by its five largest pieces (``top5_share``), at a density
#: and length (``vessel_length``, in FOV diameters) of real retinas. A
#: map sparser or shorter than any retina's shows no vessels
#: (ungradable); a picture is not a fundus photograph when its map is
#: scattered pieces (top-5 share low), neither a tree nor converging
#: (both low) or a mesh (:data:`EVIDENCE_MAX`). Each limit is a margin
#: times the lowest value over the training-split photos of the five
#: sources (``scripts/quality_gate_loco.py``).
EVIDENCE = {
    'tree_share': 0.309,
    'disc_convergence': 0.154,
    'top5_share': 0.679,
    'vessel_density': 0.034,
    'vessel_length': 2.599,
}

#: Upper limits of the retina evidence: a map that closes more small
#: cells per field-of-view diameter of vessel than any real retina's
#: (``mesh``: scales, lattices, gravel; 1.25 x the highest over the
#: real photos) is not a fundus photograph.
EVIDENCE_MAX = {'mesh': 8.223}

#: When a clear vessel map outweighs the image model (see
#: :func:`._quality_evidence.clear_map`): a photo the model calls
#: ungradable with a gradable probability of at least ``p_gradable``
#: whose map passes every check, is at least ``vessel_length``
#: field-of-view diameters long (1.2 x the shortest real map) and held
#: by its five largest pieces at least ``top5_share`` (95 % of real
#: maps are) is ``usable``, with :data:`CLEAR_REASON`. Chosen
#: leave-one-camera-out (``scripts/quality_gate_loco.py table``).
CLEAR_MAP = {'p_gradable': 0.02, 'vessel_length': 6.239, 'top5_share': 0.87}
CLEAR_REASON = 'the image model doubted this photo but its vessel map is clear'

_REASONS = {
    'fov_fraction': 'the field of view is small ({:.0%} of the image)',
    'uncertain_fraction': 'the model is unsure about {:.0%} of the field '
    'of view',
    'vessel_density_low': 'implausibly few vessels (density {:.1%})',
    'vessel_density_high': 'implausibly many vessels (density {:.1%})',
}
NOT_FUNDUS = 'not a fundus photograph'
#: How the reason that caps a photo at ``usable`` for its resolution
#: begins (see :data:`MIN_RESOLUTION`).
LOW_RESOLUTION = 'low resolution'


@dataclass(frozen=True)
class Quality:
    """The grade of one photo.

    Attributes
    ----------
    grade : {'good', 'usable', 'ungradable'}
    score : float
        In [0, 1]: 1 is good throughout, below 0.5 ungradable (the
        model's gradable probability, mapped so that its threshold is
        0.5, or a lower check score).
    reasons : tuple of str
        One phrase per finding, worst first.
    kind : str
        ``'colour'``, ``'grayscale'``, ``'red-free'`` or ``'not a
        fundus photo'``.
    measures : dict
        Every measure (floats): the features, ``p_gradable`` and
        ``p_not_fundus`` (the model's calibrated probabilities), and
        after segmentation the map's measures.
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


def resolution_caveat(quality: Any) -> str:
    """What the calibre measures (CRAE, CRVE, AVR) carry when the gate
    capped *quality* (a :class:`Quality`, or None) at ``usable`` for
    its resolution; '' otherwise."""
    for reason in getattr(quality, 'reasons', None) or ():
        if reason.startswith(LOW_RESOLUTION):
            return f'less reliable calibres: {reason}'
    return ''


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


def _verdict(
    found: list[tuple[float, str]], kind: str, measures: dict[str, float]
) -> Quality:
    """A Quality from (score, reason) findings: the lowest score wins."""
    found = sorted(found, key=lambda t: t[0])
    score = min([1.0, *(s for s, _ in found)])
    reasons = []
    for _, r in found:
        if r and r not in reasons:
            reasons.append(r)
    return Quality(
        grade=_grade(score),
        score=float(score),
        reasons=tuple(reasons),
        kind=kind,
        measures=dict(measures),
    )


def precheck(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    source_diameter: float | None = None,
) -> Quality | None:
    """The cheap verdict, before any network: an ungradable
    :class:`Quality` for a blank frame or an empty or tiny field of
    view, else None."""
    fov = np.asarray(fov, bool)
    step = max(1, max(fov.shape) // 512)
    small = np.asarray(rgb)[::step, ::step]
    bright = np.maximum(
        np.maximum(small[..., 0], small[..., 1]), small[..., 2]
    )
    d = diameter(fov) if source_diameter is None else source_diameter
    fraction = diameter(fov) / max(fov.shape)
    # 'cheap_verdict' marks a final grade: the map's checks add nothing.
    m = {
        'fov_fraction': fraction,
        'source_diameter': float(d),
        'cheap_verdict': 1.0,
    }
    if float(bright.std()) < 0.01:
        m['brightness'] = float(bright.mean())
        return _verdict([(0.0, 'blank frame (no image detail)')], 'colour', m)
    if not fov.any() or d < MIN_FOV_PIXELS:
        reason = (
            f'the field of view is {int(d)} pixels across; at least '
            f'{MIN_FOV_PIXELS} are needed'
        )
        return _verdict([(0.0, reason)], 'colour', m)
    if fraction <= LIMITS['fov_fraction'][1]:
        reason = _REASONS['fov_fraction'].format(fraction)
        return _verdict([(0.0, reason)], 'colour', m)
    return None


def _kind(m: dict[str, float]) -> str:
    """Colour fundus, grayscale or red-free (the model decides whether
    it is a fundus photo at all)."""
    if m['gray_difference'] < 0.01:
        return 'grayscale'
    if m['green_share'] > 0.8:
        return 'red-free'
    return 'colour'


def _model_score(p: float, t_ungradable: float) -> float:
    """The gradable probability mapped so that the model's ungradable
    threshold is 0.5 (linear on each side)."""
    if p < t_ungradable:
        return 0.5 * p / t_ungradable
    return 0.5 + 0.5 * (p - t_ungradable) / max(1 - t_ungradable, 1e-9)


def _image_findings(
    measures: dict[str, float],
) -> tuple[list[tuple[float, str]], str]:
    from . import _quality_model as QM

    model = QM.load()
    probs, found = QM.judge(measures, model)
    t_u = float(model['t_ungradable'])
    t_g = float(model['t_good'])
    p = float(probs[0])
    measures['p_gradable'] = p
    measures['p_not_fundus'] = float(probs[2])
    kind = _kind(measures)
    score = _model_score(p, t_u)
    out: list[tuple[float, str]] = []
    if p < t_u:
        if probs[2] >= probs[1]:
            kind = 'not a fundus photo'
            out.append((score, NOT_FUNDUS))
        out += [(score, r) for _, r in found[:2]]
        if not found and probs[2] < probs[1]:
            out.append((score, 'poor image quality'))
    elif p < t_g:
        # Usable: the model's doubt, below the good score.
        s = min(score, 0.99)
        out += [(s, r) for _, r in found[:2]] or [(s, 'marginal quality')]
    if kind in ('grayscale', 'red-free'):
        out.append(
            (
                0.75,
                f'{kind} photo: artery/vein labels rely on colour and are '
                'less reliable',
            )
        )
    d = measures['source_diameter']
    if d < MIN_RESOLUTION:
        out.append(
            (
                0.75,
                f'{LOW_RESOLUTION}: the field of view is {d:.0f} pixels '
                f'across (calibres need {MIN_RESOLUTION})',
            )
        )
    if not measures['fov_found']:
        out.append(
            (
                0.75,
                'no dark border: the field of view is taken as the whole '
                'image',
            )
        )
    return out, kind


def assess_image(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    *,
    source_diameter: float | None = None,
) -> Quality:
    """Grade a photo from the image alone (before the networks).

    Parameters
    ----------
    rgb : (H, W, 3) float32 in [0, 1]
        Usually the canonical copy.
    fov : (H, W) bool
    source_diameter : float, optional
        FOV diameter in the photo as given (its resolution); the FOV's
        own diameter when omitted.

    Returns
    -------
    Quality
    """
    early = precheck(rgb, fov, source_diameter)
    if early is not None:
        return early
    measures = image_measures(rgb, fov, source_diameter)
    found, kind = _image_findings(measures)
    return _verdict(found, kind, measures)


_MODEL_CHECKS = [
    'uncertain_fraction',
    'vessel_density_low',
    'vessel_density_high',
]


def assess_prediction(
    quality: Quality,
    probability: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    threshold: float,
) -> Quality:
    """Add the vessel map's checks to an image grade.

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
        With the map's measures judged: its confidence, its density and
        whether it is a retina's vessel tree at all.
    """
    if quality.measures.get('cheap_verdict'):
        return quality
    disc = None
    if 'disc_y' in quality.measures:
        disc = (quality.measures['disc_y'], quality.measures['disc_x'])
    pm = prediction_measures(probability, fov, threshold, disc)
    measures = {**quality.measures, **pm}
    found = [(quality.score, r) for r in quality.reasons]
    if quality.grade == 'ungradable' and not quality.reasons:
        found.append((quality.score, 'poor image quality'))
    for name in _MODEL_CHECKS:
        key = name.removesuffix('_high').removesuffix('_low')
        s = max(_score(measures[key], LIMITS[name]), FLOORS.get(name, 0.0))
        if s < 0.999:
            found.append((s, _REASONS[name].format(measures[key])))
    kind = quality.kind
    ev, not_fundus = map_findings(pm, EVIDENCE, EVIDENCE_MAX, NOT_FUNDUS)
    if not_fundus:
        kind = 'not a fundus photo'
    if _rescued(quality, pm, ev, found):
        kind = _kind(measures)
        doubt = [r for r in quality.reasons if r != NOT_FUNDUS]
        found = [
            (0.75, f'{CLEAR_REASON} ({"; ".join(doubt[:2]) or "image"})')
        ] + [(min(s, 0.75), r) for s, r in found if s >= 0.5]
    found = ev + found
    q = _verdict(found, kind, measures)
    if quality.grade == 'usable' and q.grade == 'good':
        q = replace(q, grade='usable')
    return q


def _rescued(
    quality: Quality,
    pm: dict[str, float],
    evidence: list[tuple[float, str]],
    found: list[tuple[float, str]],
) -> bool:
    """Whether a clear vessel map lifts a photo that only the image
    model called ungradable to ``usable`` (:data:`CLEAR_MAP`)."""
    if quality.grade != 'ungradable' or evidence:
        return False
    # The model's "not a fundus photograph" is never lifted: pictures
    # can draw maps as clear as a retina's (scales, lattices).
    if quality.kind == 'not a fundus photo':
        return False
    if 'p_gradable' not in quality.measures:
        return False
    if any(s < 0.5 for s, r in found if r not in quality.reasons):
        return False  # the map's own checks found it wanting
    from . import _quality_model as QM

    t_u = float(QM.load()['t_ungradable'])
    return clear_map(quality, pm, CLEAR_MAP, t_u)


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
        The model's (H, W) vessel probability map, to judge it too.
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
    from ._quality_features import canonical_copy
    from .preprocessing import resize

    rgb_s, fov_s, d = canonical_copy(image, fov)
    q = assess_image(rgb_s, fov_s, source_diameter=d)
    if probability is not None:
        prob_s = resize(np.asarray(probability, np.float32), fov_s.shape)
        q = assess_prediction(q, prob_s, fov_s, threshold)
    return q
