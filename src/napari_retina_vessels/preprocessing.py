"""Colour and contrast normalisation, and the canonical resolution.

What every model shares, at training and at inference: a photo becomes a
float RGB image in [0, 1], is resized so that its field of view has the
canonical diameter, and is standardised per channel inside the FOV,
either globally (``'global'``: mean and standard deviation of the whole
FOV) or after removing its smooth background (``'local'``: see
:func:`local_standardise`). Each weights file records which one its
network was trained with.
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

from .errors import InvalidImageError

__all__ = [
    'CANONICAL_DIAMETER',
    'MIN_SIZE',
    'MIN_FOV_FRACTION',
    'as_rgb_float',
    'canonical_scale',
    'scaled_shape',
    'resize',
    'standardise',
    'local_standardise',
    'gaussian_blur',
    'normalise_input',
    'INPUT_MODES',
    'LOCAL_SIGMA',
]

#: FOV diameter (pixels) every photo is scaled to before a model sees it:
#: DRIVE's own (~540 px), so a 565 x 584 DRIVE photo is used as it is and a
#: 3504 x 2336 photo is reduced about sixfold.
CANONICAL_DIAMETER = 540

#: Input normalisations a network can be trained with.
INPUT_MODES = ('global', 'local')

#: Width (Gaussian sigma, pixels at the canonical scale) of the background
#: that ``'local'`` normalisation subtracts: about a thirtieth of the FOV
#: diameter, several times the widest vessel.
LOCAL_SIGMA = 16.0

#: Smallest side, in pixels, of a photo worth segmenting.
MIN_SIZE = 32

#: Smallest FOV diameter, as a fraction of the image's longer side, that
#: the canonical scale believes: it bounds the zoom of a photo whose
#: detected FOV is tiny (a bright patch on a black frame).
MIN_FOV_FRACTION = 0.25


def as_rgb_float(image: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Convert a photo of any common kind to (H, W, 3) float32 in [0, 1].

    Accepts (H, W) grayscale, (H, W, 3) RGB and (H, W, 4) RGBA (alpha is
    dropped) in uint8, uint16, other integer, bool or float dtypes.

    Raises
    ------
    InvalidImageError
        For other shapes, NaN or infinite values, or images smaller than
        ``MIN_SIZE`` pixels on a side.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] == 3)):
        raise InvalidImageError(
            f'expected a (H, W) grayscale or (H, W, 3) RGB photograph, got '
            f'an array of shape {img.shape}'
        )
    if min(img.shape[:2]) < MIN_SIZE:
        raise InvalidImageError(
            f'the image is {img.shape[1]} x {img.shape[0]} pixels; at least '
            f'{MIN_SIZE} x {MIN_SIZE} is needed to segment vessels'
        )
    if img.dtype == np.bool_:
        out = img.astype(np.float32)
    elif img.dtype == np.uint8:
        # The common case, in one pass: the same values as the general
        # integer branch below (x / 255, rounded once in float32).
        out = np.divide(img, np.float32(255), dtype=np.float32)
        if out.ndim == 2:
            out = np.repeat(out[..., None], 3, axis=-1)
        return out
    elif np.issubdtype(img.dtype, np.integer):
        lo_q, hi_q = robust_range(img)
        hi = float(img.max())
        top = float(np.iinfo(img.dtype).max)
        # 10/12-bit data often sits in 16-bit containers: use the smallest
        # power-of-two range that holds the data, judged by a high
        # percentile, not the maximum (one hot pixel must not darken the
        # photo 16-fold; what lies above the range is clipped).
        if img.dtype.itemsize > 1 and hi > 0:
            top = float(2 ** int(np.ceil(np.log2(max(hi_q, 1.0) + 1))) - 1)
        lo = min(0.0, lo_q)
        out = (img.astype(np.float32) - lo) / max(top - lo, 1.0)
    elif np.issubdtype(img.dtype, np.floating):
        if not np.isfinite(img).all():
            raise InvalidImageError(
                'the image contains NaN or infinite values; replace them '
                '(e.g. numpy.nan_to_num) before segmenting'
            )
        lo, hi = float(img.min()), float(img.max())
        if lo < 0.0 or hi > 1.0:
            # Robust ends: a few stray values (a hot pixel) must not set
            # the scale of the whole photo; they are clipped.
            lo, hi = robust_range(img)
            # Scale into [-1, 1] first: with values near the float
            # maximum, hi - lo overflows to inf and the photo to NaN.
            big = max(abs(lo), abs(hi), 1e-30)
            out = (np.clip(img, lo, hi) / big).astype(np.float32)
            lo, hi = lo / big, hi / big
            out = (out - np.float32(lo)) / np.float32(max(hi - lo, 1e-12))
        else:
            out = img.astype(np.float32)
    else:
        raise InvalidImageError(
            f'images of dtype {img.dtype} are not supported; use an integer '
            'or floating-point array'
        )
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=-1)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0, dtype=np.float32))


#: Share of pixels at each end that :func:`robust_range` ignores: a
#: hundredth of a percent (33 pixels of a DRIVE photo), so stray hot or
#: dead pixels do not set the scale, while the optic disc (about 2 % of
#: the field of view) still does.
ROBUST_SHARE = 1e-4


def robust_range(img: npt.NDArray) -> tuple[float, float]:
    """The values below which and above which :data:`ROBUST_SHARE` of
    the pixels lie (on at most about a million pixels: a regular
    subsample of larger photos)."""
    flat = np.asarray(img).reshape(-1)
    step = max(1, flat.size // 1_000_000)
    sample = flat[::step]
    if sample.size == 0:
        return 0.0, 0.0
    k = int(sample.size * ROBUST_SHARE)
    if k == 0:
        return float(sample.min()), float(sample.max())
    part = np.partition(sample, (k, sample.size - 1 - k))
    return float(part[k]), float(part[sample.size - 1 - k])


def canonical_scale(fov: npt.NDArray[np.bool_]) -> float:
    """Return the zoom that gives *fov* the canonical diameter.

    The diameter is the larger extent of the FOV's bounding box, which is
    right for full discs and for discs cut at the top and bottom. Zooms
    within 3 % of 1 are rounded to 1 so that DRIVE-sized photos are used
    unchanged. A diameter below :data:`MIN_FOV_FRACTION` of the image's
    longer side counts as that fraction, so the scaled image is never
    more than ``CANONICAL_DIAMETER / MIN_FOV_FRACTION`` pixels long
    (a one-pixel FOV would otherwise ask for an unbounded zoom; the
    quality gate grades such a FOV).
    """
    fov = np.asarray(fov, bool)
    rows = np.flatnonzero(fov.any(axis=1))
    cols = np.flatnonzero(fov.any(axis=0))
    if rows.size == 0:
        diameter = max(fov.shape)
    else:
        diameter = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    diameter = max(diameter, MIN_FOV_FRACTION * max(fov.shape), 1)
    scale = CANONICAL_DIAMETER / float(diameter)
    return 1.0 if abs(scale - 1.0) < 0.03 else scale


def scaled_shape(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """Return ``shape[:2]`` multiplied by *scale*, at least 1 pixel."""
    return (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))


def resize(
    array: npt.ArrayLike, shape: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """Resize a float image to *shape* (rows, cols), bilinear.

    Down-scaling filters out aliasing: along an axis that shrinks, the
    triangle filter widens with the scale (Pillow's bilinear reduce);
    along an axis that grows it is plain bilinear interpolation with
    pixel centres at half pixels. Works on (H, W) and (H, W, C) arrays;
    returns float32.

    Where PyTorch is already loaded (segmentation, training) PyTorch
    does it: all channels in one pass, on its threads, without the byte
    copies of Pillow's array conversions (a 3504 x 2336 photo's RGB
    reduction: 57 ms instead of 180). Elsewhere (the quality gate, which
    stays free of PyTorch) Pillow does. The two give the same values to
    float rounding (a few 1e-7 relative; tests/test_preprocessing.py).
    """
    arr = np.asarray(array, dtype=np.float32)
    shape = (int(shape[0]), int(shape[1]))
    if arr.shape[:2] == shape:
        return arr.copy()
    if arr.ndim not in (2, 3):
        raise ValueError(f'expected an (H, W[, C]) array, got {arr.shape}')
    torch = sys.modules.get('torch')
    if torch is None:
        return _resize_pillow(arr, shape)
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(arr))
    # (1, C, H, W) view of the (H, W, C) memory: channels-last, no copy.
    t = t[None, None] if arr.ndim == 2 else t.permute(2, 0, 1)[None]
    shrinks = shape[0] < arr.shape[0] or shape[1] < arr.shape[1]
    out = F.interpolate(
        t, size=shape, mode='bilinear', align_corners=False, antialias=shrinks
    )
    out = out[0, 0] if arr.ndim == 2 else out[0].permute(1, 2, 0)
    return out.contiguous().numpy()


def _resize_pillow(
    arr: npt.NDArray[np.float32], shape: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """:func:`resize` by Pillow, channel by channel."""
    from PIL import Image

    size = (shape[1], shape[0])

    def one(a: np.ndarray) -> np.ndarray:
        img = Image.fromarray(np.ascontiguousarray(a), mode='F')
        return np.asarray(img.resize(size, Image.BILINEAR))

    if arr.ndim == 2:
        return one(arr)
    return np.stack([one(arr[..., c]) for c in range(arr.shape[-1])], -1)


def standardise(
    rgb: npt.NDArray[np.float32], fov: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float32]:
    """Standardise each channel inside the FOV; zero outside.

    Parameters
    ----------
    rgb : (H, W, 3) float32
    fov : (H, W) bool

    Returns
    -------
    numpy.ndarray
        (3, H, W) float32, mean 0 and standard deviation 1 per channel
        inside the FOV, 0 outside.
    """
    # One contiguous (3, H, W) copy, worked on in place channel by channel.
    x = np.ascontiguousarray(np.moveaxis(np.asarray(rgb, np.float32), -1, 0))
    fov = np.asarray(fov, bool)
    any_inside = bool(fov.any())
    for ch in x:
        inside = ch[fov] if any_inside else ch.ravel()
        mean = inside.mean()
        std = inside.std()
        # A flat channel (e.g. all-black red channel) stays zero, not inf.
        ch -= mean
        ch /= std if std > 1e-4 else 1.0
    x *= fov[None]
    return np.clip(x, -8, 8, out=x)


def local_standardise(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    sigma: float = LOCAL_SIGMA,
) -> npt.NDArray[np.float32]:
    """Subtract the smooth background, then standardise inside the FOV.

    Uneven illumination and vignetting go with the background, and the
    division by the standard deviation of what remains (vessels, texture,
    noise) evens out contrast between cameras, rather than dividing by a
    spread that the brightness of the optic disc and the dark rim dominate.

    Parameters
    ----------
    rgb : (H, W, 3) float32
    fov : (H, W) bool
    sigma : float
        Background width in pixels.

    Returns
    -------
    numpy.ndarray
        (3, H, W) float32, 0 outside the FOV.
    """
    import torch

    x = torch.from_numpy(
        np.ascontiguousarray(np.moveaxis(np.asarray(rgb, np.float32), -1, 0))
    )[None]
    m = torch.from_numpy(np.asarray(fov, bool))[None, None]
    return local_contrast(x, m, sigma)[0].numpy()


def local_contrast(x, m, sigma: float = LOCAL_SIGMA):
    """Torch version of :func:`local_standardise` on a batch.

    *x* is (N, C, H, W) float, *m* an (N, 1, H, W) FOV mask. Training
    applies it to augmented crops, inference to whole photos.
    """
    import torch
    import torch.nn.functional as F

    m = m.to(x.dtype)
    h, w = x.shape[-2:]
    # The background is smooth: estimate it on a 4x coarser grid. A
    # normalised convolution (blur of masked values over blur of the mask)
    # keeps the dark outside of the FOV out of the estimate at its rim.
    f = 4 if min(h, w) >= 32 else 1
    xm = F.avg_pool2d(x * m, f, ceil_mode=True)
    mm = F.avg_pool2d(m, f, ceil_mode=True)
    s = sigma / f
    r = max(1, int(3 * s))
    bg = gaussian_blur(xm, s, r) / gaussian_blur(mm, s, r).clamp_min(1e-3)
    if f > 1:
        bg = F.interpolate(
            bg, size=(h, w), mode='bilinear', align_corners=False
        )
    # Written with as few passes over the photo as the arithmetic allows
    # (in place where a map is not needed again); m is 0 or 1, so
    # ((hp - mean) * m) / std equals ((hp - mean) / std) * m.
    hp = x - bg
    hp *= m
    cnt = m.sum(dim=(2, 3), keepdim=True)
    cnt_ok = cnt > 0
    cnt = cnt.clamp_min(1)
    mean = hp.sum(dim=(2, 3), keepdim=True) / cnt
    d = hp.sub_(mean).mul_(m)
    var = (d * d).sum(dim=(2, 3), keepdim=True) / cnt
    std = var.sqrt()
    # A flat channel (an all-black red channel) stays zero, not inf.
    std = torch.where((std > 1e-4) & cnt_ok, std, torch.ones_like(std))
    return d.div_(std).clamp_(-8, 8).contiguous()


def gaussian_blur(t, sigma: float, radius: int):
    """Separable Gaussian blur of an (N, C, H, W) tensor, channel by
    channel, zero outside, kernel cut at *radius* pixels."""
    import torch
    import torch.nn.functional as F

    k = torch.exp(
        -(torch.arange(-radius, radius + 1, dtype=t.dtype) ** 2)
        / (2 * sigma * sigma)
    )
    k = k / k.sum()
    ch = t.shape[1]
    t = F.conv2d(
        t,
        k.view(1, 1, 1, -1).expand(ch, 1, 1, -1),
        padding=(0, radius),
        groups=ch,
    )
    return F.conv2d(
        t,
        k.view(1, 1, -1, 1).expand(ch, 1, -1, 1),
        padding=(radius, 0),
        groups=ch,
    )


def normalise_input(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    mode: str = 'global',
) -> npt.NDArray[np.float32]:
    """The network input of *rgb*: :func:`standardise` (``'global'``) or
    :func:`local_standardise` (``'local'``)."""
    if mode == 'global':
        return standardise(rgb, fov)
    if mode == 'local':
        return local_standardise(rgb, fov)
    raise ValueError(
        f'unknown input normalisation {mode!r}; choose from '
        f'{", ".join(INPUT_MODES)}'
    )
