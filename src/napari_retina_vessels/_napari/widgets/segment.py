"""The Segment widget: one click from photo to vessel and A/V layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSlider,
    Label,
    ProgressBar,
    PushButton,
)

from . import _text as T

if TYPE_CHECKING:  # pragma: no cover
    import napari


class SegmentWidget(Container):
    """Segment the vessels (and arteries/veins) of an image layer."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        from ...inference import available_devices
        from ...pipeline import VESSEL_VIEWS
        from ...weights import list_models

        super().__init__(labels=True)
        self._viewer = viewer
        self._worker = None
        self._result = None
        self._result_layer: str | None = None

        self.image = ComboBox(label='image', choices=self._image_choices,
                              tooltip=T.IMAGE_TIP)
        models = list_models(task='vessels')
        self.model = ComboBox(
            label='model', tooltip=T.MODEL_TIP,
            choices=[(self._model_label(m), m['name']) for m in models],
            value=next((m['name'] for m in models if m['default']),
                       models[0]['name'] if models else None),
        )
        self.device = ComboBox(label='device', tooltip=T.DEVICE_TIP,
                               choices=['auto', *available_devices()],
                               value='auto')
        has_av = bool(list_models(task='av'))
        self.av = CheckBox(text='artery / vein', value=has_av,
                           enabled=has_av, tooltip=T.AV_TIP)
        self.views = ComboBox(label='flip views', tooltip=T.VIEWS_TIP,
                              choices=[1, 2, 4], value=VESSEL_VIEWS)
        self.show_artery_prob = CheckBox(
            text='add artery probability layer', value=False,
            enabled=has_av, tooltip=T.ARTERY_PROB_TIP)
        self.av.changed.connect(
            lambda on: setattr(self.show_artery_prob, 'enabled', bool(on)))
        self.show_fov = CheckBox(text='add FOV mask layer', value=False,
                                 tooltip=T.FOV_TIP)
        self.threshold = FloatSlider(label='threshold', min=0.01, max=0.99,
                                     step=0.01, value=0.5,
                                     tooltip=T.THRESHOLD_TIP)
        self.run_button = PushButton(text='Segment', tooltip=T.RUN_TIP)
        self.cancel_button = PushButton(text='Cancel', tooltip=T.CANCEL_TIP,
                                        enabled=False)
        self.progress = ProgressBar(label='progress', value=0, max=1,
                                    visible=False)
        self.status = Label(label='', value=T.READY)
        # Messages are whole sentences: wrap them instead of cutting.
        self.status.native.setWordWrap(True)
        self.extend([
            self.image, self.model, self.device, self.av, self.views,
            self.show_artery_prob, self.show_fov, self.threshold,
            self.run_button, self.cancel_button, self.progress, self.status,
        ])
        self._set_model_threshold()
        self.model.changed.connect(self._set_model_threshold)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.threshold.changed.connect(self._rethreshold)
        self.image.changed.connect(self._validate)
        events = viewer.layers.events
        events.inserted.connect(self._refresh)
        events.removed.connect(self._refresh)
        events.reordered.connect(self._refresh)
        self._validate()

    # ----------------------------------------------------------- choices
    @staticmethod
    def _model_label(m: dict) -> str:
        where = 'shipped' if m.get('shipped') else (
            'downloaded' if m['available'] else 'download on first use')
        return f"{m['name']} ({where})"

    def _image_choices(self, _widget=None) -> list[tuple[str, Any]]:
        from napari.layers import Image

        return [(ly.name, ly) for ly in self._viewer.layers
                if isinstance(ly, Image)]

    def _refresh(self, _event=None) -> None:
        self.image.reset_choices()
        self._validate()

    def _set_model_threshold(self, _value=None) -> None:
        from ...weights import model_info

        try:
            thr = model_info(self.model.value).get('threshold', 0.5)
        except Exception:  # noqa: BLE001 - unknown names keep the slider
            return
        with self.threshold.changed.blocked():
            self.threshold.value = float(thr)

    def _validate(self, _value=None) -> bool:
        layer = self.image.value
        msg = None
        if layer is None:
            msg = T.NO_IMAGE
        else:
            shape = tuple(np.shape(layer.data))
            ok = len(shape) == 2 or (len(shape) == 3 and shape[-1] in (3, 4)
                                     and getattr(layer, 'rgb', False))
            if not ok:
                msg = T.BAD_LAYER.format(name=layer.name, shape=shape)
        busy = self._worker is not None
        self.run_button.enabled = msg is None and not busy
        if not busy:
            self.status.value = msg or T.READY
        return msg is None

    # --------------------------------------------------------------- run
    def run(self, _value=None):
        """Start segmenting the selected image; returns the worker."""
        from napari.qt.threading import thread_worker

        from ...pipeline import iter_segment

        if self._worker is not None or not self._validate():
            return None
        layer = self.image.value
        data = np.asarray(layer.data)
        options = {
            'model': self.model.value, 'av': bool(self.av.value),
            'device': self.device.value, 'views': int(self.views.value),
            'threshold': float(self.threshold.value),
        }
        worker = thread_worker(iter_segment, ignore_errors=True)(
            data, **options)
        self._worker = worker
        name = layer.name
        geometry = {'scale': tuple(layer.scale)[-2:],
                    'translate': tuple(layer.translate)[-2:]}
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(
            lambda result: self._on_result(result, name, geometry))
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._set_idle)
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.progress.visible = True
        self.progress.value = 0
        self.status.value = T.RUNNING.format(name=name)
        worker.start()
        return worker

    def cancel(self, _value=None) -> None:
        """Stop the running job at its next progress point."""
        if self._worker is not None:
            self._worker.quit()
            self.status.value = T.CANCELLED

    def _on_progress(self, rec) -> None:
        self.progress.max = max(1, rec.total)
        self.progress.value = min(rec.done, rec.total)
        self.progress.label = rec.stage

    def _on_error(self, exc: Exception) -> None:
        self.status.value = str(exc) or type(exc).__name__

    def _set_idle(self) -> None:
        self._worker = None
        self.cancel_button.enabled = False
        self.progress.visible = False
        self._validate_keep_status()

    def _validate_keep_status(self) -> None:
        status = self.status.value
        self._validate()
        if self.run_button.enabled:
            self.status.value = status

    def _on_result(self, result, name: str, geometry: dict) -> None:
        from ..layers import segmentation_layers
        from ..console import add_layers

        self._result = result
        self._result_layer = name
        add_layers(self._viewer, segmentation_layers(
            result, name, geometry=geometry,
            show_fov=bool(self.show_fov.value),
            show_artery_probability=bool(self.show_artery_prob.value
                                         and self.av.value)))
        with self.threshold.changed.blocked():
            self.threshold.value = round(result.threshold, 2)
        density = result.vessels.sum() / max(1, result.fov.sum())
        self.status.value = T.DONE.format(
            name=name, seconds=result.seconds, device=result.device,
            model=result.model, density=density)

    # ------------------------------------------------------- threshold
    def _rethreshold(self, value: float) -> None:
        """Show the cached result at the slider's threshold; the vessel
        map and the artery/vein vote are redone, no model runs."""
        from ..console import threshold_layers

        res = self._result
        if res is None or self._result_layer is None:
            return
        res = threshold_layers(self._viewer, res, float(value),
                               image_name=self._result_layer)
        self._result = res
        density = res.vessels.sum() / max(1, res.fov.sum())
        self.status.value = T.RETHRESHOLDED.format(thr=value,
                                                   density=density)
