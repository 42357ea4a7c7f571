"""Segmentation results -> napari layer-data tuples, without napari.

Each function returns ``(data, kwargs, layer_type)`` tuples that the
widget, the console helper and the tests turn into layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    'AV_COLORS',
    'AV_ERROR_FEATURES',
    'AV_FEATURES',
    'ERROR_COLORS',
    'ERROR_FEATURES',
    'VESSEL_COLORS',
    'error_layer',
    'layer_names',
    'result_suffix',
    'segmentation_layers',
    'vessel_layer',
]

#: A/V label colours: red arteries, blue veins, yellow uncertain.
AV_COLORS = {
    0: 'transparent',
    1: 'red',
    2: 'blue',
    3: 'yellow',
    None: 'transparent',
}
AV_FEATURES = {
    'index': [0, 1, 2, 3],
    'class': ['background', 'artery', 'vein', 'uncertain'],
}
VESSEL_COLORS = {0: 'transparent', 1: 'lime', None: 'transparent'}
VESSEL_FEATURES = {'index': [0, 1], 'class': ['background', 'vessel']}


def layer_names(image_name: str, suffix: str = '') -> dict[str, str]:
    """Names of the layers made for the image layer *image_name*.

    *suffix* (e.g. ``' [wnet t=0.45]'``, see :func:`result_suffix`) keeps
    the layers of an earlier run apart from the new ones.
    """
    return {
        'probability': f'{image_name} vessels prob{suffix}',
        'vessels': f'{image_name} vessels{suffix}',
        'av': f'{image_name} A/V{suffix}',
        'artery_prob': f'{image_name} artery prob{suffix}',
        'fov': f'{image_name} FOV{suffix}',
    }


#: Metadata keys that mark a layer as this plugin's output: a result
#: layer (its model's weights), a saved map opened with the reader, or a
#: Measure layer. Such layers are never segmented again.
OUTPUT_KEYS = ('weights_sha256', 'measure_layer', 'retina_vessels_layer')


def is_output(layer: Any) -> bool:
    """Whether *layer* is one the plugin made (see :data:`OUTPUT_KEYS`),
    not a photo."""
    meta = getattr(layer, 'metadata', None) or {}
    return any(meta.get(k) for k in OUTPUT_KEYS)


def is_fov_layer(layer: Any) -> bool:
    """Whether *layer* is a FOV mask the Segment widget added."""
    meta = getattr(layer, 'metadata', None) or {}
    return meta.get('retina_vessels_layer') == 'fov'


def result_suffix(model: str, threshold: float) -> str:
    """Layer-name suffix that tells a kept result apart: model and
    threshold, e.g. ``' [wnet-universal-local t=0.45]'``."""
    return f' [{model} t={threshold:.2f}]'


def _role(meta: dict, role: str) -> dict:
    """*meta* plus the layer's role (a key of :func:`layer_names`)."""
    return {**meta, 'retina_vessels_layer': role}


def _geometry(source: dict[str, Any] | None) -> dict[str, Any]:
    if not source:
        return {}
    return {k: source[k] for k in ('scale', 'translate') if k in source}


def vessel_layer(
    vessels: np.ndarray,
    name: str,
    metadata: dict,
    geometry: dict | None = None,
) -> tuple:
    """The binary vessel map as a Labels layer tuple."""
    return (
        np.asarray(vessels, np.uint8),
        {
            'name': name,
            'colormap': VESSEL_COLORS,
            'features': VESSEL_FEATURES,
            'opacity': 0.7,
            'metadata': dict(metadata),
            **(geometry or {}),
        },
        'labels',
    )


def segmentation_layers(
    result,
    image_name: str,
    *,
    geometry: dict | None = None,
    show_fov: bool = False,
    show_artery_probability: bool = False,
    suffix: str = '',
) -> list[tuple]:
    """Layer tuples for a :class:`~.pipeline.Segmentation`.

    The photo stays visible: the probability map is hidden, and with
    artery/vein labels (which colour the same vessel pixels) the binary
    vessel map is hidden too; the FOV, when asked for, is an outline
    (``contour``, applied by ``add_layers``).

    Parameters
    ----------
    result : Segmentation
    image_name : str
        Name of the source image layer; layers are named after it.
    geometry : dict, optional
        ``scale`` and ``translate`` of the source layer, copied over.
    show_fov : bool
        Also return the FOV mask as a Labels layer.
    show_artery_probability : bool
        Also return the artery probability on the vessel pixels as an
        image (red: artery, blue: vein, white: undecided; transparent
        off the vessels).
    suffix : str
        Appended to every layer name (see :func:`layer_names`).
    """
    names = layer_names(image_name, suffix)
    geo = _geometry(geometry)
    meta = result.metadata()
    has_av = result.artery_vein is not None
    vessels = vessel_layer(
        result.vessels, names['vessels'], _role(meta, 'vessels'), geo
    )
    vessels[1]['visible'] = not has_av
    out = [
        (
            result.probability,
            {
                'name': names['probability'],
                'colormap': 'magma',
                'contrast_limits': (0.0, 1.0),
                'blending': 'additive',
                'visible': False,
                'metadata': _role(meta, 'probability'),
                **geo,
            },
            'image',
        ),
        vessels,
    ]
    if has_av:
        out.append(
            (
                result.artery_vein,
                {
                    'name': names['av'],
                    'colormap': AV_COLORS,
                    'features': AV_FEATURES,
                    'opacity': 0.8,
                    'metadata': _role(meta, 'av'),
                    **geo,
                },
                'labels',
            )
        )
    if show_artery_probability and result.artery_probability is not None:
        out.append(
            (
                artery_probability_image(
                    result.artery_probability, result.vessels
                ),
                {
                    'name': names['artery_prob'],
                    'colormap': 'bwr',
                    'contrast_limits': (0.0, 1.0),
                    'metadata': _role(meta, 'artery_prob'),
                    **geo,
                },
                'image',
            )
        )
    if show_fov:
        out.append(
            (
                result.fov.astype(np.uint8),
                {
                    'name': names['fov'],
                    'colormap': {
                        0: 'transparent',
                        1: 'cyan',
                        None: 'transparent',
                    },
                    'opacity': 0.6,
                    'contour': 2,
                    'metadata': _role(meta, 'fov'),
                    **geo,
                },
                'labels',
            )
        )
    return out


def artery_probability_image(
    p_artery: np.ndarray, vessels: np.ndarray
) -> np.ndarray:
    """Artery probability on vessel pixels, NaN (transparent) elsewhere."""
    return np.where(
        np.asarray(vessels, bool), p_artery, np.float32(np.nan)
    ).astype(np.float32)


# ------------------------------------------------------------ error overlay
#: Error overlay colours: 1 true positive, 2 false positive, 3 false
#: negative (for A/V: correct, artery/vein swapped, missed).
ERROR_COLORS = {
    0: 'transparent',
    1: 'lime',
    2: 'magenta',
    3: 'cyan',
    None: 'transparent',
}
ERROR_FEATURES = {
    'index': [0, 1, 2, 3],
    'class': [
        'background',
        'true positive',
        'false positive',
        'false negative',
    ],
}
AV_ERROR_FEATURES = {
    'index': [0, 1, 2, 3],
    'class': [
        'background',
        'correct artery/vein',
        'artery/vein swapped',
        'missed',
    ],
}


def error_layer(
    truth: np.ndarray,
    prediction: np.ndarray,
    name: str,
    *,
    mask: np.ndarray | None = None,
    av: bool = False,
    geometry: dict | None = None,
    metadata: dict | None = None,
) -> tuple:
    """An error-overlay Labels layer tuple comparing two maps.

    Parameters
    ----------
    truth, prediction : (H, W)
        Vessel maps (non-zero = vessel) or, with *av*, A/V labels (0
        background, 1 artery, 2 vein, 3 uncertain).
    name : str
        Layer name, e.g. ``'<prediction> errors'``.
    mask : (H, W) bool, optional
        Field of view; pixels outside stay 0.
    av : bool
        Compare artery/vein labels on ground-truth artery and vein pixels:
        1 correct, 2 swapped, 3 missed (no artery/vein predicted).

    Returns
    -------
    tuple
        ``(labels (H, W) uint8, kwargs, 'labels')``; 1 true positive,
        2 false positive, 3 false negative, with ``features`` naming the
        classes for the status bar.
    """
    t = np.asarray(truth)
    p = np.asarray(prediction)
    out = np.zeros(t.shape, np.uint8)
    if av:
        labelled = (t == 1) | (t == 2)
        called = (p == 1) | (p == 2)
        out[labelled & called & (p == t)] = 1
        out[labelled & called & (p != t)] = 2
        out[labelled & ~called] = 3
    else:
        t, p = t != 0, p != 0
        out[t & p] = 1
        out[~t & p] = 2
        out[t & ~p] = 3
    if mask is not None:
        out[~np.asarray(mask, bool)] = 0
    return (
        out,
        {
            'name': name,
            'colormap': ERROR_COLORS,
            'features': AV_ERROR_FEATURES if av else ERROR_FEATURES,
            'opacity': 0.8,
            'metadata': dict(metadata or {}),
            **_geometry(geometry),
        },
        'labels',
    )
