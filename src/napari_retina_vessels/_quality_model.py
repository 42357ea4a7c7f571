"""The learned gradability model, evaluated with NumPy.

A small classifier (standardised-feature logistic regression or a
one-hidden-layer perceptron, whichever the leave-one-camera-out table
chose) over the features of :mod:`._quality_features`, stored as arrays
in one ``.npz`` file that is listed, with its sha256, in the weights
registry (``_registry.REGISTRY[MODEL_NAME]``) and shipped in the package.
``scripts/quality_model.py train`` writes it. Classes: gradable,
ungradable, not a fundus photo; the score is the probability of the
first.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ._quality_features import FEATURES, GROUPS

__all__ = [
    'MODEL_NAME',
    'FILE_NAME',
    'LOG_FEATURES',
    'transform_log',
    'probabilities',
    'load',
    'judge',
]

#: Registry name and file of the model.
MODEL_NAME = 'quality-gate'
FILE_NAME = 'quality-gate-v1.npz'

#: Features that are shares or energies spanning decades: the model
#: reads their logarithm.
LOG_FEATURES = (
    'dark_fraction',
    'saturated_fraction',
    'contrast',
    'sharpness',
    'fine_energy',
    'vessel_energy',
    'vessel_peak',
    'illumination',
    'noise',
)
_LOG = np.array([n in LOG_FEATURES for n in FEATURES])


def transform_log(X: np.ndarray) -> np.ndarray:
    """The model's view of raw feature rows (n, F): logs where due."""
    X = np.array(X, np.float64, ndmin=2)
    X[:, _LOG] = np.log(np.clip(X[:, _LOG], 0, None) + 1e-3)
    return X


def _softmax(a: np.ndarray) -> np.ndarray:
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def _forward(model: dict[str, Any], Z: np.ndarray) -> np.ndarray:
    h = Z @ model['W1'] + model['b1']
    if str(model['kind']) == 'mlp':
        h = np.maximum(h, 0) @ model['W2'] + model['b2']
    return _softmax(h)


def probabilities(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """(n, 3) class probabilities of raw feature rows (n, F)."""
    Z = (transform_log(X) - model['mean']) / model['scale']
    return _forward(model, Z)


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    """The shipped model, hash-checked once per process.

    Raises
    ------
    WeightsError
        When the file is missing or does not match the registry.
    """
    from . import _registry
    from ._weight_files import SHIPPED_DIR, verify
    from .errors import WeightsError

    entry = _registry.REGISTRY[MODEL_NAME]
    path = SHIPPED_DIR / entry['file']
    if not path.is_file():
        raise WeightsError(
            f'the quality model {path.name} is missing from the installed '
            'package; reinstall napari-retina-vessels'
        )
    verify(path, entry['sha256'], 'the shipped quality model')
    with np.load(path, allow_pickle=False) as data:
        model = {k: data[k] for k in data.files}
    if tuple(str(f) for f in model['features']) != FEATURES:
        raise WeightsError(
            f'the quality model {path.name} was made for other features; '
            'reinstall napari-retina-vessels'
        )
    return model


def judge(
    feats: dict[str, float], model: dict[str, Any] | None = None
) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Class probabilities of one photo and its readable reasons.

    A reason is a group of features (:data:`GROUPS`) that, set to the
    values of a typical gradable photo, raises the gradable probability
    by at least 0.1; reasons come with that gain, largest first.
    """
    model = load() if model is None else model
    x = np.array([feats[n] for n in FEATURES], np.float64)
    z = (transform_log(x) - model['mean']) / model['scale']
    base = _forward(model, z)[0]
    idx = {n: i for i, n in enumerate(FEATURES)}
    trials = []
    for phrase, names in GROUPS.items():
        zz = z.copy()
        cols = [idx[n] for n in names]
        zz[0, cols] = model['centre'][cols]
        trials.append((phrase, zz[0]))
    probs = _forward(model, np.stack([t for _, t in trials]))
    found = [
        (float(p[0] - base[0]), phrase)
        for (phrase, _), p in zip(trials, probs, strict=True)
        if p[0] - base[0] >= 0.1
    ]
    found.sort(key=lambda t: -t[0])
    return base, found
