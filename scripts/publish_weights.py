"""Copy a training run's weights into the package or weights/ folder.

Usage: python scripts/publish_weights.py RUN/best.pt NAME {shipped,download}

Writes ``src/napari_retina_vessels/_weights/NAME.pt`` (shipped) or
``weights/NAME.pt`` (downloadable) with only what inference needs, and
prints its sha256 for ``_registry.py``.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main(src: str, name: str, where: str) -> None:
    data = torch.load(src, map_location='cpu', weights_only=True)
    # Keep float32 tensors; strip nothing the loader needs.
    dest_dir = (
        ROOT / 'src/napari_retina_vessels/_weights'
        if where == 'shipped'
        else ROOT / 'weights'
    )
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f'{name}.pt'
    tmp = dest.with_suffix('.part')
    torch.save(data, tmp)
    shutil.move(tmp, dest)
    sha = hashlib.sha256(dest.read_bytes()).hexdigest()
    print(f'{dest.relative_to(ROOT)}  {dest.stat().st_size} bytes')
    print(f'sha256: {sha}')
    print('meta:', data.get('meta'))


if __name__ == '__main__':
    main(*sys.argv[1:4])
