"""The Review widget: step through a cohort's outputs, accept or reject.

Opens a ``retina-vessels segment`` (or ``measure``) output folder and
shows one photo at a time: the photo, its artery/vein (or vessel) map,
the optic disc and zones B and C, and the measures ``measure`` recorded.
Next / Previous (keys PageDown / PageUp) step through the photos; Accept
and Reject (with a reason) record the grader's decision in
``review.csv`` (``measures/review.py``), which overrides the quality
gate's grade and makes the review resumable: opening the folder again
starts at the first photo without a decision. Corrections are made
with the Measure widget on the A/V layer shown here; they are saved
beside the outputs, and ``review.csv`` counts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import (
    Container,
    FileEdit,
    Label,
    LineEdit,
    PushButton,
)

from ...errors import RetinaVesselsError
from . import _text as T
from ._common import form, results_table, status_label

if TYPE_CHECKING:  # pragma: no cover
    import napari

#: Layers the widget owns (replaced at each photo).
PHOTO_LAYER = 'review: photo'
MAP_LAYER = 'review: A/V'
DISC_LAYER = 'review: disc and zones'
#: Measures shown: (column, row label).
SHOWN = (
    ('crae_um', 'CRAE (µm)'),
    ('crve_um', 'CRVE (µm)'),
    ('avr', 'AVR'),
    ('crae_px', 'CRAE (px)'),
    ('crve_px', 'CRVE (px)'),
    ('fd_vessels', 'fractal dimension'),
    ('tortuosity_vessels', 'tortuosity'),
    ('corrected', 'corrections applied'),
    ('quality_grade', 'quality grade'),
)


class ReviewWidget(Container):
    """Review the photos of an output folder one by one."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        self._viewer = viewer
        self.items: list = []
        self.log = None
        self.index = 0
        self.folder = FileEdit(
            label='output folder', mode='d', tooltip=T.REVIEW_FOLDER_TIP
        )
        self.open_button = PushButton(text='Open')
        self.grader = LineEdit(label='grader', tooltip=T.GRADER_TIP)
        self.reason = LineEdit(label='reason', tooltip=T.REVIEW_REASON_TIP)
        self.position = Label(value='')
        self.prev_button = PushButton(text='< Previous (PageUp)')
        self.next_button = PushButton(text='Next (PageDown) >')
        self.accept_button = PushButton(text='Accept')
        self.reject_button = PushButton(text='Reject')
        self.table = results_table(['value'])
        self.status = status_label(T.REVIEW_READY)
        steps = Container(
            layout='horizontal',
            labels=False,
            widgets=[self.prev_button, self.next_button],
        )
        decide = Container(
            layout='horizontal',
            labels=False,
            widgets=[self.accept_button, self.reject_button],
        )
        self.extend(
            [
                form(self.folder, self.grader),
                self.open_button,
                self.position,
                steps,
                form(self.reason),
                decide,
                self.status,
                self.table,
            ]
        )
        self.open_button.changed.connect(self.open)
        self.prev_button.changed.connect(self.previous)
        self.next_button.changed.connect(self.next)
        self.accept_button.changed.connect(
            lambda _v=None: self.decide('accept')
        )
        self.reject_button.changed.connect(
            lambda _v=None: self.decide('reject')
        )
        for key, slot in (('PageDown', self.next), ('PageUp', self.previous)):
            viewer.bind_key(key, lambda _v, s=slot: s(), overwrite=True)
        self._enable()

    def _enable(self) -> None:
        have = bool(self.items)
        for b in (
            self.prev_button,
            self.next_button,
            self.accept_button,
            self.reject_button,
        ):
            b.enabled = have

    # -------------------------------------------------------------- open
    def open(self, _value=None) -> bool:
        """Read the folder and its ``review.csv``; show the first photo
        without a decision."""
        from ...measures.review import ReviewLog, review_items

        folder = str(self.folder.value)
        try:
            items = review_items(folder)
            log = ReviewLog(folder)
        except RetinaVesselsError as err:
            self.status.value = str(err)
            return False
        self.items, self.log = items, log
        self._enable()
        self.show(log.first_open([i.name for i in items]))
        return True

    # -------------------------------------------------------------- steps
    def next(self, _value=None) -> None:
        """Show the next photo."""
        if self.items and self.index + 1 < len(self.items):
            self.show(self.index + 1)

    def previous(self, _value=None) -> None:
        """Show the previous photo."""
        if self.items and self.index > 0:
            self.show(self.index - 1)

    def show(self, index: int) -> None:
        """Show photo *index*: layers, measures, decision so far."""
        item = self.items[index]
        self.index = index
        try:
            self._layers(item)
        except RetinaVesselsError as err:
            self.status.value = str(err)
        else:
            done = self.log.decision(item.name)
            row = self.log.rows.get(item.name, {})
            self.status.value = (
                T.REVIEW_DECIDED.format(
                    decision=done, reason=row.get('reason') or '-'
                )
                if done
                else T.REVIEW_OPEN
            )
        self.reason.value = self.log.rows.get(item.name, {}).get('reason', '')
        n_done = sum(bool(self.log.decision(i.name)) for i in self.items)
        self.position.value = T.REVIEW_POSITION.format(
            i=index + 1, n=len(self.items), name=item.name, done=n_done
        )
        self._show_measures(item)

    def _layers(self, item) -> None:
        from ... import io
        from .measure import disc_shapes, zone_shapes

        viewer = self._viewer
        for name in (DISC_LAYER, MAP_LAYER, PHOTO_LAYER):
            if name in viewer.layers:
                viewer.layers.remove(name)
        if item.photo:
            viewer.add_image(
                io.imread(item.photo),
                name=PHOTO_LAYER,
                metadata={'path': item.photo, 'measure_layer': False},
            )
        if item.av:
            from ..layers import AV_COLORS

            data, path = io.read_av(item.av), item.av
            colours: Any = AV_COLORS
        else:
            data, path = io.read_mask(item.vessels).astype('uint8'), None
            colours = {0: 'transparent', 1: 'white'}
            path = item.vessels
        meta = {'path': path, **(item.quality or {})}
        viewer.add_labels(
            data, name=MAP_LAYER, colormap=colours, opacity=0.7, metadata=meta
        )
        disc = _disc(item.measures)
        if disc is not None:
            viewer.add_shapes(
                disc_shapes(disc) + zone_shapes(disc),
                shape_type='ellipse',
                name=DISC_LAYER,
                edge_color=['#ffffff', '#00ffff', '#00ffff', '#ffff00'],
                face_color='transparent',
                edge_width=2,
            )
        viewer.layers.selection.active = viewer.layers[MAP_LAYER]

    def _show_measures(self, item) -> None:
        row = dict(item.measures or {})
        row.setdefault(
            'quality_grade', (item.quality or {}).get('quality_grade', '')
        )
        row['corrected'] = row.get('corrected', '') or ''
        data, index = [], []
        for col, label in SHOWN:
            v = row.get(col, '')
            data.append([_fmt(v) if v not in ('', None) else 'n/a'])
            index.append(label)
        self.table.value = {
            'data': data,
            'index': index,
            'columns': ['value'],
        }

    # ------------------------------------------------------------ decide
    def decide(self, decision: str) -> dict | None:
        """Record *decision* for the photo shown; go to the next one."""
        if not self.items:
            return None
        item = self.items[self.index]
        try:
            row = self.log.record(
                item,
                decision,
                reason=self.reason.value,
                grader=self.grader.value,
            )
        except (RetinaVesselsError, OSError) as err:
            self.status.value = str(err)
            return None
        if self.index + 1 < len(self.items):
            self.show(self.index + 1)
        else:
            self.show(self.index)
            self.status.value = T.REVIEW_FINISHED.format(path=self.log.path)
        return row


def _disc(measures: dict | None):
    """The disc ``measure`` recorded, as a Disc (None without one)."""
    from ...measures import Disc

    try:
        y, x, r = (
            float(measures[k]) for k in ('disc_y', 'disc_x', 'disc_radius_px')
        )
    except (TypeError, KeyError, ValueError):
        return None
    if not (r > 0 and y == y and x == x):
        return None
    return Disc(y, x, r)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f'{v:.4g}'
    return str(v)
