"""The release set-up (issue #32): CI on every OS and Python the package
claims, tox in CI, release only after the tests, one ruff version, a
citation file, and an sdist of the package only."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

yaml = pytest.importorskip('yaml')

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / '.github' / 'workflows'


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding='utf-8'))


def _pyproject() -> str:
    return (ROOT / 'pyproject.toml').read_text(encoding='utf-8')


def test_ci_matrix_covers_the_claimed_pythons_on_three_systems():
    ci = _load(WORKFLOWS / 'ci.yml')
    matrix = ci['jobs']['test']['strategy']['matrix']
    claimed = re.findall(
        r'Programming Language :: Python :: (3\.\d+)', _pyproject()
    )
    assert sorted(matrix['python']) == sorted(claimed)
    assert {'3.10', '3.11', '3.12', '3.13'} <= set(matrix['python'])
    assert {'ubuntu-latest', 'macos-latest', 'windows-latest'} == set(
        matrix['os']
    )
    steps = ' '.join(
        str(s.get('run', '')) for s in ci['jobs']['test']['steps']
    )
    assert 'tox -e py' in steps and '--cov=napari_retina_vessels' in steps
    tox = (ROOT / 'tox.ini').read_text(encoding='utf-8')
    envs = re.search(r'envlist = py\{([\d,]+)\}', tox)[1].split(',')
    assert sorted(envs) == sorted(c.replace('.', '') for c in claimed)


def test_release_waits_for_the_tests():
    release = _load(WORKFLOWS / 'release.yml')
    jobs = release['jobs']
    assert jobs['tests']['uses'] == './.github/workflows/ci.yml'
    assert jobs['build']['needs'] == 'tests'
    assert jobs['publish']['needs'] == 'build'
    ci = _load(WORKFLOWS / 'ci.yml')
    # 'on' reads as True in YAML 1.1
    assert 'workflow_call' in ci[True]


def test_one_ruff_version():
    pinned = re.search(r'"ruff==([\d.]+)"', _pyproject())[1]
    hooks = _load(ROOT / '.pre-commit-config.yaml')['repos']
    rev = next(h['rev'] for h in hooks if 'ruff' in h['repo'])
    assert rev == f'v{pinned}'
    ci = (WORKFLOWS / 'ci.yml').read_text(encoding='utf-8')
    assert set(re.findall(r'ruff==([\d.]+)', ci)) == {pinned}


def test_citation_file():
    cff = _load(ROOT / 'CITATION.cff')
    assert cff['cff-version'] == '1.2.0'
    assert cff['title'] and cff['authors'] and cff['license']


@pytest.mark.slow
def test_sdist_holds_the_package_only(tmp_path):
    """``python -m build --sdist``: the package with its shipped weights,
    tests and docs; no training weights (weights/) or training logs."""
    pytest.importorskip('build')
    done = subprocess.run(
        [sys.executable, '-m', 'build', '--sdist', '-o', str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f'sdist build failed:\n{done.stderr[-2000:]}')
    (sdist,) = tmp_path.glob('*.tar.gz')
    with tarfile.open(sdist) as tar:
        names = [n.split('/', 1)[-1] for n in tar.getnames()]
    assert not [n for n in names if n.startswith('weights/')]
    assert not [n for n in names if 'training-logs' in n]
    assert any(
        n.startswith('src/napari_retina_vessels/_weights/')
        and n.endswith('.pt')
        for n in names
    )
    assert 'CITATION.cff' in names and 'LICENSE' in names
    assert sdist.stat().st_size < 8_000_000
