"""``retina-vessels agreement``: ICC, mean difference, Bland-Altman."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_retina_vessels.cli import main
from napari_retina_vessels.measures.agreement import (
    agreement_table,
    icc_2_1,
)


def test_icc_matches_shrout_and_fleiss():
    # Shrout & Fleiss (1979), Table 2: six targets, four judges;
    # ICC(2,1) = 0.29 in their Table 4.
    ratings = [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ]
    assert icc_2_1(ratings) == pytest.approx(0.29, abs=0.005)
    assert icc_2_1([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]) == 1.0
    assert np.isnan(icc_2_1([[1.0, 1.0]]))


def _table(path, rows):
    cols = ['name', 'status', 'crae_um', 'avr']
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for r in rows:
            w.writerow(dict(zip(cols, r)))


def _avr(values):
    return {f'p{i}': {'name': f'p{i}', 'avr': str(v)} for i, v in values}


def test_bland_altman_by_hand():
    a = _avr(enumerate([0.6, 0.7, 0.8, 0.9]))
    b = _avr(enumerate([0.62, 0.71, 0.83, 0.9]))
    (row,), pairs = agreement_table(a, b)
    d = np.array([0.02, 0.01, 0.03, 0.0])
    assert row['n'] == 4
    assert row['mean_difference'] == pytest.approx(d.mean())
    sd = d.std(ddof=1)
    assert row['loa_lower'] == pytest.approx(d.mean() - 1.96 * sd)
    assert row['loa_upper'] == pytest.approx(d.mean() + 1.96 * sd)
    assert 0.9 < row['icc'] < 1.0
    assert pairs['avr'].shape == (4, 2)


def test_agreement_cli_writes_csv_and_plot(tmp_path, capsys):
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir()
    b.mkdir()
    _table(
        a / 'measures.csv',
        [
            ('x', 'done', '150', '0.7'),
            ('y', 'done', '160', '0.66'),
            ('z', 'done', '140', ''),
            ('w', 'failed', '999', '9'),
            ('only_a', 'done', '1', '1'),
        ],
    )
    _table(
        b / 'measures.csv',
        [
            ('x', 'done', '152', '0.71'),
            ('y', 'done', '158', '0.64'),
            ('z', 'done', '141', '0.6'),
            ('w', 'done', '1', '1'),
        ],
    )
    out = tmp_path / 'out'
    assert main(['agreement', str(a), str(b), '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert '3 photos in both tables (2 in only one, left out)' in text
    with open(out / 'agreement.csv', newline='') as f:
        rows = {r['measure']: r for r in csv.DictReader(f)}
    # w failed in A: left out; z has no AVR in A.
    assert rows['crae_um']['n'] == '3' and rows['avr']['n'] == '2'
    assert float(rows['crae_um']['mean_difference']) == pytest.approx(
        (2 - 2 + 1) / 3, abs=1e-6
    )
    assert (out / 'agreement.png').stat().st_size > 1000
    # Too few photos: a reason, no numbers.
    _table(b / 'measures.csv', [('x', 'done', '152', '0.71')])
    args = ['agreement', str(a), str(b / 'measures.csv'), '--out', str(out)]
    assert main([*args, '--no-plot']) == 0
    with open(out / 'agreement.csv', newline='') as f:
        row = next(csv.DictReader(f))
    assert row['icc'] == '' and 'at least 2' in row['reason']


def test_agreement_errors_are_one_line(tmp_path, capsys):
    assert main(['agreement', str(tmp_path), str(tmp_path)]) == 1
    assert 'no measures table' in capsys.readouterr().err
    a = tmp_path / 'a.csv'
    b = tmp_path / 'b.csv'
    _table(a, [('x', 'done', '1', '1')])
    _table(b, [('y', 'done', '1', '1')])
    assert main(['agreement', str(a), str(b), '--out', str(tmp_path)]) == 1
    assert 'share no photo name' in capsys.readouterr().err
