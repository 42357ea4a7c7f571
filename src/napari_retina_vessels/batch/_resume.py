"""The resumable loop shared by ``retina-vessels segment`` and ``measure``.

Both commands keep one marker file per image in the output folder; an
image whose marker records the same settings is skipped on a re-run.
These helpers split the images into those finished earlier and those to
do, and drain the ``(index, row, error)`` triples of a run (local or on
Dask, see ``cluster.iter_map``) into one row per image, so that both
commands resume, report and log alike. What a marker holds and how an
image is processed stay with each command.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from typing import Any, TypeVar

from ..progress import Progress

__all__ = [
    'count_statuses',
    'drain',
    'recorded_row',
    'split_finished',
    'table_text',
]

T = TypeVar('T')


def recorded_row(
    marker: str | os.PathLike,
    settings: dict,
    outputs: Iterable[str | os.PathLike],
) -> dict | None:
    """The row a marker recorded, when its image is complete.

    Parameters
    ----------
    marker : path
        The image's JSON marker: ``{'settings': ..., 'row': ...}``.
    settings : dict
        The settings of this run; a marker with others is stale.
    outputs : iterable of path
        Files the image must still have.

    Returns
    -------
    dict or None
        None when the marker is missing, unreadable, stale, or an
        output is gone: the image is to be done again.
    """
    try:
        with open(marker, encoding='utf-8') as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get('settings') != settings:
        return None
    if not all(os.path.isfile(p) for p in outputs):
        return None
    row = data.get('row')
    return row if isinstance(row, dict) else None


def split_finished(
    items: Sequence[T],
    done_row: Callable[[T], dict | None],
    *,
    overwrite: bool,
    skipped: Callable[[T], dict] | None = None,
) -> tuple[dict[int, dict], list[int]]:
    """Rows of the items an earlier run finished, and the rest to do.

    Parameters
    ----------
    items : sequence
        The batch, in output order.
    done_row : callable
        ``done_row(item)``: the row its marker recorded when the item is
        complete with the same settings, else None.
    overwrite : bool
        Redo every item.
    skipped : callable, optional
        ``skipped(item)``: values that replace the recorded ones in a
        skipped row (the current path, say).

    Returns
    -------
    (dict, list of int)
        Item index -> its recorded row with status ``'skipped'``; and
        the indices of the items to do, in order.
    """
    rows: dict[int, dict] = {}
    todo: list[int] = []
    for i, item in enumerate(items):
        row = None if overwrite else done_row(item)
        if row is None:
            todo.append(i)
        else:
            extra = skipped(item) if skipped is not None else {}
            rows[i] = {**row, **extra, 'status': 'skipped'}
    return rows, todo


def fill_unreached(
    todo: Sequence[int],
    rows: dict[int, dict],
    blank_row: Callable[[int], dict],
) -> None:
    """Give every item of *todo* that a stopped run never reached (a
    failing model, a full disk, an interrupt) a failed row, so that the
    table lists every input."""
    for i in todo:
        if i not in rows:
            rows[i] = blank_row(i)
            rows[i].update(
                status='failed', error='not done: the run stopped before it'
            )


def drain(
    runs: Iterator[tuple[int, dict | None, BaseException | None]],
    todo: Sequence[int],
    rows: dict[int, dict],
    *,
    total: int,
    blank_row: Callable[[int], dict],
    label: Callable[[int], str],
    report: Callable[[Progress], Any],
    say: Callable[[str], Any],
    stop: tuple[type[BaseException], ...] = (),
    recover: Callable[[int], dict | None] | None = None,
) -> BaseException | None:
    """Collect the rows of a run into *rows*, reporting as they come.

    Parameters
    ----------
    runs : iterator of (k, row, error)
        ``k`` indexes *todo*; ``row`` is the image's row, or None with
        the ``error`` that stopped it (closed here, even when the loop
        is left early).
    todo : sequence of int
        Item index of each ``k``.
    rows : dict
        Item index -> row; filled in place.
    total : int
        Number of items, for the ``Progress('images', ...)`` records.
    blank_row : callable
        ``blank_row(i)``: an empty row naming item *i*, for an error
        that is not the image's fault (a crash, a lost worker).
    label : callable
        ``label(i)``: how the log lines name item *i*.
    report, say : callable
        Progress callback; one log line per failed or ungradable image.
    stop : tuple of exception types
        Errors that no other image would escape (a broken model, a lost
        device): the loop stops and returns the error.

    recover : callable, optional
        ``recover(i)``: the row item *i*'s complete marker records, or
        None. A task that crashed after its outputs and marker were
        written (its worker killed on the way back) is done, not failed.

    Returns
    -------
    Exception or None
        The error of type *stop* that ended the loop, if any.
    """
    with closing(runs):
        for k, row, error in runs:
            i = todo[k]
            if stop and isinstance(error, stop):
                return error
            if error is not None:  # not a bad image: a bug, a crash
                row = recover(i) if recover is not None else None
                if row is None:
                    row = blank_row(i)
                    row.update(status='failed', error=one_line(error))
            if row['status'] == 'failed':
                say(f'skipped {label(i)}: {row["error"]}')
            elif row['status'] == 'ungradable':
                say(f'ungradable {label(i)}: {row["quality_reasons"]}')
            rows[i] = row
            report(Progress('images', len(rows), total))
    return None


def one_line(error: BaseException) -> str:
    """*error* as one short line for a table cell and the log: its type
    and the first line of its text (Dask's errors carry tracebacks)."""
    text = str(error).strip().splitlines()
    first = text[0] if text else ''
    if len(first) > 300:
        first = first[:297] + '...'
    return f'{type(error).__name__}: {first}'.rstrip(': ')


def count_statuses(
    rows: Sequence[dict], statuses: Sequence[str]
) -> dict[str, int]:
    """How many *rows* have each of *statuses*."""
    found = [r['status'] for r in rows]
    return {s: found.count(s) for s in statuses}


def table_text(
    rows: Sequence[dict],
    columns: Sequence[str],
    cell: Callable[[Any], Any] = lambda v: v,
) -> str:
    """The per-image table as CSV text: *columns* in order, a missing
    value empty, each value passed through *cell*."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf,
        fieldnames=list(columns),
        extrasaction='ignore',
        lineterminator='\n',
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(row.get(k, '')) for k in columns})
    return buf.getvalue()
