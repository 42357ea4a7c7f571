"""A grader's pass through a cohort: ``review.csv`` in the output folder.

The Review widget steps through the photos of a ``retina-vessels
segment`` (or ``measure``) output folder; for each one the grader
accepts or rejects the photo, with a reason. The decision overrides the
quality gate's grade (both are kept) and goes into ``review.csv``, one
row per photo (the latest decision), rewritten atomically after each
decision, so a review can stop at any time and resume at the first
photo without a decision.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RetinaVesselsError

__all__ = [
    'DECISIONS',
    'REVIEW_COLUMNS',
    'ReviewItem',
    'ReviewLog',
    'review_items',
]

#: Columns of ``review.csv``.
REVIEW_COLUMNS = (
    'photo',
    'decision',
    'reason',
    'grader',
    'time',
    'corrections',
    'quality_grade',
)
DECISIONS = ('accept', 'reject')


@dataclass(frozen=True)
class ReviewItem:
    """One photo of an output folder: its name and files."""

    name: str
    vessels: str
    av: str | None = None
    photo: str | None = None
    quality: dict | None = None
    #: The per-image row ``retina-vessels measure`` recorded, if any.
    measures: dict | None = None

    @property
    def corrections(self) -> Path:
        from .corrections import corrections_path

        return corrections_path(Path(self.vessels).parent, self.name)

    def n_corrections(self) -> int:
        """Changes in ``NAME.corrections.json`` (0 without one)."""
        if not self.corrections.is_file():
            return 0
        from .corrections import load_corrections

        try:
            return len(load_corrections(self.corrections))
        except RetinaVesselsError:
            return 0


def review_items(folder: str | os.PathLike) -> list[ReviewItem]:
    """The photos of a segment output folder, by name.

    Raises
    ------
    RetinaVesselsError
        When *folder* holds no ``*_vessels.png``.
    """
    from .inputs import _segment_outputs

    folder = Path(folder)
    found = _segment_outputs(folder) if folder.is_dir() else []
    if not found:
        raise RetinaVesselsError(
            f'no segment outputs (*_vessels.png) in {folder}; open a '
            '`retina-vessels segment` output folder'
        )
    items = []
    for f in found:
        measures = None
        marker = folder / f'{f["name"]}.measures.json'
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            measures = json.loads(marker.read_text(encoding='utf-8'))['row']
        items.append(
            ReviewItem(
                f['name'],
                f['vessels'],
                f.get('av'),
                f.get('photo'),
                f.get('quality'),
                measures,
            )
        )
    return items


class ReviewLog:
    """``review.csv`` of *folder*: read on creation, written on record."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / 'review.csv'
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                with open(self.path, newline='', encoding='utf-8') as f:
                    for row in csv.DictReader(f):
                        if row.get('photo'):
                            self.rows[row['photo']] = row
            except (OSError, UnicodeDecodeError, csv.Error) as err:
                raise RetinaVesselsError(
                    f'{self.path} is unreadable ({err}); move it away to '
                    'start the review again'
                ) from None

    def decision(self, photo: str) -> str:
        """``accept``, ``reject`` or ``''`` (not reviewed yet)."""
        return self.rows.get(photo, {}).get('decision', '')

    def first_open(self, names: list[str]) -> int:
        """Index of the first photo without a decision (0 if all have)."""
        for i, n in enumerate(names):
            if not self.decision(n):
                return i
        return 0

    def record(
        self,
        item: ReviewItem,
        decision: str,
        *,
        reason: str = '',
        grader: str = '',
    ) -> dict[str, Any]:
        """Record *decision* for *item* and rewrite ``review.csv``."""
        if decision not in DECISIONS:
            raise RetinaVesselsError(
                f'the decision must be accept or reject, got {decision!r}'
            )
        if decision == 'reject' and not reason.strip():
            raise RetinaVesselsError(
                'give a reason for rejecting the photo (it is recorded)'
            )
        row = {
            'photo': item.name,
            'decision': decision,
            'reason': reason.strip(),
            'grader': grader.strip(),
            'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'corrections': item.n_corrections(),
            'quality_grade': (item.quality or {}).get('quality_grade', ''),
        }
        self.rows[item.name] = row
        self._write()
        return row

    def _write(self) -> None:
        from ..batch._resume import table_text
        from ..io import csv_cell, write_text_atomic

        rows = [self.rows[k] for k in sorted(self.rows)]
        # csv_cell: a typed reason cannot become a spreadsheet formula.
        text = table_text(rows, REVIEW_COLUMNS, csv_cell)
        write_text_atomic(self.path, text)
