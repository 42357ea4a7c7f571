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
point on clean photos of the training cameras and the equalisation's
time (the network passes are the same), so it is an option
(``contrast_view='clahe'``), off by default.

Torch-free: numpy and scikit-image only.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    'CONTRAST_VIEWS',
    'CLAHE_CLIP',
    'CLAHE_KERNEL',
    'check_contrast_view',
    'clahe_luminance',
    'contrast_av_logits',
]

#: What the A/V stage averages: ``'none'`` (the photo's flip views, the
#: default) or ``'clahe'`` (the photo and its CLAHE-equalised mirror
#: image).
CONTRAST_VIEWS = ('none', 'clahe')
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
    """The engine's A/V logits for ``contrast_view='clahe'``.

    The mean of the logits of the photos' A/V inputs *xs* and of the
    mirror images of their equalised versions (each photo's
    ``contrast``, a future of :func:`clahe_luminance` made while the
    vessel network ran), each with half the stage's flip views: with
    the default two, the network time of the usual photo-and-mirror
    pair. *nets* is the engine's loaded networks.
    """
    from .preprocessing import normalise_input

    views = max(1, nets.options.av_views // 2)
    mode = nets.av_info['input']
    plain = yield from nets.predict('artery/vein', xs, log, views)
    mirrored = []
    for p in batch:
        x = normalise_input(p.contrast.result(), p.fov_s, mode)
        p.contrast = None
        x = np.concatenate([x, p.prob_s[None]], 0)[..., ::-1]
        mirrored.append(np.ascontiguousarray(x, np.float32))
    seen = yield from nets.predict('artery/vein', mirrored, log, views)
    return [(a + b[..., ::-1]) / 2 for a, b in zip(plain, seen)]
