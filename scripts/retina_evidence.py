"""Choose the gate's retina-evidence limits leave-one-camera-out.

Runs the default vessel model (one view, no A/V) on the first photos of
the training splits of DRIVE, CHASE_DB1, STARE, HRF-AV and on DRIMDB's
good photos, and on pictures that are not fundus photos (those of
``scripts/quality_model.py``: scikit-image images, textures, noise,
inside a round black aperture, as they are and tinted red-orange), then
measures each vessel map (``quality.prediction_measures``:
``tree_share``, ``disc_convergence``, ``vessel_density``).

A picture fails the evidence when both ``tree_share`` and
``disc_convergence`` are below their limits. Each limit is 0.9 times the
lowest value over the real photos of the sources used for fitting; for
each left-out source the table gives its photos that fail and the
left-out non-fundus group's pictures that fail. The shipped limits
(``quality.EVIDENCE``) are fitted on every source.

Usage::

    python scripts/retina_evidence.py [--per-source 8] [--out table.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import quality_model as QMOD  # noqa: E402

KEYS = ('tree_share', 'disc_convergence')
MARGIN = 0.9


def _measure(image):
    from napari_retina_vessels import segment
    from napari_retina_vessels._quality_features import canonical_copy
    from napari_retina_vessels.preprocessing import resize
    from napari_retina_vessels.quality import (
        image_measures,
        prediction_measures,
    )

    seg = segment(image, av=False, views=1, force=True)
    rgb_s, fov_s, d = canonical_copy(image)
    im = image_measures(rgb_s, fov_s, d)
    prob_s = resize(seg.probability, fov_s.shape)
    m = prediction_measures(
        prob_s, fov_s, seg.threshold, (im['disc_y'], im['disc_x'])
    )
    return {k: float(m.get(k, 0.0)) for k in (*KEYS, 'vessel_density')}


def collect(per_source):
    from napari_retina_vessels.io import imread

    rows = []
    seen = {}
    for src, path, label, _ in QMOD._photos():
        if label != 'good' or seen.get(src, 0) >= per_source:
            continue
        seen[src] = seen.get(src, 0) + 1
        rows.append((src, path.name, 'real', _measure(imread(path))))
        print(src, path.name, rows[-1][3], file=sys.stderr)
    for name, g, im in QMOD.non_fundus(np.random.default_rng(3)):
        if not name.endswith('in aperture'):
            continue
        rows.append((f'nonfundus-{g}', name, 'nf', _measure(im)))
        print(name, rows[-1][3], file=sys.stderr)
    return rows


def limits(rows, exclude=()):
    real = [m for s, _, lab, m in rows if lab == 'real' and s not in exclude]
    return {k: MARGIN * min(m[k] for m in real) for k in KEYS}


def fails(m, lim):
    return all(m[k] < lim[k] for k in KEYS)


def table(rows):
    lines = [
        '| left-out source | photos | photos failing | non-fundus | '
        'non-fundus failing | limits (tree share, convergence) |',
        '|---|---|---|---|---|---|',
    ]
    for i, src in enumerate(QMOD.SOURCES):
        lim = limits(rows, exclude=(src,))
        own = [m for s, _, lab, m in rows if s == src]
        nf = [m for s, _, lab, m in rows if s == f'nonfundus-{i}']
        lines.append(
            f'| {src} | {len(own)} | {sum(fails(m, lim) for m in own)} | '
            f'{len(nf)} | {sum(fails(m, lim) for m in nf)} | '
            f'{lim["tree_share"]:.2f}, {lim["disc_convergence"]:.2f} |'
        )
    lim = limits(rows)
    allnf = [m for s, _, lab, m in rows if lab == 'nf']
    lines.append(
        f'\nFitted on every source: tree share {lim["tree_share"]:.2f}, '
        f'convergence {lim["disc_convergence"]:.2f}; non-fundus failing '
        f'{sum(fails(m, lim) for m in allnf)} of {len(allnf)}.'
    )
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--per-source', type=int, default=8)
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    rows = collect(args.per_source)
    text = table(rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
