"""The grader's corrections panel of the Measure widget.

Click a segment of the ``vessel segments`` layer to flip it between
artery and vein, exclude it, or include it again; paint or erase vessel
pixels in the ``vessel corrections`` Labels layer with napari's brush
(label 1 adds, label 2 erases). Every change is measured again at once
(``measure(..., corrections=...)`` in the widget's worker), can be
undone and redone, and is saved as ``NAME.corrections.json`` (see
``measures/corrections.py``) beside the segment outputs the map came
from, or in the CSV folder.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, LineEdit, PushButton

from ...measures.corrections import (
    Corrections,
    corrections_path,
    load_corrections,
    save_corrections,
)
from . import _text as T
from ._common import form, status_label

if TYPE_CHECKING:  # pragma: no cover
    from .measure import MeasureWidget

PAINT_LAYER = 'vessel corrections'
#: What a click on a segment does.
CLICK_MODES = ('nothing', 'flip artery/vein', 'exclude', 'include again')
_PAINT_COLOURS = {0: 'transparent', 1: '#00ff66', 2: '#ff00ff'}
_HISTORY = 50


class CorrectionsPanel(Container):
    """Corrections controls; *owner* is the Measure widget."""

    def __init__(self, owner: MeasureWidget) -> None:
        super().__init__(labels=False)
        self._owner = owner
        self.corrections = Corrections()
        self._undo: list[Corrections] = []
        self._redo: list[Corrections] = []
        self._pending = False
        self._source: str | None = None
        #: The disc found automatically: saved only when moved from it.
        self._detected: tuple[float, float, float] | None = None
        self.click = ComboBox(
            label='click a segment to',
            choices=CLICK_MODES,
            value='nothing',
            tooltip=T.CORRECT_CLICK_TIP,
        )
        self.grader = LineEdit(label='grader', tooltip=T.GRADER_TIP)
        self.paint_button = PushButton(
            text='Paint / erase vessels', tooltip=T.PAINT_TIP
        )
        self.undo_button = PushButton(text='Undo')
        self.redo_button = PushButton(text='Redo')
        self.save_button = PushButton(
            text='Save corrections', tooltip=T.SAVE_CORRECTIONS_TIP
        )
        self.info = status_label(T.CORRECTIONS_NONE)
        buttons = Container(
            layout='horizontal',
            labels=False,
            widgets=[self.undo_button, self.redo_button, self.save_button],
        )
        self.extend(
            [
                form(self.click, self.grader),
                self.paint_button,
                buttons,
                self.info,
            ]
        )
        self.click.changed.connect(self._on_mode)
        self.paint_button.changed.connect(self.start_painting)
        self.undo_button.changed.connect(self.undo)
        self.redo_button.changed.connect(self.redo)
        self.save_button.changed.connect(self.save)
        self._update_buttons()

    # ------------------------------------------------------------ state
    def current(self) -> Corrections | None:
        """The corrections to measure with (None when there are none)."""
        c = self.corrections
        if not c.segments and c.painted is None and c.disc is None:
            return None
        return replace(c, grader=self.grader.value or c.grader)

    def _set(self, new: Corrections, *, record: bool = True) -> None:
        if record:
            self._undo = [*self._undo, self.corrections][-_HISTORY:]
            self._redo = []
        self.corrections = new
        self._show_paint()
        self._update_buttons()
        self.remeasure()

    def undo(self, _value=None) -> None:
        """Go back one change."""
        if self._undo:
            self._redo.append(self.corrections)
            self._set(self._undo.pop(), record=False)

    def redo(self, _value=None) -> None:
        """Redo the change undone last."""
        if self._redo:
            self._undo.append(self.corrections)
            self._set(self._redo.pop(), record=False)

    def _update_buttons(self) -> None:
        self.undo_button.enabled = bool(self._undo)
        self.redo_button.enabled = bool(self._redo)
        n = len(self.corrections)
        self.info.value = (
            T.CORRECTIONS_COUNT.format(n=n) if n else T.CORRECTIONS_NONE
        )

    @property
    def pending(self) -> bool:
        """Whether a change waits for the running measurement to end."""
        return self._pending

    def remeasure(self) -> None:
        """Measure again with the corrections (after the running job)."""
        owner = self._owner
        if owner._worker is not None:
            self._pending = True
            return
        worker = owner.run()
        if worker is not None:
            worker.finished.connect(self._after)

    def _after(self) -> None:
        if self._pending:
            self._pending = False
            self.remeasure()

    # ----------------------------------------------------------- source
    def on_source(self, layer) -> None:
        """Start over for a new map; load its saved corrections."""
        key = None if layer is None else layer.name
        if key == self._source:
            return
        self._source = key
        self._undo, self._redo = [], []
        self.corrections = Corrections()
        self._detected = None
        where = self.destination()
        if where is not None and corrections_path(*where).is_file():
            from ...errors import RetinaVesselsError

            try:
                self.corrections = load_corrections(corrections_path(*where))
                self.grader.value = self.corrections.grader
            except RetinaVesselsError as err:
                self.info.value = str(err)
                return
        self._show_paint()
        self._update_buttons()

    def destination(self) -> tuple[Path, str] | None:
        """(folder, NAME) for ``NAME.corrections.json``: beside the
        segment output the map was read from, else the CSV folder."""
        from ..saved_results import result_kind as _result_kind

        layer = self._owner.maps.value
        if layer is None:
            return None
        path = (layer.metadata or {}).get('path')
        if path:
            kind = _result_kind(Path(path).stem)
            if kind is not None:
                return Path(path).parent, kind[0]
        folder = str(self._owner.csv_folder.value)
        if folder in ('', '.'):
            return None
        return Path(folder), layer.name

    def save(self, _value=None) -> Path | None:
        """Write ``NAME.corrections.json`` (and the painted PNG)."""
        where = self.destination()
        if where is None:
            self.info.value = T.CORRECTIONS_NO_FOLDER
            return None
        from ... import __version__

        disc = self._owner.current_disc()
        if disc is not None and self._detected is not None:
            moved = np.abs(np.subtract(disc, self._detected)).max() > 0.5
            disc = disc if moved else None
        corr = replace(
            self.corrections,
            image=where[1],
            grader=self.grader.value or self.corrections.grader,
            time=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            software=str(__version__),
            disc=disc if disc is not None else self.corrections.disc,
        )
        try:
            path = save_corrections(corr, *where)
        except OSError as err:
            self.info.value = T.MEASURE_WRITE_FAILED.format(
                folder=where[0], err=err.strerror or err
            )
            return None
        self.corrections = corr
        self.info.value = T.CORRECTIONS_SAVED.format(path=path)
        return path

    # ------------------------------------------------------------ clicks
    def _on_mode(self, value: str) -> None:
        if value != 'nothing':
            self._owner.colour_by.value = 'class'
            viewer = self._owner._viewer
            from .measure import SEGMENTS_LAYER

            if SEGMENTS_LAYER in viewer.layers:
                ly = viewer.layers[SEGMENTS_LAYER]
                ly.mode = 'pan_zoom'
                viewer.layers.selection.active = ly

    def attach(self, layer) -> None:
        """Listen to clicks on the segments *layer* (once)."""
        if self._on_click not in layer.mouse_drag_callbacks:
            layer.mouse_drag_callbacks.append(self._on_click)

    def _on_click(self, layer, event) -> None:
        if self.click.value == 'nothing' or layer.mode != 'pan_zoom':
            return
        yx = np.round(layer.world_to_data(event.position)).astype(int)[-2:]
        h, w = layer.data.shape[-2:]
        if not (0 <= yx[0] < h and 0 <= yx[1] < w):
            return
        seg = int(np.asarray(layer.data)[yx[0], yx[1]]) - 1
        if seg < 0:
            self.info.value = T.CORRECT_MISSED
            return
        self.click_segment(seg, self.click.value)

    def click_segment(self, segment: int, mode: str) -> None:
        """Apply *mode* (one of :data:`CLICK_MODES`) to *segment*."""
        m = self._owner.result
        if m is None or not 0 <= segment < len(m.segments):
            return
        row = m.segments.iloc[segment]
        # Every correction of this segment (a replaced one would come
        # back once the later one is removed).
        mine = [
            tuple(e['at']) for e in m.corrections if e['segment'] == segment
        ]
        corr = self.corrections
        for at in mine:
            corr = corr.with_segment(at, None)
        at = (int(row['y_mid']), int(row['x_mid']))
        if mode == 'flip artery/vein':
            if row['corrected'] in ('artery', 'vein'):
                pass  # flipped before: removing the flip flips it back
            else:
                new = 'vein' if row['label'] == 'artery' else 'artery'
                corr = corr.with_segment(at, new)
        elif mode == 'exclude':
            corr = corr.with_segment(at, 'exclude')
        elif mode != 'include again':
            return
        self._set(corr)

    # ---------------------------------------------------------- painting
    def start_painting(self, _value=None) -> None:
        """Add (or select) the paint layer, brush on label 1 (add)."""
        viewer = self._owner._viewer
        layer = self._owner.maps.value
        if layer is None:
            self.info.value = T.MEASURE_NEED_MAP
            return
        shape = self._owner.map_shape()
        ly = self._paint_layer(shape, layer)
        viewer.layers.selection.active = ly
        ly.selected_label = 1
        ly.brush_size = 5
        ly.mode = 'paint'
        self.info.value = T.PAINT_HINT

    def _paint_layer(self, shape, source):
        viewer = self._owner._viewer
        if PAINT_LAYER in viewer.layers:
            ly = viewer.layers[PAINT_LAYER]
            if ly.data.shape == tuple(shape):
                return ly
            viewer.layers.remove(PAINT_LAYER)
        data = (
            np.array(self.corrections.painted, np.uint8)
            if self.corrections.painted is not None
            and self.corrections.painted.shape == tuple(shape)
            else np.zeros(shape, np.uint8)
        )
        ly = viewer.add_labels(
            data,
            name=PAINT_LAYER,
            colormap=_PAINT_COLOURS,
            opacity=0.8,
            metadata={'measure_layer': True},
            scale=tuple(source.scale)[-2:],
            translate=tuple(source.translate)[-2:],
        )
        ly.events.paint.connect(self._on_paint)
        return ly

    def _show_paint(self) -> None:
        viewer = self._owner._viewer
        if PAINT_LAYER not in viewer.layers:
            return
        ly = viewer.layers[PAINT_LAYER]
        p = self.corrections.painted
        want = np.zeros(ly.data.shape, np.uint8) if p is None else p
        if not np.array_equal(ly.data, want):
            ly.data = np.array(want, np.uint8)

    def _on_paint(self, _event=None) -> None:
        ly = self._owner._viewer.layers[PAINT_LAYER]
        data = np.asarray(ly.data)
        # Only labels 1 (added) and 2 (erased) mean something.
        data = np.where(np.isin(data, (1, 2)), data, 0).astype(np.uint8)
        painted = data.copy() if data.any() else None
        self._set(replace(self.corrections, painted=painted))

    def on_result(self, m, layer) -> None:
        """After a measurement: listen to *layer*; say what was missed."""
        self.attach(layer)
        if m.disc is not None and m.disc.source == 'detected':
            self._detected = (m.disc.y, m.disc.x, m.disc.radius)
        missed = [e for e in m.corrections if e['status'] != 'applied']
        n = len(self.corrections)
        text = T.CORRECTIONS_COUNT.format(n=n) if n else T.CORRECTIONS_NONE
        if missed:
            text += ' ' + str(m.image.iloc[0]['corrections_reason'])
        self.info.value = text


def corrected_colours(segments, colours: dict[Any, Any]) -> dict[Any, Any]:
    """*colours* with corrected segments drawn apart: flipped to artery
    orange, flipped to vein cyan, excluded dim grey."""
    if 'corrected' not in getattr(segments, 'columns', ()):
        return colours
    special = {
        'artery': (1.0, 0.6, 0.0, 1.0),
        'vein': (0.0, 0.9, 0.9, 1.0),
        'exclude': (0.45, 0.45, 0.45, 0.5),
    }
    out = dict(colours)
    for i, c in enumerate(segments['corrected']):
        if c in special:
            out[i + 1] = special[c]
    return out
