"""Attack 2 through torch's zip: a weights file, an ``--init`` file or a
resumed checkpoint whose entries are DEFLATED is refused before
``torch.load`` inflates anything."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest


def _deflate(src: Path, dst: Path, pad: int = 0) -> Path:
    """*src* (a torch zip) rewritten with DEFLATED entries, plus *pad*
    zero bytes inflating from a few kilobytes."""
    with (
        zipfile.ZipFile(src) as zin,
        zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED) as zout,
    ):
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        if pad:
            prefix = zin.infolist()[0].filename.split('/')[0]
            zout.writestr(f'{prefix}/data/999', bytes(pad))
    return dst


@pytest.fixture()
def saved(tmp_path):
    import torch

    path = tmp_path / 'ok.pt'
    torch.save({'arch': 'x', 'state_dict': {'w': torch.zeros(4)}}, path)
    return path


def _no_torch_load(monkeypatch):
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError('torch.load ran')

    monkeypatch.setattr(torch, 'load', refuse)


def test_shipped_and_saved_torch_files_pass(saved):
    from napari_retina_vessels.io import _formats

    shipped = Path(_formats.__file__).parents[1] / '_weights'
    for path in [saved, *shipped.glob('*.pt')]:
        assert _formats.torch_zip_problem(path) is None, path


def test_attack_2_deflated_weights_file_is_refused(
    saved, tmp_path, monkeypatch
):
    from napari_retina_vessels.errors import WeightsError
    from napari_retina_vessels.weights import load_weights_file

    bomb = _deflate(saved, tmp_path / 'bomb.pt', pad=50_000_000)
    assert bomb.stat().st_size < 1_000_000
    _no_torch_load(monkeypatch)
    with pytest.raises(WeightsError, match='compressed') as info:
        load_weights_file(bomb)
    assert '\n' not in str(info.value)


def test_attack_2_sibling_init_and_resume(saved, tmp_path, monkeypatch):
    from napari_retina_vessels.errors import (
        TrainingConfigError,
        WeightsError,
    )
    from napari_retina_vessels.training.loop import load_checkpoint
    from napari_retina_vessels.weights import load_model

    bomb = _deflate(saved, tmp_path / 'checkpoint.pt')
    _no_torch_load(monkeypatch)
    with pytest.raises(TrainingConfigError, match='compressed'):
        load_checkpoint(bomb)
    # --init loads through load_model, like any weights file.
    with pytest.raises(WeightsError, match='compressed'):
        load_model(str(bomb), task='vessels', device='cpu')


def test_entries_declaring_more_than_the_file_are_refused(tmp_path):
    from napari_retina_vessels.io._formats import torch_zip_problem

    path = tmp_path / 'lie.pt'
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as zf:
        zf.writestr('a/data.pkl', b'x' * 100)
    raw = bytearray(path.read_bytes())
    # Make the central directory declare a larger uncompressed size.
    cd = raw.rfind(b'PK\x01\x02')
    raw[cd + 24 : cd + 28] = (10**9).to_bytes(4, 'little')
    path.write_bytes(bytes(raw))
    assert torch_zip_problem(path) is not None


def test_napari_yaml_patterns_and_the_readers_formats_in_step():
    """Every suffix the reader decodes is claimed in napari.yaml, and
    every pattern there is one it decodes (a new format is added in
    both)."""
    import re

    from napari_retina_vessels.io import _formats

    manifest = (
        Path(_formats.__file__).parents[1] / '_napari' / 'napari.yaml'
    ).read_text(encoding='utf-8')
    block = manifest.split('filename_patterns:', 1)[1].split('writers:')[0]
    patterns = {p.lower() for p in re.findall(r'"\*(\.[^"]+)"', block)}
    assert patterns == set(_formats.IMAGE_SUFFIXES)
