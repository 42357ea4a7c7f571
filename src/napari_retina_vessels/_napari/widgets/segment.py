"""The Segment widget: one click from photo to vessel and A/V layers.

Photos and stacks of photos (N, H, W[, 3]: a folder opened as a stack, a
multi-frame DICOM) are segmented in a worker thread, a stack frame by
frame; progress shows in the widget and in napari's activity dock, and
results, cancellations and failures end in a napari notification. The
last result can be saved as the files ``retina-vessels segment`` writes.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSlider,
    Label,
    ProgressBar,
    PushButton,
)
from psygnal import Signal

from . import _text as T
from ._layout import fit_dock, section
from ._model_file import ModelFileCheck
from ._segment_slots import (  # noqa: F401  (imported from here too)
    RETHRESHOLD_DELAY_MS,
    ProgressSlots,
    ThresholdSlots,
)

if TYPE_CHECKING:  # pragma: no cover
    import napari


class SegmentWidget(ProgressSlots, ThresholdSlots, Container):
    """Segment the vessels (and arteries/veins) of an image layer."""

    #: Emitted when a job has ended (result shown, error said or
    #: cancelled) and the widget is idle again: what scripts and tests
    #: wait on (with :attr:`busy`), not the private worker.
    job_finished = Signal()
    #: Emitted with the threshold once a slider move has been applied to
    #: the result layers (see :attr:`threshold_pending`).
    threshold_applied = Signal(float)

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._worker is not None

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        from qtpy.QtCore import QTimer

        from ...inference import available_devices
        from ...options import VESSEL_VIEWS, SegmentOptions, choices
        from ...weights import list_models

        super().__init__(labels=True)
        self._viewer = viewer
        self._worker = None
        self._result = None
        self._result_layer: str | None = None
        self._result_suffix = ''
        self._photo = None  # what was segmented, for the saved overlay
        self._pbar = None  # napari activity-dock progress of the job
        self._job_name = ''
        self._frame = None  # (index, count) while a stack runs
        self._stage = ''  # the stage the activity dock names
        self._in_activity = False  # inside napari's progress update
        # The last result/cancel/error sentence: kept when layers change.
        self._message: str | None = None

        self.image = ComboBox(
            label='image', choices=self._image_choices, tooltip=T.IMAGE_TIP
        )
        models = list_models(task='vessels')
        self.model = ComboBox(
            label='model',
            tooltip=T.MODEL_TIP,
            choices=[(self._model_label(m), m['name']) for m in models],
            value=next(
                (m['name'] for m in models if m['default']),
                models[0]['name'] if models else None,
            ),
        )
        self.model_file = FileEdit(
            label='model file',
            mode='r',
            filter='*.pt',
            tooltip=T.MODEL_FILE_TIP,
        )
        self._model_check = ModelFileCheck()
        self.device = ComboBox(
            label='device',
            tooltip=T.DEVICE_TIP,
            choices=['auto', *available_devices()],
            value='auto',
        )
        has_av = bool(list_models(task='av'))
        self.av = CheckBox(
            text='artery / vein',
            value=has_av,
            enabled=has_av,
            tooltip=T.AV_TIP,
        )
        self.views = ComboBox(
            label='flip views',
            tooltip=T.VIEWS_TIP,
            choices=list(choices('views')),
            value=VESSEL_VIEWS,
        )
        self.precision = ComboBox(
            label='precision',
            tooltip=T.PRECISION_TIP,
            # The CLI's choices: one list, in options.
            choices=list(choices('precision')),
            value='auto',
        )
        # [#33 engine] the engine choice and the hint where it would help
        from ...engines import OPENVINO_HINT

        self.engine = ComboBox(
            label='engine',
            tooltip=T.ENGINE_TIP,
            choices=list(choices('engine')),
            value='auto',
        )
        self.engine_hint = Label(value=OPENVINO_HINT)
        self.engine_hint.native.setWordWrap(True)
        self._show_engine_hint()
        self.device.changed.connect(self._show_engine_hint)
        # The A/V stage's view of the photo: only with artery / vein on.
        self.contrast_view = ComboBox(
            label='A/V contrast',
            tooltip=T.CONTRAST_VIEW_TIP,
            choices=list(choices('contrast_view')),
            value=SegmentOptions().contrast_view,
            enabled=has_av,
        )
        self.show_artery_prob = CheckBox(
            text='add artery probability layer',
            value=False,
            enabled=has_av,
            tooltip=T.ARTERY_PROB_TIP,
        )
        self.av.changed.connect(self._av_toggled)
        self.show_fov = CheckBox(
            text='add FOV mask layer', value=False, tooltip=T.FOV_TIP
        )
        self.keep = CheckBox(
            text='keep earlier results', value=False, tooltip=T.KEEP_TIP
        )
        self.threshold = FloatSlider(
            label='threshold',
            min=0.01,
            max=0.99,
            step=0.01,
            value=0.5,
            tooltip=T.THRESHOLD_TIP,
        )
        self.run_button = PushButton(text='Segment', tooltip=T.RUN_TIP)
        self.cancel_button = PushButton(
            text='Cancel', tooltip=T.CANCEL_TIP, enabled=False
        )
        self.progress = ProgressBar(
            label='progress', value=0, max=1, visible=False
        )
        self.status = Label(label='', value=T.READY)
        # Messages are whole sentences: wrap them instead of cutting.
        self.status.native.setWordWrap(True)
        self.save_folder = FileEdit(
            label='save to', mode='d', tooltip=T.SAVE_FOLDER_TIP
        )
        self.save_button = PushButton(
            text='Save results', enabled=False, tooltip=T.SAVE_TIP
        )
        # The everyday controls stay in view; the rest fold away so the
        # dock fits beside the canvas on a 1280 x 800 screen.
        self.options_toggle, self.more_options = section(
            'options',
            self.device,
            self.views,
            self.precision,
            self.engine,
            self.engine_hint,
            self.contrast_view,
            self.show_artery_prob,
            self.show_fov,
            self.keep,
        )
        self.extend(
            [
                self.image,
                self.model,
                self.model_file,
                self.av,
                self.threshold,
                self.options_toggle,
                self.more_options,
                self.run_button,
                self.cancel_button,
                self.progress,
                self.status,
                self.save_folder,
                self.save_button,
            ]
        )
        fit_dock(self)
        self._set_model_threshold()
        self.model.changed.connect(self._set_model_threshold)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.save_button.changed.connect(self.save)
        # One single-shot timer, restarted by every slider move: a drag
        # re-thresholds once, at the value the slider comes to rest on.
        self._threshold_timer = QTimer(self.native)
        self._threshold_timer.setSingleShot(True)
        self._threshold_timer.setInterval(RETHRESHOLD_DELAY_MS)
        self._threshold_timer.timeout.connect(self._apply_threshold)
        self.threshold.changed.connect(self._threshold_moved)
        self.image.changed.connect(self._validate)
        self.model_file.changed.connect(self._validate)
        events = viewer.layers.events
        events.inserted.connect(self._refresh)
        events.removed.connect(self._refresh)
        events.reordered.connect(self._refresh)
        self._validate()

    # ----------------------------------------------------------- choices
    @staticmethod
    def _model_label(m: dict) -> str:
        where = (
            'shipped'
            if m.get('shipped')
            else ('downloaded' if m['available'] else 'download on first use')
        )
        return f'{m["name"]} ({where})'

    def _image_choices(self, _widget=None) -> list[tuple[str, Any]]:
        from napari.layers import Image

        from ..layers import is_output

        # The plugin's own outputs (probability maps are image layers)
        # are no photos to segment.
        return [
            (ly.name, ly)
            for ly in self._viewer.layers
            if isinstance(ly, Image) and not is_output(ly)
        ]

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
        from ...errors import RetinaVesselsError
        from ..frames import layer_input

        layer = self.image.value
        msg = None
        if layer is None:
            msg = T.NO_IMAGE
        else:
            try:
                layer_input(layer)
            except RetinaVesselsError as err:
                msg = T.BAD_LAYER.format(reason=err)
        _, problem, note = self._model_file_state()
        msg = msg or problem
        busy = self._worker is not None
        self.run_button.enabled = msg is None and not busy
        if not busy:
            # Layers come and go; the last result's sentence stays.
            self.status.value = msg or self._message or note or T.READY
        return msg is None

    def _model_file_state(self) -> tuple[str, str | None, str | None]:
        # The text as typed: FileEdit.value turns '' into the cwd.
        return self._model_check.check(self.model_file.line_edit.value)

    def _say(
        self, message: str, kind: str = 'info', note: str | None = None
    ) -> None:
        """Show *message* in the status line and *note* (default: the
        message) as a napari notification (kind ``info`` or
        ``warning``); a note is one line that fits the notification."""
        from napari.utils import notifications

        self._message = message
        self.status.value = message
        getattr(notifications, f'show_{kind}')(note or message)

    # --------------------------------------------------------------- run
    def _av_toggled(self, on) -> None:
        """The A/V-only controls follow the artery / vein box."""
        self.show_artery_prob.enabled = bool(on)
        self.contrast_view.enabled = bool(on)

    def _show_engine_hint(self, _value=None) -> None:
        """Show the OpenVINO hint only where it would help (CPU, not
        installed)."""
        from ...engines import hint_wanted

        self.engine_hint.visible = hint_wanted(self.device.value)

    def run(self, _value=None):
        """Start segmenting the selected image; returns the worker."""
        from napari.qt.threading import thread_worker
        from napari.utils import progress

        from ...pipeline import iter_segment, iter_segment_stack
        from ..frames import layer_input

        if self._worker is not None or not self._validate():
            return None
        self._apply_pending_threshold()
        layer = self.image.value
        source = layer_input(layer)
        options = {
            'model': self._model_file_state()[0] or self.model.value,
            'av': bool(self.av.value),
            'device': self.device.value,
            'views': int(self.views.value),
            'precision': self.precision.value,
            'engine': self.engine.value,  # [#33 engine]
            'contrast_view': self.contrast_view.value,
            'threshold': float(self.threshold.value),
        }
        if source.stack:
            # Lazy stacks stay lazy: the worker loads one frame at a time.
            func, data = iter_segment_stack, source.data
            self._frame = (0, len(data))
        else:
            func, data = iter_segment, np.asarray(source.data)
            self._frame = None
        worker = thread_worker(func, ignore_errors=True)(data, **options)
        # Errors are notified once, by _on_error; some napari versions
        # relay worker errors themselves too.
        relay = getattr(worker, '_relay_error', None)
        if relay is not None:
            # not connected in some napari versions
            with contextlib.suppress(TypeError, RuntimeError):
                worker.errored.disconnect(relay)
        self._worker = worker
        name = layer.name
        self._job_name = name
        self._photo = source.data
        # Indeterminate: the activity dock names the stage (see
        # _stage_to_activity); the widget's own bar shows the count.
        self._stage = ''
        self._pbar = progress(total=0, desc=T.RUNNING.format(name=name))
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(
            lambda result: self._on_result(result, name, source.geometry)
        )
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
        """Stop the running job at its next progress point (between two
        frames of a stack at the latest)."""
        if self._worker is not None:
            self._worker.quit()
            self._say(T.CANCELLED)

    def _set_idle(self) -> None:
        self._worker = None
        self._frame = None
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.cancel_button.enabled = False
        self.progress.visible = False
        self._validate()
        self.job_finished.emit()

    def _on_result(self, result, name: str, geometry: dict) -> None:
        from ..console import add_layers
        from ..layers import result_suffix, segmentation_layers

        quality = getattr(result, 'quality', None)
        if quality is not None and quality.grade == 'ungradable':
            # Never present the vessel map of a blank, uniform or
            # non-fundus image as a result: no layers, one warning.
            self._say(
                T.UNGRADABLE.format(name=name, reasons=quality.reason),
                'warning',
                T.UNGRADABLE_NOTE.format(name=T.short_name(name)),
            )
            return
        # A slider move still waiting is for the result shown until now.
        self._apply_pending_threshold()
        self._result = result
        self._result_layer = name
        self._result_suffix = (
            result_suffix(result.model, result.threshold)
            if self.keep.value
            else ''
        )
        add_layers(
            self._viewer,
            segmentation_layers(
                result,
                name,
                geometry=geometry,
                show_fov=bool(self.show_fov.value),
                show_artery_probability=bool(
                    self.show_artery_prob.value and self.av.value
                ),
                suffix=self._result_suffix,
            ),
        )
        with self.threshold.changed.blocked():
            self.threshold.value = round(result.threshold, 2)
        density = result.vessels.sum() / max(1, result.fov.sum())
        frames = (
            T.FRAMES.format(n=result.vessels.shape[0])
            if result.vessels.ndim == 3
            else ''
        )
        self.save_button.enabled = True
        message = T.DONE.format(
            name=name,
            seconds=result.seconds,
            device=result.device,
            model=result.model,
            density=density,
            frames=frames,
        )
        if quality is not None and quality.grade == 'usable':
            self._say(
                message + T.USABLE.format(reasons=quality.reason),
                'warning',
                T.USABLE_NOTE.format(name=T.short_name(name)),
            )
        else:
            self._say(
                message,
                note=T.DONE_NOTE.format(
                    name=T.short_name(name), seconds=result.seconds
                ),
            )

    # ------------------------------------------------------------ save
    def save(self, _value=None) -> list:
        """Write the last result as ``retina-vessels segment`` would, into
        the folder chosen above; returns the paths written."""
        from ...errors import RetinaVesselsError
        from ..writer import save_result

        folder = str(self.save_folder.value or '')
        self._apply_pending_threshold()  # save what the slider shows
        if self._result is None:
            self._say(T.NOTHING_TO_SAVE, 'warning')
            return []
        if folder in ('', '.'):
            self._say(T.CHOOSE_FOLDER, 'warning')
            return []
        try:
            paths = save_result(
                folder, self._result_layer, self._result, photo=self._photo
            )
        except (OSError, RetinaVesselsError) as err:
            self._say(
                T.SAVE_FAILED.format(folder=folder, reason=err),
                'warning',
                T.SAVE_FAILED_NOTE,
            )
            return []
        self._say(
            T.SAVED.format(n=len(paths), folder=folder),
            note=T.SAVED_NOTE.format(n=len(paths)),
        )
        return paths
