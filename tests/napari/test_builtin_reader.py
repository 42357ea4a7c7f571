"""napari's own reader opens the public datasets' files too (issue #32).

When a user opens a DRIVE ``.tif`` without choosing this plugin's
reader, napari's built-in reader decodes it (its LZW compression needs
``imagecodecs``, a dependency); the gzipped STARE files only this
plugin's reader claims.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

pytestmark = pytest.mark.data

#: One file of each kind the public datasets hold (dataset, glob).
KINDS = [
    ('DRIVE', 'test/images/*.tif'),
    ('DRIVE', 'test/mask/*.gif'),
    ('DRIVE', 'test/1st_manual/*.gif'),
    ('DRIVE-disc', '*.tif'),
    ('RITE', '*/images/*.tif'),
    ('RITE', '*/av/*.png'),
    ('CHASE_DB1', '*.jpg'),
    ('CHASE_DB1', '*_1stHO.png'),
    ('HRF-AV', '**/images/*.JPG'),
    ('HRF-AV', '**/images/*.jpg'),
    ('HRF-AV', '**/av/*.png'),
    ('DRIMDB', '*/*.jpg'),
    ('STARE', '*/*.png'),
]


def _first(root: Path, dataset: str, pattern: str) -> Path:
    found = sorted((root / dataset).glob(pattern))
    assert found, f'no {pattern} in {root / dataset}'
    return found[0]


@pytest.mark.parametrize(('dataset', 'pattern'), KINDS)
def test_napari_builtin_reader_opens_it(data_root, dataset, pattern):
    from napari_builtins.io import imread

    path = _first(data_root, dataset, pattern)
    arr = imread(str(path))
    assert arr.size and arr.shape[-2:] != (0, 0), path


def test_gzipped_stare_files_are_this_plugins(data_root):
    import yaml

    import napari_retina_vessels._napari as pkg

    path = _first(data_root, 'STARE', 'stare-images/*.ppm.gz')
    manifest = yaml.safe_load(
        (Path(pkg.__file__).parent / 'napari.yaml').read_text()
    )
    patterns = manifest['contributions']['readers'][0]['filename_patterns']
    assert any(fnmatch.fnmatch(path.name, p) for p in patterns)
