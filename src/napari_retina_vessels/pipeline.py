"""From a photo to vessel and artery/vein maps: the one generator.

``iter_segment`` yields :class:`~.progress.Progress` records and returns
a :class:`Segmentation`; ``segment`` drains it for scripts and the CLI,
and the napari widget hands the same generator to a ``thread_worker`` so
every ``yield`` is a cancel point.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from typing import Any

import numpy as np
import numpy.typing as npt

from .contrast_views import DEFAULT_VIEW
from .engine import Done, check_photo, run
from .engine import looks_grey as _looks_grey  # noqa: F401 - old name
from .errors import InvalidImageError
from .options import (  # noqa: F401 - public here since the first release
    AV_VIEWS,
    TILE_RANGE,
    VESSEL_VIEWS,
    SegmentOptions,
)
from .segmentation import (
    Segmentation,
    stack_segmentations,
    threshold_vessels,
)

__all__ = [
    'Segmentation',
    'flip_views',
    'iter_segment',
    'iter_segment_stack',
    'segment',
    'segment_stack',
    'segment_with',
    'stack_segmentations',
    'threshold_vessels',
]


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
    from .options import _check_views_pair, _old_views

    if tta is None and vessel_views is None and av_views is None:
        return _check_views_pair(views)
    return _old_views(
        views, tta=tta, vessel_views=vessel_views, av_views=av_views
    )


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
    force: bool = False,
    engine: str = 'auto',
    contrast_view: str = DEFAULT_VIEW,
) -> Generator[Any, None, Segmentation]:
    """Segment vessels (and arteries/veins) of one fundus photograph.

    Yields ``Progress(stage, done, total)`` records; returns the
    :class:`Segmentation`. Parameters are those of :func:`segment`; the
    work is the engine's (:func:`.engine.run`) for one photo.
    """
    arr = check_photo(image)
    options = SegmentOptions.from_kwargs(
        model=model,
        av=av,
        av_model=av_model,
        device=device,
        views=views,
        threshold=threshold,
        consistency=consistency,
        tile=tile,
        precision=precision,
        force=force,
        engine=engine,
        contrast_view=contrast_view,
        batch_size=1,
        **_old(tta=tta, vessel_views=vessel_views, av_views=av_views),
    )
    return (yield from _one(arr, options, fov))


def _old(**kwargs: Any) -> dict[str, Any]:
    """The old-spelling keywords that were given (``tta=False`` was
    everyone's default: not a choice)."""
    return {
        k: v for k, v in kwargs.items() if v is not None and v is not False
    }


def _one(
    image: Any, options: SegmentOptions, fov: Any = None
) -> Generator[Any, None, Segmentation]:
    """Drive the engine over one photo: its progress, its result or its
    error."""
    from .progress import Progress

    yield Progress('fov', 0, 1)
    done = None
    with closing(run([image], options, fovs=[fov])) as records:
        for rec in records:
            if isinstance(rec, Done):
                done = rec
            else:
                yield rec
    if done.error is not None:
        raise done.error
    yield Progress('done', 1, 1)
    return done.segmentation


def segment_with(
    image: npt.ArrayLike,
    options: SegmentOptions,
    *,
    fov: npt.ArrayLike | None = None,
    progress: Callable[[Any], Any] | None = None,
) -> Segmentation:
    """:func:`segment` with the options already made and checked (what
    batches and Dask workers run, from a marker's record)."""
    options = options.replace(batch_size=1)
    return _drain(_one(check_photo(image), options, fov), progress)


def _drain(gen: Generator, progress: Callable[[Any], Any] | None) -> Any:
    """Run *gen* to its end, handing each record to *progress*."""
    while True:
        try:
            rec = next(gen)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(rec)


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
    views : int or (int, int), optional
        Flip views both stages average: 1 (one pass, fastest), 2 (the
        photo and its mirror image, the default: :data:`VESSEL_VIEWS`,
        :data:`AV_VIEWS`) or 4 (up-down mirrors too; 2x slower than the
        default, a little better); a ``(vessel, av)`` pair sets each
        stage.
    threshold : float, optional
        Vessel probability cut-off; the model's own by default.
    progress : callable, optional
        Called with every ``Progress`` record.
    **kwargs
        ``av_model``, ``fov`` (a precomputed (H, W) mask),
        ``consistency`` (how the A/V labels are made to agree along
        the vessels, :data:`~.av.VOTES`: ``'graph'``, the default, or
        True; ``'segment'``; ``'none'`` or False),
        ``tile``, ``precision`` (the networks' arithmetic: ``'auto'``,
        the default, is bfloat16 on CUDA and on CPUs that compute it
        natively, float32 elsewhere; ``'fp32'`` forces float32, see
        :data:`~.options.PRECISIONS`), ``force`` (True: run the
        networks even on a photo the quality gate's cheap verdict calls
        ungradable: a blank frame, an empty or tiny field of view),
        ``engine`` (``'auto'``, the default: OpenVINO on the CPU when
        installed, its int8 files under precision auto; ``'torch'``;
        ``'openvino'``: see :mod:`~.engines`), ``contrast_view``
        (``'none'``, the default; ``'clahe'``: the A/V stage's mirror
        view is of the CLAHE-equalised photo, see
        :mod:`~.contrast_views`). Every option is checked by
        :class:`~.options.SegmentOptions`. Old spellings, accepted with
        a ``DeprecationWarning``: ``tta`` (True: 4 views in both
        stages; an int: the vessel stage's), ``vessel_views`` and
        ``av_views`` (now ``views=(vessel, av)``).

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
    return _drain(gen, progress)


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


def segment_stack(
    frames: Any,
    *,
    progress: Callable[[Any], Any] | None = None,
    **options: Any,
) -> Segmentation:
    """:func:`iter_segment_stack` drained, like :func:`segment`."""
    return _drain(iter_segment_stack(frames, **options), progress)
