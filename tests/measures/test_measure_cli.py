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


# -- ungradable photos and bad inputs ---------------------------------------


def _photo(folder, name, *, shape=(300, 300), centre=(150, 150), r=20):
    """A photo with a bright disc at *centre* (for the disc finder)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    photo = np.zeros((*shape, 3), np.uint8)
    photo[...] = (170, 90, 30)
    photo[np.hypot(yy - centre[0], xx - centre[1]) < r] = (250, 220, 150)
    path = folder / f'{name}.png'
    imwrite(path, photo)
    return path


def _done(folder, name, photo, grade=None, reasons=''):
    """The marker ``retina-vessels segment`` leaves (the row part)."""
    row = {'name': name, 'path': str(photo), 'status': 'done'}
    if grade:
        row.update(
            quality_grade=grade,
            quality_score=0.1 if grade == 'ungradable' else 0.9,
            quality_reasons=reasons,
        )
    (folder / f'{name}.done.json').write_text(
        json.dumps({'settings': {}, 'row': row})
    )


def test_ungradable_recorded_by_segment_is_not_measured(tmp_path, capsys):
    from napari_retina_vessels.batch.measures import UNGRADABLE_REASON

    seg = tmp_path / 'seg'
    seg.mkdir()
    for name in ('good', 'blank'):
        _write_outputs(seg, name)
    _done(seg, 'good', _photo(tmp_path, 'good'), 'good')
    _done(seg, 'blank', _photo(tmp_path, 'blank'), 'ungradable', 'blank')
    out = tmp_path / 'out'
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    captured = capsys.readouterr()
    assert '1 measured' in captured.out and '1 ungradable' in captured.out
    assert 'ungradable blank: blank' in captured.err
    assert 'Traceback' not in captured.err
    rows = {r['name']: r for r in _rows(out / 'measures.csv')}
    assert rows['good']['status'] == 'done'
    assert rows['good']['quality_grade'] == 'good'
    blank = rows['blank']
    assert blank['status'] == 'ungradable'
    assert blank['quality_grade'] == 'ungradable'
    assert blank['quality_reasons'] == 'blank'
    assert blank['crae_reason'] == UNGRADABLE_REASON
    assert blank['crae_px'] == blank['n_segments'] == blank['avr'] == ''
    assert '--measure-ungradable' in blank['note']
    assert {s['name'] for s in _rows(out / 'segments.csv')} == {'good'}

    # Resumed: the ungradable row is kept, not redone.
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    assert '2 already done' in capsys.readouterr().out

    # Asked to: measured, still marked ungradable.
    args = ['measure', str(seg), '--out', str(out), '--measure-ungradable']
    assert main(args) == 0
    assert '1 ungradable' in capsys.readouterr().out
    blank = {r['name']: r for r in _rows(out / 'measures.csv')}['blank']
    assert blank['status'] == 'ungradable' and blank['n_segments'] == '6'
    assert blank['quality_reasons'] == 'blank' and blank['crae_reason'] == ''


def test_photo_without_a_recorded_grade_is_graded(tmp_path, capsys):
    seg = tmp_path / 'seg'
    seg.mkdir()
    _write_outputs(seg, 'black')
    black = tmp_path / 'black.png'
    imwrite(black, np.zeros((300, 300, 3), np.uint8))
    _done(seg, 'black', black)  # an older segment run: no grade
    _write_outputs(seg, 'mine')  # maps from elsewhere: no photo, no grade
    out = tmp_path / 'out'
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    rows = {r['name']: r for r in _rows(out / 'measures.csv')}
    assert rows['black']['status'] == 'ungradable'
    assert rows['black']['quality_reasons']
    assert rows['black']['crae_px'] == ''
    assert rows['mine']['status'] == 'done'
    assert rows['mine']['quality_grade'] == ''


def test_cli_no_vessels_in_zone_b_border_disc_and_other_size_photo(
    tmp_path, capsys
):
    from .render import radial_tree

    seg = tmp_path / 'seg'
    seg.mkdir()
    # Vessels only beyond zone B (more than 3 disc radii from the disc).
    vessels, av, _ = radial_tree(
        (300, 300), (150, 150), 20, [6, 8, 5, 7, 4.5, 6.5], [1, 2] * 3
    )
    yy, xx = np.mgrid[:300, :300]
    av[np.hypot(yy - 150, xx - 150) < 3.3 * 20] = 0
    imwrite(seg / 'far_vessels.png', av > 0)
    imwrite(seg / 'far_av.png', av)
    _done(seg, 'far', _photo(tmp_path, 'far'), 'good')
    # The disc at the left edge of the image.
    vessels, av, _ = radial_tree(
        (300, 300), (150, 6), 20, [6, 8, 5, 7, 4.5, 6.5], [1, 2] * 3
    )
    imwrite(seg / 'edge_vessels.png', vessels)
    imwrite(seg / 'edge_av.png', av)
    _done(seg, 'edge', _photo(tmp_path, 'edge', centre=(150, 6)), 'good')
    # The recorded photo is not the one the maps were made from.
    _write_outputs(seg, 'other')
    _done(seg, 'other', _photo(tmp_path, 'other', shape=(200, 260)), 'good')
    out = tmp_path / 'out'
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    assert 'Traceback' not in capsys.readouterr().err
    rows = {r['name']: r for r in _rows(out / 'measures.csv')}
    far = rows['far']
    assert far['status'] == 'done' and far['disc_source'] == 'detected'
    assert far['crae_px'] == far['avr'] == ''
    assert 'zone B' in far['crae_reason'] and 'zone B' in far['crve_reason']
    assert far['avr_reason']
    edge = rows['edge']
    assert edge['status'] == 'done' and edge['crae_px'] == ''
    assert 'near the edge' in edge['crae_reason']
    other = rows['other']
    assert other['status'] == 'done' and other['n_segments'] == '6'
    assert 'measured without the photo other.png' in other['note']
    assert '260 x 200' in other['note']


def test_blank_photos_are_graded_by_measure_and_by_segment_measure(
    tmp_path, capsys
):
    photos = tmp_path / 'photos'
    imwrite(photos / 'blank.png', np.zeros((96, 96, 3), np.uint8))
    fast = ['--device', 'cpu']
    # A photo: segmented here, and graded on the way.
    out = tmp_path / 'measured'
    assert main(['measure', str(photos), '--out', str(out), *fast]) == 0
    assert '1 ungradable (not measured' in capsys.readouterr().out
    (row,) = _rows(out / 'measures.csv')
    assert row['status'] == 'ungradable' and row['source'] == 'photo'
    assert row['quality_reasons'] and row['n_segments'] == ''
    # segment --measure: the grade segment recorded is used.
    out = tmp_path / 'segmented'
    args = ['segment', str(photos), '--out', str(out), '--measure', *fast]
    assert main([*args, '--views', '1']) == 0
    captured = capsys.readouterr()
    assert 'Traceback' not in captured.err
    assert '1 ungradable (not measured' in captured.out
    (row,) = _rows(out / 'measures.csv')
    assert row['status'] == 'ungradable'
    assert row['source'] == 'segment outputs'
    summary = _rows(out / 'summary.csv')[0]
    assert row['quality_reasons'] == summary['quality_reasons']


def test_measure_with_corrections_folder(tmp_path, capsys):
    """``--corrections DIR``: applied by name, re-run when they change,
    unmatched and broken files reported."""
    seg = tmp_path / 'seg'
    seg.mkdir()
    _write_outputs(seg, 'a')
    _write_outputs(seg, 'b')
    out = tmp_path / 'out'
    base = ['measure', str(seg), '--out', str(out), '--pixel-size', '6']
    assert main(base) == 0
    plain = {r['name']: r for r in _rows(out / 'measures.csv')}
    segs = [s for s in _rows(out / 'segments.csv') if s['name'] == 'a']
    artery = max(
        (s for s in segs if s['label'] == 'artery'),
        key=lambda s: float(s['calibre_px']),
    )
    at = [int(artery['y_mid']), int(artery['x_mid'])]
    corr = tmp_path / 'corr'
    corr.mkdir()
    (corr / 'a.corrections.json').write_text(
        json.dumps(
            {
                'version': 1,
                'grader': 'AB',
                'segments': [{'at': at, 'label': 'vein'}],
            }
        )
    )
    (corr / 'zz.corrections.json').write_text('{}')
    args = [*base, '--corrections', str(corr)]
    capsys.readouterr()
    assert main(args) == 0
    captured = capsys.readouterr()
    assert '1 measured, 1 already done' in captured.out
    assert '1 corrections file(s) matched no image' in captured.out
    assert 'zz.corrections.json: no image of that name' in captured.err
    rows = {r['name']: r for r in _rows(out / 'measures.csv')}
    assert rows['a']['corrected'] == '1' and rows['a']['grader'] == 'AB'
    assert rows['b']['corrected'] == '0'
    # Three arterioles, three venules: now two and four.
    assert (rows['a']['crae_n'], rows['a']['crve_n']) == ('2', '4')
    assert float(rows['a']['crve_px']) != float(plain['a']['crve_px'])
    assert rows['b']['crve_px'] == plain['b']['crve_px']
    flipped = [
        s
        for s in _rows(out / 'segments.csv')
        if s['name'] == 'a' and s['corrected']
    ]
    assert [(s['corrected'], s['label']) for s in flipped] == [
        ('vein', 'vein')
    ]
    # Same corrections: nothing redone; other corrections: redone.
    assert main(args) == 0
    assert '0 measured, 2 already done' in capsys.readouterr().out
    (corr / 'a.corrections.json').write_text('{"segments": [1]}')
    assert main(args) == 0
    rows = {r['name']: r for r in _rows(out / 'measures.csv')}
    assert rows['a']['status'] == 'failed'
    assert 'segments[0] must be an object' in rows['a']['error']
    assert main([*base, '--corrections', str(tmp_path / 'nope')]) == 1
    assert 'corrections folder' in capsys.readouterr().err
