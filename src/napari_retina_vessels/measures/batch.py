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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._resume import (
    count_statuses,
    drain,
    recorded_row,
    split_finished,
    table_text,
)
from ..errors import RetinaVesselsError
from ..progress import Progress
from .core import IMAGE_COLUMNS, SEGMENT_COLUMNS, UNGRADABLE_REASON

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
_MAP_ENDING = '_vessels.png'
# Bump when the measures change their meaning. 2: ungradable photos are
# not measured by default; rows carry the quality grade and a note.
_VERSION = 2
_QUALITY_KEYS = ('quality_grade', 'quality_score', 'quality_reasons')


@dataclass(frozen=True)
class _Item:
    """One image to measure (small and picklable)."""

    name: str
    out: str
    settings: dict = field(hash=False)
    photo: str | None = None
    vessels: str | None = None
    av: str | None = None
    prob: str | None = None
    device: str = 'auto'
    #: The grade ``segment`` recorded (``quality_grade``, ...), if any.
    quality: dict | None = field(default=None, hash=False)

    @property
    def marker(self) -> Path:
        return Path(self.out) / f'{self.name}.measures.json'

    @property
    def segments_csv(self) -> Path:
        return Path(self.out) / f'{self.name}_segments.csv'

    @property
    def source(self) -> str:
        return 'segment outputs' if self.vessels else 'photo'


def _segment_outputs(folder: Path) -> list[dict]:
    """``retina-vessels segment`` outputs in *folder*, one dict a name."""
    found = []
    for vessels in sorted(folder.glob(f'*{_MAP_ENDING}')):
        name = vessels.name[: -len(_MAP_ENDING)]
        item = {'name': name, 'vessels': str(vessels)}
        av = folder / f'{name}_av.png'
        if av.is_file():
            item['av'] = str(av)
        for ext in ('tif', 'npy', 'png'):
            prob = folder / f'{name}_prob.{ext}'
            if prob.is_file():
                item['prob'] = str(prob)
                break
        try:
            row = json.loads(
                (folder / f'{name}.done.json').read_text(encoding='utf-8')
            )['row']
            if row.get('quality_grade'):
                item['quality'] = {k: row.get(k, '') for k in _QUALITY_KEYS}
            if Path(row['path']).is_file():
                item['photo'] = row['path']
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        found.append(item)
    return found


def find_measure_inputs(
    inputs: Sequence[str | os.PathLike],
) -> tuple[list[dict], list[str]]:
    """Expand inputs into items: segment-output sets and photos.

    A folder holding ``*_vessels.png`` files is read as segment outputs;
    other folders, files and globs as photos (see
    :func:`~napari_retina_vessels.batch.collect_inputs`).

    Returns
    -------
    (list of dict, list of str)
        Items with ``name`` and ``photo`` and/or ``vessels``, ``av``,
        ``prob`` paths; and the inputs that matched nothing.
    """
    from .._inputs import _names, collect_inputs

    items: list[dict] = []
    photos: list[str | os.PathLike] = []
    for text in inputs:
        path = Path(text)
        outputs = _segment_outputs(path) if path.is_dir() else []
        if outputs:
            items += outputs
        elif path.is_file() and path.name.endswith(_MAP_ENDING):
            items += [
                o
                for o in _segment_outputs(path.parent)
                if o['vessels'] == str(path)
            ]
        else:
            photos.append(text)
    paths, missing = collect_inputs(photos) if photos else ([], [])
    for p, name in zip(paths, _names(paths)):
        items.append({'name': name, 'photo': str(p)})
    # Names must be unique in the output folder.
    seen: dict[str, int] = {}
    for item in items:
        n = seen.get(item['name'], 0)
        seen[item['name']] = n + 1
        if n:
            item['name'] = f'{item["name"]}_{n + 1}'
    return items, missing


@dataclass
class _Maps:
    """What one image is measured from."""

    vessels: np.ndarray
    photo: np.ndarray | None = None
    av: np.ndarray | None = None
    prob: np.ndarray | None = None
    #: The quality gate's row (``quality_grade``, ...), when known.
    quality: dict | None = None
    note: str = ''


def _load_maps(item: _Item) -> _Maps:
    """The maps of *item* (a photo is segmented first) and its grade."""
    from ..io import imread, read_mask

    photo = imread(item.photo) if item.photo else None
    if item.vessels is None:
        from ..pipeline import segment

        s = item.settings
        seg = segment(
            photo,
            model=s['model'],
            av=True,
            av_model=s['av_model'],
            device=item.device,
            threshold=s['threshold'],
            precision=s.get('precision', 'auto'),
        )
        return _Maps(
            seg.vessels,
            photo,
            seg.artery_vein,
            seg.probability,
            quality=seg.quality.row() if seg.quality is not None else None,
        )
    vessels = read_mask(item.vessels)
    av = imread(item.av) if item.av else None
    if av is not None and av.ndim == 3:
        from ..io import av_from_rgb

        av = av_from_rgb(av)
    prob = None
    if item.prob:
        from ..io import read_npy

        # read_npy checks the declared size before allocating (a tiny
        # .npy can declare terabytes); pickled object arrays are refused.
        prob = (
            read_npy(item.prob)
            if item.prob.endswith('.npy')
            else imread(item.prob)
        )
        if prob.dtype == np.uint8:
            prob = prob.astype(np.float32) / 255.0
        prob = np.asarray(prob, np.float32)
    note = ''
    if photo is not None and photo.shape[:2] != vessels.shape:
        # A different photo (replaced since segment ran): measure
        # without it, and say so.
        note = (
            f'measured without the photo {Path(item.photo).name}: it is '
            f'{photo.shape[1]} x {photo.shape[0]} pixels, the map '
            f'{vessels.shape[1]} x {vessels.shape[0]}'
        )
        photo = None
    quality = item.quality
    if quality is None and photo is not None:
        # Segment recorded no grade (an older run): grade the photo.
        from ..quality import assess

        try:
            quality = assess(photo, probability=prob).row()
        except RetinaVesselsError:
            quality = None  # not gradable as a photo: measured as before
    return _Maps(vessels, photo, av, prob, quality=quality, note=note)


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


def _scale(item: _Item) -> dict[str, Any]:
    """The pixel size given on the command line, else the photo file's
    own (DICOM PixelSpacing or field of view; see measures.calibration).
    """
    given = item.settings['pixel_size_um']
    if given is not None:
        return {'pixel_size_um': given}
    from .calibration import file_calibration

    calib = file_calibration(item.photo)
    return {
        'pixel_size_um': calib.pixel_size_um,
        'pixel_size_source': calib.pixel_size_source,
        'field_of_view_deg': calib.field_of_view_deg,
    }


def _process(item: _Item) -> dict[str, Any]:
    """Measure one image, write its marker and segments; return its row."""
    from ..io import write_text_atomic
    from .core import measure

    t0 = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(MEASURES_COLUMNS, '')
    row.update(
        name=item.name,
        path=item.photo or item.vessels or '',
        source=item.source,
    )
    measure_all = item.settings.get('measure_ungradable', False)
    try:
        item.marker.unlink(missing_ok=True)
        if _ungradable(item.quality) and not measure_all:
            # Recorded by segment: the maps need not even be read.
            maps = None
            _skip_ungradable(row, item.quality)
        else:
            maps = _load_maps(item)
            row.update(maps.quality or {}, note=maps.note)
            if _ungradable(maps.quality) and not measure_all:
                _skip_ungradable(row, maps.quality)
                maps = None
        segments = ','.join(['name', *SEGMENT_COLUMNS]) + '\n'
        if maps is not None:
            m = measure(
                maps.vessels,
                maps.photo,
                artery_vein=maps.av,
                probability=maps.prob,
                **_scale(item),
            )
            values = m.image.iloc[0].to_dict()
            row.update({k: _plain(v) for k, v in values.items()})
            row['status'] = (
                'ungradable' if _ungradable(maps.quality) else 'done'
            )
            buf = _io.StringIO()
            m.segments.assign(name=item.name)[
                ['name', *SEGMENT_COLUMNS]
            ].to_csv(buf, index=False, lineterminator='\n')
            segments = buf.getvalue()
        row['seconds'] = round(time.perf_counter() - t0, 3)
        write_text_atomic(item.segments_csv, segments)
        write_text_atomic(
            item.marker,
            json.dumps({'settings': item.settings, 'row': row}, indent=1),
        )
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

    text = table_text(rows, MEASURES_COLUMNS)
    write_text_atomic(out / 'measures.csv', text)
    parts = [','.join(['name', *SEGMENT_COLUMNS]) + '\n']
    for item in items:
        try:
            text = item.segments_csv.read_text(encoding='utf-8')
        except OSError:
            continue
        parts.append(text.split('\n', 1)[1] if '\n' in text else '')
    write_text_atomic(out / 'segments.csv', ''.join(parts))


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
    model, av_model, device, threshold, precision
        For photos, which are segmented first (with artery/vein).
    overwrite : bool
        Redo images that an earlier run finished.
    measure_ungradable : bool
        Also measure photos the quality gate grades ``ungradable``
        (their rows keep status ``ungradable``). By default they get a
        row with that status, the gate's reasons and no numbers.
    workers, scheduler
        Run on Dask, as ``retina-vessels segment`` does.
    progress, log : callable, optional
        ``Progress('images', done, total)`` records; one line per
        failed or ungradable image.

    Returns
    -------
    dict
        ``done``, ``skipped``, ``failed``, ``ungradable`` counts and the
        paths ``measures_csv`` and ``segments_csv``.
    """
    from ..cluster import iter_map

    if pixel_size_um is not None and not pixel_size_um > 0:
        raise RetinaVesselsError(
            f'the pixel size must be a positive number of micrometres, got '
            f'{pixel_size_um}'
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = log or (lambda msg: None)
    report = progress or (lambda rec: None)
    found, missing = find_measure_inputs(inputs)
    settings = {
        'version': _VERSION,
        'pixel_size_um': pixel_size_um,
        'measure_ungradable': bool(measure_ungradable),
    }
    if any('vessels' not in f for f in found):
        settings.update(
            model=model,
            av_model=av_model,
            threshold=threshold,
            precision=precision,
        )
    items = [
        _Item(
            f['name'],
            str(out.absolute()),
            settings,
            f.get('photo'),
            f.get('vessels'),
            f.get('av'),
            f.get('prob'),
            device,
            f.get('quality'),
        )
        for f in found
    ]
    from .._inputs import missing_rows

    rows = missing_rows(missing, MEASURES_COLUMNS, say)
    by_item, todo = split_finished(items, _done_row, overwrite=overwrite)
    report(Progress('images', len(by_item), len(items)))
    runs = iter_map(
        _process,
        [items[i] for i in todo],
        workers=workers,
        scheduler=scheduler,
        name='retina-measure',
    )
    try:
        drain(
            runs,
            todo,
            by_item,
            total=len(items),
            blank_row=lambda i: {
                **dict.fromkeys(MEASURES_COLUMNS, ''),
                'name': items[i].name,
            },
            label=lambda i: items[i].name,
            report=report,
            say=say,
        )
    finally:
        rows += [by_item[i] for i in sorted(by_item)]
        _write_tables(out, rows, [items[i] for i in sorted(by_item)])
    return {
        **count_statuses(rows, ('done', 'skipped', 'failed', 'ungradable')),
        'measures_csv': str(out / 'measures.csv'),
        'segments_csv': str(out / 'segments.csv'),
    }
