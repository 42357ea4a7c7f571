"""Vessel measurements: optic disc, zones, segments, CRAE/CRVE/AVR, FD.

Torch- and Qt-free. ``skan`` (and with it numba) is imported only when a
vessel graph is built. See ``docs/measures.md`` for every definition.
"""

from .core import (
    IMAGE_COLUMNS,
    SEGMENT_COLUMNS,
    UNGRADABLE_REASON,
    Measurements,
    measure,
)
from .disc import DISC_DIAMETER_UM, ZONES, Disc, find_disc, zone_mask
from .fovea import Fovea, find_fovea
from .fractal import box_counting_dimension
from .knudtson import ARTERY_K, VEIN_K, knudtson

__all__ = [
    'ARTERY_K',
    'DISC_DIAMETER_UM',
    'IMAGE_COLUMNS',
    'SEGMENT_COLUMNS',
    'UNGRADABLE_REASON',
    'VEIN_K',
    'ZONES',
    'Disc',
    'Fovea',
    'Measurements',
    'box_counting_dimension',
    'find_disc',
    'find_fovea',
    'knudtson',
    'measure',
    'zone_mask',
]
