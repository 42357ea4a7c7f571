"""Console helper: segment an image layer and add the results.

``segment_layer(viewer)`` segments the selected image layer (or
``segment_layer(layer, viewer=viewer)`` a given one) and adds or updates
the result layers, as the Segment widget does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidImageError

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ['segment_layer', 'add_layers']


def add_layers(viewer: napari.Viewer, tuples: list[tuple]) -> list:
    """Add layer tuples to *viewer*, updating same-name layers in place."""
    from napari.layers import Labels

    out = []
    for data, kwargs, kind in tuples:
        name = kwargs['name']
        if name in viewer.layers:
            layer = viewer.layers[name]
            same_kind = isinstance(layer, Labels) == (kind == 'labels')
            if same_kind and layer.data.shape == data.shape:
                layer.data = data
                layer.metadata.update(kwargs.get('metadata', {}))
                for key in ('scale', 'translate'):
                    if key in kwargs:
                        setattr(layer, key, kwargs[key])
                out.append(layer)
                continue
            viewer.layers.remove(layer)
        add = getattr(viewer, f'add_{kind}')
        out.append(add(data, **kwargs))
    return out


def segment_layer(
    viewer_or_layer: Any, *, viewer: napari.Viewer | None = None,
    **options: Any,
):
    """Segment an image layer and add vessel and A/V layers.

    Parameters
    ----------
    viewer_or_layer : napari.Viewer or napari.layers.Image
        A viewer (its selected image layer is used) or an image layer.
    viewer : napari.Viewer, optional
        Where to add the layers when a layer is given (default: the
        current viewer).
    **options
        Passed to :func:`napari_retina_vessels.segment` (``model``,
        ``av``, ``device``, ``tta``, ``threshold``...).

    Returns
    -------
    Segmentation
    """
    import napari
    from napari.layers import Image

    from ..pipeline import segment
    from .layers import segmentation_layers

    if isinstance(viewer_or_layer, Image):
        layer = viewer_or_layer
        viewer = viewer or napari.current_viewer()
    else:
        viewer = viewer_or_layer
        layer = viewer.layers.selection.active
        if not isinstance(layer, Image):
            images = [ly for ly in viewer.layers if isinstance(ly, Image)]
            if not images:
                raise InvalidImageError(
                    'there is no image layer to segment; open a fundus '
                    'photograph first'
                )
            layer = images[-1]
    if viewer is None:
        raise InvalidImageError('no napari viewer to add the layers to')
    data = layer.data
    if getattr(layer, 'multiscale', False):
        data = data[0]
    import numpy as np

    result = segment(np.asarray(data), **options)
    add_layers(viewer, segmentation_layers(
        result, layer.name,
        geometry={'scale': tuple(layer.scale)[-2:],
                  'translate': tuple(layer.translate)[-2:]},
    ))
    return result
