"""The manifest resolves, and the core stays free of torch and Qt."""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import napari_retina_vessels

PACKAGE = Path(napari_retina_vessels.__file__).parent
# The thin napari layer, the only folder allowed to import Qt or napari.
NAPARI_LAYER = PACKAGE / '_napari'
MANIFEST = NAPARI_LAYER / 'napari.yaml'
GUI_PACKAGES = {
    'qtpy',
    'napari',
    'magicgui',
    'PyQt5',
    'PyQt6',
    'PySide2',
    'PySide6',
    'superqt',
    'vispy',
    'app_model',
}


def _python_names() -> list[str]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    return [c['python_name'] for c in manifest['contributions']['commands']]


@pytest.mark.parametrize('python_name', _python_names())
def test_manifest_python_name_imports(python_name):
    module_name, _, attr = python_name.partition(':')
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attr)), python_name


def test_manifest_names_every_expected_contribution():
    names = _python_names()
    assert 'napari_retina_vessels._napari.reader:napari_get_reader' in names
    assert 'napari_retina_vessels._napari.sample_data:retina_sample' in names
    # Manifest entries point at their modules, never at __init__.
    assert all(n.split(':')[0] != 'napari_retina_vessels' for n in names)


def test_npe2_validate():
    exe = Path(sys.executable).with_name('npe2')
    cmd = [str(exe)] if exe.exists() else [shutil.which('npe2') or 'npe2']
    result = subprocess.run(
        [*cmd, 'validate', 'napari-retina-vessels'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'valid' in result.stdout


# Modules that run networks and may load torch when imported; every other
# core module must not (importing batch, cli or metrics stays fast).
TORCH_PACKAGES = ('models', 'training')
TORCH_MODULES = {'inference', '_view_threads'}
QT_MODULES = (
    'qtpy',
    'napari',
    'magicgui',
    'PyQt5',
    'PyQt6',
    'PySide2',
    'PySide6',
)

IMPORT_CHECK = """
import importlib, json, sys
forbidden = json.loads(sys.argv[1])
seen = {}
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
    for m in forbidden:
        if m in sys.modules and m not in seen:
            seen[m] = name
print(json.dumps(seen))
"""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(['napari_retina_vessels', *parts])


def _may_load_torch(name: str) -> bool:
    parts = name.split('.')[1:]
    if not parts:
        return False
    if parts[0] in TORCH_PACKAGES:
        return len(parts) > 1  # the package's __init__ stays torch-free
    return parts[0] in TORCH_MODULES


def _first_importers(modules: list[str], forbidden) -> dict[str, str]:
    """Forbidden module -> the first of *modules* whose import loaded it,
    imported in order in one fresh interpreter."""
    result = subprocess.run(
        [
            sys.executable,
            '-c',
            IMPORT_CHECK,
            json.dumps(list(forbidden)),
            json.dumps(modules),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_core_modules_load_no_torch_and_no_qt():
    names = [_module_name(p) for p in _core_modules()]
    torch_free = [n for n in names if not _may_load_torch(n)]
    assert 'napari_retina_vessels.batch' in torch_free
    assert 'napari_retina_vessels.cli' in torch_free
    assert _first_importers(torch_free, ('torch', *QT_MODULES)) == {}
    # The model-running modules still pull in no Qt.
    assert _first_importers(names, QT_MODULES) == {}


def test_reader_and_sample_data_load_no_torch_and_no_qt():
    # Opening a file must not pay for torch or Qt either.
    loaded = _first_importers(
        [
            'napari_retina_vessels._napari.reader',
            'napari_retina_vessels._napari.sample_data',
            'napari_retina_vessels._napari.layers',
        ],
        ('torch', 'qtpy', 'napari', 'magicgui'),
    )
    assert loaded == {}


def _core_modules() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob('*.py')):
        if not path.is_relative_to(NAPARI_LAYER):
            out.append(path)
    return out


def _imported_roots(path: Path) -> set[str]:
    """Top-level package of every import in *path*, at any depth."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split('.')[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split('.')[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == 'import_module'
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split('.')[0])
    return roots


def test_core_modules_are_found():
    names = {p.relative_to(PACKAGE).as_posix() for p in _core_modules()}
    assert {
        'io/__init__.py',
        'io/_formats.py',
        'io/_writing.py',
        'io/datasets.py',
        'batch/__init__.py',
        'batch/cluster.py',
        'weights.py',
        '_weight_files.py',
        'fov.py',
        'preprocessing.py',
        'errors.py',
        '__init__.py',
    } <= names
    assert '_napari/reader.py' not in names


@pytest.mark.parametrize(
    ('old', 'new'),
    [
        ('batching', 'batch.batching'),
        ('cluster', 'batch.cluster'),
        ('datasets', 'io.datasets'),
        ('clinical', 'io.clinical'),
        ('outputs', 'io.outputs'),
    ],
)
def test_old_public_module_paths_are_the_moved_modules(old, new):
    # Scripts written against the flat layout keep working, and patching
    # either name patches the one module.
    moved = importlib.import_module(f'napari_retina_vessels.{new}')
    assert importlib.import_module(f'napari_retina_vessels.{old}') is moved


@pytest.mark.parametrize(
    'path', _core_modules(), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_core_module_imports_no_gui(path):
    assert not _imported_roots(path) & GUI_PACKAGES
