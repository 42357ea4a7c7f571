"""Corrections re-apply bit for bit after ``segment`` runs again."""

from __future__ import annotations

import csv
import json

import pytest

from napari_retina_vessels.cli import main

# Columns that say when or where, not what was measured.
_RUN = {'path', 'seconds'}


def _rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.data
def test_segment_again_then_measure_corrections_is_bit_for_bit(
    data_root, tmp_path, capsys
):
    photo = data_root / 'DRIVE' / 'test' / 'images' / '01_test.tif'
    seg = ['segment', str(photo), '--av', '--views', '1', '--device', 'cpu']
    first = tmp_path / 'first'
    assert main([*seg, '--out', str(first)]) == 0
    assert main(['measure', str(first), '--out', str(first)]) == 0
    segs = _rows(first / 'segments.csv')
    used = [s for s in segs if s['in_crae_crve'] == 'True']
    artery = max(
        (s for s in used if s['label'] == 'artery'),
        key=lambda s: float(s['zone_b_calibre_px']),
    )
    vein = max(
        (s for s in used if s['label'] == 'vein'),
        key=lambda s: float(s['zone_b_calibre_px']),
    )
    corr = tmp_path / 'corrections'
    corr.mkdir()
    (corr / '01_test.corrections.json').write_text(
        json.dumps(
            {
                'version': 1,
                'image': '01_test',
                'grader': 'AB',
                'segments': [
                    {
                        'at': [int(artery['y_mid']), int(artery['x_mid'])],
                        'label': 'vein',
                    },
                    {
                        'at': [int(vein['y_mid']), int(vein['x_mid'])],
                        'label': 'exclude',
                    },
                ],
            }
        )
    )
    results = []
    for run in ('first', 'second'):
        folder = tmp_path / run
        if run == 'second':
            assert main([*seg, '--out', str(folder)]) == 0
        out = tmp_path / f'{run}-measured'
        args = ['measure', str(folder), '--out', str(out)]
        assert main([*args, '--corrections', str(corr)]) == 0
        (row,) = _rows(out / 'measures.csv')
        assert row['corrected'] == '2' and row['corrections_missed'] == '0'
        results.append(
            (
                {k: v for k, v in row.items() if k not in _RUN},
                _rows(out / 'segments.csv'),
            )
        )
    capsys.readouterr()
    assert results[0] == results[1]
    (before,) = _rows(first / 'measures.csv')
    assert results[0][0]['crae_px'] != before['crae_px']
    assert results[0][0]['crve_px'] != before['crve_px']
