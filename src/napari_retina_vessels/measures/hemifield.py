"""Superior and inferior hemifields: one axis for every per-side measure.

The retina's vessels leave the disc in a superior and an inferior
arcade on either side of the line from the disc to the fovea. Every
per-side measure (each segment's ``hemifield``, tortuosity and CRAE,
CRVE and AVR per side) splits the segments by the same line: the
disc-fovea axis when the fovea is known, else the horizontal through
the disc (a fovea lies within about 10 degrees of it, so the split
differs only for vessels close to the axis), and none without a disc.
A segment's side is that of its middle pixel; superior is up the photo.
"""

from __future__ import annotations

import numpy as np

from .knudtson import ARTERY_K, VEIN_K, knudtson

__all__ = [
    'AXIS_FOVEA',
    'AXIS_HORIZONTAL',
    'SIDE_COLUMNS',
    'axis',
    'fill_side_calibres',
    'split',
]

AXIS_FOVEA = 'disc-fovea'
AXIS_HORIZONTAL = 'horizontal through the disc'

#: The per-side CRAE / CRVE / AVR columns of ``measures.csv``.
SIDE_COLUMNS = tuple(
    f'{key}_{side}_{col}'
    for key in ('crae', 'crve')
    for side in ('superior', 'inferior')
    for col in ('px', 'um', 'n', 'reason')
) + tuple(
    f'avr_{side}{col}'
    for side in ('superior', 'inferior')
    for col in ('', '_reason')
)


def axis(disc, fovea) -> tuple[float, float, str] | None:
    """(ny, nx, name): the unit normal to the axis pointing up the photo
    (rows decrease), and which axis; None without a disc."""
    if disc is None:
        return None
    if fovea is None:
        return -1.0, 0.0, AXIS_HORIZONTAL
    ay, ax = fovea.y - disc.y, fovea.x - disc.x
    norm = float(np.hypot(ay, ax))
    if norm == 0:
        return -1.0, 0.0, AXIS_HORIZONTAL
    return -abs(ax) / norm, float(np.sign(ax) or 1.0) * ay / norm, AXIS_FOVEA


def split(seg_df, paths, disc, fovea, min_len: float) -> dict:
    """Set ``seg_df['hemifield']`` and tortuosity per side.

    Returns ``hemifield_axis`` (:data:`AXIS_FOVEA`,
    :data:`AXIS_HORIZONTAL` or ``''`` without a disc) and
    ``tortuosity_superior`` / ``tortuosity_inferior``: the
    length-weighted arc/chord of the segments at least *min_len* long
    on each side (NaN without a disc or segments there).
    """
    out = {
        'hemifield_axis': '',
        'tortuosity_superior': float('nan'),
        'tortuosity_inferior': float('nan'),
    }
    ax = axis(disc, fovea)
    if ax is None:
        return out
    ny, nx, out['hemifield_axis'] = ax
    if not len(seg_df):
        return out
    mid = np.array([p[len(p) // 2] for p in paths], float)
    up = (mid[:, 0] - disc.y) * ny + (mid[:, 1] - disc.x) * nx > 0
    seg_df['hemifield'] = np.where(up, 'superior', 'inferior')
    tort = seg_df['tortuosity'].to_numpy(float)
    length = seg_df['length_px'].to_numpy(float)
    excluded = seg_df['label'].to_numpy() == 'excluded'
    for side, sel in (('superior', up), ('inferior', ~up)):
        k = sel & (length >= min_len) & np.isfinite(tort) & ~excluded
        if k.any():
            out[f'tortuosity_{side}'] = round(
                float(np.average(tort[k], weights=length[k])), 4
            )
    return out


def fill_side_calibres(row, seg_df, um: float, reason: str) -> None:
    """CRAE, CRVE and AVR on each side of the axis, into *row*.

    Each side takes its own (up to) six widest zone-B arterioles and
    venules, one calibre per vessel (its trunk's, as for the whole
    image), with the same minimum of
    :data:`~.tables.MIN_VESSELS`; a side with fewer, or a row whose
    whole-image CRAE / CRVE has a reason (no A/V map, no disc, ...),
    gets a reason instead: *reason*, why no CRAE / CRVE can be made at
    all (:func:`~.tables.calibre_reason`), or the count. Call after
    :func:`split`.
    """
    from .tables import MIN_VESSELS, zone_b_widest

    sides = seg_df['hemifield'].to_numpy() if len(seg_df) else np.array([])
    values: dict = {}
    for key, cls, k in (
        ('crae', 'artery', ARTERY_K),
        ('crve', 'vein', VEIN_K),
    ):
        plural = 'arterioles' if cls == 'artery' else 'venules'
        for side in ('superior', 'inferior'):
            pre = f'{key}_{side}'
            row[f'{pre}_n'] = 0
            if reason:
                row[f'{pre}_reason'] = reason
                continue
            top = zone_b_widest(seg_df, cls, sides == side)
            row[f'{pre}_n'] = n = len(top)
            if n < MIN_VESSELS:
                row[f'{pre}_reason'] = (
                    f'{n} {plural} measured in zone B {side} of the '
                    f'{row["hemifield_axis"]} axis; at least {MIN_VESSELS} '
                    'are needed'
                )
                continue
            value = knudtson(top['zone_b_calibre_px'].to_numpy(), k)
            values[pre] = value
            row[f'{pre}_px'] = round(value, 3)
            if np.isfinite(um):
                row[f'{pre}_um'] = round(value * um, 2)
    for side in ('superior', 'inferior'):
        a, v = values.get(f'crae_{side}'), values.get(f'crve_{side}')
        if a is not None and v is not None:
            row[f'avr_{side}'] = round(a / v, 4)
        else:
            row[f'avr_{side}_reason'] = reason or (
                f'needs both CRAE and CRVE {side} of the axis'
            )
