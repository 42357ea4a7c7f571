"""Score a model, or saved probability maps, over a dataset folder.

``evaluate_dataset`` walks a dataset (:mod:`.io.datasets` layouts), obtains a
vessel probability map per photo (running :func:`.pipeline.segment`, or
reading ``DIR/<image stem>.png|.tif|.tiff|.npy``) and reports pooled and
per-image metrics (:mod:`.metrics`) inside each photo's field of view.
"""

from __future__ import annotations

import csv
import io as _io
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .contrast_views import DEFAULT_VIEW
from .errors import (
    DatasetError,
    InvalidOptionError,
    RetinaVesselsError,
    ShapeMismatchError,
)
from .io import csv_cell, write_text_atomic
from .io.datasets import Sample, discover, load_sample
from .io.saved_maps import (
    PREDICTION_SUFFIXES,
    find_prediction,
    read_prediction,
)
from .io.saved_maps import as_probability as _as_probability
from .metrics import AVAccumulator, VesselAccumulator
from .metrics.counting import EMPTY_FOV, check_threshold

__all__ = [
    'PREDICTION_SUFFIXES',
    'evaluate_dataset',
    'find_prediction',
    'read_prediction',
    'write_csv',
    'write_text_atomic',
]


@dataclass(frozen=True)
class _Options:
    model: str
    predictions: Path | None
    device: str
    threshold: float | None
    av: bool
    av_model: str
    consistency: str
    #: What the model runs with (None when scoring saved maps): made and
    #: checked once, in the one spelling (no deprecated keywords).
    segment: Any = None
    model_fov: str = 'dataset'


#: What FOV the model is given: the dataset's mask (the benchmark
#: protocol), or none, so that the pipeline finds it in the photo as
#: ``segment(image)`` does for a user. Scoring is inside the dataset's
#: mask either way.
MODEL_FOV = ('dataset', 'photo')


def _with_predictions(
    folder: Path, samples: list, strict: bool
) -> tuple[list, list[str]]:
    """(samples with a saved vessel map, names of those without); with
    *strict* the first one missing raises instead. Checked before any
    work."""
    have, missing = [], []
    for s in samples:
        try:
            find_prediction(folder, s.name)
        except DatasetError:
            if strict:
                raise
            missing.append(s.name)
        else:
            have.append(s)
    if samples and not have:
        find_prediction(folder, samples[0].name)  # names what is expected
    return have, missing


# ------------------------------------------------------------ one sample
def _check_shape(
    arr: np.ndarray, path: Path, sample: Sample, shape: tuple
) -> None:
    if arr.shape != tuple(shape):
        raise ShapeMismatchError(
            f'prediction {path} is {arr.shape[1]} x {arr.shape[0]} but '
            f'photo {sample.image.name} is {shape[1]} x {shape[0]}; '
            'predictions must have the size of their photo'
        )


def _score_sample(
    sample: Sample, opts: _Options, progress: Callable | None = None
) -> dict[str, Any]:
    """Load, predict and count one sample (runs in a worker when
    parallel, so it returns plain counts, no images)."""
    from .metrics.av import av_counts
    from .metrics.counting import image_stats

    t0 = time.perf_counter()
    data = load_sample(sample)
    image = data['image']
    shape = image.shape[:2]
    fov = data['fov']
    if fov is None:
        from .fov import fov_mask

        fov = fov_mask(image)
    truth, truth_av = data['vessels'], data['av']
    want_av = opts.av and truth_av is not None
    info: dict[str, Any] = {}
    av_pred = vessels_pred = p_art = None
    if opts.predictions is not None:
        path = find_prediction(opts.predictions, sample.name)
        pred = read_prediction(path)
        _check_shape(pred, path, sample, shape)
        threshold = 0.5 if opts.threshold is None else float(opts.threshold)
        binary = pred.dtype == np.bool_
        if want_av:
            from .io import read_av

            av_path = find_prediction(
                opts.predictions, sample.name, suffix='_av'
            )
            av_pred = read_av(av_path)
            _check_shape(av_pred, av_path, sample, shape)
            vessels_pred = (
                pred if binary else _as_probability(pred) >= threshold
            )
    else:
        from .pipeline import segment_with

        seg = segment_with(
            image,
            opts.segment.replace(av=want_av),
            fov=fov if opts.model_fov == 'dataset' else None,
            progress=progress,
        )
        pred, threshold, binary = seg.probability, seg.threshold, False
        av_pred, vessels_pred = seg.artery_vein, seg.vessels
        p_art = seg.artery_probability
        info = {
            k: v
            for k, v in seg.metadata().items()
            if k
            in (
                'model',
                'weights_sha256',
                'av_model',
                'av_weights_sha256',
                'device',
                'arithmetic',
            )
        }
    stats = None
    error = None
    if fov is not None and not np.asarray(fov).any():
        # Nothing to score: F1 would be 1.0 over no pixels and enter the
        # per-image mean as a perfect photo.
        truth = truth_av = None
        want_av = False
        error = EMPTY_FOV
    if truth is not None:
        # Private helpers: a parallel worker returns counts and sorted
        # scores, the accumulators in the main process pool them.
        stats = image_stats(truth, pred, fov, threshold, binary)
    counts = None
    if want_av:
        counts = av_counts(
            truth_av,
            av_pred,
            vessels_pred=vessels_pred,
            artery_probability=p_art,
            mask=fov,
        )
    return {
        'name': sample.name,
        'stats': stats,
        'av_counts': counts,
        'threshold': threshold,
        'info': info,
        'error': error,
        'seconds': time.perf_counter() - t0,
    }


def _map_parallel(func, samples, workers, scheduler, progress) -> list:
    try:
        from .batch import map_images
    except ImportError:
        map_images = None
    if map_images is None:
        raise RetinaVesselsError(
            'parallel evaluation (workers or a Dask scheduler) is not '
            'available in this version; run without --workers/--scheduler'
        )
    # map_images reports Progress('evaluate', done, total) itself.
    return map_images(
        func,
        samples,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        stage='evaluate',
    )


# ------------------------------------------------------------- dataset
def _row(result: dict, vessel_row: dict | None, av_row: dict | None):
    row: dict[str, Any] = {'name': result['name']}
    if vessel_row is not None:
        row.update(vessel_row)
    if av_row is not None:
        for part in ('all', 'intersection'):
            for k in ('acc', 'se', 'sp'):
                row[f'av_{part}_{k}'] = av_row[part][k]
        row['av_detected'] = av_row['detected']
    if result.get('error'):
        row['error'] = result['error']
    row['seconds'] = round(result['seconds'], 3)
    return row


def _clean(value):
    """NaN -> None and numpy scalars -> Python, so the JSON is valid."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def evaluate_dataset(
    folder: str | os.PathLike,
    *,
    model: str = 'default',
    predictions: str | os.PathLike | None = None,
    split: str = 'all',
    device: str = 'auto',
    views: int | None = None,
    threshold: float | None = None,
    av: bool = False,
    av_model: str = 'default',
    consistency: bool | str = 'graph',
    av_views: int | None = None,
    vessel_views: int | None = None,
    best_threshold: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    progress: Callable[[Any], Any] | None = None,
    tta: bool = False,
    precision: str = 'auto',
    strict: bool = False,
    engine: str = 'auto',  # [#33 engine]
    model_fov: str = 'dataset',
    contrast_view: str = DEFAULT_VIEW,
) -> dict[str, Any]:
    """Score a model (or saved maps) on a dataset folder.

    Parameters
    ----------
    folder : str or os.PathLike
        Dataset folder in a layout :func:`.datasets.discover` knows. The
        dataset's FOV masks are used, or :func:`.fov.fov_mask` without.
    model : str
        Vessel model to run (ignored with *predictions*).
    predictions : path, optional
        Folder of saved maps ``<image stem>.png|.tif|.tiff|.npy``, or
        ``<image stem>_prob.*`` as ``retina-vessels segment`` writes (8-bit
        PNG = probability x 255, 16-bit x 65535, TIFF/NPY floats in
        [0, 1]) scored instead of running a model; with *av*, A/V labels
        are read from ``<image stem>_av.*``.
    split : {'all', 'train', 'test'}
    device, views, av_model, consistency, av_views, vessel_views, precision,
    engine, contrast_view
        Passed to :func:`.pipeline.segment` (``tta=True``, the old
        option, is ``views=4``).
    threshold : float, optional
        Vessel cut-off; the model's own (0.5 for saved maps) by default.
    av : bool
        Also score arteries/veins on the photos that have A/V labels:
        ground-truth artery and vein pixels inside the FOV count,
        crossings and uncertain pixels do not (:mod:`.metrics.av`).
    model_fov : {'dataset', 'photo'}
        The FOV given to the model: the dataset's mask (default), or
        none, so that the pipeline finds it in the photo as
        ``segment(image)`` does. The model's output depends on it (the
        input is standardised inside the FOV): on RITE test the A/V
        accuracy is 0.9417 with 'dataset' and 0.9386 with 'photo'.
    best_threshold : bool
        Also report the threshold maximising pooled F1.
    workers, scheduler
        Run the photos on a Dask cluster (needs ``batch.map_images``).
    strict : bool
        With *predictions*: fail when a photo has no saved map, instead
        of scoring the photos that have one and listing the others in
        ``missing_predictions``.
    progress : callable, optional
        Receives ``Progress('evaluate', done, total)`` records (and the
        model's own while it runs).

    Returns
    -------
    dict
        JSON-ready report: ``model``, ``weights_sha256``, ``dataset``,
        ``split``, ``n_images``, ``threshold``, ``pooled``,
        ``per_image_mean``, ``per_image_sd``, ``best_threshold``, ``av``
        (``all``, ``intersection``, ``detected``), ``images`` (one row per
        photo scored), ``missing_predictions`` (photos without a saved
        map, not scored) and ``seconds_per_image``; missing parts are
        None.

    Raises
    ------
    DatasetError
        Unknown folder, no saved prediction at all (any missing one
        with *strict*), or *av* on a dataset without artery/vein
        labels.
    ShapeMismatchError
        A saved prediction's size differs from its photo's.
    InvalidOptionError
        *threshold* is not between 0 and 1.
    """
    t0 = time.perf_counter()
    # Bad options fail before any photo is read or model run.
    if model_fov not in MODEL_FOV:
        raise InvalidOptionError(
            f'model_fov must be one of {", ".join(MODEL_FOV)}, got '
            f'{model_fov!r}'
        )
    if threshold is not None:
        threshold = check_threshold(threshold)
    from .av import check_vote

    consistency = check_vote(consistency)
    segment_options = None
    if predictions is None:
        from .options import SegmentOptions
        from .pipeline import flip_views

        # evaluate's own keywords (tta, vessel_views, av_views) map onto
        # the one options type here, so segmenting warns about nothing.
        segment_options = SegmentOptions(
            model=model,
            av=av,
            av_model=av_model,
            device=device,
            views=flip_views(
                views, tta=tta, vessel_views=vessel_views, av_views=av_views
            ),
            threshold=threshold,
            consistency=consistency,
            precision=precision,
            engine=engine,
            contrast_view=contrast_view,
            batch_size=1,
        )
    samples = discover(folder, split=split)
    if av and not any(s.av is not None for s in samples):
        raise DatasetError(
            f'{folder} has no artery/vein labels to score against; drop '
            '--av (av=False) or choose a dataset with them (RITE, HRF-AV)'
        )
    pred_dir = Path(predictions) if predictions is not None else None
    if pred_dir is not None:
        if not pred_dir.is_dir():
            raise DatasetError(f'prediction folder {pred_dir} does not exist')
        samples, missing = _with_predictions(pred_dir, samples, strict)
    else:
        missing = []
    opts = _Options(
        model=model,
        predictions=pred_dir,
        device=device,
        threshold=threshold,
        av=av,
        av_model=av_model,
        consistency=consistency,
        segment=segment_options,
        model_fov=model_fov,
    )
    emit = None
    if workers or scheduler:
        results = _map_parallel(
            partial(_score_sample, opts=opts),
            samples,
            workers,
            scheduler,
            progress,
        )
    else:
        results = (_score_sample(s, opts, progress) for s in samples)
        if progress is not None:
            from .progress import Progress

            emit = progress
            emit(Progress('evaluate', 0, len(samples)))

    vessels: VesselAccumulator | None = None
    avs = AVAccumulator()
    rows, info, thr = [], {}, None
    for i, res in enumerate(results, 1):
        info = info or res['info']
        thr = res['threshold'] if thr is None else thr
        v_row = av_row = None
        if res['stats'] is not None:
            if vessels is None:
                vessels = VesselAccumulator(threshold=res['threshold'])
            v_row = vessels.add_stats(res['stats'])
        if res['av_counts'] is not None:
            av_row = avs.add_counts(res['av_counts'])
        rows.append(_row(res, v_row, av_row))
        if emit is not None:
            emit(Progress('evaluate', i, len(samples)))

    mean = sd = None
    if vessels is not None:
        mean, sd = vessels.summary()
    report = {
        'model': None if pred_dir else info.get('model', model),
        'weights_sha256': info.get('weights_sha256'),
        'av_model': info.get('av_model'),
        'av_weights_sha256': info.get('av_weights_sha256'),
        'av_vote': consistency if av and pred_dir is None else None,
        'contrast_view': (
            segment_options.contrast_view if av and segment_options else None
        ),
        'device': info.get('device'),
        'arithmetic': info.get('arithmetic'),
        'predictions': str(pred_dir) if pred_dir else None,
        'model_fov': None if pred_dir else model_fov,
        'dataset': str(folder),
        'layout': samples[0].layout,
        'split': split,
        'n_images': len(rows),
        'threshold': thr,
        'pooled': vessels.pooled() if vessels else None,
        'per_image_mean': mean,
        'per_image_sd': sd,
        'best_threshold': (
            vessels.best_threshold() if vessels and best_threshold else None
        ),
        'av': avs.pooled(),
        'images': rows,
        'missing_predictions': missing if pred_dir else None,
        'seconds_per_image': round(
            (time.perf_counter() - t0) / max(1, len(rows)), 3
        ),
    }
    return _clean(report)


# --------------------------------------------------------------- output


def write_csv(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the per-image rows of an :func:`evaluate_dataset` report as
    CSV (one row per photo; empty cells for missing values)."""
    rows = report.get('images') or []
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                f'{row[c]:.6f}'
                if isinstance(row.get(c), float)
                else csv_cell(row.get(c))
                for c in columns
            ]
        )
    return write_text_atomic(path, buf.getvalue())
