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
from .corrections import CorrectionsPanel, corrected_colours

if TYPE_CHECKING:  # pragma: no cover
    import napari

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
#: Rows of the per-image table: (column, row label).
IMAGE_ROWS = (
    ('crae_um', 'CRAE (µm)'),
    ('crve_um', 'CRVE (µm)'),
    ('avr', 'AVR'),
    ('crae_px', 'CRAE (px)'),
    ('crve_px', 'CRVE (px)'),
    ('fd_vessels', 'fractal dimension, all'),
    ('fd_arteries', 'fractal dimension, arteries'),
    ('fd_veins', 'fractal dimension, veins'),
    ('vessel_density', 'vessel density'),
    ('tortuosity_arteries', 'tortuosity, arteries'),
    ('tortuosity_veins', 'tortuosity, veins'),
    ('n_segments', 'segments'),
    ('disc_radius_px', 'disc radius (px)'),
    ('disc_confidence', 'disc confidence'),
    ('pixel_size_um', 'pixel size (µm)'),
    ('fovea_confidence', 'fovea confidence'),
    ('disc_fovea_dd', 'disc-fovea distance (DD)'),
    ('axis_angle_deg', 'disc-fovea axis (deg below)'),
    ('eye', 'eye'),
)
#: Columns of the per-segment table shown (all are exported).
SEGMENT_VIEW = (
    'segment',
    'label',
    'zone',
    'length_px',
    'calibre_px',
    'calibre_um',
    'tortuosity',
    'curvature_per_mm',
    'orientation_deg',
    'corrected',
)


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


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return 'n/a' if not np.isfinite(v) else f'{v:.4g}'
    return str(v)


class MeasureWidget(Container):
    """Measure the vessels of a vessel or artery/vein layer."""

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
            return measure(maps, photo, **options)

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

    # ------------------------------------------------------------ result
    def _on_result(self, m, name: str, geometry: dict, shape) -> None:
        self.result = m
        self._source = name
        meta = {'measure_layer': True, 'shape': shape, 'source': name}
        self._put_shapes(
            ZONES_LAYER,
            zone_shapes(m.disc) if m.disc else [],
            {
                'edge_color': ['#00ffff', '#00ffff', '#ffff00'],
                'face_color': 'transparent',
                'edge_width': 2,
                'opacity': 0.6,
                'shape_type': 'ellipse',
            },
            meta,
            geometry,
        )
        self._put_shapes(
            DISC_LAYER,
            disc_shapes(m.disc) if m.disc else [],
            {
                'edge_color': '#ffffff',
                'face_color': 'transparent',
                'edge_width': 3,
                'shape_type': 'ellipse',
            },
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

    def _put_shapes(self, layer_name, shapes, style, meta, geometry):
        style = dict(style)
        stype = style.pop('shape_type')
        if layer_name in self._viewer.layers:
            self._viewer.layers.remove(layer_name)
        self._viewer.add_shapes(
            shapes,
            shape_type=stype,
            name=layer_name,
            metadata=dict(meta),
            **style,
            **geometry,
        )

    def _show_tables(self, m) -> None:
        row = m.image.iloc[0]
        data, index = [], []
        for col, label in IMAGE_ROWS:
            note = ''
            reason_col = f'{col.split("_")[0]}_reason'
            if col.startswith(('crae', 'crve', 'avr')):
                note = row.get(reason_col, '') or ''
                n = row.get(f'{col.split("_")[0]}_n')
                if not note and n is not None and np.isfinite(n):
                    note = f'{int(n)} vessels'
            elif col.startswith(('fd_', 'tortuosity_')):
                note = row.get(f'{col}_reason', '') or ''
                n = row.get(f'{col}_n')
                if not note and n is not None and np.isfinite(n):
                    note = f'{int(n)} segments'
            elif col == 'pixel_size_um':
                note = row['pixel_size_source']
            elif col == 'disc_confidence':
                note = row['disc_reason'] or row['disc_source']
            elif col == 'fovea_confidence':
                note = row['fovea_reason'] or row['fovea_source']
            data.append([_fmt(row[col]), note])
            index.append(label)
        self.image_table.value = {
            'data': data,
            'index': index,
            'columns': ['value', 'note'],
        }
        seg = m.segments
        self.segment_table.value = {
            'data': [
                [_fmt(v) for v in r]
                for r in seg[list(SEGMENT_VIEW)].itertuples(index=False)
            ],
            'index': [str(i) for i in seg['segment']],
            'columns': list(SEGMENT_VIEW),
        }

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
