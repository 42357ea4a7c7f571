"""Public dataset folder layouts -> paired samples.

Known layouts (each folder as its release ships it):

- ``drive``: ``images/ 1st_manual/ mask/`` (one split of DRIVE; a DRIVE
  root with ``training/`` and ``test/`` is also accepted);
- ``rite``: ``images/ av/ mask/`` (RITE artery/vein labels of DRIVE; a
  RITE root with ``training/`` and ``test/`` is also accepted);
- ``chase``: CHASE_DB1's flat folder, ``Image_NNX.jpg`` with
  ``Image_NNX_1stHO.png`` and ``masks/``;
- ``stare``: ``stare-images/ labels-ah/ masks/``;
- ``hrf``: ``images/ manual1/ mask/`` (HRF) or ``images/ av/ mask/``
  with ``NN_x_AVmanual.png`` labels (HRF-AV); without ``manual1/`` the
  vessel ground truth is the union of the labelled artery, vein and
  crossing pixels, which cover the whole visible tree;
- ``generic``: ``images/`` with any of ``vessels/ masks/ av/``, paired by
  identical file stem.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from . import file_stem as _stem
from . import is_image_path

__all__ = [
    'Sample',
    'LAYOUTS',
    'detect_layout',
    'discover',
    'load_sample',
    'data_root',
]

LAYOUTS = ('drive', 'rite', 'chase', 'stare', 'hrf', 'generic')
SPLITS = ('all', 'train', 'test')


@dataclass(frozen=True)
class Sample:
    """One photograph and the paths of whatever ground truth it has."""

    name: str
    image: Path
    vessels: Path | None = None
    fov: Path | None = None
    av: Path | None = None
    layout: str = 'generic'


def data_root() -> Path:
    """Root of the public datasets: ``$RETINA_VESSELS_DATA`` or the
    repository default ``../shared/datasets``."""
    return Path(os.environ.get('RETINA_VESSELS_DATA', '../shared/datasets'))


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith('.') and is_image_path(p)
    )


def _by_key(files: list[Path], key) -> dict[str, Path]:
    out = {}
    for f in files:
        k = key(f)
        if k is not None:
            out.setdefault(k, f)
    return out


def _num(path: Path) -> str | None:
    m = re.match(r'(\d+)', path.name)
    return m.group(1) if m else None


def _sub(folder: Path, *names: str) -> Path | None:
    for n in names:
        if (folder / n).is_dir():
            return folder / n
    return None


def detect_layout(folder: str | os.PathLike) -> str | None:
    """Return the layout name of *folder*, or None if it is none of them."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if (folder / 'stare-images').is_dir():
        return 'stare'
    if any(folder.glob('Image_*_1stHO.*')):
        return 'chase'
    if (folder / 'images').is_dir():
        if (folder / '1st_manual').is_dir():
            return 'drive'
        if (folder / 'manual1').is_dir() or any(
            (folder / 'av').glob('*_AVmanual.*')
        ):
            return 'hrf'
        if (folder / 'av').is_dir() and (folder / 'mask').is_dir():
            return 'rite'
        return 'generic'
    for part in _SPLIT_FOLDERS:
        if (folder / part / 'images').is_dir():
            # A DRIVE, RITE or HRF-AV root: its layout is that of its
            # splits.
            inner = detect_layout(folder / part)
            return inner if inner in ('drive', 'rite', 'hrf') else None
    return None


_SPLIT_FOLDERS = ('training', 'test')


def _split_root(folder: Path, split: str, read) -> list[Sample]:
    parts = {
        'train': ['training'],
        'test': ['test'],
        'all': list(_SPLIT_FOLDERS),
    }[split]
    out: list[Sample] = []
    for p in parts:
        if (folder / p / 'images').is_dir():
            out += read(folder / p, 'all')
    return out


def _split_slice(samples: list[Sample], n_train: int, split: str):
    if split == 'train':
        return samples[:n_train]
    if split == 'test':
        return samples[n_train:]
    return samples


def discover(folder: str | os.PathLike, *, split: str = 'all') -> list[Sample]:
    """List the samples of a dataset folder.

    Parameters
    ----------
    folder : str or os.PathLike
        A folder in one of the known layouts.
    split : {'all', 'train', 'test'}
        For flat releases the literature's usual split: CHASE_DB1 first 20
        photos for training, last 8 for test; STARE first 10 / last 10. A
        DRIVE, RITE or HRF-AV root chooses ``training/`` or ``test/``.
        Ignored for folders that are one split already.

    Raises
    ------
    DatasetError
        When the folder is missing, has no known layout, or no photos.
    """
    folder = Path(folder)
    if split not in SPLITS:
        raise DatasetError(
            f'unknown split {split!r}; choose one of {", ".join(SPLITS)}'
        )
    if not folder.is_dir():
        raise DatasetError(f'{folder} is not a folder')
    layout = detect_layout(folder)
    if layout is None:
        raise DatasetError(
            f'{folder} is not a dataset folder this plugin knows: expected '
            'DRIVE (images/ 1st_manual/ mask/), CHASE_DB1, STARE, HRF or '
            'images/ with vessels/ masks/ av/'
        )
    samples = _DISCOVER[layout](folder, split)
    if not samples:
        raise DatasetError(f'{folder} ({layout} layout) holds no photos')
    return samples


def _drive(folder: Path, split: str) -> list[Sample]:
    if not (folder / 'images').is_dir():
        return _split_root(folder, split, _drive)
    vessels = _by_key(_images(folder / '1st_manual'), _num)
    masks = _by_key(_images(folder / 'mask'), _num)
    av = _by_key(_images(folder / 'av'), _num)
    return [
        Sample(
            _stem(img),
            img,
            vessels.get(_num(img)),
            masks.get(_num(img)),
            av.get(_num(img)),
            'drive',
        )
        for img in _images(folder / 'images')
    ]


def _rite(folder: Path, split: str) -> list[Sample]:
    if not (folder / 'images').is_dir():
        return _split_root(folder, split, _rite)
    masks = _by_key(_images(folder / 'mask'), _num)
    av = _by_key(_images(folder / 'av'), _num)
    return [
        Sample(
            _stem(img),
            img,
            None,
            masks.get(_num(img)),
            av.get(_num(img)),
            'rite',
        )
        for img in _images(folder / 'images')
    ]


def _chase(folder: Path, split: str) -> list[Sample]:
    photos = [
        p for p in _images(folder) if re.fullmatch(r'Image_\d+[LR]', _stem(p))
    ]
    masks = _by_key(_images(folder / 'masks'), _stem)
    out = []
    for img in photos:
        s = _stem(img)
        labels = sorted(folder.glob(f'{s}_1stHO.*'))
        out.append(
            Sample(
                s,
                img,
                labels[0] if labels else None,
                masks.get(s),
                None,
                'chase',
            )
        )
    return _split_slice(out, 20, split)


def _stare(folder: Path, split: str) -> list[Sample]:
    labels = _by_key(
        _images(folder / 'labels-ah'), lambda p: _stem(p).split('.')[0]
    )
    masks = _images(folder / 'masks')
    photos = _images(folder / 'stare-images')
    by_stem = _by_key(masks, _stem)
    out = []
    # LWNet's STARE masks pair with the photos in sorted order; use the
    # stem when names agree, else the position.
    for i, img in enumerate(photos):
        s = _stem(img)
        mask = by_stem.get(s)
        if mask is None and len(masks) == len(photos):
            mask = masks[i]
        out.append(Sample(s, img, labels.get(s), mask, None, 'stare'))
    return _split_slice(out, 10, split)


def _hrf(folder: Path, split: str) -> list[Sample]:
    if not (folder / 'images').is_dir():
        return _split_root(folder, split, _hrf)
    vessels = _by_key(_images(folder / 'manual1'), lambda p: p.stem.lower())
    masks = _by_key(
        _images(folder / 'mask'),
        lambda p: p.stem.lower().removesuffix('_mask'),
    )
    av = _by_key(
        _images(folder / 'av'),
        lambda p: p.stem.lower().removesuffix('_avmanual'),
    )
    return [
        Sample(
            img.stem,
            img,
            vessels.get(img.stem.lower()),
            masks.get(img.stem.lower()),
            av.get(img.stem.lower()),
            'hrf',
        )
        for img in _images(folder / 'images')
    ]


def _generic(folder: Path, split: str) -> list[Sample]:
    vdir = _sub(folder, 'vessels', 'labels', 'manual')
    mdir = _sub(folder, 'masks', 'mask', 'fov')
    adir = _sub(folder, 'av', 'artery_vein')
    vessels = _by_key(_images(vdir), _stem) if vdir else {}
    masks = _by_key(_images(mdir), _stem) if mdir else {}
    av = _by_key(_images(adir), _stem) if adir else {}
    return [
        Sample(
            _stem(img),
            img,
            vessels.get(_stem(img)),
            masks.get(_stem(img)),
            av.get(_stem(img)),
            'generic',
        )
        for img in _images(folder / 'images')
    ]


_DISCOVER = {
    'drive': _drive,
    'rite': _rite,
    'chase': _chase,
    'stare': _stare,
    'hrf': _hrf,
    'generic': _generic,
}


def load_sample(sample: Sample) -> dict[str, np.ndarray | None]:
    """Read a sample's photo and ground truth.

    Returns
    -------
    dict
        ``image`` (H, W, 3) or (H, W); ``vessels`` and ``fov`` (H, W) bool
        or None; ``av`` (H, W) uint8 or None.

    Raises
    ------
    DatasetError
        When a label's size differs from the photo's.
    """
    from . import imread, read_av, read_mask

    image = imread(sample.image)
    out: dict[str, np.ndarray | None] = {
        'image': image,
        'vessels': read_mask(sample.vessels) if sample.vessels else None,
        'fov': read_mask(sample.fov) if sample.fov else None,
        'av': read_av(sample.av) if sample.av else None,
    }
    if (
        out['vessels'] is None
        and out['av'] is not None
        and (sample.layout == 'hrf')
    ):
        # HRF-AV labels every visible vessel pixel (artery, vein or
        # crossing): their union is the vessel tree.
        out['vessels'] = out['av'] > 0
    for key in ('vessels', 'fov', 'av'):
        arr = out[key]
        if arr is not None and arr.shape != image.shape[:2]:
            raise DatasetError(
                f'{key} label of {sample.name} is {arr.shape[1]} x '
                f'{arr.shape[0]} but the photo is {image.shape[1]} x '
                f'{image.shape[0]}'
            )
    return out
