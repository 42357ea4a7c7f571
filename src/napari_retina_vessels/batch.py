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

import csv
import glob
import io as _io
import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cluster import iter_map, map_images, wants_cluster
from .errors import RetinaVesselsError
from .progress import Progress
from .io import (
    file_stem,
    imread,
    imwrite,
    is_image_path,
    write_text_atomic,
)

__all__ = ['SUMMARY_COLUMNS', 'collect_inputs', 'run_batch', 'map_images']

#: Columns of ``summary.csv``, in order.
SUMMARY_COLUMNS = (
    'name', 'path', 'width', 'height', 'fov_area_px', 'vessel_density',
    'artery_fraction', 'vein_fraction', 'model', 'weights_sha256',
    'av_model', 'av_weights_sha256', 'threshold', 'device', 'seconds',
    'status', 'error',
)

FORMATS = ('png', 'tif', 'npy')
_OUTPUT_ENDINGS = ('_prob.png', '_prob.tif', '_prob.npy', '_vessels.png',
                   '_av.png', '_av_overlay.png')
# Overlay colours of the A/V labels 1 artery, 2 vein, 3 uncertain.
_AV_COLOURS = {1: (255, 0, 0), 2: (0, 0, 255), 3: (255, 255, 0)}


# -- inputs -----------------------------------------------------------------

def _folder_images(folder: Path) -> list[Path]:
    """Photos of a dataset folder (not its labels), else its image files."""
    from .datasets import detect_layout, discover

    if detect_layout(folder) is not None:
        try:
            return [s.image for s in discover(folder)]
        except RetinaVesselsError:
            pass  # a layout without photos: fall back to the plain files
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and _is_candidate(p))


def _is_candidate(path: Path) -> bool:
    """An image file of a folder or glob, not one of our own outputs."""
    name = path.name.lower()
    return (is_image_path(path) and not name.startswith('.')
            and not name.endswith(_OUTPUT_ENDINGS))


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
            found += _folder_images(path)
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            hits = []
            for m in sorted(glob.glob(text, recursive=True)):
                p = Path(m)
                if p.is_dir():
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

    stems = [file_stem(p) for p in paths]
    out = []
    for p, s in zip(paths, stems):
        if stems.count(s) > 1:
            digest = hashlib.sha1(str(p.resolve()).encode()).hexdigest()
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
        out, n = Path(self.out), self.name
        files = {'prob': out / f'{n}_prob.{self.settings["fmt"]}',
                 'vessels': out / f'{n}_vessels.png'}
        if self.settings['av']:
            files['av'] = out / f'{n}_av.png'
            files['overlay'] = out / f'{n}_av_overlay.png'
        return files

    @property
    def marker(self) -> Path:
        return Path(self.out) / f'{self.name}.done.json'


def _done_row(job: _Job) -> dict | None:
    """The recorded row when *job* is complete with the same options."""
    try:
        data = json.loads(job.marker.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get('settings') != job.settings:
        return None
    if not all(p.is_file() for p in job.outputs().values()):
        return None
    row = data.get('row')
    return row if isinstance(row, dict) else None


def _blank_row(job: _Job) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(SUMMARY_COLUMNS, '')
    row.update(name=job.name, path=job.path)
    return row


def _overlay(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 photo with arteries red, veins blue (alpha 0.8)."""
    from .preprocessing import as_rgb_float

    rgb = as_rgb_float(image) * 255.0
    for value, colour in _AV_COLOURS.items():
        on = labels == value
        rgb[on] = 0.2 * rgb[on] + 0.8 * np.asarray(colour, np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


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

        # Outputs are about to change: the old marker must not vouch for
        # them if this run is cut off half-way.
        job.marker.unlink(missing_ok=True)
        image = imread(job.path)
        s = job.settings
        seg = segment(image, model=s['model'], av=s['av'],
                      av_model=s['av_model'], device=worker_device(
                          job.device), tta=s['tta'],
                      vessel_views=s['vessel_views'],
                      av_views=s['av_views'], threshold=s['threshold'])
        files = job.outputs()
        prob = seg.probability
        if s['fmt'] == 'png':
            prob = np.rint(prob * 255).astype(np.uint8)
        imwrite(files['prob'], prob)
        imwrite(files['vessels'], seg.vessels)
        h, w = seg.vessels.shape
        fov_px = int(seg.fov.sum())
        n_vessel = int(seg.vessels.sum())
        row.update(
            width=w, height=h, fov_area_px=fov_px,
            vessel_density=round(n_vessel / fov_px, 6) if fov_px else '',
            model=seg.model, weights_sha256=seg.weights_sha256,
            device=seg.device, threshold=seg.threshold,
        )
        if seg.artery_vein is not None:
            imwrite(files['av'], seg.artery_vein)
            imwrite(files['overlay'], _overlay(image, seg.artery_vein))
            if n_vessel:
                row['artery_fraction'] = round(
                    int((seg.artery_vein == 1).sum()) / n_vessel, 6)
                row['vein_fraction'] = round(
                    int((seg.artery_vein == 2).sum()) / n_vessel, 6)
            row.update(av_model=seg.av_model,
                       av_weights_sha256=seg.av_weights_sha256)
        row.update(seconds=round(time.perf_counter() - t0, 3),
                   status='done')
        marker = {'settings': s, 'row': row,
                  'outputs': sorted(p.name for p in files.values())}
        write_text_atomic(job.marker, json.dumps(marker, indent=1))
    except RetinaVesselsError as err:
        row.update(status='failed', error=str(err),
                   seconds=round(time.perf_counter() - t0, 3))
    return row


# -- the batch --------------------------------------------------------------

def _settings(model: str, av: bool, av_model: str, tta: bool,
              threshold: float | None, fmt: str) -> dict[str, Any]:
    """Options that decide the outputs, with the weights' sha256.

    Resolved here, without torch, so that an unknown model fails before
    any image and a changed weight file redoes finished images.
    """
    from ._registry import REGISTRY
    from .weights import file_sha256, model_info, resolve_name

    def identity(name: str, task: str) -> tuple[str, str]:
        # The same order as weights.load_model: registry names first.
        if name not in REGISTRY and name not in ('', 'default') and \
                Path(name).is_file():
            return str(Path(name).resolve()), file_sha256(name)
        info = model_info(resolve_name(name, task))
        if info['task'] != task:
            raise RetinaVesselsError(
                f'model {info["name"]!r} is a {info["task"]} model; give a '
                f'{task} model')
        return info['name'], info['sha256']

    if fmt not in FORMATS:
        raise RetinaVesselsError(
            f'unknown format {fmt!r}; choose one of {", ".join(FORMATS)}')
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise RetinaVesselsError(
            f'the threshold must be between 0 and 1, got {threshold}')
    from .pipeline import flip_views

    model, sha = identity(str(model), 'vessels')
    # The flip views are recorded, not just tta: a release that changes
    # the default number of views redoes the images it would change.
    vessel_views, av_views = flip_views(bool(tta))
    out = {'model': model, 'weights_sha256': sha, 'av': bool(av),
           'av_model': None, 'av_weights_sha256': None, 'tta': bool(tta),
           'vessel_views': vessel_views,
           'av_views': av_views if av else None,
           'threshold': threshold, 'fmt': fmt}
    if av:
        out['av_model'], out['av_weights_sha256'] = identity(
            str(av_model), 'av')
    return out


def _write_summary(path: Path, rows: list[dict]) -> None:
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS,
                            extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ('' if row.get(k) is None else row.get(k))
                         for k in SUMMARY_COLUMNS})
    write_text_atomic(path, buf.getvalue())


def _remove_leftovers(jobs: list[_Job]) -> None:
    """Delete temporary files that killed writers left behind."""
    for job in jobs:
        for p in (*job.outputs().values(), job.marker):
            for part in p.parent.glob(f'.{glob.escape(p.name)}.*.part'):
                part.unlink(missing_ok=True)


def run_batch(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    model: str = 'default',
    av: bool = False,
    av_model: str = 'default',
    device: str = 'auto',
    tta: bool = False,
    threshold: float | None = None,
    fmt: str = 'png',
    overwrite: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    progress: Callable[[Progress], Any] | None = None,
    log: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Segment photos into *out*, resuming earlier runs; write summary.csv.

    Parameters
    ----------
    inputs : sequence of str or os.PathLike
        Files, folders and glob patterns (see :func:`collect_inputs`).
    out : str or os.PathLike
        Output folder (created).
    model, av, av_model, device, tta, threshold
        As for :func:`~.pipeline.segment`.
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
        Called with one line per image that failed.

    Returns
    -------
    dict
        ``done``, ``skipped`` (finished earlier), ``failed`` counts and
        ``summary_csv``, the path of the per-image table.

    Raises
    ------
    RetinaVesselsError
        For options that no image could succeed with (unknown model,
        unavailable device, bad format, unreachable scheduler).
    """
    settings = _settings(model, av, av_model, tta, threshold, fmt)
    if not wants_cluster(workers, scheduler):
        from .inference import choose_device

        choose_device(device)  # an unavailable device fails at once
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = log or (lambda msg: None)
    report = progress or (lambda rec: None)

    paths, missing = collect_inputs(inputs)
    rows: list[dict] = []
    for text in missing:
        row = dict.fromkeys(SUMMARY_COLUMNS, '')
        row.update(name=Path(text).name, path=text, status='failed',
                   error=f'{text} matches no file or folder')
        say(f'skipped {text}: no such file, folder or matching pattern')
        rows.append(row)
    jobs = [_Job(str(p.absolute()), name, str(out.absolute()), settings,
                 device)
            for p, name in zip(paths, _names(paths))]
    by_job: dict[int, dict] = {}
    todo = []
    for i, job in enumerate(jobs):
        row = None if overwrite else _done_row(job)
        if row is None:
            todo.append(i)
        else:
            by_job[i] = {**row, 'path': job.path, 'status': 'skipped'}
    total = len(jobs)
    report(Progress('images', len(by_job), total))
    runs = iter_map(_process, [jobs[i] for i in todo], workers=workers,
                    scheduler=scheduler, name='retina-segment')
    try:
        with closing(runs):
            for k, row, error in runs:
                i = todo[k]
                if error is not None:  # not a bad photo: a bug, a crash
                    row = _blank_row(jobs[i])
                    row.update(status='failed',
                               error=f'{type(error).__name__}: {error}')
                if row['status'] == 'failed':
                    say(f'skipped {Path(jobs[i].path).name}: '
                        f'{row["error"]}')
                by_job[i] = row
                report(Progress('images', len(by_job), total))
    finally:
        _remove_leftovers(jobs)
        rows += [by_job[i] for i in sorted(by_job)]
        summary = out / 'summary.csv'
        _write_summary(summary, rows)
    statuses = [r['status'] for r in rows]
    return {'done': statuses.count('done'),
            'skipped': statuses.count('skipped'),
            'failed': statuses.count('failed'),
            'summary_csv': str(summary)}
