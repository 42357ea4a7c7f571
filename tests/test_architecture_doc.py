"""docs/architecture.md stays true to the code: every file and function
its rules and recipes name exists, and each common change (a new model,
file format, measure or option) touches at most three files."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'src' / 'napari_retina_vessels'
DOC = (ROOT / 'docs' / 'architecture.md').read_text(encoding='utf-8')


def _section(title: str) -> str:
    start = DOC.index(f'## {title}')
    end = DOC.find('\n## ', start + 1)
    return DOC[start : end if end > 0 else None]


def _recipes() -> dict[str, str]:
    """Bullet title -> bullet text, of 'Where to start'."""
    text = _section('Where to start')
    out = {}
    for bullet in re.split(r'\n- ', text)[1:]:
        title = re.match(r'\*\*(.+?)\*\*', bullet)
        if title:
            out[title.group(1)] = bullet
    return out


def _files(bullet: str) -> list[list[str]]:
    """The 'Files:' line of a recipe: one list of alternatives a slot."""
    line = bullet[bullet.index('Files:') + len('Files:') :]
    slots = line.replace('\n', ' ').strip().rstrip('.').split(', ')
    return [re.findall(r'`([^`]+)`', slot) for slot in slots]


COMMON = (
    'A new model',
    'A new file format',
    'A new measure',
    'A new option of segmentation',
)


@pytest.mark.parametrize('change', COMMON)
def test_a_common_change_touches_at_most_three_files(change):
    recipe = next(v for k, v in _recipes().items() if k.startswith(change))
    slots = _files(recipe)
    assert 1 <= len(slots) <= 3, (change, slots)
    for alternatives in slots:
        assert alternatives, (change, slots)
        for name in alternatives:
            if '<' in name:  # the new file itself
                folder = (PACKAGE / name.split('<')[0]).parent
                assert folder.is_dir(), name
            else:
                assert (PACKAGE / name).is_file(), name


def _symbols(text: str) -> set[str]:
    """Backticked dotted names that start with a package module."""
    names = set()
    for token in re.findall(r'`([A-Za-z_][\w.]*)`', text):
        head = token.split('.')[0]
        if '.' in token and (
            (PACKAGE / head).is_dir() or (PACKAGE / f'{head}.py').is_file()
        ):
            names.add(token)
    return names


def _resolve(dotted: str):
    parts = dotted.split('.')
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(
                'napari_retina_vessels.' + '.'.join(parts[:k])
            )
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_every_function_the_rules_and_recipes_name_exists():
    text = _section('One rule, one place') + _section('Where to start')
    names = _symbols(text)
    assert len(names) > 20
    missing = []
    for dotted in sorted(names):
        if dotted.endswith('.py'):
            if (
                not (PACKAGE / dotted.replace('.py', ''))
                .with_suffix('.py')
                .is_file()
                and not (PACKAGE / dotted).is_file()
            ):
                missing.append(dotted)
            continue
        try:
            _resolve(dotted)
        except (ImportError, AttributeError):
            missing.append(dotted)
    assert not missing, missing


def test_every_file_the_recipes_name_exists():
    text = _section('Where to start') + _section('One rule, one place')
    paths = {
        t
        for t in re.findall(r'`([\w/<>.]+\.(?:py|yaml))`', text)
        if '/' in t and '<' not in t
    }
    assert paths
    for path in paths:
        where = ROOT if path.startswith(('tests/', 'docs/')) else PACKAGE
        assert (where / path).is_file(), path
