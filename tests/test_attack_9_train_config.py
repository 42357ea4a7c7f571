"""Attack 9 of issue #29 through ``train``: a run folder's config.json
with an unknown key, and networks too large to allocate, are refused in
one line before any work (no TypeError, no 2 GB allocation)."""

from __future__ import annotations

import json

import pytest
from memory import peak_mb, reset_peak

from napari_retina_vessels.cli import main

pytest.importorskip('torch')


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.strip().splitlines() if 'error' in x]
    assert 'Traceback' not in err and len(lines) == 1, err
    return lines[0]


def _saved_run(out, **changes) -> None:
    from dataclasses import asdict

    from napari_retina_vessels.training.loop import TrainConfig

    out.mkdir()
    cfg = asdict(TrainConfig(datasets=['x:all'], out=str(out)))
    cfg.update(changes)
    (out / 'config.json').write_text(json.dumps(cfg))


def test_attack_9_config_json_with_an_unknown_key(tmp_path, capsys):
    out = tmp_path / 'run'
    _saved_run(out, learning_rate_typo=0.1)
    assert main(['train', str(tmp_path), '--out', str(out), '--resume']) == 1
    line = _one_line(capsys)
    assert "'learning_rate_typo'" in line and 'config.json' in line


@pytest.mark.parametrize('text', ['[1, 2]', '{not json'])
def test_attack_9_config_json_that_is_not_a_config(tmp_path, capsys, text):
    out = tmp_path / 'run'
    out.mkdir()
    (out / 'config.json').write_text(text)
    assert main(['train', str(tmp_path), '--out', str(out), '--resume']) == 1
    assert 'config.json' in _one_line(capsys)


def test_attack_9_huge_channels_refused_before_allocating(tmp_path, capsys):
    before = reset_peak()
    out = tmp_path / 'run'
    # through config.json (resume) and through --channels
    _saved_run(out, arch_kwargs={'channels': [100_000, 200_000]})
    assert main(['train', str(tmp_path), '--out', str(out), '--resume']) == 1
    assert 'parameters, more than' in _one_line(capsys)
    fresh = tmp_path / 'fresh'
    args = ['train', str(tmp_path), '--out', str(fresh)]
    assert main([*args, '--channels', '100000,200000']) == 1
    assert 'use fewer channels' in _one_line(capsys)
    # nothing like the 2.1 GB of the attack
    assert peak_mb() - before < 500
    assert not (fresh / 'config.json').exists()


def test_attack_9_channels_an_architecture_cannot_take(tmp_path, capsys):
    out = tmp_path / 'run'
    _saved_run(out, arch_kwargs={'colours': 7})
    assert main(['train', str(tmp_path), '--out', str(out), '--resume']) == 1
    assert 'cannot be built' in _one_line(capsys)


def test_shipped_architectures_pass_the_size_check():
    from napari_retina_vessels.models import ARCHITECTURES
    from napari_retina_vessels.training.checks import check_network

    for arch in ARCHITECTURES:
        if arch != 'ensemble':
            assert 0 < check_network(arch, {}) < 50_000_000
