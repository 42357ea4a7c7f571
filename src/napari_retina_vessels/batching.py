"""Many photos per forward pass: batched segmentation with overlapped work.

:func:`segment_many` is :func:`~.pipeline.segment` for a stream of
photos. A thread pool decodes (when given callables) and prepares photos
(FOV mask, canonical scale, normalised input) ahead of the network; the
networks run *batch_size* photos per forward pass (on CUDA from pinned
memory, without blocking); the same pool finishes each photo (full-size
maps, A/V vote) while the next batch runs. Both stages share the decoded
photo, its FOV and, when their networks use the same input
normalisation, the normalised input.

Results equal ``segment``'s for each photo alone: photos run together
only when their padded canonical size is the same (one padding rule,
``inference.predict``); on a GPU, float rounding of the batched
convolutions aside. Out of memory, a batch is halved and retried with a
message (``inference.predict_many``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidImageError
from .fov import fov_mask
from .metrics.counting import check_threshold
from .pipeline import (
    Segmentation,
    _av_input,
    _av_maps,
    _canonical_input,
    _check_tile,
    _vessel_maps,
    flip_views,
)
from .preprocessing import as_rgb_float
from .quality import assess_image, assess_prediction

__all__ = ['iter_segment_many', 'segment_many']


@dataclass
class _Photo:
    """One prepared photo and its maps as they are made."""

    index: int
    t0: float
    image: np.ndarray
    fov: np.ndarray
    rgb_s: np.ndarray
    fov_s: np.ndarray
    x: np.ndarray
    prob_s: np.ndarray | None = None
    prob: np.ndarray | None = None
    vessels: np.ndarray | None = None


def _prepare(index: int, item: Any, mode: str) -> _Photo:
    """Decode (a callable item) and prepare one photo for the networks."""
    t0 = time.perf_counter()
    image = item() if callable(item) else item
    arr = np.asarray(image)
    if arr.dtype == object or arr.ndim not in (2, 3):
        raise InvalidImageError(
            f'expected a (H, W) or (H, W, 3) photograph, got shape {arr.shape}'
        )
    rgb = as_rgb_float(arr)
    fov = fov_mask(rgb)
    rgb_s, fov_s, x = _canonical_input(rgb, fov, mode)
    return _Photo(index, t0, arr, fov, rgb_s, fov_s, x)


def iter_segment_many(
    items: Iterable[Any],
    *,
    model: str = 'default',
    av: bool = True,
    av_model: str = 'default',
    device: str = 'auto',
    views: int | None = None,
    threshold: float | None = None,
    consistency: bool | str = 'graph',
    av_views: int | None = None,
    vessel_views: int | None = None,
    tile: int = 768,
    tta: bool | int | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    log: Callable[[str], Any] | None = None,
    precision: str = 'auto',
    engine: str = 'auto',  # [#33 engine]
) -> Iterator[tuple[int, Segmentation | None, Exception | None]]:
    """Yield ``(index, segmentation, error)`` for every item as it is done.

    *items* are photos (arrays) or callables that return one (decoded in
    the worker threads: a loader pool for free). A photo that cannot be
    decoded or segmented is yielded with ``None`` and its exception, and
    the others carry on. Results come in completion order, which is input
    order but for failures; *items* is read lazily, a few batches ahead.

    Parameters are those of :func:`~.pipeline.segment` (no per-photo
    ``fov``), plus *batch_size* (photos per forward pass; default per
    device, ``inference.DEFAULT_BATCH_SIZE``), *workers* (preparing and
    finishing threads; default up to 4) and *log* (messages such as an
    out-of-memory retry).

    Raises
    ------
    WeightsError, DeviceError, InvalidOptionError
        For options no photo could succeed with, before any photo.
    """
    from ._allocator import tune_allocator
    from .av import check_vote
    from .engines import load_net, resolve_engine  # [#33 engine]
    from .inference import (
        choose_device,
        default_batch_size,
        predict_many,
    )
    from .weights import resolve

    if threshold is not None:
        check_threshold(threshold)
    _check_tile(tile)
    consistency = check_vote(consistency)
    vessel_views, av_views = flip_views(
        views, tta=tta, vessel_views=vessel_views, av_views=av_views
    )
    tune_allocator(default=False)
    dev = choose_device(device)
    refs = {'vessels': resolve(model, 'vessels')}
    if av:
        refs['av'] = resolve(av_model, 'av')
    # [#33 engine] the engine and its arithmetic, resolved once.
    engine, precision = resolve_engine(engine, precision, dev, refs)
    run = {'device': dev, 'engine': engine, 'precision': precision}
    run['with_av'] = bool(av)
    net, info = load_net(refs['vessels'], task='vessels', **run)
    av_net = av_info = None
    if av:
        av_net, av_info = load_net(refs['av'], task='av', **run)
    size = [int(batch_size) if batch_size else default_batch_size(dev)]
    if size[0] < 1:
        from .errors import InvalidOptionError

        raise InvalidOptionError(
            f'the batch size must be 1 or more, got {batch_size}'
        )
    thr = float(info['threshold'] if threshold is None else threshold)
    mode = info['input']
    n_workers = workers or max(1, min(4, os.cpu_count() or 1))

    def finish(p: _Photo, av_logits: np.ndarray | None) -> Segmentation:
        grade = assess_prediction(
            assess_image(p.rgb_s, p.fov_s), p.prob_s, p.fov_s, thr
        )
        canonical = p_art = labels = None
        if av_logits is not None:
            canonical, p_art, labels = _av_maps(
                av_logits, p.prob_s, p.vessels, thr, p.fov, consistency
            )
            canonical = (canonical,)
        return Segmentation(
            probability=p.prob,
            vessels=p.vessels,
            artery_vein=labels,
            fov=p.fov,
            model=info['name'],
            weights_sha256=info['sha256'],
            device=str(dev),
            seconds=time.perf_counter() - p.t0,
            threshold=thr,
            av_model=av_info['name'] if av_info else None,
            av_weights_sha256=av_info['sha256'] if av_info else None,
            artery_probability=p_art,
            quality=grade,
            precision=precision,
            engine=engine,
            _canonical=canonical,
        )

    def run(batch: list[_Photo]) -> list[tuple[_Photo, Any]]:
        logits, size[0] = predict_many(
            net,
            [p.x for p in batch],
            device=dev,
            views=vessel_views,
            tile=tile,
            batch_size=size[0],
            log=log,
            precision=precision,
        )
        for p, lg in zip(batch, logits):
            p.prob_s, p.prob, p.vessels = _vessel_maps(lg, p.fov_s, p.fov, thr)
        if not av:
            return [(p, None) for p in batch]
        xs = [
            _av_input(p.x, p.rgb_s, p.fov_s, p.prob_s, mode, av_info['input'])
            for p in batch
        ]
        av_logits, size[0] = predict_many(
            av_net,
            xs,
            device=dev,
            views=av_views,
            tile=tile,
            batch_size=size[0],
            log=log,
            precision=precision,
        )
        return list(zip(batch, av_logits))

    source = iter(enumerate(items))
    ahead = 2 * size[0] + n_workers
    with ThreadPoolExecutor(
        n_workers, thread_name_prefix='retina-batch'
    ) as pool:
        prepared: list[tuple[int, Future]] = []
        finishing: list[tuple[int, Future]] = []

        def fill() -> None:
            while len(prepared) < ahead:
                try:
                    i, item = next(source)
                except StopIteration:
                    return
                prepared.append((i, pool.submit(_prepare, i, item, mode)))

        def drain(block: bool):
            keep = []
            for i, fut in finishing:
                if block or fut.done():
                    try:
                        yield i, fut.result(), None
                    except Exception as err:  # noqa: BLE001 - this photo only
                        yield i, None, err
                else:
                    keep.append((i, fut))
            finishing[:] = keep

        fill()
        while prepared:
            batch: list[_Photo] = []
            while prepared and len(batch) < size[0]:
                i, fut = prepared.pop(0)
                try:
                    batch.append(fut.result())
                except Exception as err:  # noqa: BLE001 - reported per photo
                    yield i, None, err
                fill()
            if batch:
                for p, av_logits in run(batch):
                    p.x = None  # the networks are done with it
                    finishing.append(
                        (p.index, pool.submit(finish, p, av_logits))
                    )
            yield from drain(block=False)
            fill()
        yield from drain(block=True)


def segment_many(
    items: Iterable[Any], **options: Any
) -> Iterator[Segmentation]:
    """Segment many photos, several per forward pass; yield in order.

    Parameters
    ----------
    items : iterable
        Photos ((H, W, 3) or (H, W) arrays, as for
        :func:`~.pipeline.segment`) or callables returning one.
    **options
        Those of :func:`iter_segment_many`: ``model``, ``av``,
        ``device``, ``views``, ``threshold``, ``batch_size``,
        ``workers``...

    Yields
    ------
    Segmentation
        One per item, in input order.

    Raises
    ------
    RetinaVesselsError
        The first photo's error that could not be segmented (earlier
        results have been yielded).
    """
    waiting: dict[int, tuple] = {}
    nxt = 0
    for i, seg, err in iter_segment_many(items, **options):
        waiting[i] = (seg, err)
        while nxt in waiting:
            seg, err = waiting.pop(nxt)
            if err is not None:
                raise err
            yield seg
            nxt += 1
