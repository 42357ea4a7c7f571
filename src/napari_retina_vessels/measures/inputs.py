"""What ``retina-vessels measure`` measures: its inputs expanded into
items (``retina-vessels segment`` output sets and photos)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ['find_measure_inputs']

_MAP_ENDING = '_vessels.png'
_QUALITY_KEYS = ('quality_grade', 'quality_score', 'quality_reasons')


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
    from ..io._inputs import _names, collect_inputs

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
