"""Agreement of two gradings of the same photos, measure by measure.

Two ``measures.csv`` tables (two graders, or a grader and the automatic
measures) are joined on ``name``; for every measure both give a number
for at least two photos this module reports the intraclass correlation
ICC(2,1) (two-way random effects, absolute agreement, single rater:
Shrout & Fleiss 1979, the form reading centres report between
graders), the mean difference B - A and the 95 % Bland-Altman limits of
agreement (mean difference +- 1.96 SD of the differences; Bland &
Altman 1986). ``retina-vessels agreement A/ B/`` writes the table as
``agreement.csv`` and, with matplotlib installed (the ``plot`` extra),
one Bland-Altman panel per measure in ``agreement.png``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import RetinaVesselsError

__all__ = [
    'AGREEMENT_COLUMNS',
    'MEASURES',
    'agreement_table',
    'icc_2_1',
    'plot_bland_altman',
    'read_measures',
]

#: The measures compared, in this order (those present in both tables).
MEASURES = (
    'crae_um',
    'crve_um',
    'avr',
    'crae_px',
    'crve_px',
    'disc_radius_px',
    'vessel_density',
    'fd_vessels',
    'fd_arteries',
    'fd_veins',
    'tortuosity_arteries',
    'tortuosity_veins',
    'tortuosity_vessels',
    'curvature_arteries_per_mm',
    'curvature_veins_per_mm',
    'n_segments',
)

#: Columns of ``agreement.csv``.
AGREEMENT_COLUMNS = (
    'measure',
    'n',
    'mean_a',
    'mean_b',
    'mean_difference',
    'sd_difference',
    'loa_lower',
    'loa_upper',
    'icc',
    'reason',
)


def icc_2_1(ratings: npt.ArrayLike) -> float:
    """ICC(2,1): two-way random, absolute agreement, single rater.

    Parameters
    ----------
    ratings : (n, k) float
        *n* subjects rated by the same *k* raters.

    Returns
    -------
    float
        NaN when there are fewer than two subjects or no variance.
    """
    y = np.asarray(ratings, np.float64)
    n, k = y.shape
    if n < 2 or k < 2:
        return float('nan')
    grand = y.mean()
    ss_rows = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((y.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((y - grand) ** 2).sum() - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_err = ss_err / ((n - 1) * (k - 1))
    den = ms_rows + (k - 1) * ms_err + k * (ms_cols - ms_err) / n
    return float((ms_rows - ms_err) / den) if den > 0 else float('nan')


def read_measures(source: str | os.PathLike) -> dict[str, dict[str, str]]:
    """``{name: row}`` of a ``measures.csv`` (or a folder holding one).

    Rows whose ``status`` is ``failed`` are left out.
    """
    path = Path(source)
    if path.is_dir():
        path = path / 'measures.csv'
    try:
        with open(path, newline='', encoding='utf-8') as f:
            rows = list(csv.DictReader(f))
    except OSError:
        raise RetinaVesselsError(
            f'no measures table at {path}; give a `retina-vessels measure` '
            'output folder or its measures.csv'
        ) from None
    if rows and 'name' not in rows[0]:
        raise RetinaVesselsError(
            f'{path} has no name column; give a measures.csv written by '
            '`retina-vessels measure`'
        )
    return {r['name']: r for r in rows if r.get('status') != 'failed'}


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float('nan')


def agreement_table(
    a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Agreement of tables *a* and *b* (from :func:`read_measures`).

    Returns
    -------
    rows : list of dict
        One per measure in :data:`MEASURES` that either table has,
        :data:`AGREEMENT_COLUMNS`; ``reason`` says why a value is NaN.
    pairs : dict
        ``{measure: (n, 2) array}`` of the paired values (for plots).
    """
    names = sorted(set(a) & set(b))
    columns = set()
    for table in (a, b):
        for row in table.values():
            columns |= set(row)
            break
    rows, pairs = [], {}
    for m in MEASURES:
        if m not in columns:
            continue
        y = np.array(
            [[_number(a[n].get(m)), _number(b[n].get(m))] for n in names],
            np.float64,
        ).reshape(-1, 2)
        y = y[np.isfinite(y).all(axis=1)]
        pairs[m] = y
        row: dict[str, Any] = dict.fromkeys(AGREEMENT_COLUMNS, float('nan'))
        row.update(measure=m, n=len(y), reason='')
        if len(y):
            d = y[:, 1] - y[:, 0]
            row.update(
                mean_a=y[:, 0].mean(),
                mean_b=y[:, 1].mean(),
                mean_difference=d.mean(),
            )
        if len(y) < 2:
            row['reason'] = (
                f'{len(y)} photo(s) with this measure in both tables; at '
                'least 2 are needed'
            )
        else:
            sd = d.std(ddof=1)
            row.update(
                sd_difference=sd,
                loa_lower=d.mean() - 1.96 * sd,
                loa_upper=d.mean() + 1.96 * sd,
                icc=icc_2_1(y),
            )
            if not np.isfinite(row['icc']):
                row['reason'] = 'no variation between photos: ICC undefined'
        for key in AGREEMENT_COLUMNS[2:9]:
            row[key] = float(row[key])
        rows.append(row)
    return rows, pairs


def plot_bland_altman(
    pairs: dict[str, np.ndarray],
    rows: list[dict[str, Any]],
    path: str | os.PathLike,
    *,
    labels: tuple[str, str] = ('A', 'B'),
) -> Path:
    """Write one Bland-Altman panel per measure into *path* (PNG).

    Needs matplotlib (the ``plot`` extra).
    """
    try:
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise RetinaVesselsError(
            'the plot needs matplotlib: pip install '
            "'napari-retina-vessels[plot]' (agreement.csv needs nothing)"
        ) from None
    shown = [r for r in rows if r['n'] >= 2]
    cols = min(3, max(1, len(shown)))
    nrows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(
        nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False
    )
    for ax in axes.ravel()[len(shown) :]:
        ax.axis('off')
    for ax, r in zip(axes.ravel(), shown):
        y = pairs[r['measure']]
        mean, diff = y.mean(axis=1), y[:, 1] - y[:, 0]
        ax.scatter(mean, diff, s=12, color='k')
        ax.axhline(r['mean_difference'], color='tab:blue')
        for key in ('loa_lower', 'loa_upper'):
            ax.axhline(r[key], color='tab:red', linestyle='--')
        ax.set_title(f'{r["measure"]} (ICC {r["icc"]:.2f}, n {r["n"]})')
        ax.set_xlabel(f'mean of {labels[0]} and {labels[1]}')
        ax.set_ylabel(f'{labels[1]} - {labels[0]}')
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
