"""Automatic field-of-view (FOV) mask of a fundus photograph."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .errors import InvalidImageError

__all__ = ['fov_mask']

# Work on a copy no larger than this (longest side, pixels): the FOV is a
# smooth, large shape and the mask is scaled back with sub-pixel care.
# 384 rather than 512 halves the mask's time (a DRIVE photo: about 40 ms
# of CPU instead of 80) for a Dice with the datasets' own masks lower by
# at most 0.0007 (DRIVE 0.9975, STARE 0.9965, CHASE_DB1 0.9934, HRF
# 0.9989 on average); at 256 it would drop by up to 0.0024.
_WORK_SIZE = 384


def _brightness(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3:
        if img.shape[-1] == 4:
            img = img[..., :3]
        if img.shape[-1] != 3:
            raise InvalidImageError(
                f'expected an (H, W) or (H, W, 3) image, got {img.shape}'
            )
        # The red channel is bright inside the aperture on every camera we
        # know; the max over channels keeps red-free (green) photos too.
        # (Two elementwise maxima: ten times faster than a reduction over
        # the last, 3-long axis.)
        img = np.maximum(np.maximum(img[..., 0], img[..., 1]), img[..., 2])
    elif img.ndim != 2:
        raise InvalidImageError(
            f'expected an (H, W) or (H, W, 3) image, got {img.shape}'
        )
    img = img.astype(np.float32, copy=False)
    # NaN and inf reach max or min: a full isfinite pass only then.
    if not (np.isfinite(img.max()) and np.isfinite(img.min())):
        img = np.where(np.isfinite(img), img, 0).astype(np.float32)
    return img


def _erode(mask: np.ndarray, r: int, outside: bool = False) -> np.ndarray:
    """Binary erosion by the disc of radius *r* (the offsets with
    y**2 + x**2 <= r**2), pixels outside the image taking *outside*.

    The same result as ``ndimage.binary_erosion`` with that disc, made
    of horizontal runs: the disc is, for each row offset dy, a run of
    half-width floor(sqrt(r**2 - dy**2)); a pixel survives a run when
    the run holds no False pixel (counted with one cumulative sum per
    row), and survives the disc when it survives all its runs. About
    2r array operations instead of a pass of the disc's (2r + 1)**2
    offsets over every pixel.
    """
    h, w = mask.shape
    padded = np.pad(mask, r, constant_values=outside)
    # holes[y, x] = number of False pixels in padded[y, :x]
    holes = np.zeros((padded.shape[0], padded.shape[1] + 1), np.int32)
    np.cumsum(~padded, axis=1, out=holes[:, 1:])
    runs: dict[int, np.ndarray] = {}
    out = np.ones((h, w), bool)
    for dy in range(-r, r + 1):
        a = int(np.sqrt(r * r - dy * dy) + 1e-9)
        if a not in runs:
            # run of half-width a centred on column x + r of padded
            right = holes[:, r + a + 1 : r + a + 1 + w]
            runs[a] = right == holes[:, r - a : r - a + w]
        out &= runs[a][r + dy : r + dy + h]
    return out


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation by the same disc (outside the image False), as
    ``ndimage.binary_dilation``: the complement's erosion, the outside
    counting as True there."""
    return ~_erode(~mask, r, outside=True)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_fill_holes``: background regions (4-connected)
    that do not touch the image border become foreground. One labelling
    of the background instead of an iterated dilation: 1.5 ms instead of
    3.6 on the FOV's working copy."""
    from scipy import ndimage as ndi

    lab, n = ndi.label(~mask)
    if n == 0:
        return mask
    edge = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    outside = np.zeros(n + 1, bool)
    outside[edge] = True
    outside[0] = True  # label 0: the mask itself, kept below
    return mask | ~outside[lab]


def fov_mask(
    image: npt.ArrayLike, *, threshold: float | None = None
) -> npt.NDArray[np.bool_]:
    """Compute the field-of-view mask of a fundus photograph.

    The aperture of a fundus camera is a bright disc, possibly cut at the
    top and bottom, on a dark border. The mask is the largest bright
    connected region, with holes filled and a smooth outline. A photo with
    no dark border gets an all-True mask.

    Parameters
    ----------
    image : array-like
        (H, W, 3) RGB or (H, W) grayscale photograph, any dtype.
    threshold : float, optional
        Brightness threshold as a fraction of the robust maximum; chosen
        automatically when omitted.

    Returns
    -------
    numpy.ndarray
        (H, W) bool, True inside the field of view.
    """
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    from .preprocessing import resize

    bright = _brightness(image)
    h, w = bright.shape
    if h < 3 or w < 3:
        return np.ones((h, w), bool)
    scale = min(1.0, _WORK_SIZE / max(h, w))
    small = bright
    if scale < 1.0:
        # Pillow's bilinear reduce filters aliasing as it shrinks.
        small = resize(
            bright, (max(3, round(h * scale)), max(3, round(w * scale)))
        )
    small = ndi.gaussian_filter(small, 1.0)
    lo, hi = np.percentile(small, [1, 99.5])
    if hi - lo <= 1e-6 * max(abs(hi), 1.0):
        return np.ones((h, w), bool)
    norm = (small - lo) / (hi - lo)
    if threshold is None:
        # Otsu separates border from fundus; the dark fundus periphery sits
        # well above the border noise, so take a fraction of it.
        t = 0.5 * float(threshold_otsu(norm))
        t = min(max(t, 0.04), 0.25)
    else:
        t = float(threshold)
    fg = norm > t
    labels, n = ndi.label(fg)
    if n == 0:
        return np.ones((h, w), bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    fg = labels == int(sizes.argmax())
    fg = _fill_holes(fg)
    if not fg.all():
        # A photo without a dark border (a crop inside the aperture)
        # still splits into brighter and darker fundus; a real border is
        # far darker than the fundus it surrounds.
        base = min(0.0, float(small.min()))
        outside = float(np.median(small[~fg])) - base
        inside = float(np.median(small[fg])) - base
        if outside > 0.5 * inside:
            return np.ones((h, w), bool)
    # Smooth the outline: open removes glare streaks leaking into the
    # border, close removes notches from dark lesions at the rim.
    r = max(1, round(0.01 * max(fg.shape)))
    fg = _dilate(_erode(fg, r), r)
    fg = _erode(_dilate(fg, r), r) | fg
    if not fg.any():
        return np.ones((h, w), bool)
    if fg.all() or fg.mean() > 0.995:
        return np.ones((h, w), bool)
    if scale < 1.0:
        # Scale the mask back through a smooth field to avoid stair steps.
        soft = ndi.gaussian_filter(fg.astype(np.float32), 0.7)
        soft = resize(soft, (h, w))
        fg = soft > 0.5
    return np.ascontiguousarray(fg)
