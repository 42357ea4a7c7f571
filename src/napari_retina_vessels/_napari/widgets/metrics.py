"""The Metrics widget: score a prediction layer against ground truth.

Vessel maps get the full table (ROC AUC, AP, accuracy, sensitivity,
specificity, precision, F1, IoU, MCC, clDice) and a ROC curve when the
prediction is a probability map; artery/vein labels get the A/V table.
Both add an error overlay Labels layer. Scoring a 584 x 565 image takes
a few tens of milliseconds, so it runs on the GUI thread.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
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
from ._layout import fit_dock

if TYPE_CHECKING:  # pragma: no cover
    import napari

#: Table rows for vessel maps: (metrics key, row label).
VESSEL_ROWS = (
    ('auc', 'ROC AUC'),
    ('ap', 'PR AUC (AP)'),
    ('acc', 'accuracy'),
    ('se', 'sensitivity'),
    ('sp', 'specificity'),
    ('precision', 'precision'),
    ('f1', 'F1 / Dice'),
    ('iou', 'IoU'),
    ('mcc', 'MCC'),
    ('cldice', 'clDice'),
    ('threshold', 'threshold'),
)
#: Table rows for artery/vein labels: (part, key, row label).
AV_ROWS = (
    ('all', 'acc', 'A/V accuracy, all labelled'),
    ('all', 'se', 'sensitivity (artery), all'),
    ('all', 'sp', 'specificity (vein), all'),
    ('intersection', 'acc', 'A/V accuracy, detected'),
    ('intersection', 'se', 'sensitivity (artery), detected'),
    ('intersection', 'sp', 'specificity (vein), detected'),
    (None, 'detected', 'detected fraction'),
    ('all', 'n', 'labelled pixels'),
)
_MAX_CURVE_POINTS = 2000


class _Problem(Exception):
    """An input the user must change; its message goes to the status."""


def _looks_av(arr: np.ndarray) -> bool:
    """Artery/vein labels: integers within 0..3 that contain a vein."""
    return (
        np.issubdtype(arr.dtype, np.integer)
        and arr.size > 0
        and int(arr.min()) >= 0
        and int(arr.max()) <= 3
        and bool((arr == 2).any())
    )


def _fmt(value: Any) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, int | np.integer):
        return f'{int(value):,}'
    if math.isnan(value):
        return 'n/a'
    return f'{value:.4f}'


class MetricsWidget(Container):
    """Compare a prediction layer with a ground-truth layer."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        self._viewer = viewer
        self.rows: list[tuple[str, Any]] = []
        self._computed_for: tuple | None = None

        self.prediction = layer_picker(
            'prediction', T.PRED_TIP, self._layer_choices
        )
        self.truth = layer_picker(
            'ground truth', T.TRUTH_TIP, self._layer_choices
        )
        self.mask = layer_picker(
            'FOV mask', T.MASK_TIP, self._layer_choices, optional=True
        )
        self.threshold = FloatSpinBox(
            label='threshold',
            min=0.01,
            max=0.99,
            step=0.01,
            value=0.5,
            tooltip=T.METRIC_THRESHOLD_TIP,
        )
        self.compute_button = PushButton(text='Compute', tooltip=T.COMPUTE_TIP)
        self.status = status_label(T.READY_METRICS)
        self.table = results_table(['value'])
        self.table.native.horizontalHeader().setStretchLastSection(True)
        self.copy_button = PushButton(text='Copy', tooltip=T.COPY_TIP)
        self.csv_path = FileEdit(
            label='CSV file', mode='w', filter='*.csv', tooltip=T.CSV_TIP
        )
        self.export_button = PushButton(
            text='Export CSV', tooltip=T.EXPORT_TIP
        )
        # Labelled pickers on top; the table and buttons use full width.
        self.extend(
            [
                form(self.prediction, self.truth, self.mask, self.threshold),
                self.compute_button,
                self.status,
                self.table,
                self.copy_button,
                form(self.csv_path),
                self.export_button,
            ]
        )
        self._figure, self._canvas = self._make_roc_canvas()
        fit_dock(self)

        self.compute_button.changed.connect(self.compute)
        self.copy_button.changed.connect(self.copy)
        self.export_button.changed.connect(self.export_csv)
        self.threshold.changed.connect(self._on_threshold)
        self.prediction.changed.connect(self._on_prediction)
        for picker in (self.truth, self.mask):
            picker.changed.connect(self._validate)
        watch_layers(viewer, self._refresh, reordered=True)
        self._on_prediction()

    # ----------------------------------------------------------- choices
    def _layer_choices(self, _widget=None) -> list[tuple[str, Any]]:
        from napari.layers import Image, Labels

        return [
            (ly.name, ly)
            for ly in self._viewer.layers
            if isinstance(ly, Image | Labels)
            and not ly.metadata.get('error_overlay')
        ]

    def _refresh(self, _event=None) -> None:
        for picker in (self.prediction, self.truth, self.mask):
            picker.reset_choices()
        self._validate()

    def _on_prediction(self, _value=None) -> None:
        layer = self.prediction.value
        thr = getattr(layer, 'metadata', {}).get('threshold')
        if isinstance(thr, float | int) and 0 <= thr <= 1:
            with self.threshold.changed.blocked():
                self.threshold.value = float(thr)
        self._validate()

    def _on_threshold(self, _value=None) -> None:
        if self._computed_for == self._selection():
            self.compute()

    def _selection(self) -> tuple:
        return (self.prediction.value, self.truth.value, self.mask.value)

    # -------------------------------------------------------- validation
    @staticmethod
    def _array(layer) -> np.ndarray:
        arr = layer_array(layer)
        if arr.ndim != 2 or getattr(layer, 'rgb', False):
            multiscale = getattr(layer, 'multiscale', False)
            data = layer.data[0] if multiscale else layer.data
            raise _Problem(
                T.NOT_2D.format(name=layer.name, shape=tuple(np.shape(data)))
            )
        return arr

    def _inputs(self) -> dict[str, Any]:
        pred, truth, mask = self._selection()
        if pred is None or truth is None:
            raise _Problem(T.NEED_LAYERS)
        if pred is truth:
            raise _Problem(T.SAME_LAYER)
        out = {
            'pred': self._array(pred),
            'truth': self._array(truth),
            'mask': None,
        }
        if mask is not None:
            out['mask'] = self._array(mask) != 0
        ph, pw = out['pred'].shape
        for what, layer, key in (
            ('ground truth', truth, 'truth'),
            ('mask', mask, 'mask'),
        ):
            arr = out[key]
            if arr is not None and arr.shape != (ph, pw):
                raise _Problem(
                    T.SHAPE_MISMATCH.format(
                        what=what.capitalize(),
                        name=layer.name,
                        w=arr.shape[1],
                        h=arr.shape[0],
                        pred=pred.name,
                        pw=pw,
                        ph=ph,
                    )
                )
        return out

    def _validate(self, _value=None) -> bool:
        try:
            self._inputs()
        except _Problem as problem:
            self.status.value = str(problem)
            self.compute_button.enabled = False
            return False
        self.compute_button.enabled = True
        if self._computed_for != self._selection():
            self.status.value = T.READY_METRICS
        return True

    # ------------------------------------------------------------ compute
    def compute(self, _value=None) -> dict | None:
        """Score the selected layers; returns the metrics dict or None
        (with the reason in the status line)."""
        from ...errors import RetinaVesselsError

        try:
            inputs = self._inputs()
            if _looks_av(inputs['pred']) and _looks_av(inputs['truth']):
                result, message, fields = self._compute_av(inputs)
            else:
                result, message, fields = self._compute_vessels(inputs)
        except (_Problem, RetinaVesselsError, ValueError) as err:
            self.status.value = str(err)
            self._computed_for = None
            return None
        self._computed_for = self._selection()
        self.status.value = message.format(**fields)
        return result

    def _compute_vessels(self, inputs: dict) -> tuple[dict, str, dict]:
        from ...metrics import binarise, roc_curve, vessel_metrics

        pred_layer = self.prediction.value
        pred, truth, mask = inputs['pred'], inputs['truth'], inputs['mask']
        if self._is_labels(pred_layer):
            pred = pred != 0
        thr = float(self.threshold.value)
        t0 = time.perf_counter()
        m = vessel_metrics(truth, pred, mask=mask, threshold=thr)
        ms = 1000 * (time.perf_counter() - t0)
        self.rows = [(label, m[key]) for key, label in VESSEL_ROWS]
        self._show_rows()
        if m['auc'] is not None:
            fpr, tpr, _ = roc_curve(truth, pred, mask=mask)
            self._plot_roc(fpr, tpr, m['auc'])
        else:
            self._hide_roc()
        overlay = self._overlay(
            truth, binarise(pred, threshold=thr), mask, av=False
        )
        n = int(mask.sum()) if mask is not None else pred.size
        return (
            m,
            T.COMPUTED,
            {'name': pred_layer.name, 'n': n, 'overlay': overlay, 'ms': ms},
        )

    def _compute_av(self, inputs: dict) -> tuple[dict, str, dict]:
        from ...metrics import av_metrics

        t0 = time.perf_counter()
        m = av_metrics(inputs['truth'], inputs['pred'], mask=inputs['mask'])
        ms = 1000 * (time.perf_counter() - t0)
        self.rows = [
            (label, m[key] if part is None else m[part][key])
            for part, key, label in AV_ROWS
        ]
        self._show_rows()
        self._hide_roc()
        overlay = self._overlay(
            inputs['truth'], inputs['pred'], inputs['mask'], av=True
        )
        return (
            m,
            T.COMPUTED_AV,
            {
                'name': self.prediction.value.name,
                'n': m['all']['n'],
                'overlay': overlay,
                'ms': ms,
            },
        )

    @staticmethod
    def _is_labels(layer) -> bool:
        from napari.layers import Labels

        return isinstance(layer, Labels)

    # ------------------------------------------------------------ output
    def _show_rows(self) -> None:
        self.table.value = {
            'data': [[_fmt(v)] for _, v in self.rows],
            'index': [label for label, _ in self.rows],
            'columns': ['value'],
        }
        # Tall enough for every row: a results table should not scroll.
        view = self.table.native
        rows = view.verticalHeader().length()
        self.table.min_height = rows + view.horizontalHeader().height() + 4

    def _overlay(self, truth, pred, mask, *, av: bool) -> str:
        from napari.layers import Labels
        from napari.utils.colormaps import DirectLabelColormap

        from ..layers import error_layer

        layer = self.prediction.value
        name = f'{layer.name} errors'
        meta = {
            'error_overlay': True,
            'prediction': layer.name,
            'ground_truth': self.truth.value.name,
            'threshold': float(self.threshold.value),
        }
        data, kwargs, _ = error_layer(
            truth,
            pred,
            name,
            mask=mask,
            av=av,
            metadata=meta,
            geometry={
                'scale': tuple(layer.scale)[-2:],
                'translate': tuple(layer.translate)[-2:],
            },
        )
        kwargs['colormap'] = DirectLabelColormap(color_dict=kwargs['colormap'])
        existing = next(
            (ly for ly in self._viewer.layers if ly.name == name), None
        )
        if isinstance(existing, Labels) and existing.data.shape == data.shape:
            existing.data = data
            existing.features = kwargs['features']
            existing.colormap = kwargs['colormap']
            existing.metadata.update(meta)
            return name
        if existing is not None:
            self._viewer.layers.remove(existing)
        self._viewer.add_labels(data, **kwargs)
        return name

    def as_text(self, sep: str = '\t') -> str:
        """The table as text: a header and one ``metric<sep>value`` row
        per metric, full precision."""
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=sep, lineterminator='\n')
        writer.writerow(
            ['metric', 'value', 'prediction', 'ground_truth', 'mask']
        )
        names = [
            getattr(w.value, 'name', '')
            for w in (self.prediction, self.truth, self.mask)
        ]
        for label, value in self.rows:
            if value is None or (
                isinstance(value, float) and math.isnan(value)
            ):
                value = ''
            writer.writerow([label, value, *names])
        return buf.getvalue()

    def copy(self, _value=None) -> None:
        """Copy the table to the clipboard as tab-separated text."""
        from qtpy.QtWidgets import QApplication

        if not self.rows:
            self.status.value = T.NOTHING_TO_EXPORT
            return
        QApplication.clipboard().setText(self.as_text())
        self.status.value = T.COPIED.format(n=len(self.rows))

    def export_csv(self, _value=None) -> Path | None:
        """Write the table to the chosen CSV file; returns its path."""
        from ...evaluation import write_text_atomic

        if not self.rows:
            self.status.value = T.NOTHING_TO_EXPORT
            return None
        path = Path(self.csv_path.value or '.')
        if str(path) in ('', '.') or path.is_dir():
            self.status.value = T.CHOOSE_CSV
            return None
        try:
            write_text_atomic(path, self.as_text(','))
        except OSError as err:
            self.status.value = T.EXPORT_FAILED.format(
                path=path, reason=err.strerror or err
            )
            return None
        self.status.value = T.EXPORTED.format(path=path)
        return path

    # --------------------------------------------------------- ROC curve
    def _make_roc_canvas(self):
        try:
            from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
            from matplotlib.figure import Figure
        except ImportError:  # matplotlib is optional: no curve
            return None, None
        fig = Figure(figsize=(3.2, 3.0), layout='constrained')
        canvas = FigureCanvasQTAgg(fig)
        canvas.setMinimumHeight(240)
        canvas.setVisible(False)
        self.native.layout().addWidget(canvas)
        return fig, canvas

    def _theme_colours(self) -> tuple[str, str, str]:
        from napari.utils.theme import available_themes, get_theme

        name = self._viewer.theme
        theme = get_theme(name if name in available_themes() else 'dark')
        return (
            theme.background.as_hex(),
            theme.text.as_hex(),
            theme.current.as_hex(),
        )

    def _plot_roc(self, fpr: np.ndarray, tpr: np.ndarray, auc: float) -> None:
        if self._canvas is None:
            return
        back, text, accent = self._theme_colours()
        idx = np.unique(
            np.linspace(0, fpr.size - 1, _MAX_CURVE_POINTS).astype(int)
        )
        fig = self._figure
        fig.clear()
        fig.set_facecolor(back)
        ax = fig.add_subplot()
        ax.set_facecolor(back)
        ax.plot([0, 1], [0, 1], ls='--', lw=0.8, color=text, alpha=0.5)
        ax.plot(fpr[idx], tpr[idx], lw=1.8, color=accent)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect='equal')
        ax.set_xlabel('1 - specificity', color=text)
        ax.set_ylabel('sensitivity', color=text)
        ax.set_title(f'ROC curve, AUC {auc:.4f}', color=text, fontsize=10)
        ax.tick_params(colors=text, labelsize=8)
        for spine in ax.spines.values():
            spine.set_color(text)
        self._canvas.setVisible(True)
        self._canvas.draw_idle()

    def _hide_roc(self) -> None:
        if self._canvas is not None:
            self._canvas.setVisible(False)
