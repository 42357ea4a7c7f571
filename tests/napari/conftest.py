"""Viewer tests fail on deprecated napari API.

napari marks what it is retiring (``viewer.camera`` in 0.9, say) with a
DeprecationWarning or FutureWarning "... deprecated ... since 0.x", and
a plugin reading the viewer's private attributes with a FutureWarning;
napari attributes it to the caller's caller, so the filters match the
message, not the module. In tests/napari/ such a warning is an error.
"""

from __future__ import annotations

import pytest

_STRICT = [
    pytest.mark.filterwarnings(f'error:{message}:{category}')
    for message, category in (
        ('.*is a deprecated attribute since', 'DeprecationWarning'),
        (r'.*is deprecated since 0\.', 'DeprecationWarning'),
        (r'.*is deprecated since 0\.', 'FutureWarning'),
        (r'Private attribute access', 'FutureWarning'),
        (r'.*property is private', 'FutureWarning'),
    )
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if 'tests/napari/' in item.nodeid.replace('\\', '/'):
            for mark in _STRICT:
                item.add_marker(mark)
