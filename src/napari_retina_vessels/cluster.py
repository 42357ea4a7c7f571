"""Old import path of :mod:`napari_retina_vessels.batch.cluster`.

The same module object, so that what is set on either is seen by both.
"""

import sys

from .batch import cluster as _module

sys.modules[__name__] = _module
