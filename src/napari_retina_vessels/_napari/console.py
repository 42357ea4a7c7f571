"""Console helper: segment an image layer and add the results.

``segment_layer(viewer)`` segments the selected image layer (or
``segment_layer(layer, viewer=viewer)`` a given one) and adds or updates
the result layers, as the Segment widget does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidImageError

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = [
    'UngradableError',
    'add_layers',
    'segment_layer',
    'threshold_layers',
]


class UngradableError(InvalidImageError):
    """The photo is graded ungradable: its vessel map is no result."""


def add_layers(viewer: napari.Viewer, tuples: list[tuple]) -> list:
    """Add layer tuples to *viewer*, updating same-name layers in place.

    A ``contour`` entry in the kwargs (not a Labels argument) is set on
    the layer after it is made.
    """
    from napari.layers import Labels

    out = []
    for data, kwargs, kind in tuples:
        kwargs = dict(kwargs)
        contour = kwargs.pop('contour', None)
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
        layer = add(data, **kwargs)
        if contour is not None:
            layer.contour = contour
        out.append(layer)
    return out


def segment_layer(
    viewer_or_layer: Any,
    *,
    viewer: napari.Viewer | None = None,
    **options: Any,
):
    """Segment an image layer and add vessel and A/V layers.

    A stack layer (N, H, W[, 3]) is segmented frame by frame into stacked
    result layers; a multiscale layer at the level the pipeline needs
    (see :mod:`.frames`).

    Parameters
    ----------
    viewer_or_layer : napari.Viewer or napari.layers.Image
        A viewer (its selected image layer is used) or an image layer.
    viewer : napari.Viewer, optional
        Where to add the layers when a layer is given (default: the
        current viewer).
    **options
        Passed to :func:`napari_retina_vessels.segment` (``model``,
        ``av``, ``device``, ``views``, ``threshold``, ``progress``...).

    Returns
    -------
    Segmentation
        (N, H, W) arrays for a stack.

    Raises
    ------
    InvalidImageError
        When there is no photo to segment, or *viewer_or_layer* is one
        of the plugin's own result layers.
    UngradableError
        When the quality gate grades the photo ungradable (no layers
        are added, as in the Segment widget).
    """
    import napari
    from napari.layers import Image

    from ..pipeline import segment
    from .layers import is_output, segmentation_layers

    if isinstance(viewer_or_layer, Image):
        layer = viewer_or_layer
        viewer = viewer or napari.current_viewer()
    else:
        viewer = viewer_or_layer
        layer = viewer.layers.selection.active
        if not isinstance(layer, Image) or is_output(layer):
            # The plugin's own outputs (a probability map is an image
            # layer too) are never photos to segment.
            images = [
                ly
                for ly in viewer.layers
                if isinstance(ly, Image) and not is_output(ly)
            ]
            if not images:
                raise InvalidImageError(
                    'there is no image layer to segment; open a fundus '
                    'photograph first'
                )
            layer = images[-1]
    if viewer is None:
        raise InvalidImageError('no napari viewer to add the layers to')
    if is_output(layer):
        raise InvalidImageError(
            f'{layer.name!r} is a result of this plugin, not a photograph; '
            'select the fundus photograph to segment'
        )
    from ..pipeline import segment_stack
    from .frames import layer_input

    source = layer_input(layer)
    if source.stack:
        result = segment_stack(source.data, **options)
    else:
        result = segment(np.asarray(source.data), **options)
    quality = getattr(result, 'quality', None)
    if quality is not None and quality.grade == 'ungradable':
        # As the Segment widget: no layers for an ungradable photo.
        from .widgets._text import UNGRADABLE

        raise UngradableError(
            UNGRADABLE.format(name=layer.name, reasons=quality.reason)
        )
    add_layers(
        viewer,
        segmentation_layers(
            result,
            layer.name,
            geometry=source.geometry,
        ),
    )
    return result


def threshold_layers(
    viewer: napari.Viewer,
    result: Any,
    threshold: float,
    *,
    image_name: str,
    suffix: str = '',
):
    """Show *result* at another threshold in the layers made from it.

    Calls :meth:`Segmentation.with_threshold` (no model runs; the vessel
    map and the artery/vein vote are redone) and updates, in place, the
    vessel, artery/vein and artery-probability layers of the image layer
    *image_name* (named with *suffix*, see ``layers.layer_names``) that
    are still in *viewer*.

    Returns
    -------
    Segmentation
        The result at *threshold*.

    Raises
    ------
    InvalidOptionError
        When *threshold* is not between 0 and 1.
    """
    from .layers import artery_probability_image, layer_names

    new = result.with_threshold(threshold)
    names = layer_names(image_name, suffix)
    layers = viewer.layers
    if names['vessels'] in layers:
        layers[names['vessels']].data = new.vessels.astype(np.uint8)
        layers[names['vessels']].metadata['threshold'] = new.threshold
    if new.artery_vein is not None and names['av'] in layers:
        layers[names['av']].data = new.artery_vein
        layers[names['av']].metadata['threshold'] = new.threshold
    if new.artery_probability is not None and names['artery_prob'] in layers:
        layers[names['artery_prob']].data = artery_probability_image(
            new.artery_probability, new.vessels
        )
    return new
