"""One resolver: a model name or file -> what it is, before any loading."""

from __future__ import annotations

import subprocess
import sys

import pytest

from napari_retina_vessels import weights
from napari_retina_vessels._registry import DEFAULTS, REGISTRY
from napari_retina_vessels.errors import WeightsError

AV = [n for n, e in REGISTRY.items() if e['task'] == 'av']


@pytest.mark.parametrize('given', [None, '', 'default'])
def test_default_is_the_tasks_default(given):
    ref = weights.resolve(given, 'vessels')
    assert ref.name == DEFAULTS['vessels'] and ref.registered
    assert ref.key == ref.name
    assert ref.sha256 == REGISTRY[ref.name]['sha256']


def test_default_models_ship_with_the_package():
    # Tests run the A/V stage unconditionally: its default model ships.
    for task in ('vessels', 'av'):
        assert REGISTRY[DEFAULTS[task]].get('shipped'), task


def test_a_model_of_another_task_is_refused():
    with pytest.raises(WeightsError, match='not a vessels model'):
        weights.resolve(AV[0], 'vessels')
    assert weights.resolve(AV[0], None).name == AV[0]
    assert weights.resolve('default', 'av').name == DEFAULTS['av']


def test_a_file_is_known_by_its_path_and_hash(tmp_path):
    path = tmp_path / 'mine.pt'
    path.write_bytes(b'not loaded here')
    ref = weights.resolve(str(path))
    assert not ref.registered and ref.name == 'mine'
    assert ref.key == str(path.resolve())
    assert ref.sha256 == weights.file_sha256(path)
    assert ref.local_path() == path
    assert weights.resolve(ref) is ref  # resolved once, passed along


def test_unknown_names_are_one_sentence(tmp_path):
    with pytest.raises(WeightsError, match='unknown model'):
        weights.resolve('no-such-model')
    with pytest.raises(WeightsError, match='unknown model'):
        weights.resolve(tmp_path / 'missing.pt')


def test_resolving_loads_no_torch():
    code = (
        'import sys; from napari_retina_vessels import weights; '
        "weights.resolve('default'); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120)
