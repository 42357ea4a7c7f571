"""scripts/gpu_train.sh end to end on the CPU: pack, train, score.

The same driver that trains the big models on a lent GPU, with tiny
networks, crops and a budget of seconds (``--smoke``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels.io import imwrite

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / 'scripts' / 'gpu_train.sh'


def _dataset(folder: Path, n: int, seed: int) -> None:
    for i in range(n):
        img = fake_fundus(96, 104, seed=seed + i)
        vessels = (img[..., 1] < 60) & (img.sum(-1) > 30)
        imwrite(folder / 'images' / f'p{i}.png', img)
        imwrite(folder / 'vessels' / f'p{i}.png', vessels)


def _sh(*args, env):
    return subprocess.run(
        ['bash', str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.mark.slow
def test_pack_then_run_on_cpu(tmp_path):
    data = tmp_path / 'data'
    # The datasets of the GPU jobs, in the generic layout (a generic
    # folder ignores the split: train and test are the same photos).
    for k, name in enumerate(('DRIVE', 'CHASE_DB1', 'STARE', 'HRF-AV')):
        _dataset(data / name, 2, 10 * k)
    pack, out = tmp_path / 'pack', tmp_path / 'out'
    env = {
        **os.environ,
        'PYTHON': sys.executable,
        'GPU_PACK': str(pack),
        'OUT': str(out),
    }
    r = _sh('pack', '--data', str(data), '--no-wheels', env=env)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((pack / 'manifest.json').read_text())
    assert manifest['train'] == [
        'CHASE_DB1:train',
        'DRIVE:train',
        'HRF-AV:train',
        'STARE:train',
    ]
    assert manifest['test'] == ['DRIVE', 'CHASE_DB1', 'STARE']
    index = json.loads(
        (pack / 'cache' / 'DRIVE-train-vessels' / 'index.json').read_text()
    )
    assert index['names'] == ['p0', 'p1'] and index['channels'] == 5

    # The run reads only the pack: the dataset folders are gone.
    (data / 'DRIVE').rename(tmp_path / 'elsewhere')
    # Scoring runs every photo at the canonical scale: one test split
    # keeps the test short (the GPU run scores all of them).
    r = _sh(
        'run',
        '--smoke',
        '--device',
        'cpu',
        '--minutes',
        '0.3',
        '--runs',
        str(tmp_path / 'runs'),
        '--workers',
        '1',
        '--tests',
        'DRIVE',
        env=env,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        'gpu_train.log',
        'iternet.pt',
        'logs.tar.gz',
        'serr-unet.pt',
        'summary.json',
        'unet.pt',
        'wnet-wide.pt',
    ]
    summary = json.loads((out / 'summary.json').read_text())
    for name, job in summary['jobs'].items():
        assert job['steps'] >= job['best_step'] >= 1, name
        assert job['crops_per_second'] > 0, name
        assert set(job['test']) == {'DRIVE'}, name
        assert all(0 <= t['auc'] <= 1 for t in job['test'].values()), name
    wide = summary['jobs']['wnet-wide']
    assert wide['data'] == [
        'DRIVE:train',
        'CHASE_DB1:train',
        'STARE:train',
        'HRF-AV:train',
    ]
    with tarfile.open(out / 'logs.tar.gz') as tar:
        names = set(tar.getnames())
    assert {
        'wnet-wide/log.csv',
        'wnet-wide/config.json',
        'wnet-wide/eval-DRIVE.json',
    } <= names
    config = json.loads(
        (tmp_path / 'runs' / 'wnet-wide' / 'config.json').read_text()
    )
    assert config['amp'] and config['minutes'] > 0
    assert config['input'] == 'local' and config['workers'] == 1
    assert np.isfinite(wide['val_auc'])
