"""What ``measure`` returns: the per-image columns and ``Measurements``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..quality import Quality
from .disc import Disc
from .hemifield import SIDE_COLUMNS
from .tables import SEGMENT_COLUMNS

#: The ``*_reason`` of every measure of a map whose photo the quality
#: gate graded ``ungradable``, when it is not measured (the default).
UNGRADABLE_REASON = 'not measured: the photo is ungradable'

#: Columns of the per-image table, in order.
IMAGE_COLUMNS = (
    'height',
    'width',
    'disc_y',
    'disc_x',
    'disc_radius_px',
    'disc_confidence',
    'disc_source',
    'disc_reason',
    'pixel_size_um',
    'pixel_size_source',
    'fov_area_px',
    'vessel_density',
    'n_segments',
    'fd_vessels',
    'fd_vessels_reason',
    'fd_arteries',
    'fd_arteries_reason',
    'fd_veins',
    'fd_veins_reason',
    'crae_px',
    'crae_um',
    'crae_n',
    'crae_reason',
    'crve_px',
    'crve_um',
    'crve_n',
    'crve_reason',
    'avr',
    'avr_reason',
    'tortuosity_arteries',
    'tortuosity_arteries_n',
    'tortuosity_arteries_reason',
    'tortuosity_veins',
    'tortuosity_veins_n',
    'tortuosity_veins_reason',
    'tortuosity_vessels',
    'tortuosity_vessels_n',
    'curvature_arteries_per_mm',
    'curvature_veins_per_mm',
    'fovea_y',
    'fovea_x',
    'fovea_confidence',
    'fovea_source',
    'fovea_reason',
    'eye',
    'disc_fovea_px',
    'disc_fovea_um',
    'disc_fovea_dd',
    'axis_angle_deg',
    'tortuosity_superior',
    'tortuosity_inferior',
    'hemifield_axis',
    *SIDE_COLUMNS,
    'corrected',
    'corrections_missed',
    'corrections_reason',
    'grader',
    'seconds',
)


@dataclass
class Measurements:
    """What :func:`measure` returns.

    Attributes
    ----------
    image : pandas.DataFrame
        One row, :data:`IMAGE_COLUMNS`. A measure that could not be made
        is NaN and its ``*_reason`` column says why; ``*_n`` columns
        count the segments a measure used.
    segments : pandas.DataFrame
        One row per vessel segment, :data:`SEGMENT_COLUMNS`; lengths and
        calibres in pixels and, when the pixel size is known, µm.
    disc : Disc or None
        The optic disc used for zones (None when none was found).
    paths : list of (n, 2) int arrays
        Skeleton pixels of each segment (row ``i`` of ``segments``).
    vessels : (H, W) bool
        The vessel map measured.
    quality : Quality or None
        The quality gate's grade of the photo the maps came from, when
        known (a Segmentation's ``quality``, or the ``quality`` given).
    measured : bool
        False for an ungradable photo that was not measured: every
        measure is NaN, every ``*_reason`` is
        :data:`UNGRADABLE_REASON` and there are no segments.
    artery_vein : (H, W) uint8 or None
        The A/V map measured (after corrections).
    corrections : list of dict
        What became of each segment correction (``at``, ``label``,
        ``segment``, ``distance``, ``status``); see ``correcting.snap``.
    """

    image: Any
    segments: Any
    disc: Disc | None
    paths: list[np.ndarray] = field(repr=False)
    vessels: np.ndarray = field(repr=False)
    quality: Quality | None = None
    measured: bool = True
    artery_vein: np.ndarray | None = field(default=None, repr=False)
    corrections: list[dict] = field(default_factory=list, repr=False)

    def segment_map(self) -> npt.NDArray[np.int32]:
        """(H, W) int32: each vessel pixel's nearest segment + 1, else 0."""
        from .correcting import segment_regions

        return segment_regions(
            self.paths, self.vessels, self.artery_vein
        ).copy()

    def to_csv(self, folder, name: str = 'image') -> None:
        """Write ``measures.csv`` and ``segments.csv`` into *folder*."""
        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.image.assign(name=name)[['name', *IMAGE_COLUMNS]].to_csv(
            folder / 'measures.csv', index=False
        )
        self.segments.assign(name=name)[['name', *SEGMENT_COLUMNS]].to_csv(
            folder / 'segments.csv', index=False
        )


def _not_measured(shape, vessels, quality, t0) -> Measurements:
    """The result for an ungradable photo: reasons, no numbers."""
    import pandas as pd

    row: dict[str, Any] = dict.fromkeys(IMAGE_COLUMNS, float('nan'))
    for col in IMAGE_COLUMNS:
        if col.endswith('_reason'):
            row[col] = UNGRADABLE_REASON
        elif col.endswith('_source'):
            row[col] = ''
    row.update(height=shape[0], width=shape[1])
    row['seconds'] = round(time.perf_counter() - t0, 3)
    return Measurements(
        pd.DataFrame([row], columns=list(IMAGE_COLUMNS)),
        pd.DataFrame(columns=list(SEGMENT_COLUMNS)),
        None,
        [],
        vessels,
        quality=quality,
        measured=False,
    )
