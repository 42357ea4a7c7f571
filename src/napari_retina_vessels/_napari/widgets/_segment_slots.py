"""Segment widget slots: progress in the widget and napari's activity
dock, and the threshold slider that re-thresholds the cached result.

Mixins of :class:`~.segment.SegmentWidget`; they use its controls
(``progress``, ``threshold``, ``status``) and state (``_result``, ...).
"""

from __future__ import annotations

from . import _text as T

#: Milliseconds the threshold slider must rest before the result is
#: re-thresholded: re-thresholding runs on the GUI thread and takes up to
#: a second on a large photo, so a drag applies only its last value.
RETHRESHOLD_DELAY_MS = 150


class ProgressSlots:
    """Progress records and errors of the running job, as they come."""

    def _on_progress(self, rec) -> None:
        if rec.stage == 'frames':
            self._frame = (rec.done, rec.total)
        stage = rec.stage
        if self._frame is not None and stage != 'frames':
            i, n = self._frame
            stage = T.FRAME_STAGE.format(i=min(i + 1, n), n=n, stage=stage)
        self.progress.max = max(1, rec.total)
        self.progress.value = min(rec.done, rec.total)
        self.progress.label = stage
        self._stage_to_activity(stage)

    def _stage_to_activity(self, stage: str) -> None:
        """Name the stage in napari's activity dock once per stage.

        napari's progress bar runs the event loop whenever its value or
        description changes, and a worker's queued progress records are
        delivered from inside that loop: updating it per record re-enters
        this slot, records deep, and crashed the canvas. So it changes
        only when the stage does, and never from a nested call.
        """
        pbar = self._pbar
        if pbar is None or self._in_activity or stage == self._stage:
            return
        self._stage = stage
        self._in_activity = True
        try:
            pbar.set_description(f'{self._job_name}: {stage}')
        finally:
            self._in_activity = False

    def _on_error(self, exc: Exception) -> None:
        from napari.utils.notifications import (
            notification_manager,
            show_error,
        )

        from ...errors import RetinaVesselsError

        self._message = str(exc) or type(exc).__name__
        self.status.value = self._message
        if isinstance(exc, RetinaVesselsError):
            show_error(self._message)  # one sentence: what to do
        else:  # a bug: keep the traceback in the notification
            notification_manager.receive_error(
                type(exc), exc, exc.__traceback__
            )


class ThresholdSlots:
    """The threshold slider: re-threshold once it rests, never rerun."""

    def _threshold_moved(self, _value=None) -> None:
        """(Re)start the wait before re-thresholding: while the slider
        moves, nothing runs; once it rests, its value is applied."""
        if self._result is not None:
            self._threshold_timer.start()

    @property
    def threshold_pending(self) -> bool:
        """Whether a slider move waits to be applied (then
        ``threshold_applied`` follows)."""
        return self._threshold_timer.isActive()

    def _apply_threshold(self) -> None:
        self._threshold_timer.stop()
        self._rethreshold(float(self.threshold.value))
        self.threshold_applied.emit(float(self.threshold.value))

    def _apply_pending_threshold(self) -> None:
        """Re-threshold now if a slider move is still waiting, so the
        result read next matches the slider."""
        if self._threshold_timer.isActive():
            self._apply_threshold()

    def _rethreshold(self, value: float) -> None:
        """Show the cached result at the slider's threshold; the vessel
        map and the artery/vein vote are redone, no model runs."""
        from ..console import threshold_layers

        res = self._result
        if res is None or self._result_layer is None:
            return
        res = threshold_layers(
            self._viewer,
            res,
            float(value),
            image_name=self._result_layer,
            suffix=self._result_suffix,
        )
        self._result = res
        density = res.vessels.sum() / max(1, res.fov.sum())
        self._message = T.RETHRESHOLDED.format(thr=value, density=density)
        self.status.value = self._message
