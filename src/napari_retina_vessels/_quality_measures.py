"""The quality gate's measures: of the photo (before the networks) and
of its vessel map (after them). ``quality.py`` judges them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._quality_features import _block_mean, diameter, features


def image_measures(
    rgb: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    source_diameter: float | None = None,
) -> dict[str, float]:
    """The gate's image measures: the model's features
    (:data:`._quality_features.FEATURES`), the colour shares, the
    position of the brightest spot (the optic disc, as a fraction of
    the image's height and width) and ``source_diameter``."""
    fov = np.asarray(fov, bool)
    out = features(rgb, fov, source_diameter)
    out['source_diameter'] = float(
        diameter(fov) if source_diameter is None else source_diameter
    )
    k = max(1, diameter(fov) // 64)
    small = _block_mean(np.asarray(rgb, np.float32), k)
    m = _block_mean(fov.astype(np.float32), k) > 0.5
    if not m.any():
        m = np.ones(m.shape, bool)
    means = np.array([small[..., c][m].mean() for c in range(3)])
    total = float(means.sum()) or 1.0
    out.update(
        red_share=float(means[0] / total),
        green_share=float(means[1] / total),
        blue_share=float(means[2] / total),
    )
    # The optic disc: the brightest spot of the smoothed image.
    from scipy import ndimage as ndi

    bright = small.sum(-1) * m
    smooth = ndi.uniform_filter(bright, 5) / np.maximum(
        ndi.uniform_filter(m.astype(np.float32), 5), 1e-3
    )
    smooth[~ndi.binary_erosion(m, iterations=2) if m.sum() > 50 else ~m] = 0
    y, x = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    out['disc_y'] = (y + 0.5) / smooth.shape[0]
    out['disc_x'] = (x + 0.5) / smooth.shape[1]
    return out


def prediction_measures(
    probability: npt.NDArray[np.float32],
    fov: npt.NDArray[np.bool_],
    threshold: float,
    disc: tuple[float, float] | None = None,
) -> dict[str, float]:
    """The vessel map's measures: ``uncertain_fraction``,
    ``vessel_density`` and the retina evidence ``tree_share``,
    ``top5_share`` and ``disc_convergence`` (see
    :data:`.quality.EVIDENCE`; *disc* is the bright spot as fractions of
    height and width), ``vessel_length`` and ``mesh``
    (:func:`_length_and_mesh`), on every other pixel."""
    from scipy import ndimage as ndi

    p = np.asarray(probability)[::2, ::2]
    m = np.asarray(fov, bool)[::2, ::2]
    inside = p[m] if m.any() else p.ravel()
    if inside.size == 0:
        return {'uncertain_fraction': 1.0, 'vessel_density': 0.0}
    v = (p >= threshold) & m if m.any() else p >= threshold
    out = {
        'uncertain_fraction': float(
            ((inside > 0.25) & (inside < 0.75)).mean()
        ),
        'vessel_density': float((inside >= threshold).mean()),
    }
    n = int(v.sum())
    if n < 20:  # no map to judge: 'vessel_density' says so
        return out
    lab, count = ndi.label(v, np.ones((3, 3), bool))
    sizes = np.bincount(lab.ravel())[1:]
    out['tree_share'] = float(sizes.max() / n)
    # A retina's map is a few trees (one per vessel leaving the disc,
    # cut where a crossing or a faint stretch breaks it), not hundreds
    # of scattered pieces.
    out['top5_share'] = float(np.sort(sizes)[-5:].sum() / n)
    out.update(_length_and_mesh(v, m))
    if disc is not None:
        h, w = v.shape
        yy, xx = np.ogrid[:h, :w]
        r = 0.12 * diameter(m if m.any() else np.ones_like(m))
        near = (yy - disc[0] * h) ** 2 + (xx - disc[1] * w) ** 2 <= r * r
        near &= m if m.any() else True
        if near.any():
            out['disc_convergence'] = float(
                v[near].mean() / max(out['vessel_density'], 1e-6)
            )
    return out


def _length_and_mesh(
    v: npt.NDArray[np.bool_], m: npt.NDArray[np.bool_]
) -> dict[str, float]:
    """``vessel_length``: the vessel map's length (half its outline),
    in FOV diameters (a real photo's map runs 6 or more; a hazy
    photo's under 3). ``mesh``: gaps that the map closes all round per
    FOV diameter of length. A retina's vessels are trees that close a
    loop only where an artery crosses a vein; scales, lattices and
    gravel close small cells everywhere."""
    from scipy import ndimage as ndi

    d = float(diameter(m) if m.any() else max(v.shape)) or 1.0
    core = v[1:-1, 1:-1] & v[:-2, 1:-1] & v[2:, 1:-1]
    core &= v[1:-1, :-2] & v[1:-1, 2:]
    length = float(v.sum() - core.sum()) / 2 / d
    gaps, count = ndi.label(~v)
    # Gaps open to the outside of the field of view (or to the image's
    # edge when there is none) are not closed.
    if m.any() and not m.all():
        outside = ~m
    else:
        outside = np.ones(v.shape, bool)
        if m.all():
            outside[1:-1, 1:-1] = False
    closed = count - int((np.unique(gaps[outside]) > 0).sum())
    return {
        'vessel_length': length,
        'mesh': float(closed) / max(length, 0.1),
    }
