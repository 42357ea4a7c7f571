"""Every registered architecture, and ensembles of trained networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import fake_fundus

from napari_retina_vessels import segment
from napari_retina_vessels.models import ARCHITECTURES, build_model
from napari_retina_vessels.training.ensemble import average, combine
from napari_retina_vessels.weights import load_model

SCRIPTS = Path(__file__).resolve().parents[1] / 'scripts'

SMALL = {
    'wnet': ({'channels': [4, 8, 16]}, 3, 1, 2),
    'unet': ({'base': 4}, 3, 1, 1),
    'iternet': ({'base': 4, 'iterations': 2}, 3, 1, 3),
    'serr-unet': ({'base': 4}, 3, 1, 1),
    'seqnet-av': ({'channels': [4, 8, 16]}, 4, 2, 2),
    'ensemble': ({'member': 'wnet', 'n': 3, 'channels': [4, 8]}, 3, 1, 1),
}


def test_every_architecture_is_covered():
    assert set(SMALL) == set(ARCHITECTURES)


@pytest.mark.parametrize('arch', sorted(SMALL))
def test_outputs_are_full_size_logits(arch):
    kwargs, cin, cout, n_out = SMALL[arch]
    torch.manual_seed(0)
    model = build_model(arch, **kwargs).eval()
    # Sizes that are multiples of 8, as the inference engine pads them.
    x = torch.randn(2, cin, 48, 40)
    with torch.no_grad():
        outs = model(x)
    assert isinstance(outs, list) and len(outs) == n_out
    for o in outs:
        assert o.shape == (2, cout, 48, 40)
        assert torch.isfinite(o).all()


@pytest.mark.parametrize('arch', sorted(SMALL))
def test_batchnorm_fusion_keeps_the_outputs(arch):
    from torch import nn

    from napari_retina_vessels.models._blocks import fuse_batchnorm

    kwargs, cin, _, _ = SMALL[arch]
    torch.manual_seed(0)
    model = build_model(arch, **kwargs)
    # Non-trivial BatchNorm statistics and affine parameters.
    with torch.no_grad():
        model(torch.randn(2, cin, 48, 40) * 3 + 1)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.randn(2, cin, 48, 40)
    with torch.no_grad():
        want = model(x)
        n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        fused = fuse_batchnorm(model)
        got = fused(x)
    assert n_bn > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    for w, g in zip(want, got, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match='eval mode'):
        fuse_batchnorm(build_model(arch, **kwargs).train())


def test_loaded_models_are_fused_unless_asked(tmp_path):
    from torch import nn

    _, data = _member(1, tmp_path, 'a.pt')
    fused, _ = load_model(tmp_path / 'a.pt')
    plain, _ = load_model(tmp_path / 'a.pt', fuse=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    # The unfused one is the trained layout, to fine-tune from.
    assert plain.state_dict().keys() == data['state_dict'].keys()
    x = torch.randn(1, 3, 40, 48).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(
            fused(x)[-1], plain(x)[-1], rtol=1e-4, atol=1e-4
        )


def test_default_widths_parameter_counts():
    counts = {
        a: sum(p.numel() for p in build_model(a).parameters())
        for a in ('wnet', 'unet', 'iternet', 'serr-unet', 'seqnet-av')
    }
    # Small enough to run on a laptop CPU; the W-Net default is tiny.
    assert counts['wnet'] < 100_000
    assert all(c < 3_000_000 for c in counts.values())


def _member(seed, tmp_path, name):
    torch.manual_seed(seed)
    net = build_model('wnet', channels=[4, 8])
    # Non-trivial BatchNorm statistics, as after training.
    net.train()
    with torch.no_grad():
        net(torch.randn(4, 3, 32, 32) * (1 + seed))
    data = {
        'arch': 'wnet',
        'arch_kwargs': {'channels': [4, 8]},
        'task': 'vessels',
        'state_dict': net.state_dict(),
        'meta': {'seed': seed},
    }
    torch.save(data, tmp_path / name)
    return net.eval(), data


def test_ensemble_is_the_mean_of_its_members(tmp_path):
    a, da = _member(1, tmp_path, 'a.pt')
    b, db = _member(2, tmp_path, 'b.pt')
    data = combine([da, db])
    assert data['arch'] == 'ensemble'
    assert data['arch_kwargs'] == {
        'member': 'wnet',
        'n': 2,
        'channels': [4, 8],
    }
    assert data['meta']['members'] == [{'seed': 1}, {'seed': 2}]
    torch.save(data, tmp_path / 'ens.pt')
    ens, info = load_model(tmp_path / 'ens.pt')
    assert info['arch'] == 'ensemble'
    x = torch.randn(1, 3, 40, 48)
    with torch.no_grad():
        want = (a(x)[-1] + b(x)[-1]) / 2
        got = ens(x)
    assert len(got) == 1
    torch.testing.assert_close(got[0], want)
    seg = segment(fake_fundus(), model=str(tmp_path / 'ens.pt'), av=False)
    assert seg.probability.shape == (300, 320)
    assert np.isfinite(seg.probability).all()


def test_ensemble_members_must_match(tmp_path):
    _, da = _member(1, tmp_path, 'a.pt')
    db = {**da, 'arch_kwargs': {'channels': [4, 8, 16]}}
    with pytest.raises(ValueError, match='must share'):
        combine([da, db])
    with pytest.raises(ValueError, match='no members'):
        combine([])
    with pytest.raises(ValueError, match='cannot ensemble'):
        build_model('ensemble', member='ensemble')


def _make_ensemble(*args) -> None:
    """Run scripts/make_ensemble.py with these arguments."""
    import runpy
    import sys

    argv = sys.argv
    sys.argv = ['make_ensemble.py', *map(str, args)]
    try:
        runpy.run_path(str(SCRIPTS / 'make_ensemble.py'), run_name='__main__')
    finally:
        sys.argv = argv


def test_make_ensemble_script(tmp_path):
    _member(1, tmp_path, 'a.pt')
    _member(2, tmp_path, 'b.pt')
    out = tmp_path / 'e.pt'
    _make_ensemble(out, tmp_path / 'a.pt', tmp_path / 'b.pt')
    _, info = load_model(out)
    assert info['arch'] == 'ensemble'


def test_weight_average_is_one_network_with_mean_parameters(tmp_path):
    a, da = _member(1, tmp_path, 'a.pt')
    b, db = _member(2, tmp_path, 'b.pt')
    da['input'] = db['input'] = 'local'
    data = average([da, db])
    assert data['arch'] == 'wnet'
    assert data['arch_kwargs'] == {'channels': [4, 8]}
    assert data['input'] == 'local'
    assert data['meta']['average_of'] == [{'seed': 1}, {'seed': 2}]
    sa, sb, s = da['state_dict'], db['state_dict'], data['state_dict']
    assert list(s) == list(sa)
    for k in s:
        if sa[k].is_floating_point():
            torch.testing.assert_close(s[k], (sa[k] + sb[k]) / 2)
        else:  # BatchNorm batch counters are copied, not averaged
            assert s[k].dtype == sa[k].dtype and torch.equal(s[k], sa[k])
    torch.save(data, tmp_path / 'soup.pt')
    net, info = load_model(tmp_path / 'soup.pt', fuse=False)
    assert info['arch'] == 'wnet' and info['input'] == 'local'
    assert all(torch.equal(v, s[k]) for k, v in net.state_dict().items())
    seg = segment(fake_fundus(), model=str(tmp_path / 'soup.pt'), av=False)
    assert np.isfinite(seg.probability).all()
    # Averaging one network gives it back.
    one = average([da])['state_dict']
    assert all(torch.equal(one[k], sa[k]) for k in sa)


def test_weight_average_refuses_unlike_members(tmp_path):
    _, da = _member(1, tmp_path, 'a.pt')
    with pytest.raises(ValueError, match='must share'):
        average([da, {**da, 'input': 'local'}])
    extra = {**da, 'state_dict': {**da['state_dict'], 'x': torch.zeros(1)}}
    with pytest.raises(ValueError, match='different parameters'):
        average([da, extra])
    with pytest.raises(ValueError, match='no members'):
        average([])


def test_make_ensemble_script_averages(tmp_path):
    _, da = _member(1, tmp_path, 'a.pt')
    _, db = _member(2, tmp_path, 'b.pt')
    out = tmp_path / 's.pt'
    _make_ensemble('--average', out, tmp_path / 'a.pt', tmp_path / 'b.pt')
    _, info = load_model(out)
    assert info['arch'] == 'wnet'
    got = torch.load(out, weights_only=True)['state_dict']
    k = next(iter(got))
    torch.testing.assert_close(
        got[k], (da['state_dict'][k] + db['state_dict'][k]) / 2
    )


# -- the CPU inference path's pooling and upsampling -------------------------


@pytest.mark.parametrize('size', [(48, 40), (47, 41), (2, 2), (9, 3)])
@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_max_pool2_equals_pytorch(size, dtype):
    import torch.nn.functional as F

    from napari_retina_vessels.models._blocks import max_pool2

    torch.manual_seed(1)
    x = torch.randn(2, 5, *size).to(dtype)
    for xx in (x, x.contiguous(memory_format=torch.channels_last)):
        assert torch.equal(max_pool2(xx), F.max_pool2d(xx, 2))


@pytest.mark.parametrize('size', [(24, 20), (1, 1), (1, 6), (7, 3)])
def test_upsample2_cat_equals_interpolate_then_cat(size):
    import torch.nn.functional as F

    from napari_retina_vessels.models._blocks import upsample2_cat

    torch.manual_seed(2)
    h, w = size
    x = torch.randn(2, 6, h, w).contiguous(memory_format=torch.channels_last)
    skip = torch.randn(2, 3, 2 * h, 2 * w)
    want = torch.cat(
        [F.interpolate(x, size=(2 * h, 2 * w), mode='bilinear'), skip], 1
    )
    got = upsample2_cat(x, skip)
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    # bfloat16: the row pass is rounded once more than PyTorch's kernel.
    xb, sb = x.bfloat16(), skip.bfloat16()
    want_b = torch.cat(
        [F.interpolate(xb, size=(2 * h, 2 * w), mode='bilinear'), sb], 1
    )
    got_b = upsample2_cat(xb, sb)
    assert got_b.dtype == torch.bfloat16
    torch.testing.assert_close(
        got_b.float(), want_b.float(), rtol=2**-7, atol=2**-7
    )


@pytest.mark.parametrize('arch', sorted(SMALL))
def test_inference_path_matches_the_training_path(arch, monkeypatch):
    """Without gradients on a CPU the U-Nets pool and upsample with
    max_pool2 / upsample2_into (skips written into the decoders' input
    buffers); with gradients (training) with PyTorch's own functions.
    Both give the same outputs, padded and odd sizes."""
    from napari_retina_vessels.models import _blocks

    calls = []
    real = _blocks.upsample2_into  # upsample2_cat calls it too
    monkeypatch.setattr(
        _blocks, 'upsample2_into', lambda *a: calls.append(1) or real(*a)
    )
    kwargs, cin, _, _ = SMALL[arch]
    torch.manual_seed(0)
    model = build_model(arch, **kwargs).eval()
    for size in ((48, 40), (44, 38)):
        x = torch.randn(1, cin, *size)
        with torch.no_grad():
            fast = model(x)
        assert calls, 'the inference path was not taken'
        n = len(calls)
        slow = model(x)  # gradients on: the reference functions
        assert len(calls) == n
        for f, s in zip(fast, slow, strict=True):
            torch.testing.assert_close(f, s.detach(), rtol=1e-5, atol=1e-5)
