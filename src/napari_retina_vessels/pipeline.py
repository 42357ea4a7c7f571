"""From a photo to vessel and artery/vein maps: the one generator.

``iter_segment`` yields :class:`~.progress.Progress` records and returns
a :class:`Segmentation`; ``segment`` drains it for scripts and the CLI,
and the napari widget hands the same generator to a ``thread_worker`` so
every ``yield`` is a cancel point.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import InvalidImageError, ShapeMismatchError
from .fov import fov_mask
from .metrics.counting import check_threshold
from .preprocessing import (
    as_rgb_float,
    canonical_scale,
    normalise_input,
    resize,
    scaled_shape,
)
from .quality import assess_image, assess_prediction
from .segmentation import (
    Segmentation,
    _Canonical,
    stack_segmentations,
    threshold_vessels,
)

__all__ = [
    'Segmentation',
    'flip_views',
    'iter_segment',
    'iter_segment_stack',
    'segment',
    'stack_segmentations',
    'threshold_vessels',
]

#: Flip views each stage averages by default (the photo and its
#: left-right mirror): the vessel map gains 0.0004 validation AUC (0.0008
#: on the DRIVE test split) and A/V decisions gain too, each at the cost
#: of one more pass of that stage's network; ``views=4`` uses the
#: up-down mirrors too. See docs/results.md.
VESSEL_VIEWS = 2
AV_VIEWS = 2


def flip_views(
    views: int | None = None,
    *,
    tta: bool | int | None = None,
    vessel_views: int | None = None,
    av_views: int | None = None,
) -> tuple[int, int]:
    """The (vessel, A/V) flip views that ``segment`` uses, checked.

    *views* (1, 2 or 4) sets both stages; without it each stage uses its
    default (:data:`VESSEL_VIEWS`, :data:`AV_VIEWS`). *tta* is the old
    option, still accepted: True means 4 views in both stages, False the
    defaults, an int the vessel stage's views (and the A/V stage's too
    when 4). *vessel_views* and *av_views*, when given, win.

    Raises
    ------
    InvalidOptionError
        A number of views other than 1, 2 or 4.
    """
    from .inference import check_views, tta_views

    vessel, artery_vein = VESSEL_VIEWS, AV_VIEWS
    if views is not None:
        vessel = artery_vein = check_views(views)
    elif tta is not None and tta is not False:
        vessel = tta_views(tta)
        artery_vein = 4 if vessel == 4 else AV_VIEWS
    if vessel_views is not None:
        vessel = check_views(vessel_views)
    if av_views is not None:
        artery_vein = check_views(av_views)
    return vessel, artery_vein


#: Smallest and largest tile side ``segment`` accepts: tiles overlap by
#: 64 pixels, and one side of 8192 already needs gigabytes.
TILE_RANGE = (128, 8192)


def _check_tile(tile: Any) -> int:
    """*tile* as an int in :data:`TILE_RANGE`, else InvalidOptionError."""
    from .errors import InvalidOptionError

    lo, hi = TILE_RANGE
    if (
        isinstance(tile, bool)
        or not isinstance(tile, (int, np.integer))
        or not lo <= tile <= hi
    ):
        raise InvalidOptionError(
            f'tile must be a whole number of pixels from {lo} to {hi}, got '
            f'{tile!r}'
        )
    return int(tile)


def _check_fov(fov, shape) -> np.ndarray:
    fov = np.asarray(fov)
    if fov.shape != tuple(shape):
        raise ShapeMismatchError(
            f'the FOV mask is {fov.shape[1]} x {fov.shape[0]} but the image '
            f'is {shape[1]} x {shape[0]}'
        )
    return fov.astype(bool)


def _canonical_input(
    rgb: np.ndarray, fov_full: np.ndarray, mode: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The photo and FOV at the canonical scale, and the network input
    normalised with *mode*: ``(rgb_s, fov_s, x)``, x (3, h, w)."""
    shape = scaled_shape(rgb.shape, canonical_scale(fov_full))
    rgb_s = resize(rgb, shape)
    fov_s = resize(fov_full.astype(np.float32), shape) > 0.5
    return rgb_s, fov_s, normalise_input(rgb_s, fov_s, mode)


def _vessel_maps(
    logits: np.ndarray, fov_s: np.ndarray, fov_full: np.ndarray, thr: float
):
    """``(prob_s, prob, vessels)`` from the vessel network's (1, h, w)
    logits: the canonical-scale and full-size probability, the map."""
    prob_s = (1.0 / (1.0 + np.exp(-logits[0]))).astype(np.float32)
    prob_s *= fov_s
    prob = np.clip(resize(prob_s, fov_full.shape), 0, 1) * fov_full
    prob = prob.astype(np.float32)
    return prob_s, prob, threshold_vessels(prob, thr, fov_full)


def _av_input(
    x: np.ndarray,
    rgb_s: np.ndarray,
    fov_s: np.ndarray,
    prob_s: np.ndarray,
    mode: str,
    av_mode: str,
) -> np.ndarray:
    """The A/V network's (4, h, w) input: the vessel stage's normalised
    photo *x* (shared when both networks use the same normalisation)
    and the vessel probability."""
    if av_mode != mode:
        x = normalise_input(rgb_s, fov_s, av_mode)
    return np.concatenate([x, prob_s[None]], 0)


def _av_maps(
    av_logits: np.ndarray,
    prob_s: np.ndarray,
    vessels: np.ndarray,
    thr: float,
    fov_full: np.ndarray,
    consistency: bool | str,
    graph=None,
):
    """``(canonical, p_art, labels)`` from the A/V network's logits
    (*graph*: the vessel map's ``av.vessel_graph``, if made)."""
    from .av import check_vote, label_av

    diff = np.clip(av_logits[0] - av_logits[1], -30, 30)
    p_s = (1.0 / (1.0 + np.exp(-diff))).astype(np.float32)
    canonical = _Canonical(prob_s, p_s, check_vote(consistency))
    p_art = canonical.artery_probability(thr, fov_full, graph)
    return canonical, p_art, label_av(vessels, p_art)


def _looks_grey(arr: np.ndarray, rgb: np.ndarray) -> bool:
    """Whether the photo has no colour: (H, W), or three equal channels.

    A sparse grid of pixels settles a colour photo at once; only a photo
    grey there too is compared in full (on a 3504 x 2336 photo a full
    per-channel mean took 130 ms).
    """
    if arr.ndim == 2:
        return True

    def equal(a: np.ndarray) -> bool:
        return np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(
            a[..., 1], a[..., 2]
        )

    return equal(rgb[::16, ::16]) and equal(rgb)


_HELPER = None


def _helper():
    """One thread, shared by all calls, for work that can overlap the
    networks."""
    global _HELPER
    if _HELPER is None:
        from concurrent.futures import ThreadPoolExecutor

        _HELPER = ThreadPoolExecutor(1, thread_name_prefix='retina-gate')
    return _HELPER


def iter_segment(
    image: npt.ArrayLike,
    *,
    model: str = 'default',
    av: bool = True,
    av_model: str = 'default',
    device: str = 'auto',
    views: int | None = None,
    threshold: float | None = None,
    fov: npt.ArrayLike | None = None,
    consistency: bool | str = 'graph',
    av_views: int | None = None,
    vessel_views: int | None = None,
    tile: int = 768,
    tta: bool | int | None = None,
    precision: str = 'auto',
    engine: str = 'auto',  # [#33 engine]
) -> Generator[Any, None, Segmentation]:
    """Segment vessels (and arteries/veins) of one fundus photograph.

    Yields ``Progress(stage, done, total)`` records; returns the
    :class:`Segmentation`. Parameters are those of :func:`segment`.
    """
    from ._allocator import tune_allocator
    from .engines import load_net, resolve_engine  # [#33 engine]
    from .inference import choose_device, predict
    from .progress import Progress
    from .weights import iter_fetch, resolve

    t0 = time.perf_counter()
    arr = np.asarray(image)
    if arr.dtype == object or arr.ndim not in (2, 3):
        raise InvalidImageError(
            f'expected a (H, W) or (H, W, 3) photograph, got shape {arr.shape}'
        )
    rgb = as_rgb_float(arr)
    if av and _looks_grey(arr, rgb):
        warnings.warn(
            'the image is grayscale; artery/vein classification relies '
            'mostly on colour and will be less reliable',
            UserWarning,
            stacklevel=2,
        )
    # Refuse bad values before any work.
    if threshold is not None:
        check_threshold(threshold)
    _check_tile(tile)
    from .av import check_vote

    consistency = check_vote(consistency)
    vessel_views, av_views = flip_views(
        views, tta=tta, vessel_views=vessel_views, av_views=av_views
    )
    refs = {'vessels': resolve(model, 'vessels')}
    if av:
        refs['av'] = resolve(av_model, 'av')
    # Opt-in here (RETINA_VESSELS_TUNE_MALLOC=1): this may be napari's or
    # a user's process; the CLI and Dask workers tune by default.
    tune_allocator(default=False)
    dev = choose_device(device)
    # 'auto' resolved once: both stages run, and the result records,
    # the same arithmetic.
    # [#33 engine] the engine and its arithmetic, resolved once.
    engine, precision = resolve_engine(engine, precision, dev, refs)
    yield Progress('fov', 0, 1)
    fov_full = (
        _check_fov(fov, rgb.shape[:2]) if fov is not None else fov_mask(rgb)
    )
    yield Progress('weights', 0, 1)
    for ref in refs.values():
        if ref.registered:
            yield from iter_fetch(ref.name)  # download progress, if any
    run = {'device': dev, 'engine': engine, 'precision': precision}
    run['with_av'] = bool(av)
    net, info = load_net(refs['vessels'], task='vessels', **run)
    av_net = av_info = None
    if av:
        av_net, av_info = load_net(refs['av'], task='av', **run)
    yield Progress('weights', 1, 1)

    rgb_s, fov_s, x = _canonical_input(rgb, fov_full, info['input'])
    # The gate's image measures need only the photo: they run in a
    # helper thread (NumPy and SciPy release the GIL) while the vessel
    # network runs, instead of after it on one core.
    image_grade = _helper().submit(assess_image, rgb_s, fov_s)
    logits = yield from predict(
        net,
        x,
        device=dev,
        views=vessel_views,
        tile=tile,
        stage='vessels',
        precision=precision,
    )
    thr = float(info['threshold'] if threshold is None else threshold)
    prob_s, prob, vessels = _vessel_maps(logits, fov_s, fov_full, thr)
    grade = assess_prediction(image_grade.result(), prob_s, fov_s, thr)

    labels = p_art = canonical = None
    if av:
        x_av = _av_input(
            x, rgb_s, fov_s, prob_s, info['input'], av_info['input']
        )
        # The vote's graph depends only on the vessel map: build it in
        # the helper thread while the A/V network runs.
        graph = None
        if consistency != 'none':
            from .av import vessel_graph

            graph = _helper().submit(vessel_graph, prob_s >= thr)
        av_logits = yield from predict(
            av_net,
            x_av,
            device=dev,
            views=av_views,
            tile=tile,
            stage='artery/vein',
            precision=precision,
        )
        if graph is not None:
            yield Progress('consistency', 0, 1)
        canonical, p_art, labels = _av_maps(
            av_logits,
            prob_s,
            vessels,
            thr,
            fov_full,
            consistency,
            graph.result() if graph is not None else None,
        )
        canonical = (canonical,)
    yield Progress('done', 1, 1)
    return Segmentation(
        probability=prob,
        vessels=vessels,
        artery_vein=labels,
        fov=fov_full,
        model=info['name'],
        weights_sha256=info['sha256'],
        device=str(dev),
        seconds=time.perf_counter() - t0,
        threshold=thr,
        av_model=av_info['name'] if av_info else None,
        av_weights_sha256=av_info['sha256'] if av_info else None,
        artery_probability=p_art,
        quality=grade,
        precision=precision,
        engine=engine,
        _canonical=canonical,
    )


def segment(
    image: npt.ArrayLike,
    *,
    model: str = 'default',
    av: bool = True,
    device: str = 'auto',
    views: int | None = None,
    threshold: float | None = None,
    progress: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> Segmentation:
    """Segment vessels and arteries/veins of a fundus photograph.

    Parameters
    ----------
    image : array-like
        (H, W, 3) RGB photo (uint8, uint16 or float; RGBA loses alpha) or
        (H, W) grayscale, as returned by :func:`~.io.imread`.
    model : str
        Registry name, ``'default'``, or the path of a weights file.
    av : bool
        Also classify arteries and veins.
    device : str
        ``'auto'`` (cuda, then mps, then cpu), ``'cpu'``, ``'cuda'``...
    views : int, optional
        Flip views both stages average: 1 (one pass, fastest), 2 (the
        photo and its mirror image, the default: :data:`VESSEL_VIEWS`,
        :data:`AV_VIEWS`) or 4 (up-down mirrors too; 2x slower than the
        default, a little better).
    threshold : float, optional
        Vessel probability cut-off; the model's own by default.
    progress : callable, optional
        Called with every ``Progress`` record.
    **kwargs
        ``av_model``, ``fov`` (a precomputed (H, W) mask),
        ``consistency`` (how the A/V labels are made to agree along
        the vessels, :data:`~.av.VOTES`: ``'graph'``, the default, or
        True; ``'segment'``; ``'none'`` or False),
        ``av_views`` and ``vessel_views`` (one stage's flip views,
        overriding *views*), ``tile``, ``precision`` (the networks'
        arithmetic: ``'auto'``, the default, is bfloat16 on CUDA and on
        CPUs that compute it natively, float32 elsewhere; ``'fp32'``
        forces float32, see :data:`~.inference.PRECISIONS`),
        ``engine`` (``'auto'``, the default: OpenVINO on the CPU when
        installed, its int8 files under precision auto; ``'torch'``;
        ``'openvino'``: see :mod:`~.engines`), and
        ``tta``, the old name of the views (True: 4 in both stages; an
        int: the vessel stage's).

    Returns
    -------
    Segmentation

    Raises
    ------
    InvalidImageError, WeightsError, DeviceError, InvalidOptionError
    """
    gen = iter_segment(
        image,
        model=model,
        av=av,
        device=device,
        views=views,
        threshold=threshold,
        **kwargs,
    )
    while True:
        try:
            rec = next(gen)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(rec)


def iter_segment_stack(
    frames: Any,
    **options: Any,
) -> Generator[Any, None, Segmentation]:
    """Segment a stack of photographs frame by frame.

    Parameters
    ----------
    frames : array-like
        (N, H, W, 3) RGB or (N, H, W) grey frames; NumPy, Dask or any
        array indexable along its first axis (one frame is loaded at a
        time).
    **options
        Passed to :func:`iter_segment` for every frame (no ``fov``).

    Yields
    ------
    Progress
        ``Progress('frames', i, N)`` before frame *i* and after the last,
        and each frame's own records in between: every one is a place
        where the job can be cancelled.

    Returns
    -------
    Segmentation
        Its arrays stacked along a first axis (see
        :func:`stack_segmentations`).
    """
    from .progress import Progress

    n = len(frames)
    if n == 0:
        raise InvalidImageError('the stack holds no frames')
    results = []
    for i in range(n):
        yield Progress('frames', i, n)
        frame = np.asarray(frames[i])
        results.append((yield from iter_segment(frame, **options)))
    yield Progress('frames', n, n)
    return stack_segmentations(results)
