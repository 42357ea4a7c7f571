"""Shared fixtures: where the public datasets are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def data_root() -> Path:
    """Root of the public datasets (``$RETINA_VESSELS_DATA``).

    A relative root counts from the repository root. Skips when it is
    missing, or fails when ``RETINA_VESSELS_REQUIRE_DATA=1`` (CI).
    """
    from napari_retina_vessels.io.datasets import data_root as _data_root

    root = _data_root()
    if not root.is_absolute():
        root = REPO_ROOT / root
    root = root.resolve()
    if root.is_dir():
        return root
    message = f'public datasets not found at {root}; set RETINA_VESSELS_DATA'
    if os.environ.get('RETINA_VESSELS_REQUIRE_DATA') == '1':
        pytest.fail(message)
    pytest.skip(message)
