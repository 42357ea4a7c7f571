"""Optic disc: find its centre and radius; zones B and C around it.

The disc is the bright, round region where the large vessels converge.
Both cues are computed on a copy about 128 px wide, so finding the disc
takes milliseconds whatever the photo's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from ..errors import InvalidImageError, ShapeMismatchError

__all__ = [
    'DISC_DIAMETER_UM',
    'Disc',
    'MIN_TREE_FRACTION',
    'RIM_LEVEL',
    'as_disc',
    'disc_evidence',
    'find_disc',
    'zone_mask',
    'ZONES',
]

#: Disc diameter assumed when no pixel size is given (micrometres). A
#: typical adult optic disc is 1.5-2.0 mm across; 1.8 mm is the value
#: the Littmann/Bengtsson correction and SIVA/IVAN use as a mean.
DISC_DIAMETER_UM = 1800.0

#: Zones as (inner, outer) distances from the disc centre in disc radii:
#: B is 0.5-1 disc diameter from the disc margin, C 0.5-2 (Knudtson 2003;
#: Hubbard 1999): margin + 0.5 DD = 2 r, margin + 1 DD = 3 r, + 2 DD = 5 r.
ZONES = {'B': (2.0, 3.0), 'C': (2.0, 5.0)}

# Disc diameter as a fraction of the field-of-view diameter: 1/6.5 is
# the median over the DRIVE, CHASE_DB1, STARE and HRF photos (45 degree
# and 30-35 degree cameras give 1/7 to 1/6).
_DISC_PER_FOV = 1 / 6.5
_WORK_WIDTH = 128
#: Without a photo the disc is placed where the vessels converge, which
#: needs a vessel tree: at least this share of the field of view. Vessel
#: maps of whole fundus photos cover about a tenth of it; a few scattered
#: pixels or one short vessel converge nowhere. Chosen leave-one-camera-
#: out on thinned manual maps (``scripts/measures_loco.py tree``).
MIN_TREE_FRACTION = 0.03
# Weight of the vessel-convergence cue against brightness.
_VESSEL_WEIGHT = 1.0
#: Where the disc's margin lies on its ring profile: the fraction of the
#: way from the surround's brightness up to the centre's. The centre is
#: the pale cup, brighter than the pinker neuroretinal rim around it, so
#: half way (0.5) falls at the cup's edge, inside the rim that a drawn
#: outline includes (DRIVE-disc radii read 16 % short). Chosen
#: leave-one-camera-out by ``benchmarks/disc_radius_loco.py``
#: (docs/measures.md).
RIM_LEVEL = 0.30
#: Blur of the brightness whose ring profile gives the radius, in r0.
#: With the detection's r0 / 2, HRF-AV's radii read about 25 % wider
#: against the disc-fovea distance than DRIVE's and STARE's at any one
#: level (r0, a share of the field of view, is a larger share of HRF's
#: discs, so the margin is smeared further); at r0 / 4 the worst camera
#: left out is 17 % off instead of 26 % (benchmarks/disc_radius_loco.py).
RIM_BLUR = 0.25
# The radius is kept within this range of the prior r0 (a guard, not a
# fit). 1.8, not 1.4: r0 is 1/13 of the field of view, but a 30-35
# degree camera shows the disc 1.3-1.5 times larger against its field
# than a 45 degree one (and single discs vary by about 15 %): with 1.4
# r0 the radius sat at that limit for every level from 0.10 to 0.35 on
# 68 % of CHASE_DB1 and 42 % of STARE photos.
_RADIUS_RANGE = (0.7, 1.8)


@dataclass(frozen=True)
class Disc:
    """An optic disc in image pixels.

    Attributes
    ----------
    y, x : float
        Centre (row, column), full-resolution pixels.
    radius : float
        Radius in pixels.
    confidence : float
        In [0, 1]: how much the best place stands out from the next best
        one (1 for a disc the user placed).
    source : str
        ``'detected'`` or ``'given'``.
    """

    y: float
    x: float
    radius: float
    confidence: float = 1.0
    source: str = 'given'

    def distance(self, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
        """(H, W) float32 distance from the centre, in disc radii."""
        yy = (np.arange(shape[0], dtype=np.float32) - self.y) ** 2
        xx = (np.arange(shape[1], dtype=np.float32) - self.x) ** 2
        return np.sqrt(yy[:, None] + xx[None, :]) / np.float32(self.radius)


def as_disc(disc, shape: tuple[int, int] | None = None) -> Disc:
    """A :class:`Disc` from a Disc or a ``(y, x, radius)`` sequence.

    Raises
    ------
    InvalidImageError
        When the values are not three finite numbers with radius > 0.
    """
    if isinstance(disc, Disc):
        return disc
    try:
        y, x, r = (float(v) for v in disc)
    except (TypeError, ValueError):
        raise InvalidImageError(
            f'a disc is (y, x, radius) in pixels, got {disc!r}'
        ) from None
    if not (np.isfinite([y, x, r]).all() and r > 0):
        raise InvalidImageError(
            f'a disc needs finite y, x and a radius > 0, got {disc!r}'
        )
    return Disc(y, x, r, 1.0, 'given')


def _shrink(arr: np.ndarray, step: int) -> np.ndarray:
    """Block-average a 2D array by *step* (crop to a multiple)."""
    h, w = arr.shape[0] // step * step, arr.shape[1] // step * step
    a = arr[:h, :w].astype(np.float32)
    return a.reshape(h // step, step, w // step, step).mean(axis=(1, 3))


def prior_radius(fov: np.ndarray) -> float:
    """r0, the expected disc radius: 1/13 of the diameter of the field
    of view *fov* (its larger extent, robust to cut-off tops), in the
    pixels of *fov*."""
    ys, xs = np.nonzero(fov)
    diam = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    return float(0.5 * diam * _DISC_PER_FOV)


def _masked_blur(a: np.ndarray, w: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of *a* using only the pixels where *w* is 1."""
    num = ndi.gaussian_filter(a * w, sigma, truncate=3.0)
    den = ndi.gaussian_filter(w, sigma, truncate=3.0)
    return num / np.maximum(den, 1e-3)


def _zscore(a: np.ndarray, inside: np.ndarray) -> np.ndarray:
    v = a[inside]
    sd = float(v.std()) if v.size else 0.0
    return (a - float(v.mean())) / sd if sd > 0 else np.zeros_like(a)


def _profile_radius(
    bright: np.ndarray,
    fov: np.ndarray,
    iy: int,
    ix: int,
    r0: float,
    level: float | None = None,
) -> float:
    """Radius of the bright disc at (iy, ix) from its radial profile.

    The brightness is averaged over rings around the centre (inside the
    FOV) and the radius is where that mean first falls below *level*
    (:data:`RIM_LEVEL` when None) of the way from the surround (the ring
    at 2-3 r0, zone B's distance) up to the centre. Averaging over all
    directions keeps a bright patch that touches the disc on one side
    (peripapillary atrophy, a bright border of the field) from
    enlarging it as much as a connected blob does (a ring median
    resists it more but agrees less across cameras: see
    ``benchmarks/disc_radius_loco.py``). Kept within 0.7-1.8 *r0*.
    """
    yy, xx = np.nonzero(fov)
    d = np.hypot(yy - iy, xx - ix)
    near = d <= 3 * r0
    d, v = d[near], bright[yy[near], xx[near]]
    width = 0.5  # ring width, working pixels
    bins = (d / width).astype(int)
    count = np.bincount(bins)
    ring = np.bincount(bins, weights=v) / np.maximum(count, 1)
    centre = float(v[d <= max(1.0, 0.25 * r0)].mean())
    out = (d >= 2 * r0) & (d <= 3 * r0)
    surround = float(np.median(v[out])) if out.any() else float(v.min())
    frac = RIM_LEVEL if level is None else level
    level = surround + frac * (centre - surround)
    first = int(np.ceil(0.5 * r0 / width))  # past the centre's noise
    below = np.flatnonzero((ring[first:] < level) & (count[first:] > 0))
    if not below.size:
        return _RADIUS_RANGE[1] * r0
    # Linear interpolation between the ring centres either side of the
    # crossing: the radius falls between rings.
    j = first + int(below[0])
    radius = (j + 0.5) * width
    if j > 0 and count[j - 1] and ring[j - 1] > ring[j]:
        radius -= width * (level - ring[j]) / (ring[j - 1] - ring[j])
    lo, hi = _RADIUS_RANGE
    return float(np.clip(radius, lo * r0, hi * r0))


def disc_evidence(image, vessels, fov=None) -> str:
    """Why the disc cannot be found from these inputs ('' when it can).

    A photo is evidence (the disc is its bright round region); without
    one, the vessel map must hold a tree large enough to converge: at
    least :data:`MIN_TREE_FRACTION` of the field of view (the whole
    frame without one).
    """
    if image is not None:
        return ''
    if vessels is None:
        return 'no photo and no vessel map'
    v = np.asarray(vessels) > 0
    area = int(np.count_nonzero(fov)) if fov is not None else v.size
    n = int(np.count_nonzero(v if fov is None else v & np.asarray(fov)))
    if not n:
        return 'no photo and an empty vessel map'
    if n < MIN_TREE_FRACTION * area:
        return (
            f'no photo and {n} vessel pixel(s), {n / max(area, 1):.2%} of '
            f'the field of view (at least {MIN_TREE_FRACTION:.0%} needed): '
            'too little vessel tree to place the disc; give the photo or '
            'place the disc'
        )
    return ''


def find_disc(
    image: npt.ArrayLike | None = None,
    vessels: npt.ArrayLike | None = None,
    *,
    fov: npt.ArrayLike | None = None,
) -> Disc:
    """Find the optic disc from the photo, the vessel map or both.

    The score of a place is the local brightness (vessels filled in,
    background illumination removed) plus the density of thick vessels
    around it, both blurred at the disc's expected size, which is taken
    from the field of view (a disc is about 1/6.5 of its diameter). The
    radius is then where the brightness, averaged over rings around the
    best place, falls to :data:`RIM_LEVEL` of the way from the surround
    up to the centre (the outer edge of the pale rim), kept within
    0.7-1.8 times that prior.

    Parameters
    ----------
    image : array-like, optional
        (H, W, 3) RGB or (H, W) photo.
    vessels : array-like, optional
        (H, W) vessel map (nonzero = vessel).
    fov : array-like, optional
        (H, W) bool field of view; from the photo when omitted (or the
        whole frame when there is no photo).

    Returns
    -------
    Disc
        ``source='detected'``; ``confidence`` near 0 means the photo has
        no clear disc (check it by eye).

    Raises
    ------
    InvalidImageError
        When neither a photo nor a vessel map is given, or without a
        photo when the vessel map is too small a tree to converge (see
        :func:`disc_evidence`).
    ShapeMismatchError
        When the arrays have different heights and widths.
    """
    if image is None and vessels is None:
        raise InvalidImageError(
            'give a photo, a vessel map or both to find the optic disc'
        )
    shapes = {
        name: np.shape(a)[:2]
        for name, a in (
            ('photo', image),
            ('vessel map', vessels),
            ('FOV', fov),
        )
        if a is not None
    }
    if len(set(shapes.values())) > 1:
        raise ShapeMismatchError(
            'the photo, vessel map and FOV must have the same height and '
            f'width, got {shapes}'
        )
    shape = next(iter(shapes.values()))
    if len(shape) != 2 or min(shape) < 16:
        raise InvalidImageError(
            f'images must be at least 16 x 16 pixels, got {shape}'
        )
    reason = disc_evidence(image, vessels, fov)
    if reason:
        raise InvalidImageError(f'cannot find the optic disc: {reason}')
    # Both sides of the working copy keep at least 8 pixels (a thin strip
    # would otherwise shrink to nothing).
    step = max(1, min(int(round(shape[1] / _WORK_WIDTH)), min(shape[:2]) // 8))

    if fov is None and image is not None:
        from ..fov import fov_mask

        small_img = np.asarray(image)[::step, ::step]
        fov_s = fov_mask(small_img)
        hs = shape[0] // step
        ws = shape[1] // step
        fov_s = fov_s[:hs, :ws]
    elif fov is not None:
        fov_s = _shrink(np.asarray(fov, bool), step) > 0.5
    else:
        fov_s = np.ones((shape[0] // step, shape[1] // step), bool)
    if not fov_s.any():
        fov_s = np.ones_like(fov_s)
    r0 = prior_radius(fov_s)  # working pixels
    inside = ndi.binary_erosion(fov_s, iterations=max(1, int(r0 / 4)))
    if not inside.any():
        inside = fov_s

    score = np.zeros(fov_s.shape, np.float32)
    vmap = None
    if vessels is not None:
        vmap = _shrink(
            np.asarray(vessels)[
                : fov_s.shape[0] * step, : fov_s.shape[1] * step
            ]
            > 0,
            step,
        )
        if not vmap.any():
            vmap = None
    bright = None
    if image is not None:
        img = np.asarray(image)
        # Every step-th pixel: the cues are blurred at the disc's scale,
        # so sampling costs nothing in accuracy and saves converting a
        # full-resolution photo.
        img = img[::step, ::step]
        if img.ndim == 3:
            img = img[..., :3].astype(np.float32)
            # Red and green: the disc is bright in both, and the mean
            # keeps a saturated red channel from flattening it.
            g = 0.5 * (img[..., 0] + img[..., 1])
        else:
            g = img.astype(np.float32)
        g = g[: fov_s.shape[0], : fov_s.shape[1]]
        # Fill vessels (dark lines) with a grey closing so that the dark
        # trunks on the disc do not lower its brightness.
        g = ndi.grey_closing(g, size=(3, 3))
        w = fov_s.astype(np.float32)
        local = _masked_blur(g, w, max(1.0, r0 / 2))
        # The illumination background: a wide blur (4 r0 is most of the
        # frame), done on a copy 4x smaller and scaled back.
        small = _masked_blur(g[::4, ::4], w[::4, ::4], r0)
        background = ndi.zoom(
            small, 4, order=1, grid_mode=True, mode='nearest'
        )
        background = np.pad(
            background,
            [(0, max(0, n - m)) for n, m in zip(g.shape, background.shape)],
            mode='edge',
        )[: g.shape[0], : g.shape[1]]
        bright = local - background
        # The radius's profile: a lighter blur (RIM_BLUR r0), so that the
        # margin is not smeared by an amount tied to the prior r0, which
        # is a different share of the true disc on each camera.
        rim = _masked_blur(g, w, max(0.5, RIM_BLUR * r0)) - background
        score += _zscore(bright, inside)
    if vmap is not None:
        # Vessel fraction around each place: the wide trunks that meet
        # at the disc weigh most because they cover most pixels.
        dens = ndi.gaussian_filter(vmap, max(1.0, r0), truncate=3.0)
        score += _VESSEL_WEIGHT * _zscore(dens, inside)
    score = np.where(inside, score, -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    best = float(score[iy, ix])

    # Confidence: the margin of the best place over the best one at
    # least three disc radii away, on the z-score scale.
    yy, xx = np.ogrid[: score.shape[0], : score.shape[1]]
    far = (yy - iy) ** 2 + (xx - ix) ** 2 > (3 * r0) ** 2
    rest = score[far & inside]
    second = float(rest.max()) if rest.size else -np.inf
    margin = best - second if np.isfinite(second) else best
    confidence = float(np.clip(margin / 2.0, 0.0, 1.0))

    radius = r0
    if bright is not None:
        radius = _profile_radius(rim, fov_s, iy, ix, r0)
    half = (step - 1) / 2
    return Disc(
        y=iy * step + half,
        x=ix * step + half,
        radius=radius * step,
        confidence=round(confidence, 3),
        source='detected',
    )


def zone_mask(
    shape: tuple[int, int], disc: Disc, zone: str = 'B'
) -> npt.NDArray[np.bool_]:
    """(H, W) bool mask of measurement zone *zone* ('B' or 'C')."""
    try:
        inner, outer = ZONES[zone.upper()]
    except KeyError:
        raise InvalidImageError(
            f'unknown zone {zone!r}; choose B or C'
        ) from None
    d = disc.distance(shape)
    return (d >= inner) & (d <= outer)
