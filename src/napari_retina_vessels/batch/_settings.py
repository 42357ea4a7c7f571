"""The options that decide a batch's outputs, resolved and checked
before any image (:mod:`..batch`)."""

from __future__ import annotations

from typing import Any

from ..contrast_views import DEFAULT_VIEW
from ..errors import RetinaVesselsError
from ..io.outputs import PROBABILITY_FORMATS
from ..options import FIELDS, SegmentOptions

__all__ = ['batch_settings', 'check_models', 'options_of']


def batch_settings(
    model: str,
    av: bool,
    av_model: str,
    tta: bool,
    threshold: float | None,
    fmt: str,
    *,
    views: Any = None,
    precision: str = 'auto',
    engine: str = 'auto',  # [#33 engine]
    force: bool = False,
    contrast_view: str = DEFAULT_VIEW,
) -> dict[str, Any]:
    """Options that decide the outputs, with the weights' sha256.

    Resolved here, before any model is loaded, so that an unknown model
    or a bad option fails before any image and a changed weight file
    redoes finished images. The record is
    :meth:`~..options.SegmentOptions.record` plus the format.
    """
    if fmt not in PROBABILITY_FORMATS:
        raise RetinaVesselsError(
            f'unknown format {fmt!r}; choose one of '
            f'{", ".join(PROBABILITY_FORMATS)}'
        )
    options = SegmentOptions(
        model=str(model),
        av=av,
        av_model=str(av_model),
        views=(4, 4) if tta and views is None else views,
        threshold=threshold,
        precision=precision,
        engine=engine,
        force=force,
        contrast_view=contrast_view,
    )
    return {**options.record(), 'fmt': fmt}


def options_of(settings: dict[str, Any], **extra: Any) -> SegmentOptions:
    """The :class:`~..options.SegmentOptions` a marker's *settings*
    record (model names resolved), with *extra* fields (``device``,
    ``batch_size``) on top.

    Every option the record stores under its own name is taken over,
    so an option added to :meth:`~..options.SegmentOptions.record`
    reaches the workers (local or Dask) without a change here; an
    option the record leaves out has its default.
    """
    values = {k: settings[k] for k in FIELDS if k in settings}
    values.update(
        av_model=settings.get('av_model') or 'default',
        # Markers of runs before 'auto' became the default record no
        # contrast view: theirs was 'none'.
        contrast_view=settings.get('contrast_view') or 'none',
        views=(
            settings.get('vessel_views') or 2,
            settings.get('av_views') or 2,
        ),
    )
    values.update(extra)
    return SegmentOptions(**values)


def check_models(settings: dict[str, Any], device: str, local: bool) -> None:
    """Fetch and load the models once, before any image, so that a broken
    model file or a failing download fails the batch once instead of
    every image. On a cluster only the download happens here."""
    from ..weights import load_model, resolve

    for key, task in (('model', 'vessels'), ('av_model', 'av')):
        name = settings.get(key)
        if not name:
            continue
        ref = resolve(name, task)
        if local:
            from ..inference import choose_device

            # The same cached network that segment() then uses.
            load_model(ref, task=task, device=choose_device(device))
        else:
            ref.local_path()  # download once, before the workers
