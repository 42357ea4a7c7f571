"""The options that decide a batch's outputs, resolved and checked
before any image (:mod:`.batch`)."""

from __future__ import annotations

from typing import Any

from .errors import RetinaVesselsError
from .metrics.counting import check_threshold
from .outputs import PROBABILITY_FORMATS

__all__ = ['batch_settings', 'check_models']


def batch_settings(
    model: str,
    av: bool,
    av_model: str,
    tta: bool,
    threshold: float | None,
    fmt: str,
    *,
    views: int | None = None,
    precision: str = 'auto',
    engine: str = 'auto',  # [#33 engine]
) -> dict[str, Any]:
    """Options that decide the outputs, with the weights' sha256.

    Resolved here, before any model is loaded, so that an unknown model
    or a bad option fails before any image and a changed weight file
    redoes finished images.
    """
    from .weights import resolve

    def identity(name: str, task: str) -> tuple[str, str]:
        ref = resolve(name, task)
        return ref.key, ref.sha256

    if fmt not in PROBABILITY_FORMATS:
        raise RetinaVesselsError(
            f'unknown format {fmt!r}; choose one of '
            f'{", ".join(PROBABILITY_FORMATS)}'
        )
    if threshold is not None:
        threshold = check_threshold(threshold)
    from .inference import check_precision
    from .pipeline import flip_views

    model, sha = identity(str(model), 'vessels')
    # The flip views are recorded: a release that changes the default
    # number of views redoes the images it would change. 'tta' (4 views
    # in both stages) stays in the record so earlier markers still match.
    vessel_views, av_views = flip_views(views, tta=bool(tta))
    out = {
        'model': model,
        'weights_sha256': sha,
        'av': bool(av),
        'av_model': None,
        'av_weights_sha256': None,
        'tta': vessel_views == av_views == 4,
        'vessel_views': vessel_views,
        'av_views': av_views if av else None,
        'threshold': threshold,
        'fmt': fmt,
        # As asked ('auto' is bfloat16 on some machines): a release that
        # changes what it means redoes the images, as for the views.
        'precision': check_precision(precision),
    }
    from .engines import check_engine  # [#33 engine]

    engine = check_engine(engine)
    if engine != 'auto':
        # Recorded when forced (markers of earlier runs, which knew no
        # engine, still match the default).
        out['engine'] = engine
    if av:
        out['av_model'], out['av_weights_sha256'] = identity(
            str(av_model), 'av'
        )
    return out


def check_models(settings: dict[str, Any], device: str, local: bool) -> None:
    """Fetch and load the models once, before any image, so that a broken
    model file or a failing download fails the batch once instead of
    every image. On a cluster only the download happens here."""
    from .weights import load_model, resolve

    for key, task in (('model', 'vessels'), ('av_model', 'av')):
        name = settings.get(key)
        if not name:
            continue
        ref = resolve(name, task)
        if local:
            from .inference import choose_device

            # The same cached network that segment() then uses.
            load_model(ref, task=task, device=choose_device(device))
        else:
            ref.local_path()  # download once, before the workers
