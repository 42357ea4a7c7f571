"""A grader's corrections of the maps, kept beside the outputs.

``NAME.corrections.json`` records what a grader changed::

    {"version": 1, "image": "01_test", "grader": "AB",
     "time": "2026-12-07T10:00:00Z", "software": "0.2.0",
     "disc": [y, x, radius],
     "segments": [{"at": [y, x], "label": "artery" | "vein" | "exclude"}],
     "painted": "01_test.painted.png"}

A segment correction names a pixel, not a segment number: it applies to
the segment whose centreline is nearest to ``at`` (within
:data:`SNAP_PX` pixels), so it lands on the same vessel after a new
segmentation or with another model. ``painted`` (optional) is a PNG the
size of the map holding added (1) and erased (2) vessel pixels; they
edit the vessel and artery/vein maps before anything is measured. A
correction that lands on no segment is reported in the result and the
tables (``corrections_missed``, ``corrections_reason``), never dropped
silently.

:func:`~.core.measure` applies corrections (``corrections=``): painted
pixels first, then the disc, then each segment's label. A flip to artery
or vein relabels that segment's pixels of the artery/vein map (those
nearer its centreline than any other's, crossings kept) and the map is
traced again, so a corrected photo measures exactly like a manual map
with the vessel relabelled. An excluded segment keeps its pixels but
counts in no CRAE, CRVE or tortuosity (label ``excluded``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorrectionsError

__all__ = [
    'CORRECTIONS_VERSION',
    'LABELS',
    'SNAP_PX',
    'Corrections',
    'SegmentCorrection',
    'as_corrections',
    'corrections_path',
    'load_corrections',
    'save_corrections',
]

#: The format version this module writes and reads.
CORRECTIONS_VERSION = 1
#: What a segment correction may set.
LABELS = ('artery', 'vein', 'exclude')
#: A correction's ``at`` must lie this close (pixels) to a centreline.
SNAP_PX = 2.0
#: A/V map value of each label (``exclude`` changes no pixel).
_AV = {'artery': 1, 'vein': 2}
#: Values of the painted image.
ADDED, ERASED = 1, 2
_SUFFIX = '.corrections.json'


@dataclass(frozen=True)
class SegmentCorrection:
    """One segment's new label, found by a pixel on its centreline."""

    at: tuple[int, int]
    label: str


@dataclass
class Corrections:
    """A grader's corrections of one photo's maps.

    Attributes
    ----------
    image : str
        The photo's name (``NAME`` of ``NAME.corrections.json``).
    grader, time, software : str
        Who corrected, when (ISO 8601, UTC), with which version.
    disc : (y, x, radius) or None
        The optic disc the grader placed, in pixels.
    segments : list of SegmentCorrection
        Label changes, applied in order (a later one on the same segment
        wins).
    painted : (H, W) uint8 or None
        0 unchanged, 1 vessel added, 2 vessel erased.
    """

    image: str = ''
    grader: str = ''
    time: str = ''
    software: str = ''
    disc: tuple[float, float, float] | None = None
    segments: list[SegmentCorrection] = field(default_factory=list)
    painted: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        """The number of changes: segments, painted strokes, the disc."""
        return len(self.segments) + self.strokes() + (self.disc is not None)

    def strokes(self) -> int:
        """Connected regions of painted (added or erased) pixels."""
        if self.painted is None or not self.painted.any():
            return 0
        from scipy import ndimage as ndi

        return sum(
            int(ndi.label(self.painted == v, np.ones((3, 3), bool))[1])
            for v in (ADDED, ERASED)
        )

    def to_dict(self, painted_file: str | None = None) -> dict[str, Any]:
        """The JSON object (``painted`` is the file name given)."""
        out: dict[str, Any] = {
            'version': CORRECTIONS_VERSION,
            'image': self.image,
            'grader': self.grader,
            'time': self.time,
            'software': self.software,
            'disc': None if self.disc is None else list(self.disc),
            'segments': [
                {'at': [int(s.at[0]), int(s.at[1])], 'label': s.label}
                for s in self.segments
            ],
        }
        if painted_file:
            out['painted'] = painted_file
        return out

    def with_segment(self, at, label: str | None) -> Corrections:
        """A copy with *label* set at *at* (None: the correction there,
        and any other on the same pixel, removed)."""
        at = (int(at[0]), int(at[1]))
        keep = [s for s in self.segments if s.at != at]
        if label is not None:
            keep.append(_segment({'at': at, 'label': label}, len(keep)))
        return replace(self, segments=keep)


def corrections_path(folder: str | os.PathLike, name: str) -> Path:
    """Where the corrections of photo *name* live in *folder*."""
    return Path(folder) / f'{name}{_SUFFIX}'


def _fail(where: str, what: str) -> CorrectionsError:
    return CorrectionsError(
        f'{where}: {what}; fix or delete the corrections file'
    )


def _segment(item: Any, i: int, where: str = 'corrections'):
    if not isinstance(item, Mapping):
        raise _fail(where, f'segments[{i}] must be an object')
    at, label = item.get('at'), item.get('label')
    if label not in LABELS:
        raise _fail(
            where,
            f'segments[{i}] has label {label!r}; use one of '
            + ', '.join(LABELS),
        )
    try:
        y, x = (int(round(float(v))) for v in at)
    except (TypeError, ValueError):
        raise _fail(
            where, f'segments[{i}] needs "at": [y, x] in pixels, got {at!r}'
        ) from None
    return SegmentCorrection((y, x), str(label))


def _disc(value: Any, where: str) -> tuple[float, float, float] | None:
    if value is None:
        return None
    try:
        y, x, r = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _fail(
            where, f'"disc" must be [y, x, radius], got {value!r}'
        ) from None
    if not (np.isfinite([y, x, r]).all() and r > 0):
        raise _fail(where, f'"disc" must have a positive radius: {value!r}')
    return (y, x, r)


def _painted(value: Any, base: Path | None, where: str):
    if value is None or isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, str):
        from ..errors import ImageReadError
        from ..io import imread

        path = Path(value)
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            arr = imread(path)
        except ImageReadError as err:
            raise _fail(
                where, f'the painted image is unreadable ({err})'
            ) from err
    else:
        raise _fail(where, '"painted" must be a PNG file name')
    if arr is None:
        return None
    arr = np.asarray(arr)
    if arr.ndim != 2 or not np.isin(arr, (0, ADDED, ERASED)).all():
        raise _fail(
            where,
            'the painted image must be one channel of 0, 1 (added) and 2 '
            '(erased)',
        )
    return arr.astype(np.uint8)


def load_corrections(
    source: str | os.PathLike | Mapping[str, Any],
) -> Corrections:
    """Read and check corrections: a ``NAME.corrections.json`` or a dict.

    Raises
    ------
    CorrectionsError
        For a missing or malformed file, an unknown version or label, or
        a bad disc or painted image: one sentence naming the file.
    """
    base = None
    if isinstance(source, Mapping):
        data, where = source, 'corrections'
    else:
        path = Path(source)
        where, base = str(path), path.parent
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except FileNotFoundError:
            raise CorrectionsError(
                f'no corrections file {path}; give an existing '
                '*.corrections.json'
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise _fail(where, f'not readable JSON ({err})') from None
    if not isinstance(data, Mapping):
        raise _fail(where, 'the file must hold one JSON object')
    version = data.get('version', CORRECTIONS_VERSION)
    if version != CORRECTIONS_VERSION:
        raise _fail(
            where,
            f'version {version!r} is not known (this software reads '
            f'version {CORRECTIONS_VERSION}); update napari-retina-vessels',
        )
    segments = data.get('segments')
    segments = [] if segments is None else segments
    if not isinstance(segments, list):
        raise _fail(where, '"segments" must be a list')
    text = {}
    for key in ('image', 'grader', 'time', 'software'):
        value = data.get(key) or ''
        if not isinstance(value, str):
            raise _fail(where, f'"{key}" must be text, got {value!r}')
        text[key] = value
    return Corrections(
        **text,
        disc=_disc(data.get('disc'), where),
        segments=[_segment(s, i, where) for i, s in enumerate(segments)],
        painted=_painted(data.get('painted'), base, where),
    )


def as_corrections(value: Any) -> Corrections:
    """*value* (Corrections, dict or path) as :class:`Corrections`."""
    if isinstance(value, Corrections):
        return value
    if isinstance(value, (str, os.PathLike, Mapping)):
        return load_corrections(value)
    raise CorrectionsError(
        'corrections must be a *.corrections.json path, a dict or '
        f'Corrections, got {type(value).__name__}'
    )


def save_corrections(
    corrections: Corrections, folder: str | os.PathLike, name: str
) -> Path:
    """Write ``NAME.corrections.json`` (and ``NAME.painted.png``).

    The file is replaced atomically; the painted PNG is written only when
    a pixel was painted (an older one is removed otherwise).
    """
    from ..io import imwrite, write_text_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    painted_file = None
    png = folder / f'{name}.painted.png'
    if corrections.painted is not None and corrections.painted.any():
        imwrite(png, corrections.painted.astype(np.uint8))
        painted_file = png.name
    elif png.is_file():
        png.unlink()
    data = corrections.to_dict(painted_file)
    data['image'] = data['image'] or name
    path = corrections_path(folder, name)
    write_text_atomic(path, json.dumps(data, indent=1) + '\n')
    return path
