"""The whole gate's leave-one-camera-out table for
``scripts/quality_gate_loco.py`` (kept apart so each file stays short).

Per fold (one left-out source and one left-out non-fundus group):

- the image model is fitted on the feature cache without them
  (``_quality_fit.fit``, the shipped candidate, with the shipped
  model's thresholds);
- each map limit is a margin times the lowest (``EVIDENCE``,
  ``CLEAR_MAP``) or highest (``EVIDENCE_MAX``) value over the
  training-split photos of the other sources (:data:`MARGIN`);
- every photo of the left-out source (all splits) and every picture of
  the left-out group goes through ``quality.precheck``, the image
  verdict (``quality._image_findings`` with the fold's model) and
  ``quality.assess_prediction`` (with the fold's limits): the code
  ``segment`` runs, on the cached map. Synthetic versions without a
  cached map get the image verdict only.

The smallest gradable probability that a clear map may lift
(``CLEAR_MAP['p_gradable']``) is chosen from :data:`CLEAR_P` by the
worst fold against the targets.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import _quality_fit as FIT
import numpy as np

from napari_retina_vessels import _quality_model as QM
from napari_retina_vessels import quality as Q

#: Shipped image-model candidate (docs/quality.md).
CANDIDATE = ('mlp', 0.1)

#: limit name -> (margin, table it goes to): the limit is the margin
#: times the lowest value over the fitting photos (EVIDENCE_MAX: the
#: highest; a CLEAR_MAP margin under 1 is a quantile instead).
MARGIN = {
    'tree_share': (0.9, 'EVIDENCE'),
    'disc_convergence': (0.9, 'EVIDENCE'),
    'top5_share': (0.9, 'EVIDENCE'),
    'vessel_density': (0.5, 'EVIDENCE'),
    'vessel_length': (0.5, 'EVIDENCE'),
    'mesh': (1.25, 'EVIDENCE_MAX'),
    'clear_vessel_length': (1.0, 'CLEAR_MAP'),
    # A clear map is held by its five largest pieces at least as much
    # as 95 % of real maps (a quantile, not a margin).
    'clear_top5_share': (0.05, 'CLEAR_MAP'),
}
#: Candidates for CLEAR_MAP['p_gradable'] (1.0: a clear map never lifts).
#: Chosen by the worst table cell, then the next worst, among those
#: that leave every cell that met its target without lifting meeting it.
CLEAR_P = (0.02, 0.05, 0.1, 0.2, 0.3, 1.0)
#: Candidates for the clear map's length: margin x the shortest real map.
CLEAR_MARGIN = (1.0, 1.2)
REAL = ('real', 'original', 'as is')


def split_of(src: str, name: str) -> str:
    """'train' or 'test' for a photo of a development source; DRIMDB's
    share is all 'train' (its held-back 40 % is the test)."""
    if src == 'DRIVE':
        return 'test' if name.endswith('_test.tif') else 'train'
    if src == 'CHASE_DB1':
        return 'train' if int(name[6:8]) <= 10 else 'test'
    if src == 'STARE':
        return 'train' if int(name[2:6]) <= 5 else 'test'
    return 'train'


def fold_limits(maps, exclude, clear_p):
    """The gate's map limits from the training-split photos (as they
    are) of every source but *exclude*."""
    fit = [
        r['pm']
        for r in maps
        if r['src'] in FIT.SOURCES
        and r['src'] != exclude
        and r['label'] == 'good'
        and '::' not in r['name']
        and split_of(r['src'], r['name']) == 'train'
    ]
    ev, ev_max, clear = {}, {}, {}
    for k, (margin, where) in MARGIN.items():
        key = k.removeprefix('clear_')
        vals = [pm.get(key, 0.0) for pm in fit]
        if where == 'EVIDENCE':
            ev[k] = margin * min(vals)
        elif where == 'EVIDENCE_MAX':
            ev_max[k] = margin * max(vals)
        elif margin < 1:  # a quantile
            clear[key] = float(np.quantile(vals, margin))
        else:
            clear[key] = margin * min(vals)
    clear['p_gradable'] = clear_p
    return ev, ev_max, clear


@contextlib.contextmanager
def patched(model, limits):
    """The gate with a fold's image model and map limits."""
    ev, ev_max, clear = limits
    saved = [
        (QM, 'load', QM.load),
        (Q, 'EVIDENCE', Q.EVIDENCE),
        (Q, 'EVIDENCE_MAX', Q.EVIDENCE_MAX),
        (Q, 'CLEAR_MAP', Q.CLEAR_MAP),
    ]
    QM.load = lambda: model
    Q.EVIDENCE, Q.EVIDENCE_MAX, Q.CLEAR_MAP = ev, ev_max, clear
    try:
        yield
    finally:
        for mod, name, val in saved:
            setattr(mod, name, val)


def grade(r):
    """(image-only Quality, whole-gate Quality) of one cached picture
    under the patched gate."""
    g = r['green'].astype(np.float32)[..., None].repeat(3, -1) / 255
    early = Q.precheck(g, r['fov'], r['source_diameter'])
    if early is not None:
        return early, early
    m = {str(k): float(v) for k, v in zip(r['mkeys'], r['mvals'])}
    found, kind = Q._image_findings(m)
    q_img = Q._verdict(found, kind, m)
    # The map's measures are cached (r['pm']): the same call.
    real, Q.prediction_measures = Q.prediction_measures, lambda *a: r['pm']
    try:
        q = Q.assess_prediction(q_img, r['prob'], r['fov'], r['threshold'])
    finally:
        Q.prediction_measures = real
    return q_img, q


def prediction_measures(maps):
    for r in maps:
        r['pm'] = Q.prediction_measures(
            r['prob'], r['fov'], r['threshold'], tuple(r['disc'])
        )


def fold_models(d):
    """The image model of each fold, with its thresholds."""
    # The shipped model's thresholds (chosen by scripts/quality_model.py
    # loco when it was trained): the gate as users meet it.
    shipped = QM.load()
    t = float(shipped['t_ungradable'])
    t_good = float(shipped['t_good'])
    models = []
    for i in range(len(FIT.SOURCES)):
        train, _ = FIT._fold_rows(d, i)
        y = np.array([FIT.LABELS[v] for v in d['label'][train]])
        m = FIT.fit(d['X'][train], y, *CANDIDATE)
        m['t_ungradable'] = np.array(t)
        m['t_good'] = np.array(t_good)
        models.append(m)
    return models, t, t_good


def _unmapped(d, maps, i, model, t):
    """Synthetic versions of the fold's source without a cached map:
    (label, image verdict ungradable) from the fold's model."""
    have = {(r['src'], r['name']) for r in maps}
    src = FIT.SOURCES[i]
    sel = (d['source'] == src) & ~np.isin(d['version'], REAL)
    out = []
    p = QM.probabilities(model, d['X'][sel])[:, 0]
    for lab, n, v, pk in zip(
        d['label'][sel], d['name'][sel], d['version'][sel], p
    ):
        if (src, f'{n}::{v}') not in have:
            out.append((str(lab), bool(pk < t)))
    return out


def evaluate(d, maps, models, t, clear_p):
    """Per fold: (source, limits, graded cached rows, unmapped rows)."""
    out = []
    for i, src in enumerate(FIT.SOURCES):
        lim = fold_limits(maps, src, clear_p)
        rows = [r for r in maps if r['src'] in (src, f'nonfundus-{i}')]
        with patched(models[i], lim):
            graded = [(r, *grade(r)) for r in rows]
        out.append((src, lim, graded, _unmapped(d, maps, i, models[i], t)))
    return out


def _counts(graded, unmapped, lab, synthetic):
    sel = [
        (a.grade == 'ungradable', b.grade == 'ungradable')
        for r, a, b in graded
        if r['label'] == lab and ('::' in r['name']) == synthetic
    ]
    if synthetic:
        sel += [(u, u) for lb, u in unmapped if lb == lab]
    n = len(sel)
    return n, sum(a for a, _ in sel), sum(b for _, b in sel)


def shortfalls(folds):
    """Each table cell's shortfall against its target (0 when met):
    (source, synthetic, label) -> float."""
    out = {}
    for src, _, graded, unmapped in folds:
        for syn in (False, True):
            for lab in ('good', 'bad', 'nf'):
                n, _, k = _counts(graded, unmapped, lab, syn)
                if not n:
                    continue
                if lab == 'good':
                    x = k / n - FIT.TARGETS['good_rejected']
                else:
                    key = 'bad_caught' if lab == 'bad' else 'nf_caught'
                    x = FIT.TARGETS[key] - k / n
                out[src, syn, lab] = round(max(x, 0.0), 4)
    return out


def worst(cells):
    """The shortfalls, largest first: candidates compare by the worst
    cell, then the next worst, and so on."""
    return tuple(sorted(cells.values(), reverse=True))


def _pc(k, n):
    return f'{k}/{n} ({k / n:.1%})' if n else '-'


def table(folds):
    lines = [
        '| left-out source | photos | good: image model | good: whole '
        'gate | bad: image model | bad: whole gate | non-fundus: image '
        'model | non-fundus: whole gate |',
        '|---|---|---|---|---|---|---|---|',
    ]
    wrong = []
    for src, _, graded, unmapped in folds:
        for syn in (False, True):
            cells = [src, 'synthetic versions' if syn else 'as they are']
            for lab in ('good', 'bad', 'nf'):
                n, ki, kw = _counts(graded, unmapped, lab, syn)
                cells += [_pc(ki, n), _pc(kw, n)]
            lines.append('| ' + ' | '.join(cells) + ' |')
        for r, _, b in graded:
            lab = r['label']
            if lab != 'mid' and (b.grade == 'ungradable') == (lab == 'good'):
                wrong.append(
                    f'- {src}: {r["src"]} {r["name"]} ({lab}): '
                    f'{b.grade}, score {b.score:.2f}, '
                    f'{b.reason or "no reason"}'
                )
    return '\n'.join(lines), wrong


def run(args, maps):
    d = FIT.load(args.cache)
    prediction_measures(maps)
    models, t, t_good = fold_models(d)
    cells = {}
    for margin in CLEAR_MARGIN:
        MARGIN['clear_vessel_length'] = (margin, 'CLEAR_MAP')
        for cp in CLEAR_P:
            cells[margin, cp] = shortfalls(evaluate(d, maps, models, t, cp))
            print(
                f'clear map {margin} x length, from p {cp}: '
                f'{worst(cells[margin, cp])[:6]}',
                file=sys.stderr,
            )
    # A lift that breaks what works is out: no table cell that meets its
    # target without lifting may miss it.
    base = cells[CLEAR_MARGIN[0], 1.0]
    ok = [
        c
        for c in cells
        if all(cells[c][k] <= 0 for k, v in base.items() if v <= 0)
    ]
    scores = {c: worst(cells[c]) for c in ok}
    best = min(scores.values())
    # Among the best, the most cautious: the longest map, then the
    # highest lifting probability.
    margin, cp = max(c for c in scores if scores[c] == best)
    MARGIN['clear_vessel_length'] = (margin, 'CLEAR_MAP')
    folds = evaluate(d, maps, models, t, cp)
    text, wrong = table(folds)
    lim_lines = [
        f'- {src} left out: '
        + ', '.join(f'{k} {v:.3f}' for part in lim for k, v in part.items())
        for src, lim, _, _ in folds
    ]
    text = (
        f'Image model {CANDIDATE} per fold, ungradable below {t}, good '
        f'from {t_good:.2f}; a clear map ({margin} x the shortest real '
        f'map) lifts from p {cp} (largest shortfalls '
        f'{scores[margin, cp][:4]}; without lifting '
        f'{worst(cells[margin, 1.0])[:4]}).\n\n{text}\n\nLimits per fold:\n\n'
        + '\n'.join(lim_lines)
        + '\n\nFitted on every source: '
        + ', '.join(
            f'{k} {v:.3f}'
            for part in fold_limits(maps, None, cp)
            for k, v in part.items()
        )
        + '\n\nMisgraded by the whole gate:\n\n'
        + ('\n'.join(wrong) or '- none')
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text + '\n')
    print(f'{len(maps)} cached pictures', file=sys.stderr)
    return 0
