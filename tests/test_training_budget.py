"""Training for a lent GPU: time budget, bf16, crop workers, data cache.

All on the CPU with tiny networks; scripts/gpu_train.sh runs the same
code on a GPU.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from synthetic import (
    tiny_config,
    write_training_set,
)

from napari_retina_vessels.training import cache as C
from napari_retina_vessels.training import data as D
from napari_retina_vessels.training import loop
from napari_retina_vessels.training.feed import Feed
from napari_retina_vessels.training.loop import TrainConfig, train


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp('budget') / 'SYN')


def _rows(path):
    with open(path, newline='') as fh:
        return list(csv.DictReader(fh))


def test_time_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(datasets=[], out='', lr=1e-2, minutes=10)
    lrs = [loop._lr(cfg, 0, s) for s in np.linspace(0, 600, 201)]
    top = int(np.argmax(lrs))
    assert lrs[0] < 1e-3 and math.isclose(max(lrs), 1e-2, rel_tol=1e-3)
    assert 0.02 * 600 <= top * 3 <= 0.04 * 600  # peak at 3 % of the time
    assert all(a >= b for a, b in zip(lrs[top:], lrs[top + 1 :]))
    assert math.isclose(lrs[-1], 1e-5)
    # Steps no longer matter, and time past the budget stays at the floor.
    assert loop._lr(cfg, 10**6, 300) == loop._lr(cfg, 0, 300)
    assert math.isclose(loop._lr(cfg, 0, 10**4), 1e-5)


def test_minutes_end_the_run_with_a_validation(tmp_path, data):
    lines = []
    best = train(
        tiny_config(
            tmp_path, data, steps=10**9, val_every=10**6, minutes=0.002
        ),
        log=lines.append,
    )
    rows = _rows(tmp_path / 'run' / 'log.csv')
    # The only validation is the one when the time ran out.
    assert len(rows) == 1 and int(rows[0]['step']) >= 1
    meta = torch.load(best, weights_only=True)['meta']
    assert meta['minutes'] == 0.002 and meta['step'] == int(rows[0]['step'])


def test_bf16_autocast_trains_finite_float32_weights(tmp_path, data):
    best = train(tiny_config(tmp_path, data, amp=True), log=lambda s: None)
    saved = torch.load(best, weights_only=True)
    assert saved['meta']['amp'] == 'bf16'
    assert all(v.dtype != torch.bfloat16 for v in saved['state_dict'].values())
    assert all(
        torch.isfinite(v).all()
        for v in saved['state_dict'].values()
        if v.is_floating_point()
    )


def test_worker_batches_are_seeded_by_seed_and_start_step(data):
    from napari_retina_vessels.io.datasets import discover

    preps = [D.prepare(s) for s in discover(data.rsplit(':', 1)[0])]

    def first(seed, start, workers=1):
        feed = Feed(
            preps,
            task='vessels',
            size=32,
            input_mode='global',
            batch=3,
            seed=seed,
            workers=workers,
        ).start(start)
        try:
            return next(feed)
        finally:
            feed.close()

    x, tgt = first(0, 0)
    assert x.shape == (3, 3, 32, 32) and tgt['vessel'].shape == (3, 1, 32, 32)
    assert torch.equal(x, first(0, 0)[0])
    assert not torch.equal(x, first(0, 5)[0])
    assert first(0, 0, workers=0)[0].shape == x.shape


def test_run_with_workers_resumes_and_finishes(tmp_path, data, monkeypatch):
    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, '_plot', killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path, data, workers=1), log=lambda s: None)
    monkeypatch.undo()
    lines = []
    # workers is how a run executes: the command's value is taken.
    train(
        tiny_config(tmp_path, data, workers=0), resume=True, log=lines.append
    )
    assert any(s.startswith('resumed at step 2') for s in lines)
    rows = _rows(tmp_path / 'run' / 'log.csv')
    assert [int(r['step']) for r in rows] == [2, 4]
    saved = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert saved['workers'] == 0


def test_cache_round_trip_within_8_bits(tmp_path, data):
    from napari_retina_vessels.io.datasets import discover

    samples = discover(data.rsplit(':', 1)[0])
    preps = [D.prepare(s) for s in samples]
    entry = C.key(data, 'vessels')
    assert entry == 'SYN-all-vessels'
    C.save(tmp_path, entry, preps, ['g'] * len(preps), task='vessels')
    back, groups = C.load(tmp_path, entry, task='vessels')
    assert [p.name for p in back] == [p.name for p in preps]
    assert groups == ['g'] * len(preps)
    for a, b in zip(preps, back):
        assert a.tensor.shape == b.tensor.shape
        assert (a.tensor - b.tensor).abs().max() <= 0.5 / 255 + 1e-6
        # FOV rim pixels at 0.5 +- 1/510 may fall on the other side.
        assert abs(len(b.centres) - len(a.centres)) < 1e-3 * len(a.centres)
    assert C.load(tmp_path, entry, task='av') is None
    assert C.load(tmp_path, 'absent', task='vessels') is None


def test_a_filled_cache_replaces_the_dataset_folder(tmp_path):
    folder = tmp_path / 'SYN'
    spec = write_training_set(folder)
    cache = str(tmp_path / 'cache')
    train(
        tiny_config(tmp_path, spec, name='a', cache=cache), log=lambda s: None
    )
    folder.rename(tmp_path / 'moved')
    lines = []
    train(tiny_config(tmp_path, spec, name='b', cache=cache), log=lines.append)
    assert 'SYN-all-vessels: 3 prepared photos from the cache' in lines
    assert (tmp_path / 'b' / 'best.pt').is_file()


def test_cli_passes_the_gpu_options(tmp_path, data):
    from napari_retina_vessels.cli import main

    out, cache = tmp_path / 'cli', tmp_path / 'cache'
    rc = main(
        [
            'train',
            data,
            '--out',
            str(out),
            '--channels',
            '4,8',
            '--patch',
            '48',
            '--batch',
            '2',
            '--threads',
            '1',
            '--minutes',
            '0.002',
            '--amp',
            '--workers',
            '0',
            '--cache',
            str(cache),
            '--val-every',
            '1000',
        ]
    )
    assert rc == 0
    cfg = json.loads((out / 'config.json').read_text())
    assert cfg['minutes'] == 0.002 and cfg['amp'] and cfg['steps'] == 10**9
    assert cfg['cache'] == str(cache) and cfg['workers'] == 0
    assert (cache / 'SYN-all-vessels' / 'index.json').is_file()
