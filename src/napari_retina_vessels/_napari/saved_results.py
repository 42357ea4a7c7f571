"""Saved results opened back as the layers they were saved from
(``NAME_prob.*``, ``NAME_vessels.png``, ``NAME_av.png``,
``NAME_av_overlay.png``), with the provenance ``NAME.done.json``
records. Part of the napari reader (:mod:`.reader`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import io
from ..io.saved_maps import as_probability, read_prediction

LayerData = tuple[Any, dict[str, Any], str]

_RESULT_ENDINGS = {
    '_prob': 'probability',
    '_vessels': 'vessels',
    '_av_overlay': 'overlay',
    '_av': 'av',
}


def result_kind(stem: str) -> tuple[str, str] | None:
    """(base name, kind) for a saved result's file stem, else None."""
    for ending, kind in _RESULT_ENDINGS.items():
        if stem.endswith(ending) and len(stem) > len(ending):
            return stem[: -len(ending)], kind
    return None


def result_metadata(path: Path, base: str) -> dict[str, Any]:
    """The provenance ``NAME.done.json`` records beside a saved result."""
    import json

    meta: dict[str, Any] = {'path': str(path)}
    marker = path.parent / f'{base}.done.json'
    try:
        row = json.loads(marker.read_text(encoding='utf-8')).get('row')
    except (OSError, ValueError, AttributeError):
        return meta
    if isinstance(row, dict):
        meta.update(
            {
                k: row[k]
                for k in (
                    'model',
                    'weights_sha256',
                    'av_model',
                    'av_weights_sha256',
                    'device',
                    'threshold',
                    # The quality gate's grade: the Measure widget does
                    # not measure an ungradable photo's maps by default.
                    'quality_grade',
                    'quality_score',
                    'quality_reasons',
                )
                if row.get(k) not in (None, '')
            }
        )
    return meta


def read_result(path: Path, base: str, kind: str) -> LayerData:
    """A saved result file -> the layer it was saved from."""
    from .layers import layer_names
    from .reader import _av_layer, _image_layer, _mask_layer

    meta = result_metadata(path, base)
    names = layer_names(base)
    if kind == 'av':
        return _av_layer(io.read_av(path), names['av'], meta)
    if kind == 'overlay':
        return _image_layer(io.imread(path), f'{base} A/V overlay', meta)
    if kind == 'vessels':
        return _mask_layer(io.as_mask(io.imread(path)), names['vessels'], meta)
    # The one reader of saved maps (scaled, NaN and range checked).
    prob = as_probability(read_prediction(path))
    return (
        prob,
        {
            'name': names['probability'],
            'colormap': 'magma',
            'contrast_limits': (0.0, 1.0),
            'blending': 'additive',
            'metadata': meta,
        },
        'image',
    )
