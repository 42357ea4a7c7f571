"""Every Python block of the README runs as written.

Blocks that use napari's console name ``viewer`` get a real viewer with
the sample photo as the selected layer; relative paths such as
``'DRIVE/test'`` are the public datasets' (run from their root).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / 'README.md'
BLOCKS = re.findall(
    r'```python\n(.*?)```', README.read_text(encoding='utf-8'), re.S
)
# Quoted relative paths with a folder part: dataset paths.
_DATA_PATH = re.compile(r"""['"]([A-Za-z0-9_]+/[\w./-]*)['"]""")


def _params():
    for i, code in enumerate(BLOCKS):
        first = next(
            (
                line
                for line in code.splitlines()
                if line.strip() and not line.startswith(('import', 'from'))
            ),
            '',
        )
        marks = [pytest.mark.slow]
        if re.search(r'\bviewer\b', code):
            marks.append(pytest.mark.gui)
        yield pytest.param(code, id=f'{i}: {first.strip()[:40]}', marks=marks)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize('code', list(_params()))
def test_readme_block_runs(code, request, monkeypatch, tmp_path):
    namespace: dict = {'__name__': '__readme__'}
    paths = [
        p
        for p in _DATA_PATH.findall(code)
        if not p.startswith(('http', 'napari'))
    ]
    if paths:
        root = request.getfixturevalue('data_root')
        for p in paths:
            if not (root / p).exists():
                pytest.skip(f'{p} is not under {root}')
        monkeypatch.chdir(root)
    else:
        monkeypatch.chdir(tmp_path)
    if re.search(r'\bviewer\b', code):
        from skimage import data

        viewer = request.getfixturevalue('make_napari_viewer')()
        viewer.add_image(data.retina(), name='retina', rgb=True)
        namespace['viewer'] = viewer
    exec(compile(code, str(README), 'exec'), namespace)  # noqa: S102
