"""``python -m napari_retina_vessels.cli``: the same as ``retina-vessels``."""

import sys

from . import main

if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
