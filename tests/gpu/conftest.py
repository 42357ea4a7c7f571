"""GPU tests: marked ``gpu``, skipped where torch sees no CUDA device.

Run them on a lent GPU with ``scripts/device_check.sh`` (which also runs
``benchmarks/bench_gpu.py``), or by hand: ``python -m pytest tests/gpu``.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if 'gpu' in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU (torch sees none)')
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(scope='session')
def drive_photos(data_root):
    """Three DRIVE test photos, (H, W, 3) uint8."""
    from napari_retina_vessels.io import imread

    folder = data_root / 'DRIVE' / 'test' / 'images'
    paths = sorted(folder.glob('*.tif'))[:3]
    if len(paths) < 3:
        pytest.skip(f'DRIVE test photos not found under {folder}')
    return [imread(p) for p in paths]
