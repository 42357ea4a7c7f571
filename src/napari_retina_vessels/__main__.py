"""``python -m napari_retina_vessels``: napari with the plugin, ready."""

import sys

from ._napari.launch import main

if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
