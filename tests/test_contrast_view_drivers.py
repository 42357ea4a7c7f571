"""``contrast_view`` through every driver: the CLI flag, the batch
marker (a rerun with another value re-segments), and the options the
workers (local or Dask) rebuild from the marker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import fake_fundus

import napari_retina_vessels.batch as batch
from napari_retina_vessels.batch import run_batch
from napari_retina_vessels.batch._settings import batch_settings, options_of
from napari_retina_vessels.cli import main
from napari_retina_vessels.options import SegmentOptions


def _photo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'photo0.png'
    Image.fromarray(fake_fundus(160, 176, seed=3)).save(path)
    return path


def _marker(out: Path, name: str = 'photo0.done.json') -> dict:
    return json.loads((out / name).read_text())['settings']


def test_every_recorded_option_reaches_the_workers():
    # Workers (here or on Dask) rebuild their options from the marker:
    # every option the record keeps must come back, not only those a
    # list in batch/_settings.py names.
    asked = SegmentOptions(
        views=(1, 4),
        threshold=0.4,
        precision='fp32',
        consistency='segment',
        tile=512,
        force=True,
        engine='torch',
        contrast_view='clahe',
    )
    record = asked.record()
    back = options_of(record, device='cpu', batch_size=3)
    assert back == asked.replace(
        model=record['model'],
        av_model=record['av_model'],
        device='cpu',
        batch_size=3,
    )
    # A marker of a run without the option (before 'auto' became the
    # default) ran with none.
    record = SegmentOptions(contrast_view='none').record()
    assert options_of(record).contrast_view == 'none'


def test_batch_settings_record_the_contrast_view():
    on = batch_settings(
        'default', True, 'default', False, None, 'png', contrast_view='clahe'
    )
    off = batch_settings(
        'default', True, 'default', False, None, 'png', contrast_view='none'
    )
    assert on['contrast_view'] == 'clahe' and 'contrast_view' not in off
    default = batch_settings('default', True, 'default', False, None, 'png')
    assert default['contrast_view'] == 'auto'
    # Without A/V the view changes nothing, so it is not recorded.
    assert 'contrast_view' not in batch_settings(
        'default',
        False,
        'default',
        False,
        None,
        'png',
        contrast_view='clahe',
    )


def test_cli_flag_reaches_options_and_marker_and_a_change_redoes(
    tmp_path, monkeypatch
):
    photo = _photo(tmp_path / 'in')
    out = tmp_path / 'out'
    seen = []

    def recording(settings, **extra):
        opts = options_of(settings, **extra)
        seen.append(opts.contrast_view)
        return opts

    monkeypatch.setattr(batch, 'options_of', recording)
    args = [
        'segment',
        str(photo),
        '--out',
        str(out),
        '--av',
        '--device',
        'cpu',
        '--views',
        '1',
    ]
    assert main([*args, '--contrast-view', 'clahe']) == 0
    assert seen == ['clahe']
    assert _marker(out)['contrast_view'] == 'clahe'
    # The same value again is done; another value re-segments.
    assert main([*args, '--contrast-view', 'clahe']) == 0
    assert seen == ['clahe']
    res = run_batch(
        [photo], out, av=True, device='cpu', views=1, contrast_view='none'
    )
    assert (res['done'], res['skipped']) == (1, 0)
    assert seen == ['clahe', 'none']
    assert 'contrast_view' not in _marker(out)
    assert main([*args, '--contrast-view', 'clahe']) == 0
    assert seen == ['clahe', 'none', 'clahe']


def test_cli_refuses_an_unknown_view_before_any_photo(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                'segment',
                str(tmp_path),
                '--out',
                str(tmp_path / 'o'),
                '--contrast-view',
                'gamma',
            ]
        )
    assert 'invalid choice' in capsys.readouterr().err


def test_measure_segments_photos_with_the_view(tmp_path):
    photo = _photo(tmp_path / 'in')
    out = tmp_path / 'out'
    args = [
        'measure',
        str(photo),
        '--out',
        str(out),
        '--device',
        'cpu',
        '--pixel-size',
        '6',
    ]
    main([*args, '--contrast-view', 'clahe'])
    marker = next(out.glob('*.measures.json'))
    settings = json.loads(marker.read_text())['settings']
    assert settings['contrast_view'] == 'clahe'


def test_evaluate_runs_and_reports_the_view(tmp_path):
    from napari_retina_vessels.io import imwrite

    photo = fake_fundus(112, 128, seed=5)
    fov = photo.max(axis=2) > 20
    truth = np.zeros(fov.shape, np.uint8)
    truth[50:54, 10:118] = 1
    av = truth * 2
    av[:, :64] = truth[:, :64]
    root = tmp_path / 'data'
    imwrite(root / 'images' / 'img0.png', photo)
    imwrite(root / 'vessels' / 'img0.png', truth)
    imwrite(root / 'masks' / 'img0.png', fov.astype(np.uint8))
    imwrite(root / 'av' / 'img0.png', av.astype(np.uint8))
    out = tmp_path / 'report.json'
    args = [
        'evaluate',
        str(root),
        '--av',
        '--device',
        'cpu',
        '--views',
        '1',
        '--json',
        str(out),
    ]
    assert main([*args, '--contrast-view', 'clahe']) == 0
    assert json.loads(out.read_text())['contrast_view'] == 'clahe'
    assert main(args) == 0
    assert json.loads(out.read_text())['contrast_view'] == 'auto'
    assert main([*args, '--contrast-view', 'none']) == 0
    assert json.loads(out.read_text())['contrast_view'] == 'none'


@pytest.mark.slow
def test_dask_workers_segment_with_the_view(tmp_path):
    pytest.importorskip('distributed')
    from napari_retina_vessels.io import imread

    photo = _photo(tmp_path / 'in')
    exact = {'av': True, 'device': 'cpu', 'precision': 'fp32'}
    labels = {}
    for name, extra in (
        ('none', {'contrast_view': 'none'}),
        ('clahe', {'contrast_view': 'clahe'}),
        ('dask', {'contrast_view': 'clahe', 'workers': 1}),
    ):
        res = run_batch([photo], tmp_path / name, **exact, **extra)
        assert res['done'] == 1
        labels[name] = imread(tmp_path / name / 'photo0_av.png')
    # The view changes the labels, and the worker used it.
    assert (labels['none'] != labels['clahe']).any()
    assert np.array_equal(labels['dask'], labels['clahe'])
    assert _marker(tmp_path / 'dask')['contrast_view'] == 'clahe'


class _Stop(Exception):
    pass


@pytest.mark.parametrize(
    ('command', 'module', 'function'),
    [
        ('segment', 'napari_retina_vessels.batch', 'run_batch'),
        ('measure', 'napari_retina_vessels.batch.measures', 'run_measures'),
        ('evaluate', 'napari_retina_vessels.evaluation', 'evaluate_dataset'),
    ],
)
def test_every_option_flag_reaches_its_driver(
    command, module, function, tmp_path, monkeypatch
):
    # The class of the bug: a flag made from FIELDS that its command
    # never hands on. Each option flag a command offers must arrive.
    import importlib

    from napari_retina_vessels.cli import build_parser
    from napari_retina_vessels.options import FIELDS

    seen = {}

    def capture(*args, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(importlib.import_module(module), function, capture)
    argv = [command, str(tmp_path)]
    if command != 'evaluate':
        argv += ['--out', str(tmp_path / 'out')]
    argv += ['--contrast-view', 'clahe', '--device', 'cpu']
    args = build_parser().parse_args(argv)
    offered = [k for k in FIELDS if hasattr(args, k)]
    assert 'contrast_view' in offered
    with pytest.raises(_Stop):
        main(argv)
    for key in offered:
        assert seen.get(key) == getattr(args, key), key
