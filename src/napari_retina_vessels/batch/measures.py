"""Measure many images into a folder: the ``retina-vessels measure`` core.

Inputs are photos (segmented first, with artery/vein) or the output
folders of ``retina-vessels segment`` (``NAME_vessels.png``, and
``NAME_av.png`` / ``NAME_prob.*`` when present; the photo recorded in
``NAME.done.json`` helps find the disc). Per image the output folder
gets ``NAME.measures.json`` (the marker: settings and the per-image
row) and ``NAME_segments.csv``; a re-run skips images whose marker has
the same settings. ``measures.csv`` (one row per image) and
``segments.csv`` (all segments) are rebuilt from them at the end.

A photo that the quality gate (``quality.py``) grades ``ungradable`` is
not measured unless asked: its row has status ``ungradable``, the
gate's reasons and no numbers. The grade is the one ``segment``
recorded in ``NAME.done.json`` when there is one; photos are graded
when they are segmented here.
"""

from __future__ import annotations

import io as _io
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..contrast_views import DEFAULT_VIEW
from ..errors import (
    DeviceError,
    OutputError,
    RetinaVesselsError,
    WeightsError,
)
from ..io._outfolder import check_ours, check_out, folder_lock
from ..io._writing import csv_cell
from ..measures.checks import as_quality
from ..measures.core import IMAGE_COLUMNS, SEGMENT_COLUMNS, UNGRADABLE_REASON
from ..measures.inputs import find_measure_inputs
from ..progress import Progress
from ..quality import resolution_caveat
from ._measure_items import _Item, _load_maps, _scale
from ._resume import (
    count_statuses,
    drain,
    fill_unreached,
    recorded_row,
    split_finished,
    table_text,
)

__all__ = ['MEASURES_COLUMNS', 'find_measure_inputs', 'run_measures']

#: Columns of ``measures.csv``, in order.
MEASURES_COLUMNS = (
    'name',
    'path',
    'source',
    'status',
    'error',
    'quality_grade',
    'quality_score',
    'quality_reasons',
    'note',
    *IMAGE_COLUMNS,
)
# Bump when the measures change their meaning. 2: ungradable photos are
# not measured by default; rows carry the quality grade and a note.
# 3: grader corrections; segments.csv gains y_mid, x_mid, corrected.
_VERSION = 3
_SEGMENTS_HEADER = ','.join(['name', *SEGMENT_COLUMNS])


def _ungradable(quality: dict | None) -> bool:
    return bool(quality) and quality.get('quality_grade') == 'ungradable'


def _skip_ungradable(row: dict, quality: dict) -> None:
    """Fill *row* for an ungradable photo that is not measured."""
    row.update(quality)
    row['status'] = 'ungradable'
    for col in IMAGE_COLUMNS:
        if col.endswith('_reason'):
            row[col] = UNGRADABLE_REASON
    row['note'] = (
        'the quality gate graded the photo ungradable (see '
        'quality_reasons); it is measured only when asked '
        '(--measure-ungradable)'
    )


def _process(item: _Item) -> dict[str, Any]:
    """Measure one image, write its marker and segments; return its row."""
    from ..io import write_text_atomic
    from ..measures.core import measure

    t0 = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(MEASURES_COLUMNS, '')
    row.update(
        name=item.name,
        path=item.photo or item.vessels or '',
        source=item.source,
    )
    measure_all = item.settings.get('measure_ungradable', False)
    try:
        # Never replace a file we did not write (a user's own
        # NAME_segments.csv in the --out folder).
        check_ours(item.marker)
        check_ours(item.segments_csv, _SEGMENTS_HEADER)
        item.marker.unlink(missing_ok=True)
        if _ungradable(item.quality) and not measure_all:
            # Recorded by segment: the maps need not even be read.
            maps = None
            _skip_ungradable(row, item.quality)
        else:
            maps = _load_maps(item)
            row.update(maps.quality or {}, note=maps.note)
            caveat = resolution_caveat(as_quality(None, maps.quality or None))
            if caveat:  # the calibres' reasons say it too
                row['note'] = '; '.join(filter(None, (maps.note, caveat)))
            if _ungradable(maps.quality) and not measure_all:
                _skip_ungradable(row, maps.quality)
                maps = None
        segments = _SEGMENTS_HEADER + '\n'
        if maps is not None:
            m = measure(
                maps.vessels,
                maps.photo,
                artery_vein=maps.av,
                probability=maps.prob,
                **_scale(item),
                corrections=item.corrections,
            )
            values = m.image.iloc[0].to_dict()
            row.update({k: _plain(v) for k, v in values.items()})
            row['status'] = (
                'ungradable' if _ungradable(maps.quality) else 'done'
            )
            buf = _io.StringIO()
            m.segments.assign(name=csv_cell(item.name))[
                ['name', *SEGMENT_COLUMNS]
            ].to_csv(buf, index=False, lineterminator='\n')
            segments = buf.getvalue()
        row['seconds'] = round(time.perf_counter() - t0, 3)
        write_text_atomic(item.segments_csv, segments)
        write_text_atomic(
            item.marker,
            json.dumps({'settings': item.settings, 'row': row}, indent=1),
        )
    except (WeightsError, DeviceError, OutputError):
        raise  # the model, device or disk: the batch stops once
    except RetinaVesselsError as err:
        row.update(
            status='failed',
            error=str(err),
            seconds=round(time.perf_counter() - t0, 3),
        )
    return row


def _plain(v):
    """A JSON-friendly scalar (NaN becomes an empty cell)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return ''
    return v


def _done_row(item: _Item) -> dict | None:
    return recorded_row(item.marker, item.settings, [item.segments_csv])


def _write_tables(out: Path, rows: list[dict], items: list[_Item]) -> None:
    from ..io import write_text_atomic

    text = table_text(rows, MEASURES_COLUMNS, csv_cell)
    write_text_atomic(out / 'measures.csv', text)
    parts = [_SEGMENTS_HEADER + '\n']
    for item in items:
        try:
            text = item.segments_csv.read_text(encoding='utf-8')
        except OSError:
            continue
        parts.append(text.split('\n', 1)[1] if '\n' in text else '')
    write_text_atomic(out / 'segments.csv', ''.join(parts))


def _corrections_files(
    folder, found: list[dict], say: Callable[[str], Any]
) -> tuple[dict[str, str], list[str]]:
    """``{name: NAME.corrections.json}`` in *folder*, and the names of
    the files that match no image (each said through *say*)."""
    if folder is None:
        return {}, []
    from ..measures.corrections import corrections_path

    folder = Path(folder).absolute()
    if not folder.is_dir():
        raise RetinaVesselsError(
            f'the corrections folder {folder} does not exist; give the '
            'folder holding the *.corrections.json files'
        )
    names = {f['name'] for f in found}
    by_name = {
        n: str(corrections_path(folder, n))
        for n in names
        if corrections_path(folder, n).is_file()
    }
    ending = '.corrections.json'
    unmatched = sorted(
        p.name[: -len(ending)]
        for p in folder.glob(f'*{ending}')
        if p.name[: -len(ending)] not in names
    )
    for name in unmatched:
        say(f'{name}{ending}: no image of that name among the inputs')
    return by_name, unmatched


def _with_corrections(settings: dict, path: str | None) -> dict:
    """*settings* plus a digest of the corrections (and painted PNG),
    so that an image is measured again when its corrections change."""
    if path is None:
        return settings
    import hashlib

    digest = hashlib.sha256(Path(path).read_bytes())
    painted = Path(path).with_name(
        Path(path).name.replace('.corrections.json', '.painted.png')
    )
    if painted.is_file():
        digest.update(painted.read_bytes())
    return {**settings, 'corrections': digest.hexdigest()}


def check_pixel_size(pixel_size_um: float | None) -> None:
    """Refuse a pixel size that is not a positive finite number."""
    if pixel_size_um is not None and not 0 < pixel_size_um < float('inf'):
        raise RetinaVesselsError(
            f'the pixel size must be a positive number of micrometres, got '
            f'{pixel_size_um}'
        )


def run_measures(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    pixel_size_um: float | None = None,
    model: str = 'default',
    av_model: str = 'default',
    device: str = 'auto',
    threshold: float | None = None,
    overwrite: bool = False,
    measure_ungradable: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    progress: Callable[[Progress], Any] | None = None,
    log: Callable[[str], Any] | None = None,
    precision: str = 'auto',
    corrections: str | os.PathLike | None = None,
    contrast_view: str = DEFAULT_VIEW,
) -> dict[str, Any]:
    """Measure images into *out*, resuming earlier runs.

    Parameters
    ----------
    inputs : sequence of str or os.PathLike
        Photos, folders, globs, or ``retina-vessels segment`` output
        folders (or their ``*_vessels.png`` files).
    out : str or os.PathLike
        Output folder (created); may be the segment output folder.
    pixel_size_um : float, optional
        Micrometres per pixel for every image; otherwise from each disc
        (1.8 mm assumed).
    model, av_model, device, threshold, precision, contrast_view
        For photos, which are segmented first (with artery/vein).
    overwrite : bool
        Redo images that an earlier run finished.
    measure_ungradable : bool
        Also measure photos the quality gate grades ``ungradable``
        (their rows keep status ``ungradable``). By default they get a
        row with that status, the gate's reasons and no numbers.
    workers, scheduler
        Run on Dask, as ``retina-vessels segment`` does.
    corrections : str or os.PathLike, optional
        A folder of graders' ``NAME.corrections.json`` files, matched to
        the images by name (see ``measures/corrections.py``). An image
        whose corrections change is measured again; a file that matches
        no image is reported through *log* and counted in ``unmatched``.
    progress, log : callable, optional
        ``Progress('images', done, total)`` records; one line per
        failed or ungradable image.

    Returns
    -------
    dict
        ``done``, ``skipped``, ``failed``, ``ungradable`` counts, the
        names of ``unmatched`` corrections files, and the paths
        ``measures_csv`` and ``segments_csv``.
    """
    from .cluster import iter_map

    check_pixel_size(pixel_size_um)
    out = Path(out)
    check_out(out, summary=False)
    # The tables are rebuilt at the end: refuse before any work to
    # replace a measures.csv or segments.csv that is not ours.
    check_ours(out / 'measures.csv', ','.join(MEASURES_COLUMNS))
    check_ours(out / 'segments.csv', _SEGMENTS_HEADER)
    say = log or (lambda msg: None)
    report = progress or (lambda rec: None)
    found, missing = find_measure_inputs(inputs)
    settings = {
        'version': _VERSION,
        'pixel_size_um': pixel_size_um,
        'measure_ungradable': bool(measure_ungradable),
    }
    photos = any('vessels' not in f for f in found)
    if photos:
        from ..options import SegmentOptions
        from ._settings import check_models

        # The one options check, and the weights' sha256 in every marker.
        settings.update(
            SegmentOptions(
                model=model,
                av=True,
                av_model=av_model,
                threshold=threshold,
                precision=precision,
                contrast_view=contrast_view,
            ).record()
        )
    by_name, unmatched = _corrections_files(corrections, found, say)
    items = [
        _Item(
            f['name'],
            str(out.absolute()),
            _with_corrections(settings, by_name.get(f['name'])),
            f.get('photo'),
            f.get('vessels'),
            f.get('av'),
            f.get('prob'),
            device,
            f.get('quality'),
            by_name.get(f['name']),
        )
        for f in found
    ]
    from ..io._inputs import missing_rows

    # One run at a time per folder, but for runs with these settings.
    with folder_lock(out, 'measure', settings):
        rows = missing_rows(missing, MEASURES_COLUMNS, say)
        by_item, todo = split_finished(items, _done_row, overwrite=overwrite)
        report(Progress('images', len(by_item), len(items)))
        if photos and todo:
            from .cluster import wants_cluster

            # A broken model fails the batch once, not once per photo.
            check_models(
                settings, device, not wants_cluster(workers, scheduler)
            )
        runs = iter_map(
            _process,
            [items[i] for i in todo],
            workers=workers,
            scheduler=scheduler,
            name='retina-measure',
        )

        def blank_row(i: int) -> dict:
            return {
                **dict.fromkeys(MEASURES_COLUMNS, ''),
                'name': items[i].name,
                'path': items[i].photo or items[i].vessels or '',
                'source': items[i].source,
            }

        try:
            # A failing model (ModelError is a WeightsError), device or
            # disk would fail every image: the batch stops once.
            fatal = drain(
                runs,
                todo,
                by_item,
                total=len(items),
                blank_row=blank_row,
                label=lambda i: items[i].name,
                report=report,
                say=say,
                stop=(WeightsError, DeviceError, OutputError),
                recover=lambda i: _done_row(items[i]),
            )
        finally:
            fill_unreached(todo, by_item, blank_row)
            rows += [by_item[i] for i in sorted(by_item)]
            _write_tables(out, rows, [items[i] for i in sorted(by_item)])
    if fatal is not None:
        raise fatal
    return {
        **count_statuses(rows, ('done', 'skipped', 'failed', 'ungradable')),
        'unmatched': unmatched,
        'measures_csv': str(out / 'measures.csv'),
        'segments_csv': str(out / 'segments.csv'),
    }
