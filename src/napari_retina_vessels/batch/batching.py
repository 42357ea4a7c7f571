"""Many photos per forward pass: batched segmentation with overlapped work.

:func:`segment_many` is :func:`~..pipeline.segment` for a stream of
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

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import Any

from ..engine import Done, run
from ..options import SegmentOptions
from ..segmentation import Segmentation

__all__ = ['iter_segment_many', 'segment_many']


def iter_segment_many(
    items: Iterable[Any],
    *,
    workers: int | None = None,
    log: Callable[[str], Any] | None = None,
    options: SegmentOptions | None = None,
    **kwargs: Any,
) -> Iterator[tuple[int, Segmentation | None, Exception | None]]:
    """Yield ``(index, segmentation, error)`` for every item as it is done.

    *items* are photos (arrays) or callables that return one (decoded in
    the worker threads: a loader pool for free). A photo that cannot be
    decoded or segmented is yielded with ``None`` and its exception, and
    the others carry on. Results come in completion order, which is input
    order but for failures; *items* is read lazily, a few batches ahead.

    Parameters
    ----------
    items : iterable
    workers : int, optional
        Preparing and finishing threads; default up to 4.
    log : callable, optional
        Messages such as an out-of-memory retry.
    options : SegmentOptions, optional
        The options; or give them as keywords (those of
        :func:`~..pipeline.segment` but ``fov``, plus ``batch_size``:
        photos per forward pass, default per device,
        ``inference.DEFAULT_BATCH_SIZE``).

    Raises
    ------
    WeightsError, DeviceError, InvalidOptionError
        For options no photo could succeed with, before any photo.
    """
    if options is None:
        if kwargs.get('tta') is False:
            del kwargs['tta']  # the old default, not a choice
        options = SegmentOptions.from_kwargs(**kwargs)
    elif kwargs:
        options = options.replace(**kwargs)
    with closing(run(items, options, workers=workers, log=log)) as records:
        for rec in records:
            if isinstance(rec, Done):
                yield rec.index, rec.segmentation, rec.error


def segment_many(
    items: Iterable[Any], **options: Any
) -> Iterator[Segmentation]:
    """Segment many photos, several per forward pass; yield in order.

    Parameters
    ----------
    items : iterable
        Photos ((H, W, 3) or (H, W) arrays, as for
        :func:`~..pipeline.segment`) or callables returning one.
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
