"""Prepared training photos on disk: canonical-scale channels as PNG.

Preparing a photo (reading it, finding its FOV, resizing it and its
labels to the canonical scale) takes a second or more for a large one
and needs the dataset folder. A cache folder keeps every prepared
dataset split as 8-bit PNG channels, so that a run on another machine
(a lent GPU) needs neither the original photos nor the time to read
them; the photos are about 0.3 MB each at the canonical scale.

Layout: ``CACHE/KEY/index.json`` (names, source folders, task, channel
count, package version) and ``CACHE/KEY/NAME.png`` (RGB) plus
``NAME_cN.png`` for every further channel N. Values are rounded to
1/255: the colour channels come from 8-bit photos, and labels resized
to the canonical scale keep their soft borders to that precision.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from . import data as D

__all__ = ['key', 'load', 'save']


_SPLIT_NAMES = ('training', 'train', 'test', 'testing', 'validation')


def key(spec: str, task: str, vessel_weights: str | None = None) -> str:
    """The cache entry of a ``PATH[:SPLIT]`` dataset spec.

    It is the folder's name and the split (``DRIVE-train``), so that the
    same entry is found whatever the folder's parent is on another
    machine; a split folder (``RITE/training``) is named with its parent
    (``RITE_training``), or RITE's and HRF-AV's ``training`` folders would
    share one entry. An A/V entry also names the vessel model whose maps
    it holds.
    """
    path, _, split = spec.partition(':')
    folder = Path(path.rstrip('/\\'))
    name = folder.name or 'data'
    if name.lower() in _SPLIT_NAMES and folder.parent.name:
        name = f'{folder.parent.name}_{name}'
    out = f'{name}-{split or "train"}-{task}'
    if task == 'av':
        out += '-' + Path(str(vessel_weights or 'default')).stem
    return re.sub(r'[^A-Za-z0-9._-]+', '_', out)


def _q(channel: torch.Tensor) -> np.ndarray:
    return (channel.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


def save(
    folder: str | Path,
    entry: str,
    preps: list[D.Prepared],
    groups: list[str],
    *,
    task: str,
) -> Path:
    """Write prepared photos (and the source folder of each) as *entry*."""
    from .. import __version__
    from ..io import imwrite, write_text_atomic

    out = Path(folder) / entry
    out.mkdir(parents=True, exist_ok=True)
    for p in preps:
        t = p.tensor
        imwrite(out / f'{p.name}.png', np.moveaxis(_q(t[D.RGB]), 0, -1))
        for c in range(3, t.shape[0]):
            imwrite(out / f'{p.name}_c{c}.png', _q(t[c]))
    index = {
        'task': task,
        'channels': int(preps[0].tensor.shape[0]) if preps else 0,
        'names': [p.name for p in preps],
        'groups': list(groups),
        'version': __version__,
    }
    # The index goes last: an entry without one is incomplete.
    write_text_atomic(out / 'index.json', json.dumps(index, indent=1))
    return out


def load(
    folder: str | Path,
    entry: str,
    *,
    task: str,
    rng: np.random.Generator | None = None,
) -> tuple[list[D.Prepared], list[str]] | None:
    """Read *entry*: its prepared photos and their source folders, or
    None when the cache does not hold it (complete, for this task)."""
    from PIL import Image

    src = Path(folder) / entry
    try:
        index = json.loads((src / 'index.json').read_text())
    except (OSError, ValueError):
        return None
    if index.get('task') != task:
        return None
    preps = []
    for name in index['names']:
        rgb = np.asarray(Image.open(src / f'{name}.png').convert('RGB'))
        chans = [np.moveaxis(rgb, -1, 0)]
        for c in range(3, index['channels']):
            chans.append(
                np.asarray(Image.open(src / f'{name}_c{c}.png'))[None]
            )
        stack = np.concatenate(chans).astype(np.float32) / 255
        preps.append(
            D.from_tensor(name, torch.from_numpy(stack), task=task, rng=rng)
        )
    return preps, list(index['groups'])
