"""The Measure widget: vessel measures of a vessel or artery/vein layer.

Runs :func:`napari_retina_vessels.measure` in a worker thread, then
draws the optic disc (an editable Shapes layer: move or resize it and
measure again), zones B and C, and the segments coloured by calibre,
tortuosity or class; shows the per-image and per-segment tables
(selecting a segment row highlights that segment) and exports both as
CSV. The grader's corrections (flip, exclude, paint; undo, redo, save)
are the panel of ``corrections.py``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    PushButton,
)
from psygnal import Signal

from . import _text as T
from ._common import (
    form,
    layer_array,
    layer_picker,
    results_table,
    status_label,
    watch_layers,
)
from ._layout import Undockable, fit_dock
from ._measure_shapes import (  # noqa: F401  (imported from here too)
    COLOUR_BY,
    DISC_LAYER,
    DISC_STYLE,
    FOVEA_LAYER,
    SEGMENTS_LAYER,
    ZONES_LAYER,
    ZONES_STYLE,
    _quality_row,
    _ungradable,
    disc_from_shape,
    disc_shapes,
    layer_pixel_size,
    put_shapes,
    segment_colours,
    zone_shapes,
)
from ._measure_tables import (
    SEGMENT_VIEW,
    _fmt,
    image_table_value,
    segment_table_value,
)
from .corrections import CorrectionsPanel, corrected_colours

if TYPE_CHECKING:  # pragma: no cover
    import napari


class MeasureWidget(Container):
    """Measure the vessels of a vessel or artery/vein layer."""

    #: Emitted when a measurement has ended and the widget is idle again
    #: (a correction waiting to be measured may start the next one: wait
    #: while :attr:`busy`).
    job_finished = Signal()

    @property
    def busy(self) -> bool:
        """Whether a measurement runs or a correction waits for one."""
        return self._worker is not None or self.corrections.pending

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        self._viewer = viewer
        self._worker = None
        self.result = None
        self._source = None
        self.maps = layer_picker(
            'vessel or A/V map', T.MEASURE_MAP_TIP, self._map_choices
        )
        self.photo = layer_picker(
            'photo', T.MEASURE_PHOTO_TIP, self._photo_choices, optional=True
        )
        self.pixel_size = FloatSpinBox(
            label='pixel size (µm)',
            min=0.0,
            max=1000.0,
            step=0.1,
            value=0.0,
            tooltip=T.PIXEL_SIZE_TIP,
        )
        self.use_disc = CheckBox(
            text='use the optic disc layer', value=True, tooltip=T.USE_DISC_TIP
        )
        self.measure_ungradable = CheckBox(
            text='measure ungradable photos',
            value=False,
            tooltip=T.MEASURE_UNGRADABLE_TIP,
        )
        self.colour_by = ComboBox(
            label='colour by',
            choices=COLOUR_BY,
            value='calibre',
            tooltip=T.COLOUR_BY_TIP,
        )
        self.run_button = PushButton(text='Measure', tooltip=T.MEASURE_TIP)
        self.status = status_label(T.MEASURE_READY)
        self.image_table = results_table(['value', 'note'])
        self.segment_table = results_table(SEGMENT_VIEW)
        self.tables = Undockable(
            Container(widgets=[self.image_table, self.segment_table]),
            'Measure: tables',
        )
        self.csv_folder = FileEdit(
            label='CSV folder', mode='d', tooltip=T.MEASURE_CSV_TIP
        )
        self.export_button = PushButton(
            text='Export CSV', tooltip=T.MEASURE_EXPORT_TIP
        )
        self.corrections = CorrectionsPanel(self)
        self.extend(
            [
                form(self.maps, self.photo, self.pixel_size, self.colour_by),
                self.use_disc,
                self.measure_ungradable,
                self.run_button,
                self.status,
                self.corrections,
                self.tables.button,
                self.tables.content,
                form(self.csv_folder),
                self.export_button,
            ]
        )
        fit_dock(self)
        self.run_button.changed.connect(self.run)
        self.export_button.changed.connect(self.export_csv)
        self.colour_by.changed.connect(self._recolour)
        self.maps.changed.connect(self._validate)
        self.maps.changed.connect(self.corrections.on_source)
        self.photo.changed.connect(self._validate)
        self.measure_ungradable.changed.connect(self._validate)
        self.segment_table.native.currentCellChanged.connect(
            self._on_segment_row
        )
        watch_layers(viewer, self._refresh)
        viewer.layers.events.removed.connect(self._forget_stale)
        self.corrections.on_source(self.maps.value)
        self._validate()

    # ----------------------------------------------------------- choices
    def _ours(self, layer) -> bool:
        from ..layers import is_fov_layer

        # Measure's own layers, and FOV masks (no vessel map).
        return bool(layer.metadata.get('measure_layer')) or is_fov_layer(
            layer
        )

    def _map_choices(self, _widget=None) -> list[tuple[str, Any]]:
        from napari.layers import Image, Labels

        return [
            (ly.name, ly)
            for ly in self._viewer.layers
            if isinstance(ly, Image | Labels)
            and not getattr(ly, 'rgb', False)
            and not self._ours(ly)
        ]

    def _photo_choices(self, _widget=None) -> list[tuple[str, Any]]:
        from napari.layers import Image

        return [
            (ly.name, ly)
            for ly in self._viewer.layers
            if isinstance(ly, Image) and not self._ours(ly)
        ]

    def _refresh(self, _event=None) -> None:
        self.maps.reset_choices()
        self.photo.reset_choices()
        self._validate()

    def _forget_stale(self, event=None) -> None:
        """Clear the tables once the map they measured or the segments
        layer has left the viewer: they would describe nothing shown."""
        gone = getattr(getattr(event, 'value', None), 'name', None)
        if self.result is None or gone not in (self._source, SEGMENTS_LAYER):
            return
        self.result = None
        self._source = None
        for table, columns in (
            (self.image_table, ['value', 'note']),
            (self.segment_table, list(SEGMENT_VIEW)),
        ):
            table.value = {'data': [], 'index': [], 'columns': columns}
        self.status.value = T.MEASURE_READY

    @staticmethod
    def _array(layer) -> np.ndarray:
        return layer_array(layer, keep_channels=True)

    def _inputs(self) -> dict[str, Any]:
        layer = self.maps.value
        if layer is None:
            raise ValueError(T.MEASURE_NEED_MAP)
        maps = self._array(layer)
        if maps.ndim != 2:
            raise ValueError(
                T.NOT_2D.format(name=layer.name, shape=maps.shape)
            )
        photo = None
        if self.photo.value is not None:
            photo = self._array(self.photo.value)
            if photo.shape[:2] != maps.shape:
                raise ValueError(
                    T.MEASURE_PHOTO_SIZE.format(
                        photo=self.photo.value.name,
                        map=layer.name,
                        ph=photo.shape[0],
                        pw=photo.shape[1],
                        h=maps.shape[0],
                        w=maps.shape[1],
                    )
                )
        disc = None
        if self.use_disc.value and DISC_LAYER in self._viewer.layers:
            shapes = self._viewer.layers[DISC_LAYER]
            if len(shapes.data) and shapes.metadata.get('shape') == maps.shape:
                disc = disc_from_shape(shapes.data[0])
        fovea = None
        if self.use_disc.value and FOVEA_LAYER in self._viewer.layers:
            points = self._viewer.layers[FOVEA_LAYER]
            if len(points.data) and points.metadata.get('shape') == maps.shape:
                fovea = tuple(float(v) for v in points.data[0][-2:])
        size = float(self.pixel_size.value) or None
        source = None
        if size is None:
            size, source = layer_pixel_size(layer, self.photo.value)
        quality = _quality_row(layer)
        if _ungradable(quality) and not self.measure_ungradable.value:
            raise ValueError(
                T.MEASURE_UNGRADABLE.format(
                    name=layer.name, reasons=quality['quality_reasons']
                )
            )
        return {
            'maps': maps,
            'photo': photo,
            'disc': disc,
            'fovea': fovea,
            'pixel_size_um': size,
            'pixel_size_source': source,
            'quality': quality,
            'measure_ungradable': bool(self.measure_ungradable.value),
            'corrections': self.corrections.current(),
        }

    def map_shape(self) -> tuple[int, ...]:
        """(H, W) of the selected map (``()`` when none)."""
        layer = self.maps.value
        return () if layer is None else self._array(layer).shape[:2]

    def current_disc(self) -> tuple[float, float, float] | None:
        """(y, x, radius) of the optic disc layer for this map, if any."""
        if DISC_LAYER not in self._viewer.layers:
            return None
        shapes = self._viewer.layers[DISC_LAYER]
        if len(shapes.data) and shapes.metadata.get('shape') == tuple(
            self.map_shape()
        ):
            return disc_from_shape(shapes.data[0])
        return None

    def _validate(self, _value=None) -> bool:
        try:
            self._inputs()
        except ValueError as err:
            self.status.value = str(err)
            self.run_button.enabled = False
            return False
        self.run_button.enabled = self._worker is None
        if self.result is None:
            self.status.value = T.MEASURE_READY
        return True

    # --------------------------------------------------------------- run
    def run(self, _value=None):
        """Measure the selected layer in a worker; returns the worker."""
        from napari.qt.threading import thread_worker

        from ...measures import measure

        if self._worker is not None or not self._validate():
            return None
        inputs = self._inputs()
        layer = self.maps.value

        def job(maps, photo, **options):
            if photo is not None:
                # Each correction measures again: find the FOV once.
                options['fov'] = self._fov_of(photo)
            m = measure(maps, photo, **options)
            # The segment map is made here, off the GUI thread (it is
            # kept: _on_result's segment_map() takes the kept one).
            m.segment_map()
            return m

        worker = thread_worker(job, ignore_errors=True)(**inputs)
        relay = getattr(worker, '_relay_error', None)
        if relay is not None:
            with contextlib.suppress(TypeError, RuntimeError):
                worker.errored.disconnect(relay)
        self._worker = worker
        geometry = {
            'scale': tuple(layer.scale)[-2:],
            'translate': tuple(layer.translate)[-2:],
        }
        shape = inputs['maps'].shape
        worker.returned.connect(
            lambda m: self._on_result(m, layer.name, geometry, shape)
        )
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._set_idle)
        self.run_button.enabled = False
        self.status.value = T.MEASURING.format(name=layer.name)
        worker.start()
        return worker

    def _fov_of(self, photo: np.ndarray) -> np.ndarray:
        """The photo's field of view, kept for the next measurement."""
        from ...fov import fov_mask

        key = (photo.__array_interface__['data'][0], photo.shape)
        cached = getattr(self, '_fov', None)
        if cached is None or cached[0] != key:
            cached = self._fov = (key, fov_mask(photo))
        return cached[1]

    def _on_error(self, exc: Exception) -> None:
        from napari.utils.notifications import show_error

        self.status.value = str(exc) or type(exc).__name__
        show_error(self.status.value)

    def _set_idle(self) -> None:
        self._worker = None
        self._validate()
        self.job_finished.emit()

    # ------------------------------------------------------------ result
    def _on_result(self, m, name: str, geometry: dict, shape) -> None:
        self.result = m
        self._source = name
        meta = {'measure_layer': True, 'shape': shape, 'source': name}
        put_shapes(
            self._viewer,
            ZONES_LAYER,
            zone_shapes(m.disc) if m.disc else [],
            ZONES_STYLE,
            meta,
            geometry,
        )
        put_shapes(
            self._viewer,
            DISC_LAYER,
            disc_shapes(m.disc) if m.disc else [],
            DISC_STYLE,
            meta,
            geometry,
        )
        if FOVEA_LAYER in self._viewer.layers:
            self._viewer.layers.remove(FOVEA_LAYER)
        row = m.image.iloc[0]
        if np.isfinite(row['fovea_y']):
            self._viewer.add_points(
                [[row['fovea_y'], row['fovea_x']]],
                name=FOVEA_LAYER,
                symbol='cross',
                size=max(8.0, float(row['disc_radius_px'] or 0) / 2),
                face_color='#ffff00',
                metadata=dict(meta),
                **geometry,
            )
        labels = m.segment_map()
        colours = corrected_colours(
            m.segments, segment_colours(m.segments, self.colour_by.value)
        )
        feats = m.segments[
            ['segment', 'label', 'calibre_px', 'tortuosity', 'length_px']
        ].copy()
        feats.insert(0, 'index', feats['segment'] + 1)
        if SEGMENTS_LAYER in self._viewer.layers:
            ly = self._viewer.layers[SEGMENTS_LAYER]
            ly.data = labels
            ly.colormap = colours
            ly.features = feats
            ly.metadata.update(meta)
            for k, v in geometry.items():
                setattr(ly, k, v)
        else:
            self._viewer.add_labels(
                labels,
                name=SEGMENTS_LAYER,
                colormap=colours,
                features=feats,
                opacity=0.9,
                metadata=dict(meta),
                **geometry,
            )
        self.corrections.on_result(m, self._viewer.layers[SEGMENTS_LAYER])
        with contextlib.suppress(KeyError, ValueError):
            self._viewer.layers.selection.active = self._viewer.layers[
                DISC_LAYER
            ]
        self._show_tables(m)
        row = m.image.iloc[0]
        self.status.value = T.MEASURED.format(
            name=name,
            n=int(row['n_segments']),
            s=row['seconds'],
            avr=_fmt(row['avr']),
        )
        if m.quality is not None and m.quality.grade == 'ungradable':
            self.status.value += T.MEASURED_UNGRADABLE.format(
                reasons=m.quality.reason
            )

    def _show_tables(self, m) -> None:
        self.image_table.value = image_table_value(m.image.iloc[0])
        self.segment_table.value = segment_table_value(m.segments)

    def _recolour(self, _value=None) -> None:
        if self.result is None or SEGMENTS_LAYER not in self._viewer.layers:
            return
        self._viewer.layers[SEGMENTS_LAYER].colormap = corrected_colours(
            self.result.segments,
            segment_colours(self.result.segments, self.colour_by.value),
        )

    def _on_segment_row(self, row: int, *_args) -> None:
        self.highlight(row)

    def highlight(self, segment: int) -> None:
        """Show only segment *segment* (its table row) in the layer."""
        if (
            self.result is None
            or SEGMENTS_LAYER not in self._viewer.layers
            or not 0 <= segment < len(self.result.segments)
        ):
            return
        from ..view import zoom_to

        ly = self._viewer.layers[SEGMENTS_LAYER]
        ly.selected_label = segment + 1
        ly.show_selected_label = True
        p = np.asarray(self.result.paths[segment], float)
        world = p * np.asarray(ly.scale)[-2:] + np.asarray(ly.translate)[-2:]
        zoom_to(self._viewer, world.min(axis=0), world.max(axis=0))

    # ------------------------------------------------------------ export
    def export_csv(self, _value=None) -> Path | None:
        """Write measures.csv and segments.csv into the CSV folder."""
        if self.result is None:
            self.status.value = T.MEASURE_NOTHING
            return None
        folder = Path(self.csv_folder.value)
        if str(self.csv_folder.value) in ('', '.'):
            self.status.value = T.MEASURE_NO_FOLDER
            return None
        try:
            self.result.to_csv(folder, name=self._source or 'image')
        except OSError as err:
            self.status.value = T.MEASURE_WRITE_FAILED.format(
                folder=folder, err=err.strerror or err
            )
            return None
        self.status.value = T.MEASURE_EXPORTED.format(folder=folder)
        return folder
