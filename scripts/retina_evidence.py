"""Choose the gate's retina-evidence limits leave-one-camera-out.

Runs the default vessel model (one view, no A/V) on the first photos of
the training splits of DRIVE, CHASE_DB1, STARE, HRF-AV and on DRIMDB's
good photos, and on pictures that are not fundus photos (those of
``scripts/quality_model.py``: scikit-image images, textures, noise,
inside a round black aperture, as they are and tinted red-orange), then
measures each vessel map (``quality.prediction_measures``:
``tree_share``, ``top5_share``, ``disc_convergence``,
``vessel_density``).

Each limit is a margin (:data:`MARGIN`) times the lowest value over the
real photos of the sources used for fitting. A picture fails by one of
the :data:`RULES` (the rule with the fewest real photos failing in the
worst left-out source, then the most non-fundus pictures failing in the
worst left-out group); for each left-out source the table gives its
photos that fail and the left-out non-fundus group's pictures that
fail. It chose the rule; the shipped limits (``quality.EVIDENCE``)
are now fitted on every training-split photo of the five sources by
``scripts/quality_gate_loco.py``, which judges the whole gate.

Usage::

    python scripts/retina_evidence.py [--per-source 4] [--out table.md]
        [--save measures.json | --load measures.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import quality_model as QMOD  # noqa: E402

KEYS = ('tree_share', 'disc_convergence', 'top5_share', 'vessel_density')
#: Limit = margin x the lowest value over real photos. Density varies
#: more between cameras and resolutions than the shape measures.
MARGIN = {
    'tree_share': 0.9,
    'disc_convergence': 0.9,
    'top5_share': 0.9,
    'vessel_density': 0.5,
}


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
    return {k: float(m.get(k, 0.0)) for k in KEYS}


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
    return {k: MARGIN[k] * min(m.get(k, 0.0) for m in real) for k in KEYS}


def _both(lo):
    return lo['tree_share'] and lo['disc_convergence']


#: How the measures combine (each gets which measures are below their
#: limits): both tree share and convergence low; either; few pieces
#: holding the map (top5_share) or both; that or a sparse map.
RULES = {
    'both': _both,
    'either': lambda lo: lo['tree_share'] or lo['disc_convergence'],
    'pieces or both': lambda lo: lo['top5_share'] or _both(lo),
    'pieces, sparse or both': lambda lo: (
        lo['top5_share'] or lo['vessel_density'] or _both(lo)
    ),
}
RULE = ['both']


def fails(m, lim):
    return RULES[RULE[0]]({k: m.get(k, 0.0) < lim[k] for k in KEYS})


def choose_rule(rows):
    """The rule with the fewest real photos failing in the worst
    left-out source, then the most non-fundus pictures failing in the
    worst left-out group, then in all groups."""
    best = None
    for rule in RULES:
        RULE[0] = rule
        worst_real, worst_nf, total_nf = 0.0, 1.0, 0
        for i, src in enumerate(QMOD.SOURCES):
            lim = limits(rows, exclude=(src,))
            own = [m for s, _, _, m in rows if s == src]
            nf = [m for s, _, _, m in rows if s == f'nonfundus-{i}']
            if own:
                share = sum(fails(m, lim) for m in own) / len(own)
                worst_real = max(worst_real, share)
            if nf:
                caught = sum(fails(m, lim) for m in nf)
                worst_nf = min(worst_nf, caught / len(nf))
                total_nf += caught
        key = (worst_real > 0.05, -worst_nf, -total_nf, worst_real)
        print(rule, worst_real, worst_nf, file=sys.stderr)
        if best is None or key < best[0]:
            best = (key, rule)
    RULE[0] = best[1]
    return best[1]


def table(rows):
    lines = [
        '| left-out source | photos | photos failing | non-fundus | '
        'non-fundus failing | limits (tree share, convergence, top-5 '
        'share, density) |',
        '|---|---|---|---|---|---|',
    ]
    for i, src in enumerate(QMOD.SOURCES):
        lim = limits(rows, exclude=(src,))
        own = [m for s, _, lab, m in rows if s == src]
        nf = [m for s, _, lab, m in rows if s == f'nonfundus-{i}']
        lines.append(
            f'| {src} | {len(own)} | {sum(fails(m, lim) for m in own)} | '
            f'{len(nf)} | {sum(fails(m, lim) for m in nf)} | '
            f'{", ".join(f"{lim[k]:.3f}" for k in KEYS)} |'
        )
    lim = limits(rows)
    allnf = [m for s, _, lab, m in rows if lab == 'nf']
    lines.append(
        f'\nRule: {RULE[0]}. Fitted on every source: '
        + ', '.join(f'{k} {lim[k]:.3f}' for k in KEYS)
        + f'; non-fundus failing {sum(fails(m, lim) for m in allnf)} of '
        f'{len(allnf)}.'
    )
    return '\n'.join(lines)


def combined(rows, cache):
    """Non-fundus pictures the whole gate catches per left-out group:
    the image model's held-out verdict (scripts/_quality_fit.py), or
    no vessels found, or the evidence with held-out limits."""
    import _quality_fit as FIT

    d = FIT.load(cache)
    results = FIT.loco(d)
    cand = FIT.choose(results)
    _, t, held = results[cand]
    p_of = {}
    for test, p in held:
        for j, k in enumerate(np.flatnonzero(test)):
            p_of[(d['source'][k], d['name'][k])] = p[j, 0]
    lines = [
        '| left-out group | non-fundus in aperture | image model | '
        'evidence or no vessels | whole gate |',
        '|---|---|---|---|---|',
    ]
    for i, src in enumerate(QMOD.SOURCES):
        lim = limits(rows, exclude=(src,))
        nf = [(n, m) for s, n, _, m in rows if s == f'nonfundus-{i}']
        img = [p_of[(f'nonfundus-{i}', n)] < t for n, _ in nf]
        ev = [m['vessel_density'] == 0 or fails(m, lim) for _, m in nf]
        both = [a or b for a, b in zip(img, ev, strict=True)]
        lines.append(
            f'| {i} (with {src} left out) | {len(nf)} | {sum(img)} | '
            f'{sum(ev)} | {sum(both)} |'
        )
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--per-source', type=int, default=8)
    parser.add_argument('--out', default=None)
    parser.add_argument('--save', default=None, help='write the measures')
    parser.add_argument('--load', default=None, help='read them instead')
    parser.add_argument(
        '--combined',
        default=None,
        help='feature cache of quality_model.py: also the whole gate',
    )
    args = parser.parse_args(argv)
    if args.load:
        rows = [tuple(r) for r in json.loads(Path(args.load).read_text())]
    else:
        rows = collect(args.per_source)
    if args.save:
        Path(args.save).write_text(json.dumps(rows))
    choose_rule(rows)
    text = table(rows)
    if args.combined:
        text += '\n\n' + combined(rows, args.combined)
    print(text)
    if args.out:
        Path(args.out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
