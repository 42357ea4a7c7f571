"""Test-time contrast views for the artery/vein stage (#28).

An A/V network trained on a few cameras sees other cameras' photos
with a different local contrast. A *contrast view* gives the network a
second look at the photo after contrast-limited adaptive histogram
equalisation (CLAHE) of its CIE Lab lightness inside the field of view,
and the A/V logits of the photo and of that view are averaged. With the
default two flip views it costs no network time: the mirror view is
taken of the equalised photo instead of the photo itself (see
:func:`contrast_av_logits`); the equalisation itself costs about 0.1 s
per DRIVE-sized photo on one CPU core.

Chosen by leave-one-camera-out (``scripts/av_loco.py``,
docs/results.md): it lifts both held-out cameras and the harshest
colour-cast photos, leaves RITE test level, but costs a few tenths of a
point on clean photos of the training cameras when taken for every
photo (``contrast_view='clahe'``). The default, ``'auto'``, takes it
only for a photo unlike the A/V models' training photos: one whose
green contrast, detail or haze (:func:`photo_statistics`) lies more
than :data:`AUTO_THRESHOLD` standard deviations from the training
photos' mean (:data:`REFERENCE`), on either side. The statistics, the
two-sided distance and the threshold were chosen leave-one-source-out
(``scripts/av_auto_view.py``): the held-out cameras keep the view's
gain and clean photos of the training cameras lose nothing
measurable. The statistics cost about 0.03 s per DRIVE-sized photo
(0.03x the reference job, ``benchmarks/bench_contrast_view.py``).

Torch-free: numpy and scikit-image only.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    'AUTO_RULE',
    'AUTO_THRESHOLD',
    'CONTRAST_VIEWS',
    'CLAHE_CLIP',
    'DEFAULT_VIEW',
    'REFERENCE',
    'STATISTICS',
    'CLAHE_KERNEL',
    'check_contrast_view',
    'clahe_luminance',
    'contrast_av_logits',
    'distance',
    'equalised_view',
    'photo_statistics',
]

#: What the A/V stage averages: ``'none'`` (the photo's flip views),
#: ``'clahe'`` (the photo and its CLAHE-equalised mirror image) or
#: ``'auto'`` (the default: ``'clahe'`` for a photo unlike the training
#: photos, ``'none'`` for the others).
CONTRAST_VIEWS = ('none', 'clahe', 'auto')
DEFAULT_VIEW = 'auto'
#: The statistics ``'auto'`` reads, each on both sides (0) of
#: :data:`REFERENCE` (see :func:`distance`), and its threshold in
#: reference standard deviations (``scripts/av_auto_view.py``).
AUTO_RULE = {'contrast': 0, 'detail': 0, 'haze': 0}
AUTO_THRESHOLD = 2.25
#: Mean and standard deviation of :func:`photo_statistics` over the
#: training photos of the shipped A/V models (RITE training and HRF-AV,
#: validation photos RITE 39, 40 and HRF-AV 08_g, 08_h excluded), at
#: the canonical scale: ``python scripts/av_auto_view.py --reference``.
REFERENCE = {
    'contrast': (0.2339, 0.0799),
    'detail': (0.0501, 0.0112),
    'haze': (0.2348, 0.0909),
    'log_red_green': (0.9220, 0.3035),
    'log_green_blue': (0.5922, 0.1588),
}
#: CLAHE tile side (pixels at the canonical scale, about a tenth of the
#: FOV diameter) and clip limit (scikit-image's units).
CLAHE_KERNEL = 64
CLAHE_CLIP = 0.01


def check_contrast_view(value: object) -> str:
    """*value* as one of :data:`CONTRAST_VIEWS` (None: ``'none'``).

    Raises
    ------
    InvalidOptionError
        For any other value.
    """
    if value is None or value is False:
        return 'none'
    from ._choices import one_of

    return one_of('contrast_view', value, CONTRAST_VIEWS)


def clahe_luminance(
    rgb: npt.NDArray[np.float32], fov: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float32]:
    """The (H, W, 3) photo with the CIE Lab lightness equalised by CLAHE
    (tiles of :data:`CLAHE_KERNEL` pixels, clip limit
    :data:`CLAHE_CLIP`) inside the FOV; a and b are kept, and the
    result is 0 outside the FOV."""
    import warnings

    from skimage.color import lab2rgb, rgb2lab
    from skimage.exposure import equalize_adapthist

    fov = np.asarray(fov, bool)
    lab = rgb2lab(np.clip(np.asarray(rgb, np.float32), 0, 1))
    eq = equalize_adapthist(
        lab[..., 0] / 100, kernel_size=CLAHE_KERNEL, clip_limit=CLAHE_CLIP
    )
    lab[..., 0] = np.where(fov, eq * 100, lab[..., 0])
    with warnings.catch_warnings():
        # Out-of-gamut colours are clipped, as they should be.
        warnings.simplefilter('ignore', UserWarning)
        out = lab2rgb(lab)
    return (out * fov[..., None]).astype(np.float32)


def contrast_av_logits(
    nets: Any, batch: list, xs: list[np.ndarray], log: Any
) -> Generator[Any, None, list[np.ndarray]]:
    """The engine's A/V logits when the contrast view is on
    (``'clahe'``, or ``'auto'`` for the photos it chose).

    A photo whose ``contrast`` (a future of :func:`equalised_view`
    made while the vessel network ran) holds an equalised photo gets
    the mean of the logits of its A/V input *xs* and of the mirror
    image of the equalised version, each with half the stage's flip
    views: with the default two, the network time of the usual
    photo-and-mirror pair. A photo without one (``'auto'`` found it
    like the training photos) gets the stage's usual flip views, as
    with ``'none'``. *nets* is the engine's loaded networks.
    """
    from .preprocessing import normalise_input

    eq = [
        p.contrast.result() if p.contrast is not None else None for p in batch
    ]
    for p in batch:
        p.contrast = None
    out: list = [None] * len(batch)
    usual = [i for i, e in enumerate(eq) if e is None]
    if usual:
        lg = yield from nets.predict(
            'artery/vein', [xs[i] for i in usual], log
        )
        for i, a in zip(usual, lg):
            out[i] = a
    chosen = [i for i, e in enumerate(eq) if e is not None]
    if not chosen:
        return out
    views = max(1, nets.options.av_views // 2)
    mode = nets.av_info['input']
    plain = yield from nets.predict(
        'artery/vein', [xs[i] for i in chosen], log, views
    )
    mirrored = []
    for i in chosen:
        p = batch[i]
        x = normalise_input(eq[i], p.fov_s, mode)
        x = np.concatenate([x, p.prob_s[None]], 0)[..., ::-1]
        mirrored.append(np.ascontiguousarray(x, np.float32))
    seen = yield from nets.predict('artery/vein', mirrored, log, views)
    for i, a, b in zip(chosen, plain, seen):
        out[i] = (a + b[..., ::-1]) / 2
    return out


def distance(
    stats: dict[str, float],
    reference: dict[str, tuple[float, float]] | None = None,
    rule: dict[str, int] | None = None,
) -> float:
    """How far the photo's *stats* lie from the training photos': the
    largest ``|stat - mean| / sd`` over the *rule*'s statistics
    (default :data:`AUTO_RULE`, against :data:`REFERENCE`); a rule's
    side +1 counts only values above the mean, -1 only below, 0 both.
    """
    reference = REFERENCE if reference is None else reference
    rule = AUTO_RULE if rule is None else rule
    out = 0.0
    for name, side in rule.items():
        mean, sd = reference[name]
        z = (stats[name] - mean) / max(sd, 1e-6)
        z = abs(z) if side == 0 else max(0.0, side * z)
        out = max(out, z)
    return out


def equalised_view(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    view: str,
) -> npt.NDArray[np.float32] | None:
    """The equalised photo (:func:`clahe_luminance`) the A/V stage
    takes for contrast view *view*, or None when it takes none: always
    for ``'clahe'``, never for ``'none'``, and for ``'auto'`` when the
    photo's :func:`distance` exceeds :data:`AUTO_THRESHOLD`."""
    if view == 'none':
        return None
    if view == 'auto' and (
        distance(photo_statistics(rgb, fov)) <= AUTO_THRESHOLD
    ):
        return None
    return clahe_luminance(rgb, fov)


#: Names of :func:`photo_statistics`, in order.
STATISTICS = (
    'contrast',
    'detail',
    'haze',
    'log_red_green',
    'log_green_blue',
)


def photo_statistics(
    rgb: npt.NDArray[np.float32], fov: npt.NDArray[np.bool_]
) -> dict[str, float]:
    """Cheap statistics of the (H, W, 3) photo's field of view, at the
    canonical scale: what the ``'auto'`` contrast view decides on.

    ``contrast``: the green channel's spread over its mean; ``detail``:
    the mean deviation of the green channel from its smooth background
    (sigma 8 px), relative to it: vessels and texture, with exposure and
    vignetting divided out; ``haze``: the darkest channel's mean over the
    brightest's; ``log_red_green`` and ``log_green_blue``: the colour.
    """
    from scipy import ndimage as ndi

    fov = np.asarray(fov, bool)
    x = np.asarray(rgb, np.float32)
    inner = ndi.binary_erosion(fov, iterations=8)
    if inner.sum() < 100:
        inner = fov
    if inner.sum() < 100:
        return dict.fromkeys(STATISTICS, 0.0)
    eps = 1e-3
    r, g, b = (x[..., c][inner] for c in range(3))
    gm = float(g.mean())
    green = np.where(fov, x[..., 1], gm).astype(np.float32)
    back = ndi.gaussian_filter(green, 8.0, truncate=3.0)
    dev = np.abs(green / np.maximum(back, 0.02) - 1)[inner]
    bright = np.maximum(np.maximum(r, g), b)
    dark = np.minimum(np.minimum(r, g), b)
    return {
        'contrast': float(g.std() / max(gm, 0.02)),
        'detail': float(dev.mean()),
        'haze': float(dark.mean() / max(float(bright.mean()), eps)),
        'log_red_green': float(np.log((r.mean() + eps) / (gm + eps))),
        'log_green_blue': float(np.log((gm + eps) / (b.mean() + eps))),
    }
