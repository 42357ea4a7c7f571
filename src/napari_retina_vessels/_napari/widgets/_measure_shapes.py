"""Measure widget helpers: layer names, the disc and zone shapes,
segment colours, the pixel size and quality grade a layer carries."""

from __future__ import annotations

from typing import Any

import numpy as np

DISC_LAYER = 'optic disc'
FOVEA_LAYER = 'fovea'
ZONES_LAYER = 'zones B, C'
SEGMENTS_LAYER = 'vessel segments'
COLOUR_BY = ('calibre', 'tortuosity', 'class')
_CLASS_COLOURS = {
    'artery': (1.0, 0.2, 0.2, 1.0),
    'vein': (0.2, 0.4, 1.0, 1.0),
    'uncertain': (1.0, 1.0, 0.0, 1.0),
    'vessel': (1.0, 1.0, 1.0, 1.0),
}
#: Styles of the zones and disc Shapes layers.
ZONES_STYLE = {
    'edge_color': ['#00ffff', '#00ffff', '#ffff00'],
    'face_color': 'transparent',
    'edge_width': 2,
    'opacity': 0.6,
    'shape_type': 'ellipse',
}
DISC_STYLE = {
    'edge_color': '#ffffff',
    'face_color': 'transparent',
    'edge_width': 3,
    'shape_type': 'ellipse',
}
#: Rows of the per-image table: (column, row label).


def disc_shapes(disc) -> list[np.ndarray]:
    """Ellipse corners (4, 2) of the disc: one shape."""
    return [_circle(disc.y, disc.x, disc.radius)]


def zone_shapes(disc) -> list[np.ndarray]:
    """Circles at 2, 3 and 5 disc radii: the edges of zones B and C."""
    return [_circle(disc.y, disc.x, k * disc.radius) for k in (2, 3, 5)]


def _circle(y: float, x: float, r: float) -> np.ndarray:
    return np.array(
        [[y - r, x - r], [y - r, x + r], [y + r, x + r], [y + r, x - r]], float
    )


def put_shapes(viewer, layer_name, shapes, style, meta, geometry) -> None:
    """Replace the Shapes layer *layer_name* with *shapes* in *style*."""
    style = dict(style)
    stype = style.pop('shape_type')
    if layer_name in viewer.layers:
        viewer.layers.remove(layer_name)
    viewer.add_shapes(
        shapes,
        shape_type=stype,
        name=layer_name,
        metadata=dict(meta),
        **style,
        **geometry,
    )


def disc_from_shape(corners: np.ndarray) -> tuple[float, float, float]:
    """(y, x, radius) of an ellipse drawn as its four corners."""
    c = np.asarray(corners, float)[:, -2:]
    lo, hi = c.min(axis=0), c.max(axis=0)
    centre = (lo + hi) / 2
    return float(centre[0]), float(centre[1]), float(np.mean(hi - lo) / 2)


def segment_colours(segments, by: str) -> dict[int, Any]:
    """Labels colormap {segment + 1: RGBA} for a per-segment table."""
    out: dict[Any, Any] = {0: 'transparent', None: 'transparent'}
    n = len(segments)
    if not n:
        return out
    if by == 'class':
        for i, lab in enumerate(segments['label']):
            out[i + 1] = _CLASS_COLOURS.get(lab, (1, 1, 1, 1))
        return out
    from napari.utils.colormaps import ensure_colormap

    col = 'calibre_px' if by == 'calibre' else 'tortuosity'
    v = segments[col].to_numpy(float)
    finite = np.isfinite(v)
    if finite.any():
        lo, hi = np.percentile(v[finite], [2, 98])
        scaled = np.clip((v - lo) / max(hi - lo, 1e-9), 0, 1)
    else:
        scaled = np.zeros(n)
    rgba = ensure_colormap('viridis' if by == 'calibre' else 'plasma').map(
        np.where(finite, scaled, 0.0)
    )
    for i in range(n):
        out[i + 1] = tuple(rgba[i]) if finite[i] else (0.5, 0.5, 0.5, 1.0)
    return out


def _quality_row(layer) -> dict[str, Any] | None:
    """The quality gate's row recorded in *layer*'s metadata, if any.

    Result layers (the console helper's, or ``segment`` outputs opened
    with the reader) carry ``quality_grade``, ``quality_score`` and
    ``quality_reasons``; a map without them has no grade.
    """
    meta = getattr(layer, 'metadata', None) or {}
    if not meta.get('quality_grade'):
        return None
    return {
        k: meta.get(k, '')
        for k in ('quality_grade', 'quality_score', 'quality_reasons')
    }


def layer_pixel_size(*layers) -> tuple[float | None, str | None]:
    """Micrometres per pixel from the first layer with a scale, and its
    source: a file's pixel spacing in the layer metadata (the reader
    puts a DICOM PixelSpacing there, in µm, and sets the scale from it),
    else a layer scale other than 1 (read as µm per pixel)."""
    for ly in layers:
        if ly is None:
            continue
        spacing = ly.metadata.get('pixel_spacing')
        if spacing is not None and len(spacing) >= 2:
            return float(np.sqrt(spacing[-2] * spacing[-1])), (
                'file pixel spacing (layer metadata)'
            )
        scale = np.asarray(ly.scale, float)[-2:]
        if np.all(scale > 0) and not np.allclose(scale, 1.0):
            return float(np.sqrt(scale.prod())), 'napari layer scale'
    return None, None


def _ungradable(quality: dict[str, Any] | None) -> bool:
    return bool(quality) and quality['quality_grade'] == 'ungradable'
