"""Weights: registry, shipped file, pooch download from a local server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest
import torch

from napari_retina_vessels import _registry, weights
from napari_retina_vessels.errors import WeightsError
from napari_retina_vessels.models import build_model
from napari_retina_vessels.weights import load_model


def _make_weights(path: Path, seed: int = 0) -> str:
    torch.manual_seed(seed)
    model = build_model('wnet', channels=[4, 8])
    torch.save(
        {
            'arch': 'wnet',
            'arch_kwargs': {'channels': [4, 8]},
            'task': 'vessels',
            'state_dict': model.state_dict(),
            'meta': {},
        },
        path,
    )
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/'srv' over HTTP on 127.0.0.1; yields (url, folder)."""
    root = tmp_path / 'srv'
    root.mkdir()
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(root)
    )
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_port}/', root
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fake_entry(tmp_path, monkeypatch):
    """Register a downloadable model 'tiny-test' and isolate the cache."""
    src = tmp_path / 'tiny-test.pt'
    sha = _make_weights(src)
    monkeypatch.setitem(
        _registry.REGISTRY,
        'tiny-test',
        {
            'file': 'tiny-test.pt',
            'sha256': sha,
            'arch': 'wnet',
            'task': 'vessels',
            'shipped': False,
            'threshold': 0.4,
            'description': 'test only',
        },
    )
    monkeypatch.setenv('RETINA_VESSELS_CACHE_DIR', str(tmp_path / 'cache'))
    weights._cached_model.cache_clear()
    return src, sha


def test_every_registry_entry_is_complete():
    assert _registry.REGISTRY, 'the registry lists no model'
    for name, e in _registry.REGISTRY.items():
        for key in ('file', 'sha256', 'arch', 'task', 'description'):
            assert key in e, (name, key)
        assert len(e['sha256']) == 64
    for task, name in _registry.DEFAULTS.items():
        if name in _registry.REGISTRY:
            assert _registry.REGISTRY[name]['task'] == task


def test_shipped_files_match_their_hash():
    shipped = [e for e in _registry.REGISTRY.values() if e.get('shipped')]
    assert shipped, 'no weights ship with the package'
    for e in shipped:
        path = weights.SHIPPED_DIR / e['file']
        assert path.is_file(), path
        assert weights.file_sha256(path) == e['sha256']


def test_downloadable_files_in_repo_match_registry():
    folder = Path(__file__).resolve().parents[1] / 'weights'
    for e in _registry.REGISTRY.values():
        if not e.get('shipped'):
            path = folder / e['file']
            assert path.is_file(), f'{path} missing from weights/'
            assert weights.file_sha256(path) == e['sha256']


def test_default_model_loads_offline(monkeypatch, tmp_path):
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', 'http://127.0.0.1:9/')
    monkeypatch.setenv('RETINA_VESSELS_CACHE_DIR', str(tmp_path))
    model, info = weights.load_model('default', device='cpu')
    assert info['name'] == _registry.DEFAULTS['vessels']
    assert not model.training
    assert info['sha256'] == _registry.REGISTRY[info['name']]['sha256']


def test_list_models_marks_shipped_and_default():
    models = {m['name']: m for m in weights.list_models()}
    default = models[_registry.DEFAULTS['vessels']]
    assert default['available'] and default['default']
    assert all(
        m['task'] == 'vessels' for m in weights.list_models(task='vessels')
    )


def test_download_then_cache(server, fake_entry, monkeypatch):
    url, root = server
    src, sha = fake_entry
    shutil.copy(src, root / 'tiny-test.pt')
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', url)
    path = weights.weights_path('tiny-test')
    assert weights.file_sha256(path) == sha
    assert Path(path).parent == weights.cache_dir()
    # Served no more: the cached copy is used.
    (root / 'tiny-test.pt').unlink()
    assert weights.weights_path('tiny-test') == path
    model, info = weights.load_model('tiny-test', device='cpu')
    assert info['threshold'] == 0.4 and info['sha256'] == sha


def test_corrupt_download_is_refused(server, fake_entry, monkeypatch):
    url, root = server
    (root / 'tiny-test.pt').write_bytes(b'not the weights you want')
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', url)
    with pytest.raises(WeightsError, match='sha256'):
        weights.weights_path('tiny-test')
    leftovers = list(weights.cache_dir().glob('*tiny-test*'))
    assert leftovers == []


def test_truncated_file_is_refused(server, fake_entry, monkeypatch):
    url, root = server
    src, _ = fake_entry
    (root / 'tiny-test.pt').write_bytes(src.read_bytes()[:1000])
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', url)
    with pytest.raises(WeightsError, match='sha256'):
        weights.weights_path('tiny-test')


def test_dead_server_says_what_to_do(fake_entry, monkeypatch):
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', 'http://127.0.0.1:9/')
    with pytest.raises(WeightsError, match='cannot download') as err:
        weights.weights_path('tiny-test')
    assert 'import' in str(err.value)
    assert '\n' not in str(err.value)


def test_corrupt_cached_copy_is_replaced(server, fake_entry, monkeypatch):
    url, root = server
    src, sha = fake_entry
    shutil.copy(src, root / 'tiny-test.pt')
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', url)
    cache = weights.cache_dir()
    cache.mkdir(parents=True)
    (cache / 'tiny-test.pt').write_bytes(b'garbage')
    path = weights.weights_path('tiny-test')
    assert weights.file_sha256(path) == sha


def test_no_download_when_not_allowed(fake_entry):
    with pytest.raises(WeightsError, match='not downloaded'):
        weights.weights_path('tiny-test', download=False)


def test_import_weights_for_air_gapped_sites(fake_entry):
    src, sha = fake_entry
    name, dest = weights.import_weights(src)
    assert name == 'tiny-test'
    assert weights.weights_path('tiny-test', download=False) == dest
    with pytest.raises(WeightsError, match='matches no registered'):
        weights.import_weights(Path(__file__))


def test_unknown_model_lists_known_ones():
    with pytest.raises(WeightsError, match='known models'):
        weights.load_model('no-such-model')


def test_weights_file_by_path(tmp_path):
    path = tmp_path / 'mine.pt'
    _make_weights(path)
    model, info = weights.load_model(path, device='cpu')
    assert info['name'] == 'mine' and info['arch'] == 'wnet'


def test_pickle_and_junk_files_are_refused(tmp_path):
    junk = tmp_path / 'junk.pt'
    junk.write_bytes(b'\x80\x04junk')
    with pytest.raises(WeightsError, match='not a valid weights file'):
        weights.load_weights_file(junk)
    other = tmp_path / 'other.pt'
    torch.save({'x': torch.zeros(2)}, other)
    with pytest.raises(WeightsError, match='not a retina-vessels'):
        weights.load_weights_file(other)


def test_unknown_input_normalisation_is_refused(tmp_path):
    path = tmp_path / 'future.pt'
    _make_weights(path)
    data = torch.load(path, weights_only=True)
    data['input'] = 'retinex'
    torch.save(data, path)
    with pytest.raises(WeightsError, match='unknown input normalisation'):
        load_model(path)


def test_wrong_task_is_refused(tmp_path):
    path = tmp_path / 'vessel.pt'
    _make_weights(path)
    with pytest.raises(WeightsError, match='not a av model'):
        weights.load_model(path, task='av')


def test_cli_weights_list_and_path(capsys):
    from napari_retina_vessels.cli import main

    assert main(['weights', 'list']) == 0
    out = capsys.readouterr().out
    assert _registry.DEFAULTS['vessels'] in out and 'shipped' in out
    assert main(['weights', 'path', _registry.DEFAULTS['vessels']]) == 0
    assert capsys.readouterr().out.strip().endswith('.pt')
    assert main(['weights', 'path', 'no-such-model']) == 1
    assert 'unknown model' in capsys.readouterr().err


def test_iter_fetch_reports_download_progress(server, fake_entry, monkeypatch):
    url, root = server
    src, sha = fake_entry
    shutil.copy(src, root / 'tiny-test.pt')
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', url)
    gen = weights.iter_fetch('tiny-test')
    records = []
    while True:
        try:
            records.append(next(gen))
        except StopIteration as stop:
            path = stop.value
            break
    assert weights.file_sha256(path) == sha
    assert records and {r.stage for r in records} == {'download'}
    assert records[-1].done == records[-1].total == src.stat().st_size
    # Now cached: nothing to report.
    again = weights.iter_fetch('tiny-test')
    with pytest.raises(StopIteration) as stop:
        next(again)
    assert stop.value.value == path


def test_iter_fetch_raises_download_errors(fake_entry, monkeypatch):
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', 'http://127.0.0.1:9/')
    with pytest.raises(WeightsError, match='cannot download'):
        list(weights.iter_fetch('tiny-test'))


def test_registered_downloadable_model_from_local_mirror(
    server, monkeypatch, tmp_path
):
    """Serve the repository's weights/ folder as a mirror and fetch every
    downloadable registry entry through pooch, by name."""
    url, root = server
    folder = Path(__file__).resolve().parents[1] / 'weights'
    remote = [n for n, e in _registry.REGISTRY.items() if not e.get('shipped')]
    if not remote:
        pytest.skip('every registered model ships with the package')
    for name in remote:
        shutil.copy(folder / _registry.REGISTRY[name]['file'], root)
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', url)
    monkeypatch.setenv('RETINA_VESSELS_CACHE_DIR', str(tmp_path / 'c'))
    weights._cached_model.cache_clear()
    for name in remote:
        task = _registry.REGISTRY[name]['task']
        model, info = weights.load_model(name, task=task, device='cpu')
        assert info['sha256'] == _registry.REGISTRY[name]['sha256']
        assert Path(info['path']).parent == tmp_path / 'c'


def test_attack_11_corrupt_cached_weights_say_corrupt_not_undownloaded(
    fake_entry,
):
    cache = weights.cache_dir()
    cache.mkdir(parents=True)
    (cache / 'tiny-test.pt').write_bytes(b'garbage')
    with pytest.raises(WeightsError, match='corrupt') as info:
        weights.weights_path('tiny-test', download=False)
    message = str(info.value)
    assert 'sha256' in message and 'not downloaded' not in message
    assert '\n' not in message
