"""Pieces the Measure and Metrics widgets are both built from.

Each widget picks layers, shows a wrapped status line and a read-only
results table, and writes CSV; the shared parts live here so that both
look and behave alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, Table

if TYPE_CHECKING:  # pragma: no cover
    import napari
    from magicgui.widgets import Widget

__all__ = [
    'form',
    'layer_array',
    'layer_picker',
    'results_table',
    'status_label',
    'watch_layers',
]


def layer_picker(
    label: str,
    tooltip: str,
    choices: Callable[..., list[tuple[str, Any]]],
    *,
    optional: bool = False,
) -> ComboBox:
    """A layer picker whose *choices* callable lists ``(name, layer)``
    pairs; an *optional* one starts empty and may be left so."""
    extra: dict[str, Any] = (
        {'nullable': True, 'value': None} if optional else {}
    )
    return ComboBox(label=label, tooltip=tooltip, choices=choices, **extra)


def status_label(text: str) -> Label:
    """The status line: one sentence that wraps instead of widening the
    dock."""
    label = Label(value=text)
    label.native.setWordWrap(True)
    return label


def results_table(columns: Sequence[str]) -> Table:
    """An empty read-only table with *columns*."""
    table = Table(value={'data': [], 'index': [], 'columns': list(columns)})
    table.read_only = True
    return table


def form(*widgets: Widget) -> Container:
    """*widgets* one under the other, each with its label on the left
    (tables and buttons go outside, at full width)."""
    return Container(labels=True, widgets=list(widgets))


def watch_layers(
    viewer: napari.viewer.Viewer,
    slot: Callable[..., Any],
    *,
    reordered: bool = False,
) -> None:
    """Call *slot* when a layer is added or removed (or, with
    *reordered*, moved), so that the layer pickers stay current."""
    events = viewer.layers.events
    events.inserted.connect(slot)
    events.removed.connect(slot)
    if reordered:
        events.reordered.connect(slot)


def layer_array(layer: Any, *, keep_channels: bool = False) -> np.ndarray:
    """The layer's data as an array, without leading length-1 axes.

    Parameters
    ----------
    layer : napari layer
        Its first (full-resolution) level when multiscale.
    keep_channels : bool
        Stop at (H, W, 3) or (H, W, 4): an RGB(A) photo keeps its
        channels even when its height is 1.

    Returns
    -------
    ndarray
        Not checked for dimensions: each widget says what it needs.
    """
    data = layer.data[0] if getattr(layer, 'multiscale', False) else layer.data
    arr = np.asarray(data)
    while (
        arr.ndim > 2
        and arr.shape[0] == 1
        and not (keep_channels and arr.ndim == 3 and arr.shape[-1] in (3, 4))
    ):
        arr = arr[0]
    return arr
