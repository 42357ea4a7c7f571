"""The networks' arithmetic: float32, or bfloat16 where it is native.

``precision='auto'`` runs the networks in bfloat16 on CPUs that compute
it in hardware (AMX, AVX512-BF16), because there it is about 1.7x faster
and leaves the accuracy figures unchanged (docs/results.md); elsewhere
float32, which stays available everywhere as ``precision='fp32'``.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus


def test_unknown_precision_is_refused_before_any_work(monkeypatch):
    from napari_retina_vessels import pipeline
    from napari_retina_vessels.errors import InvalidOptionError

    def no_work(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError('work started')

    # The options are checked before the engine starts.
    monkeypatch.setattr(pipeline, 'run', no_work)
    with pytest.raises(InvalidOptionError, match='precision must be one of'):
        pipeline.segment(fake_fundus(64, 64), device='cpu', precision='fp8')


@pytest.mark.parametrize('native', [True, False])
def test_auto_follows_the_cpu(monkeypatch, native):
    import torch

    from napari_retina_vessels import inference

    monkeypatch.setattr(inference, 'cpu_has_native_bf16', lambda: native)
    want = torch.bfloat16 if native else None
    assert inference.autocast_dtype('auto', 'cpu') is want
    assert inference.autocast_dtype('fp32', 'cpu') is None
    assert inference.autocast_dtype('bf16', 'cpu') is torch.bfloat16
    assert inference.autocast_dtype('FP16', 'cpu') is torch.float16


def test_the_result_says_which_arithmetic_ran(monkeypatch):
    from napari_retina_vessels import inference
    from napari_retina_vessels.pipeline import segment

    img = fake_fundus(96, 112)
    exact = segment(img, device='cpu', precision='fp32')
    assert exact.precision == 'fp32'
    assert exact.metadata()['arithmetic'] == 'fp32'
    fast = segment(img, device='cpu', precision='bf16')
    assert fast.precision == 'bf16'
    # bfloat16 keeps 8 bits of mantissa: the maps move a little.
    assert np.abs(fast.probability - exact.probability).mean() < 0.01
    monkeypatch.setattr(inference, 'cpu_has_native_bf16', lambda: False)
    # (torch's arithmetic: OpenVINO's int8 default is tests/test_engines)
    auto = segment(img, device='cpu', av=False, engine='torch')
    assert auto.precision == 'fp32'


def test_batches_use_the_same_arithmetic():
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.pipeline import segment

    photos = [fake_fundus(96, 112, seed=s) for s in range(2)]
    for prec in ('fp32', 'bf16'):
        many = list(
            segment_many(
                photos, device='cpu', precision=prec, engine='torch'
            )
        )
        for p, m in zip(photos, many):
            one = segment(p, device='cpu', precision=prec, engine='torch')
            assert m.precision == one.precision == prec
            np.testing.assert_allclose(
                m.probability, one.probability, atol=2e-3
            )


@pytest.mark.data
@pytest.mark.slow
def test_bf16_stays_within_tolerance_on_a_real_photo(data_root):
    """The tolerance behind ``auto``: on a DRIVE test photo bfloat16
    changes the vessel label of under 0.2 % of FOV pixels and, with the
    per-segment vote, the A/V label of under 1 % of the vessel pixels.
    The default graph vote spreads a decision along a whole chain of
    segments, so a chain near the artery/vein balance can flip as one:
    on 03_test (the worst of the 20 DRIVE test photos) 1.3 % of vessel
    pixels change, 0.17 % pooled over all 20; the pooled RITE figures
    agree to the 4th decimal (docs/results.md)."""
    from napari_retina_vessels.io import imread
    from napari_retina_vessels.pipeline import segment

    path = data_root / 'DRIVE' / 'test' / 'images' / '03_test.tif'
    if not path.is_file():
        pytest.skip(f'{path} not found')
    img = imread(path)
    for vote, least in (('segment', 0.99), ('graph', 0.98)):
        kw = {'device': 'cpu', 'consistency': vote, 'engine': 'torch'}
        a = segment(img, precision='fp32', **kw)
        b = segment(img, precision='bf16', **kw)
        assert (a.vessels != b.vessels)[a.fov].mean() < 0.002
        both = a.vessels & b.vessels
        agree = (a.artery_vein[both] == b.artery_vein[both]).mean()
        assert agree > least, (vote, agree)
