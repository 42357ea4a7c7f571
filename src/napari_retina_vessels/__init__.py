"""Retinal vessel and artery/vein segmentation for napari.

The public API is imported lazily so that ``import napari_retina_vessels``
loads neither torch nor Qt::

    import napari_retina_vessels as nrv
    image = nrv.imread('01_test.tif')
    result = nrv.segment(image)          # Segmentation dataclass
    nrv.evaluate(truth, result.probability, mask=result.fov)
    table = nrv.measure(result, image)   # Measurements: per image, segment
"""

from __future__ import annotations

import importlib

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - not installed
    __version__ = 'unknown'

_LAZY = {
    'imread': 'io',
    'imwrite': 'io',
    'fov_mask': 'fov',
    'segment': 'pipeline',
    'iter_segment': 'pipeline',
    'Segmentation': 'pipeline',
    'segment_layer': '_napari.console',
    'measure': 'measures',
    'Measurements': 'measures',
    'evaluate': 'metrics',
    'list_models': 'weights',
    'RetinaVesselsError': 'errors',
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}'
        ) from None
    value = getattr(importlib.import_module(f'.{module}', __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
