"""``retina-vessels measure`` on segment outputs: tables, resume, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from napari_retina_vessels.cli import main
from napari_retina_vessels.io import imwrite

from .render import radial_tree


def _write_outputs(folder, name, *, shape=(300, 300), av_shape=None):
    vessels, av, soft = radial_tree(
        shape, (150, 150), 20, [6, 8, 5, 7, 4.5, 6.5], [1, 2, 1, 2, 1, 2]
    )
    imwrite(folder / f'{name}_vessels.png', vessels)
    if av_shape is not None:
        av = np.zeros(av_shape, np.uint8)
    imwrite(folder / f'{name}_av.png', av)
    imwrite(folder / f'{name}_prob.png', np.rint(soft * 255).astype(np.uint8))


def _rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_measure_segment_outputs_and_resume(tmp_path, capsys):
    seg = tmp_path / 'seg'
    seg.mkdir()
    _write_outputs(seg, 'a')
    _write_outputs(seg, 'b')
    out = tmp_path / 'out'
    args = ['measure', str(seg), '--out', str(out), '--pixel-size', '6']
    assert main(args) == 0
    assert '2 measured' in capsys.readouterr().out
    rows = _rows(out / 'measures.csv')
    assert [r['name'] for r in rows] == ['a', 'b']
    assert all(r['status'] == 'done' for r in rows)
    assert rows[0]['source'] == 'segment outputs'
    assert float(rows[0]['pixel_size_um']) == 6.0
    assert rows[0]['n_segments'] == '6'
    segs = _rows(out / 'segments.csv')
    assert {s['name'] for s in segs} == {'a', 'b'} and len(segs) == 12
    assert {s['label'] for s in segs} == {'artery', 'vein'}
    marker = json.loads((out / 'a.measures.json').read_text())
    assert marker['row']['name'] == 'a'

    # Resume: nothing is redone; the tables are rebuilt in full.
    assert main(args) == 0
    assert '0 measured, 2 already done' in capsys.readouterr().out
    assert len(_rows(out / 'segments.csv')) == 12
    # Other settings redo the images.
    assert main([*args[:-1], '7']) == 0
    assert '2 measured' in capsys.readouterr().out


def test_measure_bad_inputs_give_rows_not_tracebacks(tmp_path, capsys):
    seg = tmp_path / 'seg'
    seg.mkdir()
    _write_outputs(seg, 'good')
    _write_outputs(seg, 'odd', av_shape=(100, 100))
    imwrite(seg / 'empty_vessels.png', np.zeros((64, 64), bool))
    out = tmp_path / 'out'
    code = main(
        [
            'measure',
            str(seg),
            str(tmp_path / 'nothing*.png'),
            '--out',
            str(out),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    rows = {r['name']: r for r in _rows(out / 'measures.csv')}
    assert rows['good']['status'] == 'done'
    assert rows['odd']['status'] == 'failed'
    assert 'same height and width' in rows['odd']['error']
    assert rows['empty']['status'] == 'done'
    assert rows['empty']['crae_reason'] == 'the vessel map is empty'
    assert rows['nothing*.png']['status'] == 'failed'


def test_measure_rejects_a_bad_pixel_size(tmp_path, capsys):
    assert (
        main(
            [
                'measure',
                str(tmp_path),
                '--out',
                str(tmp_path / 'o'),
                '--pixel-size',
                '-2',
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert 'pixel size' in err and err.count('\n') == 1


@pytest.mark.slow
def test_segment_then_measure_in_one_command(tmp_path, capsys):
    from synthetic import fake_fundus

    from napari_retina_vessels.io import imwrite as write

    photos = tmp_path / 'photos'
    photos.mkdir()
    write(photos / 'eye.png', fake_fundus())
    out = tmp_path / 'out'
    assert (
        main(
            [
                'segment',
                str(photos),
                '--out',
                str(out),
                '--measure',
                '--views',
                '1',
                '--device',
                'cpu',
            ]
        )
        == 0
    )
    rows = _rows(out / 'measures.csv')
    assert [r['name'] for r in rows] == ['eye']
    assert rows[0]['status'] == 'done'
    assert (out / 'eye_av.png').is_file()


def test_measure_refuses_a_npy_map_declaring_a_huge_array(tmp_path):
    seg = tmp_path / 'seg'
    seg.mkdir()
    _write_outputs(seg, 'a')
    (seg / 'a_prob.png').unlink()
    # A tiny .npy whose header declares 2e6 x 2e6 float32 values: read
    # through io.read_npy it is refused before anything is allocated.
    header = (
        "{'descr': '<f4', 'fortran_order': False, "
        "'shape': (2000000, 2000000), }"
    )
    header = header.ljust(117) + '\n'
    (seg / 'a_prob.npy').write_bytes(
        b'\x93NUMPY\x01\x00'
        + len(header).to_bytes(2, 'little')
        + header.encode('latin1')
    )
    out = tmp_path / 'out'
    main(['measure', str(seg), '--out', str(out)])
    rows = _rows(out / 'measures.csv')
    assert [r['status'] for r in rows] == ['failed']
    assert 'declares an array of shape (2000000, 2000000)' in rows[0]['error']
