"""The output-folder guard, through every batch writer: never replace a
file we did not write (attack 1), every CSV cell escaped (attack 3), one
run per folder and settings (attack 4), names in any encoding (attack
8), one-line errors for bad output folders (attack 9)."""

from __future__ import annotations

import csv
import os
import sys

import numpy as np
import pytest

from napari_retina_vessels.cli import main
from napari_retina_vessels.io import imwrite


def _outputs(folder, name):
    """A small segment-output set (a vessel cross) named *name*."""
    from measures.render import radial_tree

    vessels, av, soft = radial_tree(
        (200, 200), (100, 100), 14, [5, 6, 5, 6], [1, 2, 1, 2]
    )
    folder.mkdir(exist_ok=True)
    imwrite(folder / f'{name}_vessels.png', vessels)
    imwrite(folder / f'{name}_av.png', av)
    imwrite(folder / f'{name}_prob.png', np.rint(soft * 255).astype(np.uint8))


def _rows(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    'victim', ['measures.csv', 'segments.csv', 'a_segments.csv']
)
def test_attack_1_measure_never_replaces_a_users_table(
    victim, tmp_path, capsys
):
    seg = tmp_path / 'seg'
    _outputs(seg, 'a')
    out = tmp_path / 'out'
    out.mkdir()
    mine = 'patient,notes\n1,do not lose me\n'
    (out / victim).write_text(mine)
    code = main(['measure', str(seg), '--out', str(out)])
    assert (out / victim).read_text() == mine
    text = capsys.readouterr()
    if victim == 'a_segments.csv':
        # The photo fails, the others would carry on.
        assert code == 1
        row = _rows(out / 'measures.csv')[0]
        assert row['status'] == 'failed'
        assert 'not written by retina-vessels' in row['error']
    else:
        assert code == 1
        assert 'not written by retina-vessels' in text.err
        assert 'Traceback' not in text.err
        assert not (out / 'a.measures.json').exists()  # before any work


def test_attack_1_sibling_a_users_marker_named_like_ours(tmp_path):
    seg = tmp_path / 'seg'
    _outputs(seg, 'a')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'a.measures.json').write_text('{"mine": true}')
    main(['measure', str(seg), '--out', str(out)])
    assert (out / 'a.measures.json').read_text() == '{"mine": true}'


def test_measure_reruns_over_its_own_tables(tmp_path):
    seg = tmp_path / 'seg'
    _outputs(seg, 'a')
    out = tmp_path / 'out'
    args = ['measure', str(seg), '--out', str(out), '--overwrite']
    assert main(args) == 0
    assert main(args) == 0  # its own tables and markers are replaced


@pytest.mark.parametrize('name', ['=HYPERLINK("x")', '@SUM(1+1)'])
def test_attack_3_formula_names_in_measures_and_segments_csv(name, tmp_path):
    seg = tmp_path / 'seg'
    _outputs(seg, name)
    out = tmp_path / 'out'
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    for table in ('measures.csv', 'segments.csv', f'{name}_segments.csv'):
        names = {r['name'] for r in _rows(out / table)}
        assert names == {"'" + name}, table


def test_attack_4_a_second_run_with_other_settings_is_refused(tmp_path):
    from napari_retina_vessels.batch import run_batch
    from napari_retina_vessels.batch._settings import batch_settings
    from napari_retina_vessels.errors import RetinaVesselsError
    from napari_retina_vessels.io._outfolder import folder_lock

    photo = tmp_path / 'p.png'
    imwrite(photo, np.zeros((40, 40, 3), np.uint8))
    out = tmp_path / 'out'
    out.mkdir()
    other = batch_settings('default', False, 'default', False, 0.3, 'png')
    with folder_lock(out, 'segment', other):
        with pytest.raises(RetinaVesselsError, match='other settings') as e:
            run_batch([photo], out, device='cpu', threshold=0.7)
        assert '\n' not in str(e.value)
        assert not (out / 'summary.csv').exists()
        # The same settings may share the folder (photos are claimed).
        with folder_lock(out, 'segment', other):
            pass
    # Once the first run is over, any settings may run.
    with folder_lock(out, 'segment', {'threshold': 0.7}):
        pass


def test_attack_4_sibling_measure_runs_are_locked_too(tmp_path, capsys):
    from napari_retina_vessels.io._outfolder import folder_lock

    seg = tmp_path / 'seg'
    _outputs(seg, 'a')
    out = tmp_path / 'out'
    out.mkdir()
    with folder_lock(out, 'measure', {'pixel_size_um': 9}):
        assert main(['measure', str(seg), '--out', str(out)]) == 1
    assert 'other settings is writing into' in capsys.readouterr().err


@pytest.mark.skipif(sys.platform != 'linux', reason='bytes file names')
def test_attack_8_measure_a_name_that_is_not_utf8(tmp_path):
    seg = tmp_path / 'seg'
    _outputs(seg, 'x')
    odd = os.fsdecode(b'caf\xe9')
    for kind in ('vessels', 'av', 'prob'):
        os.rename(seg / f'x_{kind}.png', seg / f'{odd}_{kind}.png')
    out = tmp_path / 'out'
    for _ in range(2):  # and on a rerun
        assert main(['measure', str(seg), '--out', str(out)]) == 0
        rows = _rows(out / 'measures.csv')
        assert rows[0]['name'] == 'caf\\xe9' and rows[0]['status'] in (
            'done',
            'skipped',
        )


@pytest.mark.parametrize('case', ['file', 'devnull', 'read-only'])
def test_attack_9_measure_out_that_cannot_be_a_folder(case, tmp_path, capsys):
    seg = tmp_path / 'seg'
    _outputs(seg, 'a')
    if case == 'file':
        out = tmp_path / 'f.txt'
        out.write_text('x')
    elif case == 'devnull':
        out = '/dev/null'
    else:
        if os.geteuid() == 0:
            pytest.skip('root writes into read-only folders')
        out = tmp_path / 'ro'
        out.mkdir()
        out.chmod(0o500)
    assert main(['measure', str(seg), '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1


def test_attack_1_sibling_the_napari_writer_never_replaces_a_users_file(
    tmp_path,
):
    from napari_retina_vessels._napari.writer import _Saved, save_result
    from napari_retina_vessels.errors import RetinaVesselsError

    seg = _Saved(
        probability=np.zeros((20, 24), np.float32),
        vessels=np.zeros((20, 24), bool),
        artery_vein=None,
        fov=np.ones((20, 24), bool),
    )
    mine = np.full((20, 24), 7, np.uint8)
    from PIL import Image

    Image.fromarray(mine).save(tmp_path / 'eye_vessels.png')
    with pytest.raises(RetinaVesselsError, match='not written by'):
        save_result(tmp_path, 'eye', seg)
    kept = np.asarray(Image.open(tmp_path / 'eye_vessels.png'))
    assert np.array_equal(kept, mine)
    # Its own files it replaces: saving twice elsewhere works.
    out = tmp_path / 'out'
    save_result(out, 'eye', seg)
    save_result(out, 'eye', seg)


def test_a_damaged_marker_of_ours_is_redone_not_refused(tmp_path):
    seg = tmp_path / 'seg'
    _outputs(seg, 'a')
    out = tmp_path / 'out'
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    (out / 'a.measures.json').write_text('{\n "settings": {"pix')
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    assert _rows(out / 'measures.csv')[0]['status'] == 'done'
