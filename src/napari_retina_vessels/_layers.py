"""Segmentation results -> napari layer-data tuples, without napari.

Each function returns ``(data, kwargs, layer_type)`` tuples that the
widget, the console helper and the tests turn into layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    'AV_COLORS',
    'AV_FEATURES',
    'VESSEL_COLORS',
    'layer_names',
    'segmentation_layers',
    'vessel_layer',
]

#: A/V label colours: red arteries, blue veins, yellow uncertain.
AV_COLORS = {0: 'transparent', 1: 'red', 2: 'blue', 3: 'yellow',
             None: 'transparent'}
AV_FEATURES = {'index': [0, 1, 2, 3],
               'class': ['background', 'artery', 'vein', 'uncertain']}
VESSEL_COLORS = {0: 'transparent', 1: 'lime', None: 'transparent'}
VESSEL_FEATURES = {'index': [0, 1], 'class': ['background', 'vessel']}


def layer_names(image_name: str) -> dict[str, str]:
    """Names of the layers made for the image layer *image_name*."""
    return {
        'probability': f'{image_name} vessels prob',
        'vessels': f'{image_name} vessels',
        'av': f'{image_name} A/V',
        'fov': f'{image_name} FOV',
    }


def _geometry(source: dict[str, Any] | None) -> dict[str, Any]:
    if not source:
        return {}
    return {k: source[k] for k in ('scale', 'translate') if k in source}


def vessel_layer(vessels: np.ndarray, name: str, metadata: dict,
                 geometry: dict | None = None) -> tuple:
    """The binary vessel map as a Labels layer tuple."""
    return (
        np.asarray(vessels, np.uint8),
        {'name': name, 'colormap': VESSEL_COLORS,
         'features': VESSEL_FEATURES, 'opacity': 0.7,
         'metadata': dict(metadata), **(geometry or {})},
        'labels',
    )


def segmentation_layers(
    result, image_name: str, *, geometry: dict | None = None,
    show_fov: bool = False,
) -> list[tuple]:
    """Layer tuples for a :class:`~.pipeline.Segmentation`.

    Parameters
    ----------
    result : Segmentation
    image_name : str
        Name of the source image layer; layers are named after it.
    geometry : dict, optional
        ``scale`` and ``translate`` of the source layer, copied over.
    show_fov : bool
        Also return the FOV mask as a Labels layer.
    """
    names = layer_names(image_name)
    geo = _geometry(geometry)
    meta = result.metadata()
    out = [
        (result.probability,
         {'name': names['probability'], 'colormap': 'magma',
          'contrast_limits': (0.0, 1.0), 'blending': 'additive',
          'visible': False, 'metadata': dict(meta), **geo},
         'image'),
        vessel_layer(result.vessels, names['vessels'], meta, geo),
    ]
    if result.artery_vein is not None:
        out.append((
            result.artery_vein,
            {'name': names['av'], 'colormap': AV_COLORS,
             'features': AV_FEATURES, 'opacity': 0.8,
             'metadata': dict(meta), **geo},
            'labels',
        ))
    if show_fov:
        out.append((
            result.fov.astype(np.uint8),
            {'name': names['fov'], 'colormap': {0: 'transparent',
                                                 1: 'cyan',
                                                 None: 'transparent'},
             'opacity': 0.2, 'metadata': dict(meta), **geo},
            'labels',
        ))
    return out
