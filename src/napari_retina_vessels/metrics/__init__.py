"""Vessel and artery/vein metrics, computed inside the field of view.

``vessel`` scores vessel maps (per image and pooled over a dataset),
``av`` artery/vein label maps, ``counting`` holds what both share:
input checks, confusion counts and the ratios made from them. The rules
(argument order, how predictions are read, degenerate cases) are in
:mod:`.vessel`. Only numpy and scikit-image are imported.
"""

from __future__ import annotations

from .av import AVAccumulator, av_metrics, pooled_av_metrics
from .counting import METRIC_KEYS
from .vessel import (
    VesselAccumulator,
    accuracy,
    average_precision,
    best_f1_threshold,
    binarise,
    cldice,
    confusion,
    dataset_metrics,
    evaluate,
    f1,
    iou,
    mcc,
    precision,
    roc_auc,
    roc_curve,
    sensitivity,
    specificity,
    summarise,
    vessel_metrics,
)

__all__ = [
    'METRIC_KEYS',
    'binarise',
    'roc_auc',
    'average_precision',
    'roc_curve',
    'confusion',
    'accuracy',
    'sensitivity',
    'specificity',
    'precision',
    'f1',
    'iou',
    'mcc',
    'cldice',
    'vessel_metrics',
    'evaluate',
    'VesselAccumulator',
    'dataset_metrics',
    'best_f1_threshold',
    'av_metrics',
    'AVAccumulator',
    'pooled_av_metrics',
    'summarise',
]
