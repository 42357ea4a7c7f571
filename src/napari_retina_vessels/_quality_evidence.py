"""The gate's verdict on a vessel map: is it a retina's, are its vessels
visible, and does a clear map outweigh the image model's doubt?

``quality.assess_prediction`` calls :func:`map_findings`; the limits
live in ``quality.py`` (:data:`~.quality.EVIDENCE`,
:data:`~.quality.EVIDENCE_MAX`, :data:`~.quality.CLEAR_MAP`), fitted
leave-one-camera-out by ``scripts/quality_gate_loco.py``.
"""

from __future__ import annotations

from typing import Any

#: What a photo whose vessel map shows too little is called.
NO_VESSELS = 'no vessels visible'


def map_findings(
    pm: dict[str, float],
    evidence: dict[str, float],
    evidence_max: dict[str, float],
    not_fundus: str,
) -> tuple[list[tuple[float, str]], bool]:
    """The retina evidence of a vessel map's measures *pm*
    (``prediction_measures``): findings (score, reason), worst first,
    and whether the map says "not a fundus photograph".

    A map sparser or shorter than any real retina's (density, length
    below their :data:`~.quality.EVIDENCE` limits) has no visible
    vessels: ungradable, nothing to measure. A map of scattered pieces
    (top-5 share low), neither a tree nor converging on the disc (both
    low), or a mesh of small closed cells (``mesh`` above its
    :data:`~.quality.EVIDENCE_MAX` limit) is not a retina's.
    """
    if 'tree_share' not in pm:
        return [(0.0, 'no vessels found in the field of view')], False
    low = {k: pm.get(k, 1.0) < v for k, v in evidence.items()}
    high = {k: pm.get(k, 0.0) > v for k, v in evidence_max.items()}
    if low.get('vessel_density') or low.get('vessel_length'):
        return [
            (
                0.0,
                f'{NO_VESSELS}: too few vessels for a retina (density '
                f'{pm["vessel_density"]:.1%}, length '
                f'{pm.get("vessel_length", 0.0):.1f} field-of-view '
                'diameters)',
            )
        ], False
    if (
        low.get('top5_share')
        or (low.get('tree_share') and low.get('disc_convergence'))
        or any(high.values())
    ):
        return [(0.0, not_fundus)], True
    return [], False


def clear_map(
    quality: Any,
    pm: dict[str, float],
    clear: dict[str, float],
    t_ungradable: float,
) -> bool:
    """Whether a clear vessel map outweighs the image model: the model
    alone called the photo ungradable (gradable probability at least
    ``clear['p_gradable']`` but under its threshold *t_ungradable*; not
    "not a fundus photograph": ``quality.assess_prediction``) and
    the map is as long and as much held by its five largest pieces as
    real retinas' maps (each other key of *clear*: the measure's
    lowest value). The
    network sees vessels through colour casts, dim exposure and a
    camera the model never met; a map it draws that clearly is
    measurable."""
    m = quality.measures
    p = m.get('p_gradable')
    if p is None or m.get('cheap_verdict'):
        return False
    if not clear['p_gradable'] <= p < t_ungradable:
        return False
    return all(
        pm.get(k, 0.0) >= v for k, v in clear.items() if k != 'p_gradable'
    )
