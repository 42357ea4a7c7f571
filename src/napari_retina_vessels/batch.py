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

import contextlib
import glob
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ._resume import (
    count_statuses,
    drain,
    recorded_row,
    split_finished,
    table_text,
)
from .cluster import iter_map, map_images, wants_cluster
from .errors import DeviceError, RetinaVesselsError, WeightsError
from .io import (
    csv_cell,
    file_stem,
    imread,
    is_image_path,
    write_text_atomic,
    written_by_us,
)
from .metrics.counting import check_threshold
from .outputs import (
    PROBABILITY_FORMATS,
    output_paths,
    segmentation_row,
    write_marker,
    write_segmentation,
)
from .progress import Progress

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

FORMATS = PROBABILITY_FORMATS
_OUTPUT_ENDINGS = (
    '_prob.png',
    '_prob.tif',
    '_prob.npy',
    '_vessels.png',
    '_av.png',
    '_av_overlay.png',
)


# -- inputs -----------------------------------------------------------------


def _folder_images(folder: Path) -> list[Path]:
    """Photos of a dataset folder (not its labels), else its image files."""
    from .datasets import detect_layout, discover

    if detect_layout(folder) is not None:
        try:
            return [s.image for s in discover(folder)]
        except RetinaVesselsError:
            pass  # a layout without photos: fall back to the plain files
    try:
        return sorted(
            p for p in folder.iterdir() if p.is_file() and _is_candidate(p)
        )
    except OSError as err:
        raise _UnreadableInput(
            f'cannot list the folder {folder} '
            f'({err.strerror or type(err).__name__}); check its '
            'permissions'
        ) from err


class _UnreadableInput(RetinaVesselsError):
    """An input folder that cannot be listed."""


def _glob(pattern: str) -> list[Path]:
    """Paths matching *pattern*; ``**`` never follows symbolic links, so a
    link loop cannot make the walk endless (``glob.glob`` follows them)."""
    parts = Path(pattern).parts
    i = next(k for k, part in enumerate(parts) if glob.has_magic(part))
    root = Path(*parts[:i]) if i else Path('.')
    try:
        return sorted(root.glob(str(Path(*parts[i:]))))
    except (OSError, ValueError):
        return []


def _is_candidate(path: Path) -> bool:
    """An image file of a folder or glob, not one of our own outputs."""
    name = path.name.lower()
    return (
        is_image_path(path)
        and not name.startswith('.')
        and not name.endswith(_OUTPUT_ENDINGS)
    )


def collect_inputs(
    inputs: Sequence[str | os.PathLike],
) -> tuple[list[Path], list[str]]:
    """Expand files, folders and glob patterns into photo paths.

    Folders give the image files directly inside them, or the photos of a
    dataset folder (DRIVE, CHASE_DB1, ...; see ``datasets``). Globs give
    the image files they match (and the photos of matched folders).
    Explicit files are kept whatever their name. Duplicates are dropped.

    Returns
    -------
    (list of Path, list of str)
        The photos in input order, and the inputs that matched nothing.
    """
    found: list[Path] = []
    missing: list[str] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            found += _folder_images(path)  # unreadable: the batch fails
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            hits = []
            for p in _glob(text):
                if p.is_dir():
                    # One unreadable match among many is skipped.
                    with contextlib.suppress(_UnreadableInput):
                        hits += _folder_images(p)
                elif p.is_file() and _is_candidate(p):
                    hits.append(p)
            if hits:
                found += hits
            else:
                missing.append(text)
        else:
            missing.append(text)
    seen: set[Path] = set()
    out = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out, missing


def _names(paths: list[Path]) -> list[str]:
    """Output names: the file stem, made unique with a path hash."""
    import hashlib
    from collections import Counter

    stems = [file_stem(p) for p in paths]
    counts = Counter(stems)
    out = []
    for p, s in zip(paths, stems):
        if counts[s] > 1:
            digest = hashlib.sha1(os.fsencode(p.resolve())).hexdigest()
            s = f'{s}-{digest[:8]}'
        out.append(s)
    return out


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
    (:func:`~.io.written_by_us`). Any other file, such as a user's own
    ``p1_vessels.png`` beside ``p1.png`` when the input folder is the
    output folder, is never overwritten: the photo fails instead. The
    pending marker replaces the old one, which must not vouch for
    outputs that are about to change.
    """
    try:
        data = json.loads(job.marker.read_text(encoding='utf-8'))
        owned = (
            set(data.get('outputs') or ()) if isinstance(data, dict) else set()
        )
    except (OSError, ValueError, TypeError):
        owned = set()
    files = job.outputs()
    for path in files.values():
        if (
            path.name not in owned
            and (path.exists() or path.is_symlink())
            and not written_by_us(path)
        ):
            raise RetinaVesselsError(
                f'{path} exists and was not written by retina-vessels; '
                'choose an empty --out folder or move that file away'
            )
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
    files = write_segmentation(
        job.out, job.name, seg, image=image, fmt=s['fmt']
    )
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
    write_marker(job.out, job.name, s, row, files)


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
        from .cluster import worker_device
        from .pipeline import segment

        image = _load(job)
        s = job.settings
        seg = segment(
            image,
            model=s['model'],
            av=s['av'],
            av_model=s['av_model'],
            device=worker_device(job.device),
            vessel_views=s['vessel_views'],
            av_views=s['av_views'],
            threshold=s['threshold'],
            precision=s['precision'],
        )
        _record(job, seg, image, row, t0)
    except (WeightsError, DeviceError):
        raise  # the model or device: the batch stops once
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
        except RetinaVesselsError as err:
            _failed(jobs[k], row, err, starts[k])
        return row

    runs = iter_segment_many(
        [partial(load, k) for k in range(len(jobs))],
        model=s['model'],
        av=s['av'],
        av_model=s['av_model'],
        device=jobs[0].device,
        vessel_views=s['vessel_views'],
        av_views=s['av_views'],
        threshold=s['threshold'],
        precision=s['precision'],
        batch_size=batch_size,
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


def _settings(
    model: str,
    av: bool,
    av_model: str,
    tta: bool,
    threshold: float | None,
    fmt: str,
    *,
    views: int | None = None,
    precision: str = 'auto',
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

    if fmt not in FORMATS:
        raise RetinaVesselsError(
            f'unknown format {fmt!r}; choose one of {", ".join(FORMATS)}'
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
    if av:
        out['av_model'], out['av_weights_sha256'] = identity(
            str(av_model), 'av'
        )
    return out


def _write_summary(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, table_text(rows, SUMMARY_COLUMNS, csv_cell))


def _check_summary(path: Path) -> None:
    """Refuse to replace a ``summary.csv`` that is not ours."""
    try:
        with open(path, encoding='utf-8', errors='replace') as fh:
            head = fh.readline()
    except FileNotFoundError:
        return
    except OSError as err:
        raise RetinaVesselsError(
            f'cannot read {path} ({err.strerror or err}); choose another '
            '--out folder'
        ) from err
    if not head.startswith('name,path,'):
        raise RetinaVesselsError(
            f'{path} exists and was not written by retina-vessels; '
            'choose another --out folder or move that file away'
        )


def missing_rows(missing, columns, say) -> list[dict]:
    """A failed table row for every input that matched nothing.

    Shared by the segment and measure commands so both report an input
    pattern that finds no file the same way.
    """
    rows = []
    for text in missing:
        row = dict.fromkeys(columns, '')
        row.update(
            name=Path(text).name,
            path=text,
            status='failed',
            error=f'{text} matches no file or folder',
        )
        say(f'skipped {text}: no such file, folder or matching pattern')
        rows.append(row)
    return rows


def _check_out(out: Path) -> None:
    """The output folder exists (created) and is writable, or a
    one-line error before any work."""
    if out.exists() and not out.is_dir():
        raise RetinaVesselsError(
            f'the output folder {out} is a file, not a folder; give the '
            'name of a folder (it is created if missing)'
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        import tempfile

        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise RetinaVesselsError(
            f'cannot write into the output folder {out} '
            f'({err.strerror or type(err).__name__}); choose a folder you '
            'can write to'
        ) from err
    _check_summary(out / 'summary.csv')


def _check_models(settings: dict[str, Any], device: str, local: bool) -> None:
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


# Temporary files untouched for this long belong to a killed writer; a
# younger one may be another run's, writing into the same folder.
_STALE_PART_SECONDS = 3600.0


def _remove_leftovers(out: Path, jobs: list[_Job]) -> None:
    """Delete temporary files that killed writers left behind.

    Only those named after this batch's outputs and untouched for
    ``_STALE_PART_SECONDS``: a second run writing into the same folder
    keeps its own. One listing of the folder, whatever the number of
    images (a glob per output made reruns quadratic).
    """
    names = {
        p.name for job in jobs for p in (*job.outputs().values(), job.marker)
    }
    now = time.time()
    try:
        entries = list(os.scandir(out))
    except OSError:
        return
    for entry in entries:
        # atomic writes use '.<name>.<random>.part'
        if not (entry.name.startswith('.') and entry.name.endswith('.part')):
            continue
        base = entry.name[1:-5].rsplit('.', 1)[0]
        try:
            if (
                base in names
                and now - entry.stat().st_mtime > _STALE_PART_SECONDS
            ):
                os.unlink(entry.path)
        except OSError:
            pass  # gone already, or not ours to delete


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
) -> dict[str, Any]:
    """Segment photos into *out*, resuming earlier runs; write summary.csv.

    Parameters
    ----------
    inputs : sequence of str or os.PathLike
        Files, folders and glob patterns (see :func:`collect_inputs`).
    out : str or os.PathLike
        Output folder (created).
    model, av, av_model, device, views, threshold, precision
        As for :func:`~.pipeline.segment`; ``tta=True``, the old
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
    settings = _settings(
        model,
        av,
        av_model,
        tta,
        threshold,
        fmt,
        views=views,
        precision=precision,
    )
    local = not wants_cluster(workers, scheduler)
    if local:
        from .inference import choose_device

        choose_device(device)  # an unavailable device fails at once
    out = Path(out)
    _check_out(out)
    say = log or (lambda msg: None)
    report = progress or (lambda rec: None)

    paths, missing = collect_inputs(inputs)
    rows = missing_rows(missing, SUMMARY_COLUMNS, say)
    jobs = [
        _Job(str(p.absolute()), name, str(out.absolute()), settings, device)
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
        _check_models(settings, device, local)
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
            stop=(WeightsError, DeviceError),
        )
    finally:
        _remove_leftovers(out, jobs)
        rows += [by_job[i] for i in sorted(by_job)]
        summary = out / 'summary.csv'
        _write_summary(summary, rows)
    if fatal is not None:
        raise fatal
    return {
        **count_statuses(rows, ('done', 'skipped', 'failed', 'ungradable')),
        'summary_csv': str(summary),
    }
