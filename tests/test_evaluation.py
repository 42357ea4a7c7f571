"""Dataset evaluation: saved maps, the CLI, the model path, DRIVE."""

from __future__ import annotations

import csv
import json
import sys
import types

import numpy as np
import pytest

from napari_retina_vessels import metrics as M
from napari_retina_vessels._registry import DEFAULTS
from napari_retina_vessels.errors import (
    DatasetError,
    InvalidOptionError,
    RetinaVesselsError,
    ShapeMismatchError,
)
from napari_retina_vessels.evaluation import (
    evaluate_dataset,
    read_prediction,
    write_csv,
    write_text_atomic,
)
from napari_retina_vessels.io import imwrite

H, W = 48, 56


def _photo(rng, truth):
    """A fundus-like photo: bright disc, darker vessels, black border."""
    yy, xx = np.mgrid[:H, :W]
    fov = (yy - H / 2) ** 2 + (xx - W / 2) ** 2 < 21**2
    img = np.zeros((H, W, 3), np.uint8)
    img[fov] = (170, 80, 40)
    img[fov & truth] = (110, 40, 20)
    img = img.astype(np.int16) + rng.integers(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), fov


def _truth(rng):
    t = np.zeros((H, W), bool)
    for _ in range(4):
        r = rng.integers(8, H - 8)
        t[r : r + 2, 6 : W - 6] = True
        c = rng.integers(8, W - 8)
        t[6 : H - 6, c : c + 2] = True
    return t


def _prob(rng, truth, fov):
    p = np.clip(0.35 * rng.random(truth.shape) + 0.6 * truth, 0, 1)
    return (p * fov).astype(np.float32)


@pytest.fixture
def dataset(tmp_path):
    """A generic layout (images/ vessels/ masks/ av/) with 4 photos and
    saved predictions in four formats."""
    rng = np.random.default_rng(0)
    root = tmp_path / 'data'
    preds = tmp_path / 'preds'
    probs, truths, fovs, avs = {}, {}, {}, {}
    for i, fmt in enumerate(['png8', 'png16', 'tif', 'npy']):
        name = f'img{i}'
        truth = _truth(rng)
        photo, fov = _photo(rng, truth)
        prob = _prob(rng, truth, fov)
        av = np.where(truth, 1 + (np.arange(W) % 2 == 0)[None, :], 0)
        av = av.astype(np.uint8)
        imwrite(root / 'images' / f'{name}.png', photo)
        imwrite(root / 'vessels' / f'{name}.png', truth)
        imwrite(root / 'masks' / f'{name}.png', fov)
        imwrite(root / 'av' / f'{name}.png', av)
        if fmt == 'png8':
            saved = np.round(prob * 255).astype(np.uint8)
            imwrite(preds / f'{name}.png', saved)
            prob = saved
        elif fmt == 'png16':
            saved = np.round(prob * 65535).astype(np.uint16)
            imwrite(preds / f'{name}.png', saved)
            prob = saved
        elif fmt == 'tif':
            imwrite(preds / f'{name}.tif', prob)
        else:
            np.save(preds / f'{name}.npy', prob)
        # the saved A/V map: the truth's class, a fifth of it flipped,
        # where the saved probability calls a vessel
        flip = rng.random(av.shape) < 0.2
        guess = np.where((av == 2) ^ flip, 2, 1)
        pred_av = np.where(prob_bin(prob), guess, 0).astype(np.uint8)
        imwrite(preds / f'{name}_av.png', pred_av)
        probs[name], truths[name], fovs[name], avs[name] = (
            prob,
            truth,
            fov,
            (av, pred_av),
        )
    return types.SimpleNamespace(
        root=root, preds=preds, probs=probs, truths=truths, fovs=fovs, avs=avs
    )


def prob_bin(prob):
    scale = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
    return prob / scale.get(prob.dtype, 1) >= 0.5


def test_saved_maps_are_read_in_every_format(dataset):
    for name, prob in dataset.probs.items():
        path = next(dataset.preds.glob(f'{name}.*'))
        got = read_prediction(path)
        assert got.dtype == prob.dtype
        np.testing.assert_array_equal(got, prob)


def test_evaluate_saved_predictions(dataset):
    records = []
    rep = evaluate_dataset(
        dataset.root,
        predictions=dataset.preds,
        best_threshold=True,
        progress=records.append,
    )
    names = sorted(dataset.probs)
    assert rep['n_images'] == 4 and rep['model'] is None
    assert rep['predictions'] == str(dataset.preds)
    assert rep['layout'] == 'generic' and rep['split'] == 'all'
    assert [r['name'] for r in rep['images']] == names
    expected = M.dataset_metrics(
        [dataset.truths[n] for n in names],
        [dataset.probs[n] for n in names],
        masks=[dataset.fovs[n] for n in names],
        best_threshold=True,
    )
    for key in M.METRIC_KEYS:
        assert rep['pooled'][key] == pytest.approx(expected['pooled'][key])
    for row, exp in zip(rep['images'], expected['images'], strict=True):
        assert {k: row[k] for k in M.METRIC_KEYS} == pytest.approx(exp)
    assert rep['per_image_mean'] == pytest.approx(expected['per_image_mean'])
    assert rep['per_image_sd'] == pytest.approx(expected['per_image_sd'])
    assert rep['best_threshold'] == pytest.approx(expected['best_threshold'])
    assert 0.8 < rep['pooled']['auc'] <= 1.0
    assert rep['av'] is None  # not asked
    assert [(r.stage, r.done, r.total) for r in records] == [
        ('evaluate', i, 4) for i in range(5)
    ]
    json.dumps(rep, allow_nan=False)  # valid JSON: no NaN


def test_threshold_and_av_from_saved_labels(dataset):
    rep = evaluate_dataset(
        dataset.root, predictions=dataset.preds, threshold=0.3, av=True
    )
    assert rep['threshold'] == 0.3 and rep['pooled']['threshold'] == 0.3
    names = sorted(dataset.probs)
    exp = M.pooled_av_metrics(
        [dataset.avs[n][0] for n in names],
        [dataset.avs[n][1] for n in names],
        vessels_preds=[prob_bin_at(dataset.probs[n], 0.3) for n in names],
        masks=[dataset.fovs[n] for n in names],
    )
    assert rep['av'] == exp
    assert 0.6 < exp['all']['acc'] < 0.95  # the flips count
    assert 'av_all_acc' in rep['images'][0]
    assert rep['images'][0]['av_detected'] == pytest.approx(
        M.av_metrics(
            dataset.avs['img0'][0],
            dataset.avs['img0'][1],
            vessels_pred=prob_bin_at(dataset.probs['img0'], 0.3),
            mask=dataset.fovs['img0'],
        )['detected']
    )


def prob_bin_at(prob, thr):
    scale = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
    return prob.astype(np.float32) / scale.get(prob.dtype, 1) >= thr


def test_fov_computed_when_the_dataset_has_none(dataset):
    from napari_retina_vessels.fov import fov_mask
    from napari_retina_vessels.io import imread

    for f in (dataset.root / 'masks').iterdir():
        f.unlink()
    (dataset.root / 'masks').rmdir()
    rep = evaluate_dataset(dataset.root, predictions=dataset.preds)
    photo = imread(dataset.root / 'images' / 'img3.png')
    fov = fov_mask(photo)
    exp = M.vessel_metrics(
        dataset.truths['img3'], dataset.probs['img3'], mask=fov
    )
    row = rep['images'][3]
    assert {k: row[k] for k in M.METRIC_KEYS} == pytest.approx(exp)


def test_av_only_layout_has_no_vessel_part(dataset, tmp_path):
    import shutil

    shutil.rmtree(dataset.root / 'vessels')
    rep = evaluate_dataset(dataset.root, predictions=dataset.preds, av=True)
    assert rep['pooled'] is None and rep['per_image_mean'] is None
    assert rep['av']['all']['n'] > 0
    assert 'auc' not in rep['images'][0]


def test_missing_prediction_names_the_file(dataset):
    (dataset.preds / 'img2.tif').unlink()
    with pytest.raises(DatasetError, match=r'img2\.png'):
        evaluate_dataset(
            dataset.root, predictions=dataset.preds, strict=True
        )
    with pytest.raises(DatasetError, match='does not exist'):
        evaluate_dataset(dataset.root, predictions=dataset.root / 'nope')


def test_prediction_of_the_wrong_size(dataset):
    np.save(dataset.preds / 'img3.npy', np.zeros((H, W + 1), np.float32))
    with pytest.raises(ShapeMismatchError, match='img3'):
        evaluate_dataset(dataset.root, predictions=dataset.preds)


def test_workers_need_batch_map_images(dataset, monkeypatch):
    monkeypatch.setitem(
        sys.modules,
        'napari_retina_vessels.batch',
        types.ModuleType('napari_retina_vessels.batch'),
    )
    with pytest.raises(RetinaVesselsError, match='not available'):
        evaluate_dataset(dataset.root, predictions=dataset.preds, workers=2)
    calls = []

    def map_images(func, items, *, workers, scheduler, progress, stage):
        calls.append((len(items), workers, scheduler, stage))
        return [func(item) for item in items]

    fake = types.ModuleType('napari_retina_vessels.batch')
    fake.map_images = map_images
    monkeypatch.setitem(sys.modules, 'napari_retina_vessels.batch', fake)
    rep = evaluate_dataset(
        dataset.root,
        predictions=dataset.preds,
        scheduler='tcp://127.0.0.1:8786',
    )
    serial = evaluate_dataset(dataset.root, predictions=dataset.preds)
    assert calls == [(4, 0, 'tcp://127.0.0.1:8786', 'evaluate')]
    assert rep['pooled'] == serial['pooled']


@pytest.mark.slow
def test_local_dask_cluster(dataset):
    pytest.importorskip('distributed')
    records = []
    rep = evaluate_dataset(
        dataset.root,
        predictions=dataset.preds,
        workers=1,
        progress=records.append,
    )
    serial = evaluate_dataset(dataset.root, predictions=dataset.preds)
    assert rep['pooled'] == serial['pooled']
    assert rep['images'][0]['name'] == 'img0'
    assert (records[-1].stage, records[-1].done) == ('evaluate', 4)


def test_write_csv_and_text_atomic(dataset, tmp_path):
    rep = evaluate_dataset(dataset.root, predictions=dataset.preds, av=True)
    out = write_csv(rep, tmp_path / 'sub' / 'rows.csv')
    rows = list(csv.DictReader(out.open()))
    assert [r['name'] for r in rows] == sorted(dataset.probs)
    assert float(rows[0]['auc']) == pytest.approx(
        rep['images'][0]['auc'], abs=1e-6
    )
    assert 'av_intersection_se' in rows[0]
    path = write_text_atomic(tmp_path / 'a.txt', 'hello\n')
    assert path.read_text() == 'hello\n'
    assert [
        p.name for p in tmp_path.iterdir() if p.name.startswith('.')
    ] == []  # no temporary file left


def test_cli_evaluate_predictions(dataset, tmp_path, capsys):
    from napari_retina_vessels.cli import main

    out_json, out_csv = tmp_path / 'r.json', tmp_path / 'r.csv'
    code = main(
        [
            'evaluate',
            str(dataset.root),
            '--predictions',
            str(dataset.preds),
            '--json',
            str(out_json),
            '--csv',
            str(out_csv),
            '--best-threshold',
        ]
    )
    assert code == 0
    rep = json.loads(out_json.read_text())
    assert rep['n_images'] == 4 and rep['best_threshold']['f1'] > 0
    assert len(out_csv.read_text().splitlines()) == 5
    out = capsys.readouterr().out
    assert 'pooled' in out and 'AUC' in out and 'best threshold' in out
    assert '"images"' not in out  # a short table, not the JSON


def test_cli_evaluate_prints_a_short_table(dataset, capsys):
    from napari_retina_vessels.cli import main

    code = main(
        [
            'evaluate',
            str(dataset.root),
            '--predictions',
            str(dataset.preds),
            '--av',
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) < 15 and '{' not in out
    assert 'per-image mean' in out and 'intersection' in out


def test_segment_output_names_are_scored(dataset, tmp_path):
    """``retina-vessels segment`` writes <stem>_prob.png: --predictions
    takes such a folder as it is."""
    renamed = tmp_path / 'segment_out'
    renamed.mkdir()
    for f in dataset.preds.iterdir():
        stem, ext = f.name.split('.')
        if not stem.endswith('_av'):
            stem += '_prob'
        (renamed / f'{stem}.{ext}').write_bytes(f.read_bytes())
    direct = evaluate_dataset(dataset.root, predictions=dataset.preds, av=True)
    chained = evaluate_dataset(dataset.root, predictions=renamed, av=True)
    assert chained['pooled'] == direct['pooled']
    assert chained['av'] == direct['av']


def test_av_without_av_labels_is_an_error(dataset, tmp_path, capsys):
    import shutil

    from napari_retina_vessels.cli import main

    shutil.rmtree(dataset.root / 'av')
    with pytest.raises(DatasetError, match='no artery/vein labels'):
        evaluate_dataset(dataset.root, predictions=dataset.preds, av=True)
    code = main(
        [
            'evaluate',
            str(dataset.root),
            '--predictions',
            str(dataset.preds),
            '--av',
        ]
    )
    assert code == 1
    assert 'drop --av' in capsys.readouterr().err


def test_cli_missing_prediction_exit_code(dataset, capsys):
    from napari_retina_vessels.cli import main

    (dataset.preds / 'img1.png').unlink()
    args = ['evaluate', str(dataset.root), '--predictions', str(dataset.preds)]
    code = main([*args, '--strict'])
    assert code == 1
    err = capsys.readouterr().err
    assert 'img1.png' in err and 'Traceback' not in err


def test_partial_predictions_score_the_photos_that_have_maps(
    dataset, capsys
):
    """Without --strict the photos with a saved map are scored and the
    others listed; a folder with no map at all still fails."""
    from napari_retina_vessels.cli import main

    full = evaluate_dataset(dataset.root, predictions=dataset.preds)
    assert full['missing_predictions'] == []
    (dataset.preds / 'img1.png').unlink()
    rep = evaluate_dataset(dataset.root, predictions=dataset.preds)
    assert rep['missing_predictions'] == ['img1']
    assert [r['name'] for r in rep['images']] == [
        r['name'] for r in full['images'] if r['name'] != 'img1'
    ]
    assert rep['n_images'] == full['n_images'] - 1
    # Each photo scored scores as in the full run.
    by_name = {r['name']: r for r in full['images']}
    for row in rep['images']:
        assert row['f1'] == pytest.approx(by_name[row['name']]['f1'])
    code = main(
        ['evaluate', str(dataset.root), '--predictions', str(dataset.preds)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert 'not scored, no saved map (1): img1' in out
    for path in dataset.preds.iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match='no prediction'):
        evaluate_dataset(dataset.root, predictions=dataset.preds)


@pytest.mark.slow
def test_model_path_on_tiny_photos(dataset):
    rep = evaluate_dataset(dataset.root, device='cpu')
    assert rep['model'] == DEFAULTS['vessels']
    assert len(rep['weights_sha256']) == 64 and rep['device'] == 'cpu'
    assert rep['n_images'] == 4 and rep['predictions'] is None
    assert 0.0 <= rep['pooled']['auc'] <= 1.0
    assert rep['threshold'] == rep['pooled']['threshold']


@pytest.mark.slow
def test_cli_av_vote_is_run_and_recorded(dataset, tmp_path):
    from napari_retina_vessels.cli import main

    reports = {}
    for vote in ('segment', 'graph'):
        out = tmp_path / f'{vote}.json'
        args = ['evaluate', str(dataset.root), '--av', '--device', 'cpu']
        code = main([*args, '--av-vote', vote, '--json', str(out)])
        assert code == 0
        reports[vote] = json.loads(out.read_text())
        assert reports[vote]['av_vote'] == vote
    # The vessel figures do not depend on the vote.
    assert reports['segment']['pooled'] == reports['graph']['pooled']
    with pytest.raises(InvalidOptionError, match='graph, segment, none'):
        evaluate_dataset(dataset.root, av=True, consistency='majority')


@pytest.mark.data
def test_drive_ground_truth_as_prediction(data_root, tmp_path):
    from napari_retina_vessels.io.datasets import discover, load_sample

    folder = data_root / 'DRIVE' / 'test'
    if not folder.is_dir():
        pytest.skip(f'{folder} not found')
    samples = discover(folder)
    for s in samples:
        imwrite(tmp_path / f'{s.name}.png', load_sample(s)['vessels'])
    rep = evaluate_dataset(folder, predictions=tmp_path, best_threshold=True)
    assert rep['n_images'] == len(samples) == 20
    assert rep['pooled']['auc'] == 1.0 and rep['pooled']['f1'] == 1.0
    assert rep['pooled']['cldice'] == 1.0
    assert rep['per_image_mean']['auc'] == 1.0


def test_evaluate_view_options_warn_about_nothing(dataset, capsys):
    """evaluate's --vessel-views / --av-views reach the engine as one
    SegmentOptions: no DeprecationWarning for the CLI user (#29)."""
    import warnings

    from napari_retina_vessels.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter('error', DeprecationWarning)
        rep = evaluate_dataset(
            dataset.root, device='cpu', vessel_views=1, av_views=1
        )
    assert rep['n_images'] == 4
    args = ['evaluate', str(dataset.root), '--device', 'cpu']
    assert main([*args, '--vessel-views', '1']) == 0
    assert 'Deprecat' not in capsys.readouterr().err
