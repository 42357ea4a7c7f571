"""Central retinal artery and vein equivalents: revised Knudtson formulas.

Knudtson M.D. et al., "Revised formulas for summarizing retinal vessel
diameters", Curr Eye Res 2003;27:143-149. The six widest arterioles (or
venules) crossing zone B are combined in pairs, widest with narrowest,
``W = k * sqrt(w1**2 + w2**2)`` with ``k = 0.88`` for arterioles and
``0.95`` for venules; with an odd count the middle one is carried to the
next round; rounds repeat until one value is left.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ['ARTERY_K', 'VEIN_K', 'knudtson']

ARTERY_K = 0.88
VEIN_K = 0.95


def knudtson(widths: Sequence[float], k: float, *, n: int = 6) -> float:
    """Combine the *n* largest *widths* into one equivalent width.

    Parameters
    ----------
    widths : sequence of float
        Vessel widths (any unit; the result has the same unit).
    k : float
        :data:`ARTERY_K` (0.88) or :data:`VEIN_K` (0.95).
    n : int
        How many of the widest vessels to use (6 in the revised
        formulas).

    Returns
    -------
    float
        The equivalent; NaN for no widths. One width is returned as is.
    """
    w = sorted((float(x) for x in widths if np.isfinite(x)), reverse=True)[:n]
    if not w:
        return float('nan')
    while len(w) > 1:
        w.sort(reverse=True)
        m = len(w)
        nxt = [k * np.hypot(w[i], w[m - 1 - i]) for i in range(m // 2)]
        if m % 2:
            nxt.append(w[m // 2])
        w = nxt
    return float(w[0])
