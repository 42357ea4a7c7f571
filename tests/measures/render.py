"""Synthetic vessel maps with known geometry, rendered by the tests."""

from __future__ import annotations

import numpy as np


def polyline_distance(shape, points) -> np.ndarray:
    """(H, W) distance from each pixel centre to a polyline (row, col)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    best = np.full(shape, np.inf)
    pts = np.asarray(points, np.float64)
    for (y0, x0), (y1, x1) in zip(pts[:-1], pts[1:]):
        dy, dx = y1 - y0, x1 - x0
        den = dy * dy + dx * dx
        t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / den, 0, 1)
        d = np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx))
        np.minimum(best, d, out=best)
    return best


def tube(shape, points, width) -> np.ndarray:
    """Soft (anti-aliased) map in [0, 1] of a tube of *width* pixels.

    A pixel's value is the fraction of it inside the tube (1-D box
    approximation across the edge), so the 0.5 level lies on the edge.
    """
    d = polyline_distance(shape, points)
    return np.clip(width / 2 - d + 0.5, 0.0, 1.0)


def sinusoid(x0, x1, y0, amplitude, wavelength, n=2000):
    """Points of y = y0 + A sin(2 pi (x - x0) / wavelength)."""
    x = np.linspace(x0, x1, n)
    y = y0 + amplitude * np.sin(2 * np.pi * (x - x0) / wavelength)
    return np.stack([y, x], axis=1)


def arc_chord(points) -> tuple[float, float]:
    """(arc length, chord) of a dense polyline."""
    p = np.asarray(points)
    arc = float(np.hypot(*np.diff(p, axis=0).T).sum())
    return arc, float(np.hypot(*(p[-1] - p[0])))


def mean_abs_curvature(amplitude, wavelength, x0, x1, n=20000) -> float:
    """Arc-length mean |curvature| of the sinusoid over [x0, x1]."""
    x = np.linspace(x0, x1, n)
    k = 2 * np.pi / wavelength
    d1 = amplitude * k * np.cos(k * x)
    d2 = -amplitude * k * k * np.sin(k * x)
    ds = np.sqrt(1 + d1 * d1)
    kappa = np.abs(d2) / ds**3
    return float(np.sum(kappa * ds) / np.sum(ds))


def sierpinski(n: int = 256) -> np.ndarray:
    """Sierpinski triangle (Pascal's triangle mod 2): dimension log2 3."""
    i, j = np.mgrid[:n, :n]
    return (j <= i) & ((i & j) == j)


def radial_tree(shape, centre, radius, widths, labels):
    """Straight vessels leaving a disc at even angles.

    Returns (vessels bool, A/V uint8, soft float): vessel *k* of width
    ``widths[k]`` and A/V class ``labels[k]`` runs from the disc margin
    to 6 disc radii.
    """
    cy, cx = centre
    soft = np.zeros(shape)
    av = np.zeros(shape, np.uint8)
    n = len(widths)
    for k, (w, lab) in enumerate(zip(widths, labels)):
        a = 2 * np.pi * (k + 0.5) / n
        p0 = (cy + radius * np.sin(a), cx + radius * np.cos(a))
        p1 = (cy + 6 * radius * np.sin(a), cx + 6 * radius * np.cos(a))
        s = tube(shape, [p0, p1], w)
        av[(s >= 0.5) & (s > soft)] = lab
        soft = np.maximum(soft, s)
    return soft >= 0.5, av, soft
