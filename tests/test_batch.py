"""The batch ``retina-vessels segment`` command, without Dask."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import fake_fundus

from napari_retina_vessels._registry import DEFAULTS
from napari_retina_vessels.batch import (
    SUMMARY_COLUMNS,
    collect_inputs,
    map_images,
    run_batch,
)
from napari_retina_vessels.batch.cluster import iter_map
from napari_retina_vessels.cli import main
from napari_retina_vessels.errors import RetinaVesselsError
from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.inference import Progress
from napari_retina_vessels.io import imread


def write_photos(
    folder: Path, n: int = 2, suffix: str = '.png', start: int = 0
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(start, start + n):
        p = folder / f'photo{i}{suffix}'
        Image.fromarray(fake_fundus(240, 260, seed=i)).save(p)
        out.append(p)
    return out


def read_summary(out: Path) -> list[dict]:
    with open(out / 'summary.csv', newline='') as fh:
        return list(csv.DictReader(fh))


def mtimes(out: Path) -> dict[str, int]:
    return {
        p.name: p.stat().st_mtime_ns
        for p in out.iterdir()
        # the folder lock is no output (_outfolder.folder_lock)
        if p.name != 'summary.csv' and not p.name.endswith('.lock')
    }


def no_part_files(out: Path) -> bool:
    return not [p for p in out.rglob('*') if p.name.endswith('.part')]


@pytest.fixture(scope='module')
def done_run(tmp_path_factory):
    """Two synthetic photos segmented once through the CLI (PNG)."""
    base = tmp_path_factory.mktemp('batch')
    photos = write_photos(base / 'in', 2)
    out = base / 'out'
    rc = main(
        ['segment', str(base / 'in'), '--out', str(out), '--device', 'cpu']
    )
    return {'rc': rc, 'photos': photos, 'out': out}


def test_folder_gives_prob_vessels_summary_and_markers(done_run):
    out = done_run['out']
    assert done_run['rc'] == 0
    for photo in done_run['photos']:
        h, w = imread(photo).shape[:2]
        prob = imread(out / f'{photo.stem}_prob.png')
        assert prob.dtype == np.uint8 and prob.shape == (h, w)
        vessels = imread(out / f'{photo.stem}_vessels.png')
        assert vessels.dtype == np.uint8 and vessels.shape == (h, w)
        assert set(np.unique(vessels)) <= {0, 255}
        assert vessels.any()
        # The binary map is the probability map cut at the model's 0.5.
        agree = (vessels > 0) == (prob >= 128)
        assert agree.mean() > 0.999
        marker = json.loads((out / f'{photo.stem}.done.json').read_text())
        assert marker['row']['status'] == 'done'
        assert sorted(marker['outputs']) == sorted(
            [f'{photo.stem}_prob.png', f'{photo.stem}_vessels.png']
        )
    assert not (out / f'{done_run["photos"][0].stem}_av.png').exists()
    assert no_part_files(out)


def test_summary_has_one_row_per_image_with_measurements(done_run):
    rows = read_summary(done_run['out'])
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
    assert [r['name'] for r in rows] == ['photo0', 'photo1']
    for row, photo in zip(rows, done_run['photos']):
        assert row['status'] == 'done' and row['error'] == ''
        assert Path(row['path']) == photo.absolute()
        assert (int(row['width']), int(row['height'])) == (260, 240)
        # The photo's own field of view (fake_fundus is a real photo).
        area = fov_mask(imread(photo)).sum()
        assert abs(int(row['fov_area_px']) - area) < 0.1 * area
        vessels = imread(done_run['out'] / f'{photo.stem}_vessels.png')
        density = (vessels > 0).sum() / int(row['fov_area_px'])
        assert float(row['vessel_density']) == pytest.approx(density, abs=1e-5)
        assert 0 < float(row['vessel_density']) < 0.5
        assert row['model'] == DEFAULTS['vessels']
        assert len(row['weights_sha256']) == 64
        assert row['device'] == 'cpu' and float(row['seconds']) > 0
        assert row['artery_fraction'] == row['vein_fraction'] == ''


def test_rerun_skips_finished_images(done_run, capsys):
    out = done_run['out']
    before = mtimes(out)
    rc = main(
        [
            'segment',
            str(done_run['photos'][0].parent),
            '--out',
            str(out),
            '--device',
            'cpu',
        ]
    )
    assert rc == 0
    assert '0 segmented, 2 already done, 0 failed' in capsys.readouterr().out
    assert mtimes(out) == before
    rows = read_summary(out)
    assert [r['status'] for r in rows] == ['skipped', 'skipped']
    # Skipped rows keep the measurements of the run that made them.
    assert all(float(r['vessel_density']) > 0 for r in rows)


@pytest.mark.parametrize('fmt', ['tif', 'npy'])
def test_float_formats_hold_the_float_map(tmp_path, fmt):
    photos = write_photos(tmp_path / 'in', 1)
    res = run_batch(photos, tmp_path / 'out', fmt=fmt, device='cpu')
    assert res['done'] == 1
    prob = (
        imread(tmp_path / 'out' / f'photo0_prob.{fmt}')
        if fmt == 'tif'
        else np.load(tmp_path / 'out' / 'photo0_prob.npy')
    )
    assert prob.dtype == np.float32 and prob.shape == (240, 260)
    assert prob.min() >= 0 and prob.max() <= 1 and prob.max() > 0.5
    vessels = imread(tmp_path / 'out' / 'photo0_vessels.png') > 0
    assert np.array_equal(vessels, prob >= 0.5)


def test_overwrite_redoes_and_changed_options_redo(tmp_path):
    photos = write_photos(tmp_path / 'in', 1)
    out = tmp_path / 'out'
    run_batch(photos, out, device='cpu')
    old = 1_000_000_000_000_000_000
    for p in out.iterdir():
        os.utime(p, ns=(old, old))
    res = run_batch(photos, out, device='cpu', overwrite=True)
    assert (res['done'], res['skipped']) == (1, 0)
    assert all(t > old for t in mtimes(out).values())
    # Another threshold makes another mask: the marker no longer matches.
    res = run_batch(photos, out, device='cpu', threshold=0.7)
    assert (res['done'], res['skipped']) == (1, 0)
    assert read_summary(out)[0]['threshold'] == '0.7'
    # So does another default number of flip views (a newer release).
    import napari_retina_vessels.options as pl  # the defaults' home

    marker = json.loads((out / 'photo0.done.json').read_text())
    assert marker['settings']['vessel_views'] == pl.VESSEL_VIEWS
    assert marker['settings']['av_views'] is None
    res = run_batch(photos, out, device='cpu', threshold=0.7)
    assert (res['done'], res['skipped']) == (0, 1)
    pl_views = pl.VESSEL_VIEWS
    try:
        pl.VESSEL_VIEWS = 1
        res = run_batch(photos, out, device='cpu', threshold=0.7)
    finally:
        pl.VESSEL_VIEWS = pl_views
    assert (res['done'], res['skipped']) == (1, 0)


def test_precision_is_recorded_and_a_new_one_redoes(tmp_path, capsys):
    photos = write_photos(tmp_path / 'in', 1)
    out = tmp_path / 'out'
    args = ['segment', str(tmp_path / 'in'), '--out', str(out)]
    assert main([*args, '--device', 'cpu', '--precision', 'fp32']) == 0
    assert read_summary(out)[0]['arithmetic'] == 'fp32'
    marker = json.loads((out / 'photo0.done.json').read_text())
    assert marker['settings']['precision'] == 'fp32'
    res = run_batch(photos, out, device='cpu', precision='bf16')
    assert (res['done'], res['skipped']) == (1, 0)
    assert read_summary(out)[0]['arithmetic'] == 'bf16'
    with pytest.raises(SystemExit):
        main([*args, '--precision', 'int4'])
    assert 'invalid choice' in capsys.readouterr().err


def test_half_finished_image_is_redone(tmp_path):
    photos = write_photos(tmp_path / 'in', 2)
    out = tmp_path / 'out'
    run_batch(photos, out, device='cpu')
    # photo0 lost its marker (killed before the marker was written);
    # photo1 lost an output (removed by hand).
    (out / 'photo0.done.json').unlink()
    (out / 'photo1_vessels.png').unlink()
    (out / 'photo1.done.json').write_text(
        (out / 'photo1.done.json').read_text()
    )
    res = run_batch(photos, out, device='cpu')
    assert (res['done'], res['skipped']) == (2, 0)
    assert (out / 'photo0.done.json').is_file()
    assert (out / 'photo1_vessels.png').is_file()
    # A damaged marker counts as no marker.
    (out / 'photo1.done.json').write_text('{"settings": ')
    res = run_batch(photos, out, device='cpu')
    assert (res['done'], res['skipped']) == (1, 1)


def test_corrupt_file_is_reported_and_others_succeed(tmp_path, capsys):
    folder = tmp_path / 'in'
    write_photos(folder, 2)
    (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'x' * 50)
    (folder / 'empty.tif').write_bytes(b'')
    out = tmp_path / 'out'
    rc = main(['segment', str(folder), '--out', str(out), '--device', 'cpu'])
    assert rc == 0
    captured = capsys.readouterr()
    assert '2 segmented, 0 already done, 2 failed' in captured.out
    err_lines = [
        ln
        for ln in re.split(r'[\r\n]', captured.err)
        if ln.startswith('skipped ')
    ]
    assert sorted(ln.split(':')[0] for ln in err_lines) == [
        'skipped broken.png',
        'skipped empty.tif',
    ]
    rows = {r['name']: r for r in read_summary(out)}
    assert rows['broken']['status'] == 'failed'
    assert 'cannot read' in rows['broken']['error']
    assert rows['empty']['status'] == 'failed'
    assert rows['photo0']['status'] == rows['photo1']['status'] == 'done'
    assert not list(out.glob('broken*')) and not list(out.glob('empty*'))
    assert no_part_files(out)


def test_exit_code_1_when_nothing_could_be_processed(tmp_path, capsys):
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    out = tmp_path / 'out'
    assert (
        main(
            [
                'segment',
                str(tmp_path / 'bad.png'),
                str(tmp_path / 'missing.tif'),
                '--out',
                str(out),
            ]
        )
        == 1
    )
    assert '0 segmented, 0 already done, 2 failed' in capsys.readouterr().out
    rows = read_summary(out)
    assert [r['status'] for r in rows] == ['failed', 'failed']
    assert (
        main(['segment', str(tmp_path / 'nothing-*.png'), '--out', str(out)])
        == 1
    )


def test_globs_files_and_name_clashes(tmp_path):
    a = write_photos(tmp_path / 'a', 2)
    b = write_photos(tmp_path / 'b', 1, suffix='.tif', start=5)
    clash = write_photos(tmp_path / 'c', 1)  # another photo0
    (tmp_path / 'a' / 'notes.txt').write_text('not an image')
    paths, missing = collect_inputs(
        [
            str(tmp_path / 'a' / '*'),
            str(b[0]),
            str(a[0]),
            str(tmp_path / 'c'),
            str(tmp_path / 'zzz*.png'),
        ]
    )
    assert paths == [*a, b[0], clash[0]]
    assert missing == [str(tmp_path / 'zzz*.png')]
    out = tmp_path / 'out'
    res = run_batch(
        [str(tmp_path / '[ab]' / 'photo*'), str(clash[0])], out, device='cpu'
    )
    assert (res['done'], res['failed']) == (4, 0)
    names = [r['name'] for r in read_summary(out)]
    assert names[1:3] == ['photo1', 'photo5']
    assert names[0] != names[3] and {names[0][:6], names[3][:6]} == {'photo0'}
    for n in names:
        assert (out / f'{n}_vessels.png').is_file()


def test_dataset_folder_gives_photos_not_labels(tmp_path):
    root = tmp_path / 'DRIVE-like'
    write_photos(root / 'images', 2, suffix='.tif')
    for sub in ('1st_manual', 'mask'):
        (root / sub).mkdir()
        for i in range(2):
            Image.fromarray(np.zeros((240, 260), np.uint8)).save(
                root / sub / f'photo{i}_{sub}.gif'
            )
    paths, _ = collect_inputs([root])
    assert [p.parent.name for p in paths] == ['images', 'images']
    assert sorted(p.name for p in paths) == ['photo0.tif', 'photo1.tif']


def test_own_outputs_are_not_inputs(tmp_path):
    folder = tmp_path / 'photos'
    write_photos(folder, 1)
    run_batch([folder], folder, device='cpu')
    paths, _ = collect_inputs([folder])
    assert [p.name for p in paths] == ['photo0.png']


def test_progress_reports_every_image(tmp_path):
    photos = write_photos(tmp_path / 'in', 2)
    recs: list[Progress] = []
    run_batch(photos, tmp_path / 'out', device='cpu', progress=recs.append)
    assert recs[0] == Progress('images', 0, 2)
    assert recs[-1] == Progress('images', 2, 2)
    recs.clear()
    run_batch(photos, tmp_path / 'out', device='cpu', progress=recs.append)
    assert recs == [Progress('images', 2, 2)]


def test_options_no_image_can_succeed_with_fail_first(tmp_path, capsys):
    photos = write_photos(tmp_path / 'in', 1)
    out = tmp_path / 'out'
    assert (
        main(
            [
                'segment',
                str(photos[0]),
                '--out',
                str(out),
                '--model',
                'no-such-model',
            ]
        )
        == 1
    )
    assert 'unknown model' in capsys.readouterr().err
    assert (
        main(
            [
                'segment',
                str(photos[0]),
                '--out',
                str(out),
                '--workers',
                '2',
                '--scheduler',
                'tcp://127.0.0.1:1',
            ]
        )
        == 1
    )
    assert 'not both' in capsys.readouterr().err
    with pytest.raises(RetinaVesselsError, match='threshold'):
        run_batch(photos, out, threshold=1.5)
    with pytest.raises(RetinaVesselsError, match='format'):
        run_batch(photos, out, fmt='jpg')
    assert not out.exists() or not list(out.glob('*_prob.*'))


def test_missing_dask_gives_an_install_hint(tmp_path, monkeypatch):
    photos = write_photos(tmp_path / 'in', 1)
    monkeypatch.setitem(sys.modules, 'distributed', None)
    with pytest.raises(RetinaVesselsError, match=r'\[cluster\]'):
        run_batch(photos, tmp_path / 'out', workers=2)


def test_without_cluster_options_dask_is_not_imported(tmp_path):
    write_photos(tmp_path / 'in', 1)
    code = (
        'import sys\n'
        'from napari_retina_vessels.cli import main\n'
        f'rc = main(["segment", {str(tmp_path / "in")!r}, "--out", '
        f'{str(tmp_path / "out")!r}, "--device", "cpu"])\n'
        'print(rc, "dask" in sys.modules, "distributed" in sys.modules)\n'
    )
    res = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-3:] == ['0', 'False', 'False']


def _square(x: int) -> int:
    return x * x


def test_map_images_here_keeps_order_and_reports():
    recs: list[Progress] = []
    assert map_images(_square, range(5), progress=recs.append) == [
        0,
        1,
        4,
        9,
        16,
    ]
    assert recs[0] == Progress('images', 0, 5)
    assert recs[-1] == Progress('images', 5, 5)
    assert map_images(_square, []) == []


def _fail_on_two(x: int) -> int:
    if x == 2:
        raise MemoryError('pretend photo 2 is too large')
    return x


def test_map_path_records_an_item_error_and_goes_on():
    got = list(iter_map(_fail_on_two, range(4)))
    assert [(i, r) for i, r, e in got if e is None] == [(0, 0), (1, 1), (3, 3)]
    ((_, result, error),) = [g for g in got if g[2] is not None]
    assert result is None and isinstance(error, MemoryError)
    with pytest.raises(MemoryError, match='photo 2'):
        map_images(_fail_on_two, range(4))


@pytest.mark.data
def test_real_drive_photos(data_root, tmp_path):
    photos = sorted((data_root / 'DRIVE' / 'test' / 'images').glob('*.tif'))[
        :2
    ]
    assert len(photos) == 2
    out = tmp_path / 'out'
    res = run_batch([str(p) for p in photos], out, device='cpu')
    assert (res['done'], res['failed']) == (2, 0)
    rows = read_summary(out)
    for row, photo in zip(rows, photos):
        assert row['name'] == photo.stem
        assert (int(row['width']), int(row['height'])) == (565, 584)
        # DRIVE's FOV covers about 227,000 pixels, vessels 8-15 % of it.
        assert 200_000 < int(row['fov_area_px']) < 250_000
        assert 0.05 < float(row['vessel_density']) < 0.25
        prob = imread(out / f'{photo.stem}_prob.png')
        assert prob.shape == (584, 565) and prob.dtype == np.uint8


def test_av_outputs(tmp_path):
    photos = write_photos(tmp_path / 'in', 1)
    out = tmp_path / 'out'
    rc = main(
        [
            'segment',
            str(photos[0]),
            '--out',
            str(out),
            '--av',
            '--device',
            'cpu',
        ]
    )
    assert rc == 0
    labels = imread(out / 'photo0_av.png')
    assert labels.dtype == np.uint8 and labels.shape == (240, 260)
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    vessels = imread(out / 'photo0_vessels.png') > 0
    assert np.array_equal(labels > 0, vessels)
    overlay = imread(out / 'photo0_av_overlay.png')
    assert overlay.shape == (240, 260, 3) and overlay.dtype == np.uint8
    photo = imread(photos[0])
    assert np.array_equal(overlay[labels == 0], photo[labels == 0])
    art = overlay[labels == 1]
    if art.size:
        assert (art[:, 0] > art[:, 2]).all()
    row = read_summary(out)[0]
    af, vf = float(row['artery_fraction']), float(row['vein_fraction'])
    assert 0 <= af <= 1 and 0 <= vf <= 1 and af + vf <= 1 + 1e-6
    assert af == pytest.approx((labels == 1).sum() / vessels.sum(), abs=1e-5)
    assert row['av_model'] and len(row['av_weights_sha256']) == 64
    marker = json.loads((out / 'photo0.done.json').read_text())
    assert 'photo0_av_overlay.png' in marker['outputs']
    # The same run again finds the image done.
    assert run_batch(photos, out, av=True, device='cpu')['skipped'] == 1


def test_av_after_vessels_only_run_redoes(tmp_path):
    photos = write_photos(tmp_path / 'in', 1)
    out = tmp_path / 'out'
    run_batch(photos, out, device='cpu')
    res = run_batch(photos, out, av=True, device='cpu')
    assert res['done'] == 1
    assert (out / 'photo0_av.png').is_file()
