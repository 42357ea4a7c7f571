"""Exceptions raised by napari-retina-vessels.

Every message is one sentence for the user: what is wrong, with which
value, and what to do about it.
"""

from __future__ import annotations

__all__ = [
    'RetinaVesselsError',
    'ImageReadError',
    'InvalidImageError',
    'DatasetError',
    'WeightsError',
    'ModelError',
    'DeviceError',
    'ShapeMismatchError',
    'TrainingConfigError',
    'InvalidOptionError',
    'CorrectionsError',
]


class RetinaVesselsError(Exception):
    """Base class of every error this package raises on purpose."""


class ImageReadError(RetinaVesselsError, OSError):
    """A file could not be decoded as an image."""


class InvalidImageError(RetinaVesselsError, ValueError):
    """An array cannot be used as a fundus photograph or mask."""


class DatasetError(RetinaVesselsError, ValueError):
    """A folder does not hold a dataset layout this package knows."""


# Not RuntimeError subclasses: superqt treats a RuntimeError returned by a
# worker as "the worker was deleted" and never reports it to the widget.
class WeightsError(RetinaVesselsError):
    """Model weights are unknown, missing, corrupt or unreachable."""


class ModelError(WeightsError):
    """A network failed to run a photo: every other photo would fail the
    same way, so a batch (segment, measure, Dask) stops once."""


class DeviceError(RetinaVesselsError):
    """The requested compute device is not available."""


class ShapeMismatchError(RetinaVesselsError, ValueError):
    """Two arrays that must align have different shapes."""


class TrainingConfigError(RetinaVesselsError, ValueError):
    """A training run is asked for something it cannot do."""


class InvalidOptionError(RetinaVesselsError, ValueError):
    """An option (threshold, number of views...) has an unusable value."""


class CorrectionsError(RetinaVesselsError, ValueError):
    """A grader's corrections file is malformed or does not fit the map."""


class OutputError(RetinaVesselsError, OSError):
    """An output file could not be written (a full disk, a folder made
    read-only during the run): no other photo would fare better."""


def first_line(err: BaseException) -> str:
    """The first line of *err*'s text, else its type's name: what goes
    in parentheses of a one-sentence message."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
