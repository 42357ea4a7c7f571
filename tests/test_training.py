"""The training loop on tiny synthetic datasets: a few steps, no learning.

Checks the run folder's files, exact resume, fine-tuning (``init``), the
loss variants and the A/V task; real training runs are in ``scripts/``.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from synthetic import (
    TINY_TRAIN_ARGS,
    fake_fundus,
    tiny_config,
    write_training_set,
)

from napari_retina_vessels import segment
from napari_retina_vessels.cli import main
from napari_retina_vessels.io import imwrite
from napari_retina_vessels.training import loop, losses
from napari_retina_vessels.training.loop import train
from napari_retina_vessels.weights import load_model


def _rows(path):
    with open(path, newline='') as fh:
        return list(csv.DictReader(fh))


def _state(path, params_only=False):
    state = torch.load(path, weights_only=True)['state_dict']
    if params_only:  # BatchNorm statistics move even when lr is 0
        state = {
            k: v
            for k, v in state.items()
            if 'running_' not in k and 'num_batches' not in k
        }
    return state


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp('synthetic'))


def test_run_folder_files_and_weights_usable(tmp_path, data):
    lines = []
    best = train(tiny_config(tmp_path, data), log=lines.append)
    run = tmp_path / 'run'
    assert best == run / 'best.pt'
    for f in ('best.pt', 'last.pt', 'checkpoint.pt', 'config.json', 'log.csv'):
        assert (run / f).is_file(), f
    rows = _rows(run / 'log.csv')
    assert [int(r['step']) for r in rows] == [2, 4]
    assert all(0 <= float(r['val']) <= 1 for r in rows)
    assert lines[0] == '2 training and 1 validation photos'
    # The exported file is a weights_only file the pipeline can use.
    model, info = load_model(best)
    assert info['arch'] == 'wnet' and not model.training
    seg = segment(fake_fundus(120, 128, seed=7), model=str(best), av=False)
    assert seg.probability.shape == (120, 128)
    assert json.loads((run / 'config.json').read_text())['steps'] == 4


def test_resume_continues_exactly(tmp_path, data, monkeypatch):
    straight = tiny_config(tmp_path, data, name='straight')
    train(straight, log=lambda s: None)

    # The same run killed right after its step-2 checkpoint...
    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, '_plot', killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path, data, name='part'), log=lambda s: None)
    monkeypatch.undo()
    # ...then resumed: the schedule comes from config.json, not from here.
    lines = []
    train(
        tiny_config(tmp_path, data, name='part', steps=999),
        resume=True,
        log=lines.append,
    )
    assert any(s.startswith('resumed at step 2') for s in lines)
    a, b = (
        _state(tmp_path / 'straight/last.pt'),
        _state(tmp_path / 'part/last.pt'),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = _rows(tmp_path / 'part' / 'log.csv')
    assert [int(r['step']) for r in rows] == [2, 4]


def test_init_starts_from_given_weights(tmp_path, data):
    first = train(
        tiny_config(tmp_path, data, name='first'), log=lambda s: None
    )
    lines = []
    # lr ~0 (the schedule's floor is 1e-5): the weights barely move.
    train(
        tiny_config(tmp_path, data, name='tuned', init=str(first), lr=0.0),
        log=lines.append,
    )
    assert f'initialised from {first}' in lines
    saved = torch.load(tmp_path / 'tuned' / 'best.pt', weights_only=True)
    assert saved['meta']['init'] == str(first)
    a = _state(first, params_only=True)
    b = _state(tmp_path / 'tuned' / 'last.pt', params_only=True)
    assert all(torch.allclose(a[k], b[k], atol=1e-3) for k in a)
    fresh = train(
        tiny_config(tmp_path, data, name='fresh', lr=0.0), log=lambda s: None
    )
    c = _state(fresh, params_only=True)
    assert not all(torch.allclose(a[k], c[k], atol=1e-3) for k in a)


def test_init_with_other_widths_is_a_clear_error(tmp_path, data):
    first = train(
        tiny_config(tmp_path, data, name='first'), log=lambda s: None
    )
    cfg = tiny_config(
        tmp_path,
        data,
        name='wide',
        init=str(first),
        arch_kwargs={'channels': [8, 16]},
    )
    with pytest.raises(ValueError, match='cannot start from .*--arch'):
        train(cfg, log=lambda s: None)


def test_ensembles_are_assembled_not_trained(tmp_path, data):
    with pytest.raises(ValueError, match='make_ensemble'):
        train(
            tiny_config(
                tmp_path, data, arch='ensemble', arch_kwargs={'member': 'wnet'}
            ),
            log=lambda s: None,
        )


def test_cli_errors_are_one_line(tmp_path, data, capsys):
    rc = main(
        ['train', data, '--arch', 'ensemble', '--out', str(tmp_path / 'e')]
    )
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert 'make_ensemble' in err and len(err.splitlines()) == 1
    unlabelled = tmp_path / 'unlabelled'
    imwrite(unlabelled / 'images' / 'a.png', fake_fundus(120, 128))
    rc = main(
        [
            'train',
            f'{unlabelled}:all',
            '--steps',
            '1',
            '--out',
            str(tmp_path / 'u'),
        ]
    )
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert 'has no vessel labels' in err and len(err.splitlines()) == 1


def test_unknown_loss_is_refused(tmp_path, data):
    with pytest.raises(ValueError, match="unknown loss 'focal'"):
        train(tiny_config(tmp_path, data, loss='focal'), log=lambda s: None)


def test_bce_loss_is_masked_bce_without_dice():
    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(2, 1, 8, 8, generator=g) for _ in range(2)]
    y = (torch.rand(2, 1, 8, 8, generator=g) > 0.7).float()
    fov = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    fov[..., :2] = False
    tgt = {'vessel': y, 'fov': fov}
    want = np.mean(
        [
            torch.nn.functional.binary_cross_entropy_with_logits(
                lg[fov], y[fov]
            ).item()
            for lg in logits
        ]
    )
    assert losses.vessel_loss(logits, tgt, dice=False).item() == (
        pytest.approx(want, rel=1e-6)
    )
    assert losses.vessel_loss(logits, tgt).item() > want


def test_av_task_trains_on_image_and_vessel_map(tmp_path):
    data = write_training_set(tmp_path / 'av', av=True)
    vessels = train(
        tiny_config(tmp_path, data, name='vessels'), log=lambda s: None
    )
    best = train(
        tiny_config(
            tmp_path,
            data,
            name='av',
            arch='seqnet-av',
            task='av',
            vessel_weights=str(vessels),
        ),
        log=lambda s: None,
    )
    model, info = load_model(best, task='av')
    assert info['arch'] == 'seqnet-av'
    seg = segment(
        fake_fundus(120, 128, seed=5), model=str(vessels), av_model=str(best)
    )
    assert set(np.unique(seg.artery_vein)) <= {0, 1, 2, 3}


def test_cli_train_passes_init_and_loss(tmp_path, data, capsys):
    first = train(
        tiny_config(tmp_path, data, name='first'), log=lambda s: None
    )
    out = tmp_path / 'cli'
    rc = main(
        [
            'train',
            data,
            '--arch',
            'wnet',
            '--channels',
            '4,8',
            *TINY_TRAIN_ARGS,
            '--init',
            str(first),
            '--loss',
            'bce',
            '--out',
            str(out),
        ]
    )
    assert rc == 0
    saved = json.loads((out / 'config.json').read_text())
    assert saved['init'] == str(first) and saved['loss'] == 'bce'
    captured = capsys.readouterr()
    assert 'best weights:' in captured.out
    # a progress bar with the running loss and the speed
    assert 'train' in captured.err and 'loss' in captured.err
    assert '2/2' in captured.err
    assert 'step/s' in captured.err or 's/step' in captured.err


def test_cli_init_alone_takes_architecture_from_the_weights(tmp_path):
    data = write_training_set(tmp_path / 'av', av=True, n=2)
    vessels = train(
        tiny_config(tmp_path, data, name='v', val_per_dataset=0),
        log=lambda s: None,
    )
    av = train(
        tiny_config(
            tmp_path,
            data,
            name='a',
            arch='seqnet-av',
            task='av',
            arch_kwargs={'channels': [4, 8, 8]},
            val_per_dataset=0,
            vessel_weights=str(vessels),
        ),
        log=lambda s: None,
    )
    out = tmp_path / 'tuned'
    rc = main(
        [
            'train',
            data,
            '--init',
            str(av),
            '--vessel-model',
            str(vessels),
            '--steps',
            '2',
            '--batch',
            '2',
            '--patch',
            '48',
            '--threads',
            '1',
            '--out',
            str(out),
        ]
    )
    assert rc == 0
    saved = json.loads((out / 'config.json').read_text())
    assert saved['arch'] == 'seqnet-av' and saved['task'] == 'av'
    assert saved['arch_kwargs'] == {'channels': [4, 8, 8]}


def test_local_input_is_recorded_and_used_at_inference(tmp_path, data):
    from napari_retina_vessels.inference import predict
    from napari_retina_vessels.preprocessing import (
        canonical_scale,
        local_standardise,
        resize,
        scaled_shape,
        standardise,
    )

    best = train(tiny_config(tmp_path, data, input='local'))
    saved = torch.load(best, weights_only=True)
    assert saved['input'] == 'local'
    model, info = load_model(best)
    assert info['input'] == 'local'
    img = fake_fundus(120, 128, seed=5)
    fov = img.sum(-1) > 30
    seg = segment(img, model=str(best), av=False, fov=fov)
    # The pipeline fed the network the local normalisation.
    rgb = img.astype(np.float32) / 255
    shape = scaled_shape(rgb.shape, canonical_scale(fov))
    fov_s = resize(fov.astype(np.float32), shape) > 0.5
    x = local_standardise(resize(rgb, shape), fov_s)
    gen = predict(model, x, device=torch.device('cpu'), tta=2)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        logits = stop.value
    prob_s = (1 / (1 + np.exp(-logits[0])) * fov_s).astype(np.float32)
    prob = np.clip(resize(prob_s, fov.shape), 0, 1) * fov
    np.testing.assert_allclose(seg.probability, prob, atol=1e-5)
    # ... which differs from what the global normalisation gives.
    x_glob = standardise(resize(rgb, shape), fov_s)
    assert np.abs(x - x_glob).mean() > 0.1


def test_local_sampler_crops_are_standardised(data):
    from napari_retina_vessels.io.datasets import discover
    from napari_retina_vessels.training import data as D

    preps = [D.prepare(s) for s in discover(data.split(':')[0])]
    x, tgt = D.PatchSampler(
        preps, task='vessels', size=48, input_mode='local'
    ).batch(4)
    assert x.shape == (4, 3, 48, 48) and tgt['vessel'].shape == (4, 1, 48, 48)
    inside = x[tgt['fov'].expand_as(x)]
    assert torch.isfinite(x).all() and (x[~tgt['fov'].expand_as(x)] == 0).all()
    assert abs(float(inside.mean())) < 0.3 and 0.5 < float(inside.std()) < 1.5


def test_camera_augmentation_only_for_the_av_stage():
    from napari_retina_vessels.training import data as D

    assert D.PatchSampler([], task='av').camera_aug
    assert not D.PatchSampler([], task='vessels').camera_aug
    rng = np.random.default_rng(0)
    mix = D._colour_response(rng)
    # Rows sum to one: grey stays grey whatever the camera.
    np.testing.assert_allclose(mix.sum(1).numpy(), 1, atol=1e-6)
    grey = torch.full((3, 40, 40), 0.5)
    out = torch.einsum('ij,jhw->ihw', mix, grey)
    np.testing.assert_allclose(out.numpy(), 0.5, atol=1e-6)
    # Resolution loss and JPEG keep the shape and the range, and change
    # a textured crop.
    tex = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    outs = [D._optics(tex, np.random.default_rng(s)) for s in range(8)]
    assert all(o.shape == tex.shape for o in outs)
    assert all(float(o.min()) >= 0 and float(o.max()) <= 1 for o in outs)
    assert any(float((o - tex).abs().mean()) > 0.01 for o in outs)
    jpg = D._jpeg(tex, 30)
    assert jpg.shape == tex.shape and float((jpg - tex).abs().mean()) > 0.01


def test_unknown_input_normalisation_is_refused(tmp_path, data):
    with pytest.raises(ValueError, match='input normalisation'):
        train(tiny_config(tmp_path, data, input='clahe'))
    assert not (tmp_path / 'run' / 'config.json').exists()


def test_cli_init_takes_input_normalisation_from_the_weights(tmp_path, data):
    first = train(tiny_config(tmp_path, data, name='a', input='local'))
    out = tmp_path / 'b'
    assert (
        main(
            [
                'train',
                data,
                '--init',
                str(first),
                '--out',
                str(out),
                *TINY_TRAIN_ARGS,
            ]
        )
        == 0
    )
    assert json.loads((out / 'config.json').read_text())['input'] == 'local'


def test_cli_init_with_its_own_arch_name_keeps_its_widths(tmp_path, data):
    first = train(tiny_config(tmp_path, data, name='a'))
    widths = json.loads((tmp_path / 'a' / 'config.json').read_text())
    out = tmp_path / 'b'
    # Naming the architecture of --init without widths means its widths,
    # not the architecture's defaults (which would not load).
    assert (
        main(
            [
                'train',
                data,
                '--init',
                str(first),
                '--arch',
                widths['arch'],
                '--input',
                'local',
                '--out',
                str(out),
                *TINY_TRAIN_ARGS,
            ]
        )
        == 0
    )
    cfg = json.loads((out / 'config.json').read_text())
    assert cfg['arch_kwargs'] == widths['arch_kwargs']


def test_cache_entries_of_two_datasets_training_folders_differ():
    from napari_retina_vessels.training.cache import key

    rite = key('data/RITE/training:all', 'av', 'weights/v.pt')
    hrf = key('data/HRF-AV/training:all', 'av', 'weights/v.pt')
    assert rite != hrf
    assert rite == 'RITE_training-all-av-v'
    # A dataset root keeps its plain name, on any parent folder.
    assert key('/x/DRIVE:train', 'vessels') == 'DRIVE-train-vessels'
    assert key('y/DRIVE:train', 'vessels') == 'DRIVE-train-vessels'
