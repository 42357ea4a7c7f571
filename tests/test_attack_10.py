"""Attack 10 of issue #29: a failing or hanging model. ``segment`` and
``measure`` (locally and through the widget's engine) stop once with one
line, instead of retrying the model for every photo; an interrupted
(hanging) run stops with one line and still lists every photo."""

from __future__ import annotations

import csv

import pytest
from synthetic import fake_fundus

from napari_retina_vessels import io
from napari_retina_vessels.cli import main
from napari_retina_vessels.errors import ModelError, WeightsError

pytest.importorskip('torch')


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / 'photos'
    for i in range(3):
        io.imwrite(folder / f'p{i}.png', fake_fundus(160, 176, seed=i))
    return folder


def _broken(monkeypatch, error: BaseException) -> list:
    from napari_retina_vessels import inference

    calls = []

    def forward(*args, **kwargs):
        calls.append(1)
        raise error

    monkeypatch.setattr(inference, '_forward', forward)
    return calls


def _table(path):
    with open(path, newline='', encoding='utf-8') as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize('command', ['segment', 'measure'])
def test_attack_10_a_failing_model_stops_the_batch_once(
    command, photos, tmp_path, monkeypatch, capsys
):
    calls = _broken(monkeypatch, RuntimeError('the net broke'))
    out = tmp_path / 'out'
    extra = ['--pixel-size', '10'] if command == 'measure' else []
    assert main([command, str(photos), '--out', str(out), *extra]) == 1
    assert len(calls) == 1  # not once per photo
    err = capsys.readouterr().err
    lines = [x for x in err.strip().splitlines() if 'error' in x]
    assert len(lines) == 1 and 'Traceback' not in err
    assert 'the net broke' in lines[0] and 'network' in lines[0]
    table = out / ('measures.csv' if command == 'measure' else 'summary.csv')
    rows = _table(table)
    assert sorted(r['name'] for r in rows) == ['p0', 'p1', 'p2']
    assert {r['status'] for r in rows} == {'failed'}


def test_attack_10_the_engine_names_the_failure_for_every_driver(
    monkeypatch,
):
    """The widget, the console and the batches run the one engine: its
    error is a ModelError (a WeightsError: every stop rule knows it)."""
    from napari_retina_vessels.pipeline import segment

    _broken(monkeypatch, ValueError('bad shapes'))
    with pytest.raises(ModelError, match='bad shapes') as info:
        segment(fake_fundus(160, 176), device='cpu')
    assert isinstance(info.value, WeightsError)
    assert '\n' not in str(info.value)


def test_attack_10_a_hanging_model_interrupted_is_one_line(
    photos, tmp_path, monkeypatch, capsys
):
    calls = _broken(monkeypatch, KeyboardInterrupt())  # Ctrl+C in a hang
    out = tmp_path / 'out'
    assert main(['measure', str(photos), '--out', str(out)]) == 130
    assert len(calls) == 1
    err = capsys.readouterr().err.strip()
    assert 'retina-vessels: interrupted' in err.splitlines()
    assert 'Traceback' not in err
    rows = _table(out / 'measures.csv')
    assert sorted(r['name'] for r in rows) == ['p0', 'p1', 'p2']
    assert all('stopped' in r['error'] for r in rows)
