"""Attacks 5, 6, 9 (train) and 11 of issue #29, each through the paths
that share its cause."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from napari_retina_vessels.cli import main
from napari_retina_vessels.errors import InvalidImageError
from napari_retina_vessels.io import as_mask, imwrite, read_mask


def test_attack_5_a_01_mask_with_a_stray_255_is_refused(tmp_path):
    truth = np.zeros((40, 40), np.uint8)
    truth[10:20, 5:35] = 1
    truth[0, 0] = 255
    path = tmp_path / 'truth.png'
    imwrite(path, truth)
    with pytest.raises(InvalidImageError, match='mixes two encodings') as e:
        read_mask(path)
    assert str(path) in str(e.value) and '\n' not in str(e.value)


def test_attack_5_siblings_clean_encodings_still_read():
    base = np.zeros((40, 40), np.uint8)
    base[10:20, 5:35] = 1
    assert as_mask(base).sum() == 300  # 0/1
    assert as_mask(base * 255).sum() == 300  # 0/255
    noisy = base * 250
    noisy[30:, :] = 1  # JPEG-like noise of the background, fewer pixels
    noisy[35:, :] = 3
    assert as_mask(noisy).sum() == 300


@pytest.mark.skipif(sys.platform == 'win32', reason='symlinks')
def test_attack_6_globstar_enters_symlinked_folders(tmp_path):
    from napari_retina_vessels.batch import collect_inputs

    real = tmp_path / 'elsewhere' / 'visit2'
    real.mkdir(parents=True)
    imwrite(real / 'p2.png', np.zeros((8, 8, 3), np.uint8))
    data = tmp_path / 'data' / 'visit1'
    data.mkdir(parents=True)
    imwrite(data / 'p1.png', np.zeros((8, 8, 3), np.uint8))
    os.symlink(real, tmp_path / 'data' / 'linked')
    os.symlink(tmp_path / 'data', data / 'loop')  # and a loop
    found, missing = collect_inputs([str(tmp_path / 'data' / '**' / '*.png')])
    assert sorted(p.name for p in found) == ['p1.png', 'p2.png']
    assert not missing
    # The sibling path: measure expands its inputs the same way.
    from napari_retina_vessels.batch.measures import find_measure_inputs

    items, _ = find_measure_inputs([str(tmp_path / 'data' / '**' / '*.png')])
    assert sorted(i['name'] for i in items) == ['p1', 'p2']


@pytest.mark.parametrize('case', ['file', 'read-only'])
def test_attack_9_train_out_that_cannot_be_a_folder(case, tmp_path, capsys):
    if case == 'file':
        out = tmp_path / 'run.txt'
        out.write_text('x')
    else:
        if os.geteuid() == 0:
            pytest.skip('root writes into read-only folders')
        out = tmp_path / 'ro'
        out.mkdir()
        out.chmod(0o500)
        out = out / 'run'
    assert main(['train', str(tmp_path), '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1


def test_attack_11_a_nan_is_named_not_reported_as_0_to_1(tmp_path):
    from napari_retina_vessels.io.saved_maps import read_prediction

    prob = np.full((20, 20), 0.5, np.float32)
    prob[3, 3] = np.nan
    np.save(tmp_path / 'p.npy', prob)
    with pytest.raises(InvalidImageError, match='1 NaN values'):
        read_prediction(tmp_path / 'p.npy')


@pytest.mark.parametrize('argv', [['--batch-size', '0'], ['--views', '3']])
def test_attack_11_bad_options_are_usage_errors_before_any_photo(
    argv, tmp_path, capsys
):
    with pytest.raises(SystemExit) as stop:
        main(['segment', str(tmp_path), '--out', str(tmp_path / 'o'), *argv])
    assert stop.value.code == 2
    assert not (tmp_path / 'o').exists()


def test_attack_11_segment_measure_refuses_a_bad_pixel_size_first(
    tmp_path, capsys, monkeypatch
):
    from napari_retina_vessels import batch

    def no_batch(*args, **kwargs):
        raise AssertionError('photos were segmented')

    monkeypatch.setattr(batch, 'run_batch', no_batch)
    code = main(
        [
            'segment',
            str(tmp_path),
            '--out',
            str(tmp_path / 'o'),
            '--measure',
            '--pixel-size',
            '-1',
        ]
    )
    assert code == 1
    assert 'pixel size must be a positive' in capsys.readouterr().err
