"""Checks of a training run's configuration made before any work: a
run folder's ``config.json`` (``train --resume``) and the size of the
network it asks for.

A ``config.json`` is a file: a stray or misspelt key must be named in
one sentence, not become a ``TypeError``; ``channels`` of 100000 must
be refused before 2 GB of weights are allocated, not after.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ..errors import (
    RetinaVesselsError,
    TrainingConfigError,
    first_line,
)

__all__ = ['MAX_PARAMETERS', 'check_network', 'saved_config']

#: Most parameters a trained network may have: 50 million (200 MB of
#: float32, 800 MB with the optimiser's state). The shipped ones have
#: about a million.
MAX_PARAMETERS = 50_000_000


def saved_config(path: Path, current, runtime: tuple[str, ...]):
    """The :class:`~.loop.TrainConfig` a run folder's ``config.json``
    records, with the *runtime* fields of *current* (how the resumed
    run executes) on top.

    Raises
    ------
    TrainingConfigError
        One sentence naming the file and what is wrong with it: not
        JSON, not an object, unknown or missing keys.
    """
    cls = type(current)
    try:
        saved = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        reason = first_line(err)
        raise TrainingConfigError(
            f'cannot read {path} ({reason}); it is not the config.json '
            'train wrote: start a new run in another --out folder'
        ) from None
    if not isinstance(saved, dict):
        raise TrainingConfigError(
            f'{path} holds a JSON {type(saved).__name__}, not the settings '
            'train wrote; start a new run in another --out folder'
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(saved) - set(fields))
    if unknown:
        raise TrainingConfigError(
            f'{path} has unknown key(s) {", ".join(map(repr, unknown))}; '
            f'a run records only {", ".join(fields)}: remove them or start '
            'a new run in another --out folder'
        )
    required = [
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in saved]
    if missing:
        raise TrainingConfigError(
            f'{path} lacks {", ".join(map(repr, missing))}; start a new '
            'run in another --out folder'
        )
    if not isinstance(saved.get('arch_kwargs', {}), dict):
        raise TrainingConfigError(
            f'{path}: arch_kwargs must be an object, got '
            f'{type(saved["arch_kwargs"]).__name__}'
        )
    return cls(**{**saved, **{k: getattr(current, k) for k in runtime}})


def check_network(arch: str, arch_kwargs: dict[str, Any]) -> int:
    """Build *arch* on torch's ``meta`` device (no memory) and return its
    parameter count; refuse options it does not take and networks over
    :data:`MAX_PARAMETERS`, in one sentence, before any allocation."""
    import torch

    from ..models import build_model, count_parameters

    try:
        with torch.device('meta'):
            model = build_model(arch, **arch_kwargs)
    except RetinaVesselsError:
        raise
    except (TypeError, ValueError, RuntimeError) as err:
        reason = first_line(err)
        raise TrainingConfigError(
            f'{arch} cannot be built with {arch_kwargs} ({reason}); check '
            '--channels and the arch_kwargs of config.json'
        ) from None
    n = count_parameters(model)
    if n > MAX_PARAMETERS:
        raise TrainingConfigError(
            f'{arch} with {arch_kwargs} has {n:,} parameters, more than '
            f'the {MAX_PARAMETERS:,} a training run accepts; use fewer '
            'channels (--channels)'
        )
    return n
