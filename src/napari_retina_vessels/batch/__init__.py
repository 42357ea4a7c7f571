"""Segment many photos into a folder: the ``retina-vessels segment`` core.

Per image ``NAME`` the output folder receives ``NAME_prob.<fmt>``,
``NAME_vessels.png`` and, with artery/vein, ``NAME_av.png`` and
``NAME_av_overlay.png``; then, written last, ``NAME.done.json``: the
marker that says the image is complete. A re-run skips an image whose
marker records the same options and whose outputs all exist; an image
cut off half-way has no marker and is redone. Every file is written to a
temporary name and renamed, so no reader ever sees half a file.

With ``workers`` or ``scheduler`` the images become one Dask task each
(see ``docs/cluster.md``); without them Dask is never imported.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..contrast_views import DEFAULT_VIEW
from ..errors import (
    DeviceError,
    OutputError,
    RetinaVesselsError,
    WeightsError,
)
from ..io import (
    csv_cell,
    imread,
    write_text_atomic,
)
from ..io._inputs import _names, collect_inputs, missing_rows
from ..io._outfolder import (
    check_out,
    check_outputs_ours,
    folder_lock,
    remove_leftovers,
)
from ..io.outputs import (
    output_paths,
    segmentation_row,
    write_marker,
    write_segmentation,
)
from ..progress import Progress
from ._resume import (
    count_statuses,
    drain,
    fill_unreached,
    recorded_row,
    split_finished,
    table_text,
)
from ._settings import batch_settings, check_models, options_of
from .cluster import iter_map, map_images, wants_cluster

__all__ = ['SUMMARY_COLUMNS', 'collect_inputs', 'run_batch', 'map_images']

#: Columns of ``summary.csv``, in order.
SUMMARY_COLUMNS = (
    'name',
    'path',
    'width',
    'height',
    'fov_area_px',
    'vessel_density',
    'artery_fraction',
    'vein_fraction',
    'model',
    'weights_sha256',
    'av_model',
    'av_weights_sha256',
    'threshold',
    'device',
    'arithmetic',
    'seconds',
    'quality_grade',
    'quality_score',
    'quality_reasons',
    'status',
    'error',
)


# -- one image --------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs for one photo (small and picklable)."""

    path: str
    name: str
    out: str
    settings: dict = field(hash=False)
    device: str = 'auto'

    def outputs(self) -> dict[str, Path]:
        return output_paths(
            self.out,
            self.name,
            fmt=self.settings['fmt'],
            av=self.settings['av'],
        )

    @property
    def marker(self) -> Path:
        return Path(self.out) / f'{self.name}.done.json'


def _done_row(job: _Job) -> dict | None:
    """The recorded row when *job* is complete with the same options."""
    return recorded_row(job.marker, job.settings, job.outputs().values())


def _claim_outputs(job: _Job) -> None:
    """Check that the outputs of *job* are ours to replace, then mark
    them as being written.

    A file is ours when a marker of this name lists it (a finished run,
    or one cut off half-way) or when it carries our ``Software`` tag
    (:func:`~..io.written_by_us`). Any other file, such as a user's own
    ``p1_vessels.png`` beside ``p1.png`` when the input folder is the
    output folder, is never overwritten: the photo fails instead. The
    pending marker replaces the old one, which must not vouch for
    outputs that are about to change.
    """
    files = job.outputs()
    check_outputs_ours(job.marker, files.values())
    pending = {
        'settings': job.settings,
        'row': None,
        'outputs': sorted(p.name for p in files.values()),
    }
    write_text_atomic(job.marker, json.dumps(pending, indent=1))


def _blank_row(job: _Job) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(SUMMARY_COLUMNS, '')
    row.update(name=job.name, path=job.path)
    return row


def _load(job: _Job) -> Any:
    """Claim the outputs of *job*, then read its photo."""
    _claim_outputs(job)
    return imread(job.path)


def _record(
    job: _Job, seg: Any, image: Any, row: dict[str, Any], t0: float
) -> None:
    """Write the outputs and marker of a segmented photo; fill *row*."""
    s = job.settings
    try:
        files = write_segmentation(
            job.out, job.name, seg, image=image, fmt=s['fmt']
        )
    except OSError as err:
        raise _output_error(job.out, err) from err
    row.update(segmentation_row(seg))
    # An ungradable photo keeps its files, marked as such here and in
    # its marker: its vessel map is not a result.
    if seg.quality is not None:
        row.update(seg.quality.row())
    ungradable = seg.quality is not None and seg.quality.grade == 'ungradable'
    row.update(
        seconds=round(time.perf_counter() - t0, 3),
        status='ungradable' if ungradable else 'done',
    )
    try:
        write_marker(job.out, job.name, s, row, files)
    except OSError as err:
        raise _output_error(job.out, err) from err


def _output_error(out: str | Path, err: OSError) -> OutputError:
    """A write failure as the one-line error that stops the batch."""
    if isinstance(err, OutputError):
        return err
    return OutputError(
        f'cannot write into {out} ({err.strerror or type(err).__name__}); '
        'free some space or choose another --out folder, then run the '
        'same command again to finish'
    )


def _failed(
    job: _Job, row: dict[str, Any], err: Exception, t0: float
) -> dict[str, Any]:
    row.update(
        status='failed',
        error=str(err),
        seconds=round(time.perf_counter() - t0, 3),
    )
    # A failed photo leaves no files; a pending marker stays only to
    # vouch for outputs an earlier run wrote.
    if not any(p.exists() for p in job.outputs().values()):
        job.marker.unlink(missing_ok=True)
    return row


def _process(job: _Job) -> dict[str, Any]:
    """Segment one photo, write its outputs and marker; return its row.

    A photo that cannot be read or segmented gives a ``failed`` row
    instead of an exception, so one bad file never stops a batch.
    """
    t0 = time.perf_counter()
    row = _blank_row(job)
    try:
        from ..pipeline import segment_with
        from .cluster import worker_device

        image = _load(job)
        seg = segment_with(
            image,
            options_of(job.settings, device=worker_device(job.device)),
        )
        _record(job, seg, image, row, t0)
    except (WeightsError, DeviceError, OutputError):
        raise  # the model, device or disk: the batch stops once
    except RetinaVesselsError as err:
        _failed(job, row, err, t0)
    return row


def _iter_batched(
    jobs: list[_Job],
    batch_size: int | None,
    log: Callable[[str], Any],
) -> Iterator[tuple[int, dict | None, Exception | None]]:
    """``(index, row, error)`` of every job, like ``cluster.iter_map``,
    with several photos per forward pass (``batching``): photos are
    claimed and read by the loader threads, and written by a writer pool
    while the next photos are segmented."""
    from concurrent.futures import ThreadPoolExecutor

    from .batching import iter_segment_many

    if not jobs:
        return
    s = jobs[0].settings
    images: dict[int, Any] = {}
    starts: dict[int, float] = {}

    def load(k: int) -> Any:
        starts[k] = time.perf_counter()
        images[k] = _load(jobs[k])
        return images[k]

    def write(k: int, seg: Any) -> dict[str, Any]:
        row = _blank_row(jobs[k])
        try:
            _record(jobs[k], seg, images.pop(k), row, starts[k])
        except OutputError:
            raise  # the disk, not the photo: the batch stops
        except RetinaVesselsError as err:
            _failed(jobs[k], row, err, starts[k])
        return row

    runs = iter_segment_many(
        [partial(load, k) for k in range(len(jobs))],
        options=options_of(s, device=jobs[0].device, batch_size=batch_size),
        log=log,
    )
    with (
        ThreadPoolExecutor(2, thread_name_prefix='retina-write') as pool,
        closing(runs),
    ):
        pending = []
        for k, seg, err in runs:
            if err is None:
                pending.append((k, pool.submit(write, k, seg)))
            elif isinstance(err, RetinaVesselsError) and not isinstance(
                err, (WeightsError, DeviceError)
            ):
                images.pop(k, None)
                yield (
                    k,
                    _failed(
                        jobs[k],
                        _blank_row(jobs[k]),
                        err,
                        starts.get(k, time.perf_counter()),
                    ),
                    None,
                )
            else:
                yield k, None, err
            while pending and pending[0][1].done():
                k, fut = pending.pop(0)
                yield k, fut.result(), None
        for k, fut in pending:
            yield k, fut.result(), None


# -- the batch --------------------------------------------------------------


def _write_summary(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, table_text(rows, SUMMARY_COLUMNS, csv_cell))


def run_batch(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    model: str = 'default',
    av: bool = False,
    av_model: str = 'default',
    device: str = 'auto',
    views: int | None = None,
    threshold: float | None = None,
    fmt: str = 'png',
    overwrite: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    progress: Callable[[Progress], Any] | None = None,
    log: Callable[[str], Any] | None = None,
    tta: bool = False,
    batch_size: int | None = None,
    precision: str = 'auto',
    engine: str = 'auto',
    force: bool = False,
    contrast_view: str = DEFAULT_VIEW,
) -> dict[str, Any]:
    """Segment photos into *out*, resuming earlier runs; write summary.csv.

    Parameters
    ----------
    inputs : sequence of str or os.PathLike
        Files, folders and glob patterns (see :func:`collect_inputs`).
    out : str or os.PathLike
        Output folder (created).
    model, av, av_model, device, views, threshold, precision, engine, force
    contrast_view
        As for :func:`~..pipeline.segment`; ``tta=True``, the old
        option, is ``views=4``.
    fmt : {'png', 'tif', 'npy'}
        Probability map format: PNG holds ``round(p * 255)`` as uint8,
        TIFF and NPY the float32 map.
    overwrite : bool
        Redo images that an earlier run finished.
    workers : int
        Run on a local Dask cluster with this many worker processes.
    scheduler : str, optional
        Address of an existing Dask scheduler instead.
    progress : callable, optional
        Called with ``Progress('images', done, total)``.
    log : callable, optional
        Called with one line per image that failed (and a line when a
        batch ran out of memory and was retried smaller).
    batch_size : int, optional
        Photos per forward pass in this process (see ``batching``);
        default per device: 1 on a CPU, 16 on a GPU. Photos are read
        and written by thread pools while others are segmented. Dask
        workers take one photo per task.

    Returns
    -------
    dict
        ``done``, ``skipped`` (finished earlier), ``failed``,
        ``ungradable`` (segmented, but graded ungradable by the quality
        gate: status ``ungradable``, reasons in ``quality_reasons``,
        outputs written) counts and
        ``summary_csv``, the path of the per-image table.

    Raises
    ------
    RetinaVesselsError
        For options that no image could succeed with (unknown model,
        unavailable device, bad format, unreachable scheduler).
    """
    settings = batch_settings(
        model,
        av,
        av_model,
        tta,
        threshold,
        fmt,
        views=views,
        precision=precision,
        engine=engine,
        force=force,
        contrast_view=contrast_view,
    )
    local = not wants_cluster(workers, scheduler)
    if local:
        from ..inference import choose_device

        choose_device(device)  # an unavailable device fails at once
    out = Path(out)
    check_out(out)
    say = log or (lambda msg: None)
    report = progress or (lambda rec: None)

    # One run at a time per folder, but for runs with these settings.
    with folder_lock(out, 'segment', settings):
        paths, missing = collect_inputs(inputs)
        rows = missing_rows(missing, SUMMARY_COLUMNS, say)
        jobs = [
            _Job(
                str(p.absolute()), name, str(out.absolute()), settings, device
            )
            for p, name in zip(paths, _names(paths))
        ]
        by_job, todo = split_finished(
            jobs,
            _done_row,
            overwrite=overwrite,
            skipped=lambda job: {'path': job.path},
        )
        total = len(jobs)
        report(Progress('images', len(by_job), total))
        if todo:
            check_models(settings, device, local)
        if local:
            runs = _iter_batched([jobs[i] for i in todo], batch_size, say)
        else:
            runs = iter_map(
                _process,
                [jobs[i] for i in todo],
                workers=workers,
                scheduler=scheduler,
                name='retina-segment',
            )
        try:
            # A model or device error is not this photo's fault: every
            # other would fail too, so the batch stops.
            fatal = drain(
                runs,
                todo,
                by_job,
                total=total,
                blank_row=lambda i: _blank_row(jobs[i]),
                label=lambda i: Path(jobs[i].path).name,
                report=report,
                say=say,
                stop=(WeightsError, DeviceError, OutputError),
                recover=lambda i: _done_row(jobs[i]),
            )
        finally:
            remove_leftovers(
                out,
                {
                    p.name
                    for job in jobs
                    for p in (*job.outputs().values(), job.marker)
                },
            )
            # Every photo has a row, those a stopped run never reached
            # too (a full disk, an interrupt).
            fill_unreached(todo, by_job, lambda i: _blank_row(jobs[i]))
            rows += [by_job[i] for i in sorted(by_job)]
            summary = out / 'summary.csv'
            try:
                _write_summary(summary, rows)
            except OSError as err:
                raise _output_error(out, err) from err
    if fatal is not None:
        raise fatal
    return {
        **count_statuses(rows, ('done', 'skipped', 'failed', 'ungradable')),
        'summary_csv': str(summary),
    }
