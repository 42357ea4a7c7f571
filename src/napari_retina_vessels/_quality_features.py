"""The image features the learned quality gate reads (torch-free, cheap).

Taken on a copy of the photo whose field of view is at most
:data:`WORK_DIAMETER` pixels across, and never more than the photo's own
resolution (a thumbnail is judged at its own scale, not blurred by an
enlargement). Each feature is one float; :data:`FEATURES` names them in
the order the model file expects, and :data:`GROUPS` says which readable
reason each belongs to.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ['WORK_DIAMETER', 'FEATURES', 'GROUPS', 'features', 'diameter']

#: FOV diameter (pixels) of the copy the features are taken on.
WORK_DIAMETER = 256

#: Feature names, in model order.
FEATURES = (
    'fov_found',
    'fov_fraction',
    'fov_roundness',
    'fov_fill',
    'brightness',
    'bright_p05',
    'bright_p95',
    'dark_fraction',
    'saturated_fraction',
    'contrast',
    'sharpness',
    'fine_energy',
    'vessel_energy',
    'vessel_peak',
    'ridge_asymmetry',
    'orientation_coherence',
    'haze',
    'illumination',
    'noise',
    'log_red_green',
    'log_green_blue',
    'chroma',
    'gray_difference',
)

#: Readable reason -> the features that speak for it.
GROUPS = {
    'blurred or out of focus': ('sharpness', 'fine_energy'),
    'vessels barely visible (haze, cataract or blur)': (
        'vessel_energy',
        'vessel_peak',
        'ridge_asymmetry',
        'orientation_coherence',
    ),
    'hazy or low contrast': ('haze', 'contrast'),
    'under-exposed': ('brightness', 'bright_p05', 'dark_fraction'),
    'over-exposed': ('bright_p95', 'saturated_fraction'),
    'uneven illumination': ('illumination',),
    'noisy or heavily compressed': ('noise',),
    'unusual colours for a retina': (
        'log_red_green',
        'log_green_blue',
        'chroma',
        'gray_difference',
    ),
    'the field of view is small or not a camera aperture': (
        'fov_found',
        'fov_fraction',
        'fov_roundness',
        'fov_fill',
    ),
}


def diameter(fov: np.ndarray) -> int:
    """The larger extent of the FOV's bounding box (0 when empty)."""
    rows = np.flatnonzero(fov.any(axis=1))
    cols = np.flatnonzero(fov.any(axis=0))
    if rows.size == 0:
        return 0
    return int(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))


def _block_mean(arr: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k x k block, float32 (k * k strided slices: several
    times faster than a mean over the axes of a reshaped array)."""
    if k <= 1:
        return np.asarray(arr, np.float32)
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


def _roundness(m: np.ndarray) -> float:
    """Overlap of a FOV mask with the disc of its width, cut at its
    bounding box (1 for a round camera aperture)."""
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    if rows.size < 3 or cols.size < 3:
        return 0.0
    r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
    box = m[r0 : r1 + 1, c0 : c1 + 1]
    yy, xx = np.ogrid[r0 : r1 + 1, c0 : c1 + 1]
    radius = max(r1 - r0, c1 - c0) / 2 + 0.5
    disc = (yy - (r0 + r1) / 2) ** 2 + (xx - (c0 + c1) / 2) ** 2 <= radius**2
    union = (box | disc).sum()
    return float((box & disc).sum() / union) if union else 0.0


def features(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    source_diameter: float | None = None,
) -> dict[str, float]:
    """The gate's features of one photo.

    Parameters
    ----------
    rgb : (H, W, 3) float32 in [0, 1]
        The photo (any scale, usually the canonical copy).
    fov : (H, W) bool
        Its field-of-view mask.
    source_diameter : float, optional
        FOV diameter of the photo as it was given, in its own pixels
        (when *rgb* is an enlargement of a smaller photo, the features
        are taken at that smaller scale).

    Returns
    -------
    dict of str to float
        Every name of :data:`FEATURES`.
    """
    fov = np.asarray(fov, bool)
    h, w = fov.shape
    d = diameter(fov)
    small, m = working_copy(rgb, fov, source_diameter)
    return small_features(small, m, not fov.all(), d / max(h, w, 1))


def working_copy(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    source_diameter: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The copy the features are taken on: ``(small, mask)``, block
    means with the FOV at most :data:`WORK_DIAMETER` pixels across and
    never finer than the photo as given."""
    d = diameter(fov)
    target = WORK_DIAMETER
    if source_diameter is not None and d:
        target = min(target, max(32.0, float(source_diameter)))
    k = max(1, int(round(d / target))) if d else 1
    small = _block_mean(np.asarray(rgb, np.float32), k)
    m = _block_mean(np.asarray(fov, np.float32), k) > 0.5
    return small, m


def small_features(
    small: np.ndarray, m: np.ndarray, fov_found: bool, fov_fraction: float
) -> dict[str, float]:
    """:func:`features` of the working copy (see :func:`working_copy`)."""
    out: dict[str, float] = {
        'fov_found': float(fov_found),
        'fov_fraction': float(fov_fraction),
    }
    out['fov_roundness'] = _roundness(m) if out['fov_found'] else 1.0
    md = diameter(m)
    out['fov_fill'] = float(m.sum() / max(md * md, 1))
    # Measures stay off the rim, where the aperture edge is the sharpest
    # and darkest thing in the photo.
    from scipy import ndimage as ndi

    inner = ndi.binary_erosion(m, iterations=3) if m.sum() > 400 else m
    if not inner.any():
        inner = m if m.any() else np.ones(m.shape, bool)
    r, g_px, b = (small[..., c][inner] for c in range(3))
    bright = np.maximum(np.maximum(r, g_px), b)
    darkest = np.minimum(np.minimum(r, g_px), b)
    eps = 1e-3
    p05, p95 = np.percentile(bright, (5, 95))
    rm, gm, bm = float(r.mean()), float(g_px.mean()), float(b.mean())
    out.update(
        brightness=float(bright.mean()),
        bright_p05=float(p05),
        bright_p95=float(p95),
        dark_fraction=float((bright < 0.03).mean()),
        saturated_fraction=float(
            ((r + g_px + b) - bright - darkest > 0.97).mean()
        ),
        contrast=float(g_px.std() / max(gm, 0.02)),
        haze=float(darkest.mean() / max(float(bright.mean()), eps)),
        log_red_green=float(np.log((rm + eps) / (gm + eps))),
        log_green_blue=float(np.log((gm + eps) / (bm + eps))),
        chroma=float(((bright - darkest) / (bright + eps)).mean()),
        gray_difference=float(
            np.abs(r - g_px).mean() + np.abs(g_px - b).mean()
        ),
    )
    # The green channel (where vessels show best) over its smooth
    # background: illumination, vignetting and exposure divide out,
    # vessels and texture stay.
    g = small[..., 1]
    mf = m.astype(np.float32)
    g_in = np.where(m, g, gm).astype(np.float32)
    back = _blur(g_in, 8.0)
    norm = g_in / np.maximum(back, 0.02)
    b1 = _blur(norm, 1.0)
    b4 = _blur(norm, 4.0)
    fine = norm - b1
    coarse = norm - b4
    sc = float(coarse[inner].std())
    out['sharpness'] = float(fine[inner].std() / sc) if sc > 1e-6 else 0.0
    out['fine_energy'] = float(np.abs(fine[inner]).mean())
    # Vessels: dark lines a few pixels wide on the normalised green.
    valley = b4 - b1  # > 0 where darker than the surroundings
    v = valley[inner]
    pos = np.clip(v, 0, None)
    neg = np.clip(-v, 0, None)
    out['vessel_energy'] = float(pos.mean())
    out['vessel_peak'] = float(np.percentile(pos, 99))
    out['ridge_asymmetry'] = float(
        np.log((pos.mean() + 1e-5) / (neg.mean() + 1e-5))
    )
    # Vessels are long: their gradients line up over a neighbourhood.
    gy, gx = np.gradient(b1)
    jxx, jyy, jxy = (_blur(a, 3.0) for a in (gx * gx, gy * gy, gx * gy))
    tr = jxx + jyy
    coh = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / np.maximum(tr, 1e-9)
    wgt = tr[inner]
    out['orientation_coherence'] = float(
        (coh[inner] * wgt).sum() / max(float(wgt.sum()), 1e-9)
    )
    # Uneven illumination: spread of the smooth background.
    bb = _blur(np.where(m, bright_map(small), 0).astype(np.float32), 16.0)
    nb = _blur(mf, 16.0)
    smooth = (bb / np.maximum(nb, 1e-3))[inner]
    out['illumination'] = float(smooth.std() / max(smooth.mean(), eps))
    # Noise: the finest detail (pixel to pixel) the eye sees as grain.
    lap = g_in[1:-1, 1:-1] * 4 - (
        g_in[:-2, 1:-1] + g_in[2:, 1:-1] + g_in[1:-1, :-2] + g_in[1:-1, 2:]
    )
    inner_c = inner[1:-1, 1:-1]
    out['noise'] = float(
        np.median(np.abs(lap[inner_c])) / max(gm, 0.02)
        if inner_c.any()
        else 0.0
    )
    return out


def bright_map(small: np.ndarray) -> np.ndarray:
    """The brightest channel of an (H, W, 3) array."""
    return np.maximum(np.maximum(small[..., 0], small[..., 1]), small[..., 2])


def vector(feats: dict[str, float]) -> np.ndarray:
    """The features in model order, float64."""
    return np.array([feats[n] for n in FEATURES], np.float64)


def canonical_copy(
    image: npt.ArrayLike, fov: npt.ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """The canonical copy ``segment`` grades: ``(rgb_s, fov_s,
    source_diameter)``, the last the FOV diameter in the photo's own
    pixels."""
    from .fov import fov_mask
    from .preprocessing import (
        as_rgb_float,
        canonical_scale,
        resize,
        scaled_shape,
    )

    rgb = as_rgb_float(image)
    mask = fov_mask(rgb) if fov is None else np.asarray(fov, bool)
    shape = scaled_shape(rgb.shape, canonical_scale(mask))
    rgb_s = resize(rgb, shape)
    fov_s = resize(mask.astype(np.float32), shape) > 0.5
    return rgb_s, fov_s, diameter(mask)
