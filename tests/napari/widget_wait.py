"""Waiting for a widget's job in tests: on its public ``job_finished``
signal (while its public ``busy`` says a job runs or waits), never by
polling private attributes."""

from __future__ import annotations


def wait_idle(qtbot, widget, timeout: int = 600_000) -> None:
    """Return once *widget* has no job running or waiting."""
    while widget.busy:
        with qtbot.waitSignal(widget.job_finished, timeout=timeout):
            pass


def run_and_wait(qtbot, widget, timeout: int = 600_000):
    """Start *widget*'s job (it must start) and wait until it ends;
    return the worker."""
    worker = widget.run()
    assert worker is not None, widget.status.value
    wait_idle(qtbot, widget, timeout)
    return worker


def wait_threshold(qtbot, widget, timeout: int = 10_000) -> None:
    """Return once the Segment widget's threshold slider value is shown
    (its public ``threshold_applied`` signal)."""
    if widget.threshold_pending:
        with qtbot.waitSignal(widget.threshold_applied, timeout=timeout):
            pass
