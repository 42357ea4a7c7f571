"""Import a module of the repository's ``scripts/`` folder in a test
(the scripts import one another by name, so the folder is on the path
while the module loads)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / 'scripts'


def script(name: str) -> ModuleType:
    """The module ``scripts/<name>.py``."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))
