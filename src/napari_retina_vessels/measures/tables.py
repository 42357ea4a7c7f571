"""The per-segment table and the zone-B calibres (CRAE, CRVE, AVR) of
:func:`~.core.measure`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .disc import Disc
from .graph import LABEL_NAMES, Segments
from .knudtson import ARTERY_K, VEIN_K, knudtson
from .zone_b import zone_b_vessels

__all__ = [
    'MIN_VESSELS',
    'SEGMENT_COLUMNS',
    'calibre_reason',
    'fill_calibres',
    'segment_table',
    'zone_b_widest',
]

#: Fewest arterioles (venules) in zone B for a CRAE (CRVE); the revised
#: Knudtson formulas use six, fewer make the value less comparable.
MIN_VESSELS = 3

#: Columns of the per-segment table, in order.
SEGMENT_COLUMNS = (
    'segment',
    'label',
    'kind',
    'length_px',
    'length_um',
    'calibre_px',
    'calibre_sd_px',
    'calibre_um',
    'calibre_sd_um',
    'tortuosity',
    'curvature_per_px',
    'curvature_per_mm',
    'orientation_deg',
    'zone',
    'zone_b_calibre_px',
    'zone_b_calibre_um',
    'zone_b_vessel',
    'zone_b_trunk',
    'in_crae_crve',
    'y0',
    'x0',
    'y1',
    'x1',
    'n_pixels',
    'y_mid',
    'x_mid',
    'corrected',
    'hemifield',
)

_KINDS = {0: 'end-end', 1: 'junction-end', 2: 'junction-junction', 3: 'loop'}


def segment_table(segs: Segments, shape, disc: Disc | None, um: float):
    import pandas as pd

    n = len(segs)
    cols: dict[str, Any] = {'segment': np.arange(n)}
    cols['label'] = [LABEL_NAMES.get(int(v), 'vessel') for v in segs.label]
    cols['kind'] = [_KINDS.get(int(k), str(k)) for k in segs.kind]
    mean = np.array(
        [
            np.nanmean(w) if np.isfinite(w).any() else np.nan
            for w in segs.widths
        ]
    )
    sd = np.array(
        [
            np.nanstd(w) if np.isfinite(w).sum() > 1 else np.nan
            for w in segs.widths
        ]
    )
    cols['length_px'] = np.round(segs.length, 2)
    cols['calibre_px'] = np.round(mean, 3)
    cols['calibre_sd_px'] = np.round(sd, 3)
    with np.errstate(invalid='ignore', divide='ignore'):
        tort = np.where(segs.chord > 0, segs.arc / segs.chord, np.nan)
    cols['tortuosity'] = np.round(tort, 4)
    cols['curvature_per_px'] = np.round(segs.curvature, 5)
    cols['orientation_deg'] = np.round(segs.orientation, 1)
    zone = ['' for _ in range(n)]
    zb = np.full(n, np.nan)
    dists = []
    if disc is not None:
        for i, (p, w) in enumerate(zip(segs.paths, segs.widths)):
            d = np.hypot(p[:, 0] - disc.y, p[:, 1] - disc.x) / disc.radius
            dists.append(d)
            mid = d[len(d) // 2]
            zone[i] = (
                'disc'
                if mid < 1
                else 'A'
                if mid < 2
                else 'B'
                if mid <= 3
                else 'C'
                if mid <= 5
                else 'outside'
            )
            inb = (d >= 2) & (d <= 3) & np.isfinite(w)
            if inb.sum() >= 3:
                zb[i] = float(np.mean(w[inb]))
    cols['zone'] = zone
    cols['zone_b_calibre_px'] = np.round(zb, 3)
    if disc is not None:
        cols['zone_b_vessel'], cols['zone_b_trunk'] = zone_b_vessels(
            segs, disc, dists, mean, zb
        )
    else:
        cols['zone_b_vessel'] = np.full(n, -1)
        cols['zone_b_trunk'] = np.zeros(n, bool)
    cols['in_crae_crve'] = np.zeros(n, bool)
    s = um if np.isfinite(um) else np.nan
    cols['length_um'] = np.round(segs.length * s, 1)
    cols['calibre_um'] = np.round(mean * s, 2)
    cols['calibre_sd_um'] = np.round(sd * s, 2)
    cols['curvature_per_mm'] = np.round(segs.curvature * 1000 / s, 4)
    cols['zone_b_calibre_um'] = np.round(zb * s, 2)
    ends = np.array([[*p[0], *p[-1]] for p in segs.paths]).reshape(n, 4)
    cols['y0'], cols['x0'], cols['y1'], cols['x1'] = ends.T
    cols['n_pixels'] = [len(p) for p in segs.paths]
    # A centreline pixel at the middle: where a correction of the segment
    # is anchored (far from the nodes where a new tracing may differ).
    mid = np.array([p[len(p) // 2] for p in segs.paths]).reshape(n, 2)
    cols['y_mid'], cols['x_mid'] = mid.T
    cols['corrected'] = [''] * n
    cols['hemifield'] = [''] * n  # set by measure() once the fovea is known
    return pd.DataFrame(cols, columns=list(SEGMENT_COLUMNS))


#: Below this share of zone B inside the field of view, a CRAE or CRVE
#: that lacks vessels says that the disc is near the edge.
_ZONE_B_INSIDE = 0.75


def _zone_b_inside(disc: Disc, fov: np.ndarray) -> float:
    """Share of zone B (2 to 3 disc radii) inside the image and *fov*."""
    r = disc.radius * np.linspace(2, 3, 6)[:, None]
    a = np.linspace(0, 2 * np.pi, 180, endpoint=False)[None, :]
    y = np.rint(disc.y + r * np.sin(a)).astype(int).ravel()
    x = np.rint(disc.x + r * np.cos(a)).astype(int).ravel()
    h, w = fov.shape
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    inside[inside] = fov[y[inside], x[inside]]
    return float(inside.mean())


def calibre_reason(any_vessels: bool, av, disc) -> str:
    """Why no CRAE / CRVE can be made at all ('' when it can)."""
    if not any_vessels:
        return 'the vessel map is empty'
    if av is None:
        return 'no artery/vein map'
    if disc is None:
        return 'no optic disc: zone B is unknown'
    return ''


def zone_b_widest(seg_df, cls: str, where=None):
    """The (up to) six widest zone-B vessels of class *cls*: one row per
    vessel, its trunk's (zone_b.py); *where* (bool per segment) keeps
    only some segments (a hemifield)."""
    keep = (
        (seg_df['label'] == cls)
        & seg_df['zone_b_trunk']
        & np.isfinite(seg_df['zone_b_calibre_px'])
    )
    if where is not None:
        keep &= np.asarray(where, bool)
    return seg_df[keep].nlargest(6, 'zone_b_calibre_px')


def fill_calibres(row, seg_df, disc, av, um, any_vessels, fov) -> None:
    """Fill CRAE, CRVE and AVR (with counts and reasons) into *row*."""
    reason = calibre_reason(any_vessels, av, disc)
    results = {}
    for cls, key, k in (
        ('artery', 'crae', ARTERY_K),
        ('vein', 'crve', VEIN_K),
    ):
        row[f'{key}_n'] = 0
        if reason:
            row[f'{key}_reason'] = reason
            continue
        top = zone_b_widest(seg_df, cls)
        n = len(top)
        row[f'{key}_n'] = n
        if n < MIN_VESSELS:
            plural = 'arterioles' if cls == 'artery' else 'venules'
            row[f'{key}_reason'] = (
                f'{n} {plural} measured in zone B; at least {MIN_VESSELS} '
                'are needed'
            )
            inside = _zone_b_inside(disc, fov)
            if inside < _ZONE_B_INSIDE:
                row[f'{key}_reason'] += (
                    f' ({1 - inside:.0%} of zone B is outside the image '
                    'or its field of view: the disc is near the edge)'
                )
            continue
        seg_df.loc[top.index, 'in_crae_crve'] = True
        value = knudtson(top['zone_b_calibre_px'].to_numpy(), k)
        results[key] = value
        row[f'{key}_px'] = round(value, 3)
        if np.isfinite(um):
            row[f'{key}_um'] = round(value * um, 2)
    if 'crae' in results and 'crve' in results:
        row['avr'] = round(results['crae'] / results['crve'], 4)
    else:
        row['avr_reason'] = reason or 'needs both CRAE and CRVE'
