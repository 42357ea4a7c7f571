"""The whole gate's leave-one-camera-out table for
``scripts/quality_gate_loco.py`` (kept apart so each file stays short).

Per fold (one left-out source and one left-out non-fundus group):

- the image model is fitted on the feature cache without them
  (``_quality_fit.fit``, the shipped candidate; thresholds chosen by
  ``_quality_fit.loco`` on the image model's own held-out table);
- each map limit (``quality.EVIDENCE``) is a margin times the lowest
  value over the training-split photos of the other sources
  (``LIMIT_RULES``);
- every photo of the left-out source (all splits) and every picture of
  the left-out group goes through ``quality.precheck``,
  ``quality._image_findings`` (with the fold's model) and
  ``quality.assess_prediction`` (with the fold's limits): the code
  ``segment`` runs, on the cached map.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

import _quality_fit as FIT
from napari_retina_vessels import _quality_model as QM
from napari_retina_vessels import quality as Q

#: Shipped image-model candidate (docs/quality.md).
CANDIDATE = ('mlp', 0.1)

#: Each evidence limit: (margin, which end): the limit is margin x the
#: lowest value over the fitting photos. Density and visibility vary
#: more between cameras than the shape measures.
MARGIN = {
    'tree_share': 0.9,
    'disc_convergence': 0.9,
    'top5_share': 0.9,
    'vessel_density': 0.5,
}


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


def fold_limits(maps, exclude, margin=MARGIN):
    """Each limit from the training-split good photos of every source
    but *exclude*."""
    fit = [
        r
        for r in maps
        if r['src'] in FIT.SOURCES
        and r['src'] != exclude
        and r['label'] == 'good'
        and split_of(r['src'], r['name']) == 'train'
    ]
    return {
        k: margin[k] * min(r['pm'].get(k, 0.0) for r in fit) for k in margin
    }


@contextlib.contextmanager
def patched(model, limits):
    """The gate with a fold's image model and evidence limits."""
    old_load, old_ev = QM.load, dict(Q.EVIDENCE)
    QM.load = lambda: model
    Q.EVIDENCE.clear()
    Q.EVIDENCE.update(limits)
    try:
        yield
    finally:
        QM.load = old_load
        Q.EVIDENCE.clear()
        Q.EVIDENCE.update(old_ev)


def grade(r):
    """(image-only Quality, whole-gate Quality) of one cached picture
    under the patched gate."""
    g = r['green'].astype(np.float32)[..., None].repeat(3, -1) / 255
    early = Q.precheck(g, r['fov'], r['source_diameter'])
    if early is not None:
        return early, early
    m = dict(zip(r['mkeys'], r['mvals'], strict=True))
    m = {str(k): float(v) for k, v in m.items()}
    found, kind = Q._image_findings(m)
    q_img = Q._verdict(found, kind, m)
    q = Q.assess_prediction(q_img, r['prob'], r['fov'], r['threshold'])
    return q_img, q


def prediction_measures(maps):
    for r in maps:
        r['pm'] = Q.prediction_measures(
            r['prob'], r['fov'], r['threshold'], tuple(r['disc'])
        )


def fold_models(d):
    """The image model of each fold, with its thresholds."""
    res = FIT.loco_one(d, CANDIDATE)
    _, t, held = res
    t_good = FIT.good_threshold(d, held, t)
    models = []
    for i in range(len(FIT.SOURCES)):
        train, _ = FIT._fold_rows(d, i)
        y = np.array([FIT.LABELS[v] for v in d['label'][train]])
        m = FIT.fit(d['X'][train], y, *CANDIDATE)
        m['t_ungradable'] = np.array(t)
        m['t_good'] = np.array(t_good)
        models.append(m)
    return models, t, t_good


def _pc(k, n):
    return f'{k}/{n} ({k / n:.1%})' if n else '-'


def evaluate(maps, models, margin=MARGIN):
    """Per fold: the rows of its left-out source and group with their
    image-only and whole-gate grades."""
    out = []
    for i, src in enumerate(FIT.SOURCES):
        lim = fold_limits(maps, src, margin)
        rows = [
            r for r in maps if r['src'] in (src, f'nonfundus-{i}')
        ]
        with patched(models[i], lim):
            graded = [(r, *grade(r)) for r in rows]
        out.append((src, lim, graded))
    return out


def table(folds):
    lines = [
        '| left-out source | good photos | good ungradable: image model '
        '| whole gate | bad photos | bad ungradable: image model | whole '
        'gate | non-fundus | non-fundus ungradable: image model | whole '
        'gate |',
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    wrong = []
    for src, _, graded in folds:
        cells = [src]
        for lab in ('good', 'bad', 'nf'):
            sel = [(r, a, b) for r, a, b in graded if r['label'] == lab]
            n = len(sel)
            ki = sum(a.grade == 'ungradable' for _, a, _ in sel)
            kw = sum(b.grade == 'ungradable' for _, _, b in sel)
            cells += [str(n), _pc(ki, n) if n else '-', _pc(kw, n)]
            for r, _, b in sel:
                if (b.grade == 'ungradable') == (lab == 'good'):
                    wrong.append(
                        f'- {src}: {r["src"]} {r["name"]} ({lab}): '
                        f'{b.grade}, score {b.score:.2f}, '
                        f'{b.reason or "no reason"}'
                    )
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines), wrong


def run(args, maps):
    d = FIT.load(args.cache)
    prediction_measures(maps)
    models, t, t_good = fold_models(d)
    folds = evaluate(maps, models)
    text, wrong = table(folds)
    lim_lines = [
        f'- {src} left out: '
        + ', '.join(f'{k} {v:.3f}' for k, v in lim.items())
        for src, lim, _ in folds
    ]
    text = (
        f'Image model {CANDIDATE} per fold, ungradable below {t}, good '
        f'from {t_good:.2f}.\n\n{text}\n\nLimits per fold:\n\n'
        + '\n'.join(lim_lines)
        + '\n\nMisgraded by the whole gate:\n\n'
        + ('\n'.join(wrong) or '- none')
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text + '\n')
    print(f'{len(maps)} cached pictures', file=sys.stderr)
    return 0
