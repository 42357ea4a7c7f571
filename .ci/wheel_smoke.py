"""Smoke test of an installed wheel (run outside the source tree): the
shipped weights, the manifest and the CLI entry point came along."""

import subprocess
import sys
from pathlib import Path

import numpy as np

import napari_retina_vessels as nrv

here = Path(nrv.__file__).resolve()
assert 'site-packages' in here.parts, f'imported the source tree: {here}'
assert (here.parent / '_napari' / 'napari.yaml').is_file()
yy, xx = np.mgrid[:160, :160]
img = np.zeros((160, 160, 3), np.uint8)
disc = (yy - 80) ** 2 + (xx - 80) ** 2 < 70 ** 2
img[disc] = (200, 90, 40)
img[disc & (np.abs(yy - xx) < 3)] = (120, 50, 20)
result = nrv.segment(img, device='cpu')
assert result.vessels.shape == (160, 160)
cli = Path(sys.executable).with_name('retina-vessels')
version = subprocess.run([str(cli), '--version'], check=True,
                         capture_output=True, text=True).stdout.strip()
print(f'wheel OK: version {version}, model {result.model}')
