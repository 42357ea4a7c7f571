"""The colour/illumination augmentation of other cameras (#28)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synthetic import tiny_config, write_training_set

from napari_retina_vessels.errors import TrainingConfigError
from napari_retina_vessels.training import colour as C
from napari_retina_vessels.training import data as D
from napari_retina_vessels.training.loop import train


def _fundus_crop():
    g = torch.Generator().manual_seed(0)
    rgb = torch.empty(3, 64, 64)
    rgb[0], rgb[1], rgb[2] = 0.7, 0.35, 0.15
    rgb = rgb + 0.05 * torch.rand(3, 64, 64, generator=g)
    rgb[:, 30:34, :] *= 0.6  # a vessel
    return rgb.clamp(0, 1), torch.ones(64, 64)


def test_casts_stay_in_range_and_cover_the_effects(monkeypatch):
    rgb, fov = _fundus_crop()
    outs = [
        C.colour_cast(rgb, fov, np.random.default_rng(s)) for s in range(60)
    ]
    assert all(o.shape == rgb.shape for o in outs)
    assert all(float(o.min()) >= 0 and float(o.max()) <= 1 for o in outs)
    blue = [float(o[2].mean() / rgb[2].mean()) for o in outs]
    contrast = [
        float(
            (o[1, 10].mean() - o[1, 31].mean())
            / (rgb[1, 10] - rgb[1, 31]).mean()
        )
        for o in outs
    ]
    # some crops lose most of their blue (yellow-green cast), some most
    # of their vessel contrast (low contrast, haze), some are untouched
    assert min(blue) < 0.5
    assert min(contrast) < 0.5
    assert any(torch.equal(o, rgb) for o in outs)


def test_each_effect_alone(monkeypatch):
    rgb, fov = _fundus_crop()
    names = ('P_YELLOW', 'P_GREY', 'P_HAZE', 'P_LOW', 'P_GAMMA', 'P_RECORD')
    for n in names:
        monkeypatch.setattr(C, n, 0.0)

    def only(name):
        monkeypatch.setattr(C, name, 1.0)
        out = C.colour_cast(rgb, fov, np.random.default_rng(1))
        monkeypatch.setattr(C, name, 0.0)
        return out

    yellow = only('P_YELLOW')
    assert float(yellow[2].mean()) < 0.6 * float(rgb[2].mean())
    grey = only('P_GREY')
    assert float(grey.std(0).mean()) < float(rgb.std(0).mean())
    low = only('P_LOW')
    assert float(low[1].std()) < 0.8 * float(rgb[1].std())
    haze = only('P_HAZE')
    assert float(haze[2].mean()) > float(rgb[2].mean())  # a bright veil
    rec = only('P_RECORD')
    assert torch.allclose(rec * 255, torch.round(rec * 255), atol=1e-4)
    gam = only('P_GAMMA')
    assert not torch.allclose(gam, rgb)


def test_weakened_vessel_map_fades_faint_vessels_first():
    vp = torch.tensor([0.2, 0.5, 0.9])
    rng = np.random.default_rng(0)
    outs = [C.weaken_vessel_map(vp, rng, p=1.0) for _ in range(10)]
    for o in outs:
        assert bool((o <= vp).all())
        assert float(o[0] / vp[0]) < float(o[2] / vp[2])
    assert torch.equal(C.weaken_vessel_map(vp, rng, p=0.0), vp)


def test_sampler_option_keeps_the_old_recipe_stream():
    t = torch.rand(9, 120, 120, generator=torch.Generator().manual_seed(0))
    t[D.FOV] = 1
    prep = D.from_tensor('x', t, task='av')
    kw = {'task': 'av', 'size': 48, 'input_mode': 'local', 'seed': 4}
    torch.manual_seed(0)
    old = D.PatchSampler([prep], **kw).batch(2)[0]
    torch.manual_seed(0)
    same = D.PatchSampler([prep], augment='camera', **kw).batch(2)[0]
    torch.manual_seed(0)
    new = D.PatchSampler([prep], augment='colour', **kw).batch(2)[0]
    assert torch.equal(old, same)
    assert not torch.equal(old, new) and bool(torch.isfinite(new).all())


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp('synthetic'))


def test_colour_needs_local_input_and_unknown_is_refused(tmp_path, data):
    with pytest.raises(TrainingConfigError, match='--input local'):
        train(tiny_config(tmp_path, data, augment='colour'))
    with pytest.raises(TrainingConfigError, match='camera, colour'):
        train(tiny_config(tmp_path, data, augment='hue', input='local'))
    assert not (tmp_path / 'run' / 'config.json').exists()


def test_colour_run_trains_and_records_the_option(tmp_path, data):
    import json

    cfg = tiny_config(tmp_path, data, augment='colour', input='local')
    train(cfg)
    saved = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert saved['augment'] == 'colour'


def test_cli_passes_augment(tmp_path, data):
    import json

    from synthetic import TINY_TRAIN_ARGS

    from napari_retina_vessels.cli import main

    out = tmp_path / 'cli'
    args = ['train', str(data), '--out', str(out), *TINY_TRAIN_ARGS]
    code = main([*args, '--channels', '4,8', '--augment', 'colour'])
    assert code != 0  # the global input is refused, in one line
    assert not (out / 'config.json').exists()
    code = main(
        [*args, '--channels', '4,8', '--augment', 'colour', '--input', 'local']
    )
    assert code == 0
    assert json.loads((out / 'config.json').read_text())['augment'] == 'colour'
