"""Measure widget tables: the rows shown per image and per segment."""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGE_ROWS = (
    ('crae_um', 'CRAE (µm)'),
    ('crve_um', 'CRVE (µm)'),
    ('avr', 'AVR'),
    ('crae_px', 'CRAE (px)'),
    ('crve_px', 'CRVE (px)'),
    ('crae_superior_um', 'CRAE superior (µm)'),
    ('crae_inferior_um', 'CRAE inferior (µm)'),
    ('crve_superior_um', 'CRVE superior (µm)'),
    ('crve_inferior_um', 'CRVE inferior (µm)'),
    ('avr_superior', 'AVR superior'),
    ('avr_inferior', 'AVR inferior'),
    ('fd_vessels', 'fractal dimension, all'),
    ('fd_arteries', 'fractal dimension, arteries'),
    ('fd_veins', 'fractal dimension, veins'),
    ('vessel_density', 'vessel density'),
    ('tortuosity_arteries', 'tortuosity, arteries'),
    ('tortuosity_veins', 'tortuosity, veins'),
    ('n_segments', 'segments'),
    ('disc_radius_px', 'disc radius (px)'),
    ('disc_confidence', 'disc confidence'),
    ('pixel_size_um', 'pixel size (µm)'),
    ('fovea_confidence', 'fovea confidence'),
    ('disc_fovea_dd', 'disc-fovea distance (DD)'),
    ('axis_angle_deg', 'disc-fovea axis (deg below)'),
    ('hemifield_axis', 'hemifields split by'),
    ('eye', 'eye'),
)
#: Columns of the per-segment table shown (all are exported).
SEGMENT_VIEW = (
    'segment',
    'label',
    'zone',
    'length_px',
    'calibre_px',
    'calibre_um',
    'tortuosity',
    'curvature_per_mm',
    'orientation_deg',
    'corrected',
)


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return 'n/a' if not np.isfinite(v) else f'{v:.4g}'
    return str(v)


def image_table_value(row) -> dict[str, Any]:
    """The per-image table (value, note) of one row of ``m.image``."""
    data, index = [], []
    for col, label in IMAGE_ROWS:
        note = ''
        # crae_um -> crae, crae_superior_um -> crae_superior, avr -> avr
        base = col[:-3] if col.endswith(('_um', '_px')) else col
        if col.startswith(('crae', 'crve', 'avr')):
            note = row.get(f'{base}_reason', '') or ''
            n = row.get(f'{base}_n')
            if not note and n is not None and np.isfinite(n):
                note = f'{int(n)} vessels'
        elif col.startswith(('fd_', 'tortuosity_')):
            note = row.get(f'{col}_reason', '') or ''
            n = row.get(f'{col}_n')
            if not note and n is not None and np.isfinite(n):
                note = f'{int(n)} segments'
        elif col == 'pixel_size_um':
            note = row['pixel_size_source']
        elif col == 'disc_confidence':
            note = row['disc_reason'] or row['disc_source']
        elif col == 'fovea_confidence':
            note = row['fovea_reason'] or row['fovea_source']
        data.append([_fmt(row[col]), note])
        index.append(label)
    return {'data': data, 'index': index, 'columns': ['value', 'note']}


def segment_table_value(seg) -> dict[str, Any]:
    """The per-segment table (the SEGMENT_VIEW columns) of ``m.segments``."""
    return {
        'data': [
            [_fmt(v) for v in r]
            for r in seg[list(SEGMENT_VIEW)].itertuples(index=False)
        ],
        'index': [str(i) for i in seg['segment']],
        'columns': list(SEGMENT_VIEW),
    }
