"""Inference engines: torch, and OpenVINO on the CPU (``engines.py``).

The OpenVINO tests skip cleanly where the ``openvino`` package is not
installed; the choice of engine is tested everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels import _registry, engines
from napari_retina_vessels.errors import InvalidOptionError, WeightsError

needs_openvino = pytest.mark.skipif(
    not engines.openvino_available(), reason='openvino is not installed'
)

#: Largest difference of a probability map, OpenVINO fp32 against torch
#: fp32 (docs/weights.md): rounding only.
FP32_TOLERANCE = 1e-5
#: Largest mean difference of the artery probability on vessel pixels,
#: the int8 W-Net and A/V network against torch fp32 (measured 0.011-0.013
#: on the synthetic photos here, 0.002-0.004 with the float32 W-Net; their
#: accuracy on real photos: docs/weights.md).
AV_INT8_TOLERANCE = 0.025


def _refs(*names):
    from napari_retina_vessels.weights import resolve

    # Keyed by task, as the pipeline does.
    return {
        _registry.REGISTRY[name]['task']: resolve(
            name, task=_registry.REGISTRY[name]['task']
        )
        for name in names
    }


def test_unknown_engine_is_refused_before_any_work(monkeypatch):
    from napari_retina_vessels import engine, pipeline

    def no_work(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError('work started')

    # The options are checked before the engine loads or prepares.
    monkeypatch.setattr(engine, 'run', no_work)
    monkeypatch.setattr(pipeline, 'run', no_work)
    with pytest.raises(InvalidOptionError, match='engine must be one of'):
        pipeline.segment(fake_fundus(64, 64), device='cpu', engine='tpu')


def test_auto_is_torch_without_openvino(monkeypatch):
    monkeypatch.setattr(engines, 'openvino_available', lambda: False)
    refs = _refs('wnet-universal-local')
    assert engines.resolve_engine('auto', 'fp32', 'cpu', refs) == (
        'torch',
        'fp32',
    )
    with pytest.raises(WeightsError, match='pip install'):
        engines.resolve_engine('openvino', 'fp32', 'cpu', refs)
    assert engines.hint_wanted('cpu')


def test_auto_is_torch_off_the_cpu_and_without_converted_files(
    monkeypatch,
):
    monkeypatch.setattr(engines, 'openvino_available', lambda: True)
    monkeypatch.setattr(
        _registry,
        'OPENVINO',
        {'wnet-universal-local': {'fp32': {}, 'int8': {}}},
    )
    refs = _refs('wnet-universal-local')
    assert engines.resolve_engine('auto', 'fp32', 'cpu', refs)[0] == (
        'openvino'
    )
    # A model without converted files (as a custom .pt file): torch.
    both = _refs('wnet-universal-local', 'seqnet-av-universal-v3')
    assert engines.resolve_engine('auto', 'fp32', 'cpu', both)[0] == 'torch'
    with pytest.raises(InvalidOptionError, match='runs on the CPU'):
        engines.resolve_engine('openvino', 'fp32', 'cuda', refs)
    with pytest.raises(InvalidOptionError, match='not fp16'):
        engines.resolve_engine('openvino', 'fp16', 'cpu', refs)
    assert not engines.hint_wanted('cpu')


@pytest.mark.parametrize('native', [True, False])
def test_openvino_precision_follows_the_option(monkeypatch, native):
    from napari_retina_vessels import inference

    monkeypatch.setattr(engines, 'openvino_available', lambda: True)
    monkeypatch.setattr(inference, 'cpu_has_native_bf16', lambda: native)
    refs = _refs('wnet-universal-local')
    monkeypatch.setattr(
        _registry, 'OPENVINO', {'wnet-universal-local': {'fp32': {}}}
    )
    resolve = engines.resolve_engine
    assert resolve('openvino', 'fp32', 'cpu', refs) == ('openvino', 'fp32')
    assert resolve('openvino', 'bf16', 'cpu', refs) == ('openvino', 'bf16')
    want = 'bf16' if native else 'fp32'
    assert resolve('openvino', 'auto', 'cpu', refs) == ('openvino', want)
    monkeypatch.setattr(
        _registry,
        'OPENVINO',
        {'wnet-universal-local': {'fp32': {}, 'int8': {}}},
    )
    assert resolve('auto', 'auto', 'cpu', refs) == ('openvino', 'int8')
    # fp32 stays fp32 even where int8 files exist.
    assert resolve('auto', 'fp32', 'cpu', refs) == ('openvino', 'fp32')
    # An int8 file that failed the A/V gate is not used with the A/V
    # stage (its map feeds it).
    monkeypatch.setattr(
        _registry,
        'OPENVINO',
        {
            'wnet-universal-local': {'fp32': {}, 'int8': {'with_av': False}},
            'seqnet-av-universal-v3': {'fp32': {}},
        },
    )
    both = _refs('wnet-universal-local', 'seqnet-av-universal-v3')
    assert resolve('auto', 'auto', 'cpu', refs) == ('openvino', 'int8')
    assert resolve('auto', 'auto', 'cpu', both) == ('openvino', want)


def test_every_openvino_file_is_registered_with_its_hash():
    from napari_retina_vessels._weight_files import SHIPPED_DIR, file_sha256

    for name, kinds in _registry.OPENVINO.items():
        assert name in _registry.REGISTRY
        assert set(kinds) <= {'fp32', 'int8'}
        for entry in kinds.values():
            assert entry['file'].endswith('.ovz')
            assert len(entry['sha256']) == 64
            if entry.get('shipped'):
                path = SHIPPED_DIR / entry['file']
                assert file_sha256(path) == entry['sha256']


@needs_openvino
@pytest.mark.parametrize('views', [1, 2, 4])
def test_openvino_fp32_equals_torch_fp32(views):
    from napari_retina_vessels.pipeline import segment

    img = fake_fundus(96, 112)
    opts = {'device': 'cpu', 'precision': 'fp32', 'views': views}
    ref = segment(img, engine='torch', **opts)
    got = segment(img, engine='openvino', **opts)
    assert (ref.engine, got.engine) == ('torch', 'openvino')
    assert got.precision == 'fp32'
    diff = np.abs(got.probability - ref.probability).max()
    assert diff < FP32_TOLERANCE
    assert np.abs(got.artery_probability - ref.artery_probability).max() < (
        FP32_TOLERANCE
    )


@needs_openvino
def test_openvino_tiles_and_batches_equal_torch():
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.pipeline import segment

    img = fake_fundus(260, 280)
    opts = {'device': 'cpu', 'precision': 'fp32', 'av': False}
    ref = segment(img, engine='torch', tile=128, **opts)
    got = segment(img, engine='openvino', tile=128, **opts)
    assert np.abs(got.probability - ref.probability).max() < FP32_TOLERANCE
    many = list(segment_many([img, img], engine='openvino', **opts))
    one = segment(img, engine='torch', **opts)
    for seg in many:
        assert seg.engine == 'openvino'
        diff = np.abs(seg.probability - one.probability).max()
        assert diff < FP32_TOLERANCE


@needs_openvino
def test_converted_in_memory_without_files(monkeypatch):
    """A network without converted files (custom weights) is converted
    in memory when OpenVINO is asked for."""
    from napari_retina_vessels.pipeline import segment

    monkeypatch.setattr(_registry, 'OPENVINO', {})
    monkeypatch.setattr(engines, '_COMPILED', {})
    img = fake_fundus(96, 112)
    opts = {'device': 'cpu', 'precision': 'fp32', 'av': False}
    ref = segment(img, engine='torch', **opts)
    got = segment(img, engine='openvino', **opts)
    assert segment(img, engine='auto', **opts).engine == 'torch'
    assert np.abs(got.probability - ref.probability).max() < FP32_TOLERANCE


@needs_openvino
def test_openvino_settings_inside_napari_s_process(monkeypatch):
    """fp32 really is fp32 (OpenVINO's default on CPUs with AMX or
    AVX512-BF16 would be bf16), no pinning, torch's thread count."""
    import openvino as ov
    import torch

    from napari_retina_vessels.weights import resolve

    monkeypatch.setattr(engines, '_COMPILED', {})
    ref = resolve('default', 'vessels')
    net, info = engines.load_net(
        ref, task='vessels', device='cpu', engine='openvino', precision='fp32'
    )
    assert info['engine'] == 'openvino'
    compiled = net.compiled
    hint = compiled.get_property('INFERENCE_PRECISION_HINT')
    assert hint == ov.Type.f32
    assert compiled.get_property('ENABLE_CPU_PINNING') is False
    threads = compiled.get_property('INFERENCE_NUM_THREADS')
    assert threads == torch.get_num_threads()


@needs_openvino
def test_a_damaged_openvino_file_is_one_sentence(tmp_path):
    bad = tmp_path / 'x.ovz'
    bad.write_bytes(b'not a zip')
    with pytest.raises(WeightsError, match='not a packed OpenVINO model'):
        engines._read_packed(str(bad), '0' * 64)


@needs_openvino
@pytest.mark.skipif(
    not any('int8' in k for k in _registry.OPENVINO.values()),
    reason='no int8 files are shipped',
)
def test_int8_is_the_cpu_default_and_close_to_fp32():
    from napari_retina_vessels.pipeline import segment

    img = fake_fundus(96, 112)
    ref = segment(
        img, device='cpu', engine='torch', precision='fp32', av=False
    )
    got = segment(img, device='cpu', av=False)
    assert (got.engine, got.precision) == ('openvino', 'int8')
    assert got.metadata()['arithmetic'] == 'int8'
    assert np.abs(got.probability - ref.probability).mean() < 0.01
    # With the A/V stage too, unless its file is flagged vessel-only (it
    # failed the A/V gate): the vessel map feeding the A/V network is
    # the int8 file's, the same map as without the A/V stage.
    name = _registry.DEFAULTS['vessels']
    both = segment(img, device='cpu')
    full = segment(img, device='cpu', engine='torch', precision='fp32')
    diff = np.abs(both.probability - full.probability).max()
    if _registry.OPENVINO[name]['int8'].get('with_av', True):
        np.testing.assert_array_equal(both.probability, got.probability)
        assert diff > 0
    else:
        assert diff < FP32_TOLERANCE


@needs_openvino
@pytest.mark.skipif(
    'int8' not in _registry.OPENVINO.get(_registry.DEFAULTS['av'], {}),
    reason='no int8 A/V file is shipped',
)
@pytest.mark.parametrize('size', [(96, 112), (260, 280)])
def test_int8_av_stage_is_the_cpu_default_and_close_to_fp32(size):
    from napari_retina_vessels.pipeline import segment

    img = fake_fundus(*size)
    ref = segment(img, device='cpu', engine='torch', precision='fp32')
    got = segment(img, device='cpu')
    assert (got.engine, got.precision) == ('openvino', 'int8')
    on = ref.vessels
    diff = np.abs(got.artery_probability - ref.artery_probability)[on]
    assert 0 < diff.mean() < AV_INT8_TOLERANCE  # int8, and close
    # Forced fp32 keeps the float32 file: the same as torch.
    f32 = segment(img, device='cpu', engine='openvino', precision='fp32')
    assert np.abs(f32.artery_probability - ref.artery_probability).max() < (
        FP32_TOLERANCE
    )


def test_cli_passes_the_engine_and_hints(monkeypatch, tmp_path, capsys):
    import napari_retina_vessels.batch as batch
    import napari_retina_vessels.evaluation as ev
    from napari_retina_vessels.cli import main

    got = {}

    def fake_eval(folder, **kw):
        got.update(kw)
        return {}

    monkeypatch.setattr(ev, 'evaluate_dataset', fake_eval)
    assert main(['evaluate', str(tmp_path), '--engine', 'torch']) == 0
    assert got['engine'] == 'torch'

    def fake_batch(inputs, out, **kw):
        got.update(kw)
        return {'done': 1, 'skipped': 0, 'failed': 0, 'summary_csv': 'x'}

    monkeypatch.setattr(batch, 'run_batch', fake_batch)
    monkeypatch.setattr(engines, 'openvino_available', lambda: False)
    args = ['segment', str(tmp_path), '--out', str(tmp_path / 'o')]
    assert main([*args, '--device', 'cpu']) == 0
    assert got['engine'] == 'auto'
    assert engines.OPENVINO_HINT in capsys.readouterr().err
    assert main([*args, '--device', 'cpu', '--engine', 'torch']) == 0
    assert got['engine'] == 'torch'
    assert engines.OPENVINO_HINT not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, '--engine', 'tpu'])


def test_batch_settings_record_a_forced_engine():
    from napari_retina_vessels.batch._settings import batch_settings

    base = batch_settings('default', False, 'default', False, None, 'png')
    assert 'engine' not in base  # earlier markers still match
    forced = batch_settings(
        'default', False, 'default', False, None, 'png', engine='torch'
    )
    assert forced['engine'] == 'torch'
    with pytest.raises(InvalidOptionError):
        batch_settings(
            'default', False, 'default', False, None, 'png', engine='x'
        )
