"""The one engine: photos in, :class:`Segmentation` records out.

:func:`run` is the only code that turns photos into segmentations.
Every driver runs it and differs only in scheduling:

- ``pipeline.iter_segment`` / ``segment``: one photo (the Segment
  widget's thread worker, the console helper, scripts, Dask workers,
  ``measure`` on photos);
- ``batching.iter_segment_many``: a stream of photos, several per
  forward pass (``retina-vessels segment`` without Dask).

It yields :class:`~.progress.Progress` records (each one a cancel
point: closing the generator stops the job there) and one
:class:`Done` per photo. A thread pool decodes (callable items) and
prepares photos (FOV mask, canonical scale, normalised input) ahead of
the network and grades them meanwhile; the networks run
``options.batch_size`` photos per forward pass (one photo goes through
``inference.predict``, tile by tile with progress; several through
``inference.predict_many``, which halves a batch that runs out of
memory); the pool finishes each photo (full-size maps, A/V vote) while
the next batch runs. A photo's result does not depend on its batch
mates: photos run together only when their padded size is the same.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._networks import _Networks
from .errors import (
    InvalidImageError,
    ShapeMismatchError,
)
from .options import SegmentOptions
from .progress import Progress

__all__ = ['Done', 'run']


@dataclass(frozen=True)
class Done:
    """The end of one photo: its segmentation, or why there is none."""

    index: int
    segmentation: Any = None
    error: Exception | None = None


@dataclass
class _Photo:
    """One prepared photo and its maps as they are made."""

    index: int
    t0: float
    fov: np.ndarray
    rgb_s: np.ndarray
    fov_s: np.ndarray
    x: np.ndarray | None
    grey: bool
    source_diameter: float = 0.0
    early: Any = None
    image_grade: Future | None = None
    graph: Future | None = None
    contrast: Future | None = None
    prob_s: np.ndarray | None = None
    prob: np.ndarray | None = None
    vessels: np.ndarray | None = None


def check_photo(image: Any) -> np.ndarray:
    """*image* as an array, refused unless (H, W) or (H, W, C)."""
    arr = np.asarray(image)
    if arr.dtype == object or arr.ndim not in (2, 3):
        raise InvalidImageError(
            f'expected a (H, W) or (H, W, 3) photograph, got shape {arr.shape}'
        )
    return arr


def check_fov(fov: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A given FOV mask as bool, refused unless it has the photo's
    shape."""
    fov = np.asarray(fov)
    if fov.shape != tuple(shape):
        raise ShapeMismatchError(
            f'the FOV mask is {fov.shape[1]} x {fov.shape[0]} but the image '
            f'is {shape[1]} x {shape[0]}'
        )
    return fov.astype(bool)


def looks_grey(arr: np.ndarray, rgb: np.ndarray) -> bool:
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


def _prepare(
    index: int,
    item: Any,
    fov: Any,
    mode: str,
    check_grey: bool,
    force: bool = False,
) -> _Photo:
    """Decode (a callable item) and prepare one photo for the networks:
    the FOV and the photo at the canonical scale, the network input.
    The quality gate's cheap verdict (a blank frame, a tiny field of
    view) comes first: such a photo is not prepared any further."""
    from ._quality_features import diameter
    from .fov import fov_mask
    from .preprocessing import (
        as_rgb_float,
        canonical_scale,
        normalise_input,
        resize,
        scaled_shape,
    )
    from .quality import precheck

    t0 = time.perf_counter()
    arr = check_photo(item() if callable(item) else item)
    rgb = as_rgb_float(arr)
    grey = check_grey and looks_grey(arr, rgb)
    fov = check_fov(fov, rgb.shape[:2]) if fov is not None else fov_mask(rgb)
    early = None if force else precheck(rgb, fov)
    if early is not None:
        return _Photo(index, t0, fov, None, None, None, grey, early=early)
    shape = scaled_shape(rgb.shape, canonical_scale(fov))
    rgb_s = resize(rgb, shape)
    fov_s = resize(fov.astype(np.float32), shape) > 0.5
    x = normalise_input(rgb_s, fov_s, mode)
    return _Photo(
        index, t0, fov, rgb_s, fov_s, x, grey, source_diameter=diameter(fov)
    )


def _vessel_maps(p: _Photo, logits: np.ndarray, thr: float) -> None:
    """The photo's canonical and full-size probability and vessel map
    from the vessel network's (1, h, w) logits."""
    from .preprocessing import resize
    from .segmentation import threshold_vessels

    prob_s = (1.0 / (1.0 + np.exp(-logits[0]))).astype(np.float32)
    prob_s *= p.fov_s
    prob = np.clip(resize(prob_s, p.fov.shape), 0, 1) * p.fov
    p.prob_s, p.prob = prob_s, prob.astype(np.float32)
    p.vessels = threshold_vessels(p.prob, thr, p.fov)


def _av_input(p: _Photo, mode: str, av_mode: str) -> np.ndarray:
    """The A/V network's (4, h, w) input: the vessel stage's normalised
    photo (shared when both networks use the same normalisation) and
    the vessel probability."""
    from .preprocessing import normalise_input

    x = p.x
    if av_mode != mode:
        x = normalise_input(p.rgb_s, p.fov_s, av_mode)
    return np.concatenate([x, p.prob_s[None]], 0)


def _finish(nets: _Networks, p: _Photo, av_logits: np.ndarray | None):
    """The photo's :class:`Segmentation`: the one place one is built."""
    from .quality import assess_prediction
    from .segmentation import Segmentation, _Canonical

    thr = nets.threshold
    grade = assess_prediction(p.image_grade.result(), p.prob_s, p.fov_s, thr)
    canonical = p_art = labels = None
    if av_logits is not None:
        from .av import label_av

        diff = np.clip(av_logits[0] - av_logits[1], -30, 30)
        p_s = (1.0 / (1.0 + np.exp(-diff))).astype(np.float32)
        canonical = _Canonical(p.prob_s, p_s, nets.options.consistency)
        graph = p.graph.result() if p.graph is not None else None
        p_art = canonical.artery_probability(thr, p.fov, graph)
        labels = label_av(p.vessels, p_art)
        canonical = (canonical,)
    info, av_info = nets.info, nets.av_info
    return Segmentation(
        probability=p.prob,
        vessels=p.vessels,
        artery_vein=labels,
        fov=p.fov,
        model=info['name'],
        weights_sha256=info['sha256'],
        device=str(nets.device),
        seconds=time.perf_counter() - p.t0,
        threshold=thr,
        av_model=av_info['name'] if av_info else None,
        av_weights_sha256=av_info['sha256'] if av_info else None,
        artery_probability=p_art,
        quality=grade,
        precision=nets.precision,
        engine=nets.engine,
        _canonical=canonical,
    )


def run(
    items: Iterable[Any],
    options: SegmentOptions,
    *,
    fovs: Sequence[Any] | None = None,
    workers: int | None = None,
    log: Callable[[str], Any] | None = None,
) -> Generator[Progress | Done, None, None]:
    """Segment *items*; yield progress and one :class:`Done` per item.

    Parameters
    ----------
    items : iterable
        Photos ((H, W, 3) or (H, W) arrays) or callables returning one
        (decoded in the pool); read lazily, a few batches ahead.
    options : SegmentOptions
    fovs : sequence, optional
        A precomputed (H, W) FOV mask (or None) per item.
    workers : int, optional
        Preparing and finishing threads; default up to 4.
    log : callable, optional
        Messages such as an out-of-memory retry.

    Yields
    ------
    Progress or Done
        ``Done`` records come in completion order (input order but for
        failures); a photo that cannot be decoded or segmented is a
        ``Done`` with its error, and the others carry on.

    Raises
    ------
    WeightsError, DeviceError
        Before any photo, for options no photo could succeed with; and
        a model or device failure during the run.
    """
    from .av import vessel_graph
    from .quality import assess_image

    nets = _Networks(options)
    yield from nets.load()
    opts = options
    mode = nets.info['input']
    av_mode = nets.av_info['input'] if opts.av else None
    n_workers = workers or max(1, min(4, os.cpu_count() or 1))
    source = iter(enumerate(items))
    with ThreadPoolExecutor(n_workers, thread_name_prefix='retina') as pool:
        prepared: list[tuple[int, Future]] = []
        finishing: list[tuple[int, Future]] = []

        def fill() -> None:
            while len(prepared) < 2 * nets.batch_size + n_workers:
                try:
                    i, item = next(source)
                except StopIteration:
                    return
                fov = fovs[i] if fovs is not None else None
                prepared.append(
                    (
                        i,
                        pool.submit(
                            _prepare, i, item, fov, mode, opts.av, opts.force
                        ),
                    )
                )

        def drain(block: bool):
            keep = []
            for i, fut in finishing:
                if block or fut.done():
                    try:
                        yield Done(i, fut.result())
                    except Exception as err:  # noqa: BLE001 - this photo
                        yield Done(i, None, err)
                else:
                    keep.append((i, fut))
            finishing[:] = keep

        fill()
        while prepared:
            batch: list[_Photo] = []
            while prepared and len(batch) < nets.batch_size:
                i, fut = prepared.pop(0)
                try:
                    p = fut.result()
                except Exception as err:  # noqa: BLE001 - this photo
                    yield Done(i, None, err)
                    fill()
                    continue
                if p.early is not None:
                    from .segmentation import unsegmented

                    yield Done(
                        i,
                        unsegmented(
                            p.fov,
                            p.early,
                            nets.refs,
                            nets.device,
                            opts.threshold,
                            p.t0,
                        ),
                    )
                    fill()
                    continue
                if p.grey:
                    warnings.warn(
                        'the image is grayscale; artery/vein classification '
                        'relies mostly on colour and will be less reliable',
                        UserWarning,
                        stacklevel=2,
                    )
                # The gate's image measures need only the photo: they
                # run in the pool while the network runs.
                p.image_grade = pool.submit(
                    assess_image,
                    p.rgb_s,
                    p.fov_s,
                    source_diameter=p.source_diameter,
                )
                batch.append(p)
                fill()
            if not batch:
                continue
            if opts.av and opts.contrast_view != 'none':
                from .contrast_views import equalised_view

                # Chosen and equalised in the pool while the vessel
                # network runs.
                for p in batch:
                    p.contrast = pool.submit(
                        equalised_view, p.rgb_s, p.fov_s, opts.contrast_view
                    )
            logits = yield from nets.predict(
                'vessels', [p.x for p in batch], log
            )
            for p, lg in zip(batch, logits):
                _vessel_maps(p, lg, nets.threshold)
                if opts.av and opts.consistency != 'none':
                    # The vote's graph depends only on the vessel map.
                    p.graph = pool.submit(
                        vessel_graph, p.prob_s >= nets.threshold
                    )
            av_logits = [None] * len(batch)
            if opts.av:
                xs = [_av_input(p, mode, av_mode) for p in batch]
                if opts.contrast_view != 'none':
                    from .contrast_views import contrast_av_logits

                    av_logits = yield from contrast_av_logits(
                        nets, batch, xs, log
                    )
                else:
                    av_logits = yield from nets.predict(
                        'artery/vein', xs, log
                    )
                if opts.consistency != 'none':
                    yield Progress('consistency', 0, 1)
            for p, av_lg in zip(batch, av_logits):
                p.x = None  # the networks are done with it
                finishing.append(
                    (p.index, pool.submit(_finish, nets, p, av_lg))
                )
            yield from drain(block=False)
            fill()
        yield from drain(block=True)
