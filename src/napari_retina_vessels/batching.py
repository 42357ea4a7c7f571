"""Old import path of :mod:`napari_retina_vessels.batch.batching`.

The same module object, so that what is set on either is seen by both.
"""

import sys

from .batch import batching as _module

sys.modules[__name__] = _module
