"""Every Python block of docs/*.md runs as written (README.md's: see
test_readme.py).

The blocks of one page run in order in one namespace, as a reader types
them. Relative paths such as ``'DRIVE/test/...'`` are the public
datasets' (the blocks run from their root); blocks that name ``viewer``
get a real napari viewer holding the sample photo. A block that cannot
run here is listed in :data:`NEEDS` with what it needs, so it is skipped
with that reason, never silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / 'docs'
_BLOCK = re.compile(r'```python\n(.*?)```', re.S)


def _cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


#: (page, block index) -> (can it run here?, what it needs)
NEEDS = {
    ('cluster.md', 0): (lambda: False, 'a SLURM cluster (dask_jobqueue)'),
    ('cluster.md', 1): (lambda: False, 'a running Dask scheduler'),
    ('gpu.md', 0): (_cuda, 'a CUDA GPU'),
}


def blocks(page: Path) -> list[str]:
    return _BLOCK.findall(page.read_text(encoding='utf-8'))


PAGES = sorted(p for p in DOCS.glob('*.md') if blocks(p))


def test_pages_with_blocks_are_found():
    names = {p.name for p in PAGES}
    assert {'api.md', 'quickstart.md', 'measures.md'} <= names
    for page, index in NEEDS:
        assert index < len(blocks(DOCS / page)), (page, index)


def _params():
    for page in PAGES:
        code = '\n'.join(blocks(page))
        marks = [pytest.mark.slow]
        if re.search(r'\bviewer\b', code):
            marks.append(pytest.mark.gui)
        if 'DRIVE/' in code:
            marks.append(pytest.mark.data)
        yield pytest.param(page, id=page.name, marks=marks)


@pytest.mark.parametrize('page', list(_params()))
def test_doc_blocks_run(page, request, monkeypatch, tmp_path):
    codes = blocks(page)
    namespace: dict = {'__name__': '__docs__'}
    if any('DRIVE/' in c for c in codes):
        monkeypatch.chdir(request.getfixturevalue('data_root'))
    else:
        monkeypatch.chdir(tmp_path)
    if any(re.search(r'\bviewer\b', c) for c in codes):
        from skimage import data

        viewer = request.getfixturevalue('make_napari_viewer')()
        viewer.add_image(data.retina(), name='retina', rgb=True)
        namespace['viewer'] = viewer
    skipped = []
    for i, code in enumerate(codes):
        can, what = NEEDS.get((page.name, i), (lambda: True, ''))
        if not can():
            skipped.append(f'block {i} needs {what}')
            continue
        try:
            exec(compile(code, f'{page.name}[{i}]', 'exec'), namespace)  # noqa: S102
        except Exception as err:
            raise AssertionError(
                f'{page.name} block {i} fails: {err!r}\n{code}'
            ) from err
    if skipped:
        pytest.skip(f'{page.name}: ' + '; '.join(skipped))
