"""Weights: find, download (pooch), verify and load model files.

:func:`resolve` is the one place a model name becomes an identity
(``'default'`` -> the task's default, a registry name, or a weights
file); loading, segmentation, batch markers, :func:`describe` and the CLI
all go through it. A registry file is then found in this order, every
step hash-checked: the copy shipped in the package, then the cache, then
a download from the base URL (the files themselves, their hashes and the
download are :mod:`._weight_files`; its public names are importable
from here). Environment variables, read at each call:

``RETINA_VESSELS_CACHE_DIR``
    cache folder (default: the OS user cache, ``napari-retina-vessels``);
``RETINA_VESSELS_BASE_URL``
    where downloadable files live (default: ``_registry.BASE_URL``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import _registry, _weight_files
from ._weight_files import (
    SHIPPED_DIR,
    base_url,
    cache_dir,
    file_sha256,
    import_weights,
)
from .errors import WeightsError
from .preprocessing import INPUT_MODES

__all__ = [
    'SHIPPED_DIR',
    'cache_dir',
    'base_url',
    'list_models',
    'model_info',
    'resolve_name',
    'resolve',
    'ModelRef',
    'weights_path',
    'load_weights_file',
    'load_model',
    'import_weights',
    'file_sha256',
]


def resolve_name(name: str | None, task: str = 'vessels') -> str:
    """Map ``None``/``'default'`` to the task's default model name."""
    if name in (None, '', 'default'):
        return _registry.DEFAULTS[task]
    return str(name)


def model_info(name: str) -> dict[str, Any]:
    """Registry entry of *name* (a copy), with ``name`` added."""
    try:
        entry = _registry.REGISTRY[name]
    except KeyError:
        known = ', '.join(sorted(_registry.REGISTRY)) or 'none'
        raise WeightsError(
            f'unknown model {name!r}; known models: {known} (or give the '
            'path of a .pt file made by "retina-vessels train")'
        ) from None
    return {'name': name, **entry}


@dataclass(frozen=True)
class ModelRef:
    """A model resolved by :func:`resolve`: what it is, not yet loaded.

    Attributes
    ----------
    name : str
        Registry name, or the stem of a weights file.
    sha256 : str
    info : dict
        The registry entry (``task``, ``threshold``, ``input``...); for a
        file only ``name`` and ``threshold`` (0.5; the file's own
        settings are read when it is loaded).
    path : Path or None
        The weights file given, or None for a registry model (see
        :meth:`local_path`).
    """

    name: str
    sha256: str
    info: dict[str, Any] = field(compare=False)
    path: Path | None = None

    @property
    def registered(self) -> bool:
        """True for a registry model, False for a file."""
        return self.path is None

    @property
    def key(self) -> str:
        """What identifies it in batch markers: the registry name or the
        file's absolute path."""
        return self.name if self.path is None else str(self.path.resolve())

    def local_path(
        self, *, download: bool = True, progressbar: Any = False
    ) -> Path:
        """The verified local file, downloading a registry model when
        allowed (see :func:`weights_path`)."""
        if self.path is not None:
            return self.path
        return weights_path(
            self.name, download=download, progressbar=progressbar
        )


def resolve(
    model: str | os.PathLike | ModelRef | None = 'default',
    task: str | None = 'vessels',
) -> ModelRef:
    """Resolve a model name or weights file; nothing is downloaded.

    Registry names win over files of the same name; ``None``, ``''`` and
    ``'default'`` mean the default model of *task* (of ``'vessels'`` when
    *task* is None).

    Parameters
    ----------
    model : str or os.PathLike or ModelRef or None
        ``'default'``, a registry name, or the path of a ``.pt`` file
        (a :class:`ModelRef` is returned as it is, its task checked).
    task : {'vessels', 'av'} or None
        The task the model must do; None accepts any. A file's task is
        only known once it is loaded (:func:`load_model` checks it).

    Raises
    ------
    WeightsError
        An unknown name that is not an existing file either, or a
        registry model of another task.
    """
    if isinstance(model, ModelRef):  # resolved already
        if task is not None and model.info.get('task', task) != task:
            raise WeightsError(
                f'model {model.name!r} is a {model.info["task"]} model, '
                f'not a {task} model; give a {task} model'
            )
        return model
    name = '' if model is None else str(model)
    if name in ('', 'default') or name in _registry.REGISTRY:
        name = resolve_name(name, task or 'vessels')
        info = model_info(name)
        if task is not None and info['task'] != task:
            raise WeightsError(
                f'model {name!r} is a {info["task"]} model, not a {task} '
                f'model; give a {task} model'
            )
        return ModelRef(name, info['sha256'], info)
    path = Path(name)
    if not path.is_file():
        model_info(name)  # raises the unknown-model message
    return ModelRef(
        path.stem,
        file_sha256(path),
        {'name': path.stem, 'threshold': 0.5},
        path,
    )


def _is_cached(entry: dict) -> bool:
    return (cache_dir() / entry['file']).is_file()


def list_models(task: str | None = None) -> list[dict[str, Any]]:
    """Describe every registered model.

    Returns
    -------
    list of dict
        ``name``, ``arch``, ``task``, ``description``, ``shipped`` and
        ``available`` (usable offline now: shipped or cached).
    """
    out = []
    for name in _registry.REGISTRY:
        info = model_info(name)
        if task is not None and info['task'] != task:
            continue
        info['available'] = bool(info.get('shipped')) or _is_cached(info)
        info['default'] = _registry.DEFAULTS.get(info['task']) == name
        out.append(info)
    return out


def weights_path(
    name: str, *, download: bool = True, progressbar: Any = False
) -> Path:
    """Return the local path of a registered weight file, verified.

    Parameters
    ----------
    name : str
        Registry name.
    download : bool
        Allow a download when the file is neither shipped nor cached.
    progressbar : bool or tqdm-like
        Passed to pooch for the download.

    Raises
    ------
    WeightsError
        Unknown name, hash mismatch, or no network and no cached copy.
    """
    info = model_info(name)
    fname, sha = info['file'], info['sha256']
    shipped = SHIPPED_DIR / fname
    if info.get('shipped') and shipped.is_file():
        _weight_files.verify(shipped, sha, 'the shipped weight file')
        return shipped
    cached = cache_dir() / fname
    if cached.is_file() and file_sha256(cached) == sha:
        return cached
    if not download:
        if cached.is_file():  # there, but damaged: say so, not "fetch"
            _weight_files.verify(cached, sha, 'the cached weight file')
        raise WeightsError(
            f'model {name!r} is not downloaded yet; run "retina-vessels '
            f'weights fetch {name}" or allow downloads'
        )
    return _weight_files.download(fname, sha, progressbar)


def iter_fetch(name: str, *, poll: float = 0.1):
    """Make a registered model available, yielding download progress.

    A generator: yields ``Progress('download', bytes_done, bytes_total)``
    while a download runs (in a helper thread, so that every yield is a
    point where the caller may stop waiting) and returns the local path.
    Nothing is yielded when the file is shipped or cached.
    """
    import threading

    from .progress import Progress

    try:
        return weights_path(name, download=False)
    except WeightsError:
        model_info(name)  # unknown names raise here
    counter = _weight_files.ByteCounter()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box['path'] = weights_path(name, progressbar=counter)
        except BaseException as err:  # noqa: BLE001 - re-raised in caller
            box['error'] = err

    thread = threading.Thread(target=work, daemon=True, name=f'fetch-{name}')
    thread.start()
    while thread.is_alive():
        thread.join(poll)
        yield Progress('download', counter.n, max(counter.total, 1))
    if 'error' in box:
        raise box['error']
    return box['path']


def load_weights_file(path: str | os.PathLike) -> dict[str, Any]:
    """Load a weights file safely (``weights_only=True``) and check it."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f'weight file {path} does not exist')
    from .io._formats import torch_zip_problem

    problem = torch_zip_problem(path)
    if problem is not None:
        raise WeightsError(
            f'{path} is not a weights file made by retina-vessels train: '
            f'{problem}'
        )
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:
        raise WeightsError(
            f'{path} is not a valid weights file ({type(err).__name__}); '
            'it may be truncated or not made by retina-vessels train'
        ) from err
    if not isinstance(data, dict) or not {'arch', 'state_dict'} <= set(data):
        raise WeightsError(
            f'{path} is a torch file but not a retina-vessels weights file '
            '(no "arch" and "state_dict" entries)'
        )
    return data


def _check_layers(path: str, arch: str, kwargs: dict, state: Any) -> None:
    """Refuse architecture arguments that do not fit the stored tensors
    before building the network: a small, safe file could otherwise ask
    for huge layers (gigabytes allocated, then a mismatch)."""
    import torch

    from .models import build_model

    if not isinstance(state, dict):
        raise WeightsError(f'{path} has no valid "state_dict" entry')
    try:
        with torch.device('meta'):  # shapes only, no memory
            meta = build_model(arch, **kwargs)
    except Exception as err:  # any bad argument of any architecture
        raise WeightsError(
            f'{path} gives architecture {arch!r} arguments it cannot take '
            f'({type(err).__name__}); the file is damaged or not made by '
            'retina-vessels train'
        ) from err
    want = sum(t.numel() for t in meta.state_dict().values())
    have = sum(
        t.numel() for t in state.values() if isinstance(t, torch.Tensor)
    )
    if want != have:
        raise WeightsError(
            f'{path} does not match architecture {arch!r}: its arguments '
            f'ask for {want:,} values, the file holds {have:,}'
        )


@lru_cache(maxsize=8)
def _cached_model(path: str, sha: str, device: str, fuse: bool = True):
    import torch

    from .models import ARCHITECTURES, build_model
    from .models._blocks import fuse_batchnorm

    data = load_weights_file(path)
    arch = data['arch']
    if arch not in ARCHITECTURES:
        raise WeightsError(f'{path} needs unknown architecture {arch!r}')
    if data.get('input', 'global') not in INPUT_MODES:
        raise WeightsError(
            f'{path} needs unknown input normalisation {data["input"]!r}; '
            'a newer napari-retina-vessels may read it'
        )
    kwargs = dict(data.get('arch_kwargs') or {})
    _check_layers(path, arch, kwargs, data['state_dict'])
    model = build_model(arch, **kwargs)
    try:
        model.load_state_dict(data['state_dict'])
    except RuntimeError as err:
        raise WeightsError(
            f'{path} does not match architecture {arch!r}: '
            f'{str(err).splitlines()[0]}'
        ) from err
    model.eval()
    if fuse:
        fuse_batchnorm(model)
    model.to(torch.device(device))
    model.to(memory_format=torch.channels_last)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, data


def describe(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """Architecture of a weights file: ``arch``, ``arch_kwargs``, ``task``,
    ``input`` (its input normalisation).

    *name_or_path* is a registry name (downloaded if needed) or a file.
    """
    ref = resolve(name_or_path, task=None)
    _, data = _cached_model(str(ref.local_path()), ref.sha256, 'cpu', True)
    return {
        'arch': data['arch'],
        'arch_kwargs': dict(data.get('arch_kwargs') or {}),
        'task': data.get('task', 'vessels'),
        'input': data.get('input', 'global'),
    }


def load_model(
    name_or_path: str | os.PathLike | ModelRef,
    *,
    task: str = 'vessels',
    device: Any = 'cpu',
    progressbar: Any = False,
    fuse: bool = True,
):
    """Load a network by registry name or file path.

    With *fuse* (the default, for inference) each BatchNorm is folded into
    the convolution before it (``models._blocks.fuse_batchnorm``): the
    same outputs, faster. ``fuse=False`` keeps the trained layout, whose
    ``state_dict`` matches the architecture's (to fine-tune from it).

    Returns
    -------
    (torch.nn.Module, dict)
        The network in eval mode on *device*, and information: ``name``,
        ``arch``, ``task``, ``sha256``, ``threshold``, ``path``, ``input``
        (the input normalisation it was trained with).
    """
    ref = resolve(name_or_path, task)
    path, sha, info = (
        ref.local_path(progressbar=progressbar),
        ref.sha256,
        ref.info,
    )
    model, data = _cached_model(str(path), sha, str(device), fuse)
    return model, _model_info(info, data, sha, path, task)


def _model_info(info: dict, data: dict, sha: str, path, task: str) -> dict:
    """What :func:`load_model` and :func:`model_header` say of a model."""
    if data.get('task', 'vessels') != task:
        raise WeightsError(
            f'model {info["name"]!r} is a {data.get("task")} model, not a '
            f'{task} model'
        )
    return {
        'name': info['name'],
        'arch': data['arch'],
        'task': task,
        'sha256': sha,
        'path': str(path),
        'input': data.get('input', 'global'),
        # The registry's cut-off; 0.5 for a file (resolve) and for an
        # A/V model, whose registry entry has none (it is not used).
        'threshold': float(info.get('threshold', 0.5)),
    }


def model_header(
    name_or_path: str | os.PathLike | ModelRef,
    *,
    task: str = 'vessels',
    progressbar: Any = False,
) -> dict[str, Any]:
    """:func:`load_model`'s information without building the network:
    what a run needs before its first photo (input normalisation,
    threshold), so that photos the quality gate ends early load none."""
    ref = resolve(name_or_path, task)
    path = ref.local_path(progressbar=progressbar)
    data = _header(str(path), ref.sha256)
    return _model_info(ref.info, data, ref.sha256, path, task)


@lru_cache(maxsize=16)
def _header(path: str, sha: str) -> dict[str, Any]:
    data = load_weights_file(path)
    if data.get('input', 'global') not in INPUT_MODES:
        raise WeightsError(
            f'{path} needs unknown input normalisation {data["input"]!r}; '
            'a newer napari-retina-vessels may read it'
        )
    return {k: data.get(k) for k in ('arch', 'task', 'input') if k in data}
