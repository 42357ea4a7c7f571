"""Old import path of :mod:`napari_retina_vessels.io.outputs`.

The same module object, so that what is set on either is seen by both.
"""

import sys

from .io import outputs as _module

sys.modules[__name__] = _module
