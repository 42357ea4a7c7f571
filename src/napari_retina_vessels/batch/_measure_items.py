"""One image of a measure batch: what it is measured from.

``_Item`` (small, picklable: sent to Dask workers), the maps it is
measured from (a photo is segmented first; saved maps are read by the
one reader) and the pixel size it is measured at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RetinaVesselsError


@dataclass(frozen=True)
class _Item:
    """One image to measure (small and picklable)."""

    name: str
    out: str
    settings: dict = field(hash=False)
    photo: str | None = None
    vessels: str | None = None
    av: str | None = None
    prob: str | None = None
    device: str = 'auto'
    #: The grade ``segment`` recorded (``quality_grade``, ...), if any.
    quality: dict | None = field(default=None, hash=False)
    #: The grader's ``NAME.corrections.json``, if any.
    corrections: str | None = None

    @property
    def marker(self) -> Path:
        return Path(self.out) / f'{self.name}.measures.json'

    @property
    def segments_csv(self) -> Path:
        return Path(self.out) / f'{self.name}_segments.csv'

    @property
    def source(self) -> str:
        return 'segment outputs' if self.vessels else 'photo'


@dataclass
class _Maps:
    """What one image is measured from."""

    vessels: np.ndarray
    photo: np.ndarray | None = None
    av: np.ndarray | None = None
    prob: np.ndarray | None = None
    #: The quality gate's row (``quality_grade``, ...), when known.
    quality: dict | None = None
    note: str = ''


def _load_maps(item: _Item) -> _Maps:
    """The maps of *item* (a photo is segmented first) and its grade."""
    from ..io import imread, read_mask

    photo = imread(item.photo) if item.photo else None
    if item.vessels is None:
        from ..pipeline import segment_with
        from ._settings import options_of

        seg = segment_with(
            photo, options_of(item.settings, device=item.device)
        )
        return _Maps(
            seg.vessels,
            photo,
            seg.artery_vein,
            seg.probability,
            quality=seg.quality.row() if seg.quality is not None else None,
        )
    vessels = read_mask(item.vessels)
    av = imread(item.av) if item.av else None
    if av is not None and av.ndim == 3:
        from ..io import av_from_rgb

        av = av_from_rgb(av)
    prob = None
    if item.prob:
        from ..io.saved_maps import as_probability, read_prediction

        # The one reader of saved maps: read_npy checks the declared
        # size before allocating (a tiny .npy can declare terabytes),
        # 16-bit PNGs are scaled, NaN and out-of-range maps refused.
        prob = as_probability(read_prediction(item.prob))
    note = ''
    if photo is not None and photo.shape[:2] != vessels.shape:
        # A different photo (replaced since segment ran): measure
        # without it, and say so.
        note = (
            f'measured without the photo {Path(item.photo).name}: it is '
            f'{photo.shape[1]} x {photo.shape[0]} pixels, the map '
            f'{vessels.shape[1]} x {vessels.shape[0]}'
        )
        photo = None
    quality = item.quality
    if quality is None and photo is not None:
        # Segment recorded no grade (an older run): grade the photo.
        from ..quality import assess

        try:
            quality = assess(photo, probability=prob).row()
        except RetinaVesselsError:
            quality = None  # not gradable as a photo: measured as before
    return _Maps(vessels, photo, av, prob, quality=quality, note=note)


def _scale(item: _Item) -> dict[str, Any]:
    """The pixel size given on the command line, else the photo file's
    own (DICOM PixelSpacing or field of view; see measures.calibration).
    """
    given = item.settings['pixel_size_um']
    if given is not None:
        return {'pixel_size_um': given}
    from ..measures.calibration import file_calibration

    calib = file_calibration(item.photo)
    return {
        'pixel_size_um': calib.pixel_size_um,
        'pixel_size_source': calib.pixel_size_source,
        'field_of_view_deg': calib.field_of_view_deg,
    }
