"""Fitting and leave-one-camera-out scoring for scripts/quality_model.py.

Kept apart from the data code so that each file stays readable; see that
script's docstring for the data and the commands.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from napari_retina_vessels import _quality_model as QM
from napari_retina_vessels._quality_features import FEATURES

HERE = Path(__file__).resolve().parents[1]
SOURCES = ('DRIVE', 'CHASE_DB1', 'STARE', 'HRF-AV', 'DRIMDB')
LABELS = {'good': 0, 'bad': 1, 'nf': 2}
TARGETS = {'good_rejected': 0.05, 'bad_caught': 0.90, 'nf_caught': 1.0}
#: Candidate models: (kind, setting). Chosen by the worst left-out source.
CANDIDATES = (
    ('logistic', 0.1),
    ('logistic', 1.0),
    ('logistic', 10.0),
    ('mlp', 1e-3),
    ('mlp', 1e-1),
)
GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


def load(cache):
    d = np.load(cache)
    return {k: d[k] for k in d.files}


def _fold_rows(d, i):
    src = d['source']
    test = (src == SOURCES[i]) | (src == f'nonfundus-{i}')
    train = ~test & (d['label'] != 'mid')
    return train, test


def fit(X, y, kind, setting, seed=0):
    """Fit one candidate on raw features; the model as a dict of arrays
    in the format :mod:`._quality_model` evaluates."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    Xt = QM.transform_log(X)
    mean, scale = Xt.mean(0), Xt.std(0) + 1e-6
    Z = (Xt - mean) / scale
    # Each class weighs the same in total, and so does each source
    # within it (DRIMDB's real photos count as much as the synthetic
    # versions of a development set).
    w = np.ones(len(y))
    for c in np.unique(y):
        w[y == c] = len(y) / (3 * (y == c).sum())
    out = {
        'features': np.array(FEATURES),
        'mean': mean,
        'scale': scale,
        'classes': np.array(['gradable', 'ungradable', 'not a fundus photo']),
    }
    if kind == 'logistic':
        m = LogisticRegression(C=setting, max_iter=5000)
        m.fit(Z, y, sample_weight=w)
        out.update(kind=np.array('logistic'), W1=m.coef_.T, b1=m.intercept_)
    else:
        rng = np.random.default_rng(seed)
        # MLPClassifier takes no sample weights: resample to balance.
        idx = rng.choice(len(y), size=3 * len(y), p=w / w.sum())
        m = MLPClassifier(
            hidden_layer_sizes=(16,),
            alpha=setting,
            max_iter=2000,
            random_state=seed,
        )
        m.fit(Z[idx], y[idx])
        out.update(
            kind=np.array('mlp'),
            W1=m.coefs_[0],
            b1=m.intercepts_[0],
            W2=m.coefs_[1],
            b2=m.intercepts_[1],
        )
    out['centre'] = Z[y == 0].mean(0)
    return out


def _rates(p_ok, label, t):
    bad = p_ok < t
    r = {}
    for key, lab in (
        ('good_rejected', 'good'),
        ('bad_caught', 'bad'),
        ('nf_caught', 'nf'),
    ):
        sel = label == lab
        r[key] = float(bad[sel].mean()) if sel.any() else float('nan')
        r['n_' + lab] = int(sel.sum())
    sel = label == 'mid'
    r['mid_caught'] = float(bad[sel].mean()) if sel.any() else float('nan')
    return r


def _subsets(d, i, test):
    """(row name, mask within the fold's test rows): DRIMDB's graded
    photos apart from the synthetic versions of its good ones."""
    if SOURCES[i] != 'DRIMDB':
        return [(SOURCES[i], np.ones(test.sum(), bool))]
    real = np.isin(d['version'][test], ['real', 'original'])
    real |= d['source'][test] != 'DRIMDB'
    return [
        ('DRIMDB graded photos', real),
        ('DRIMDB synthetic versions', ~real),
    ]


def _violation(r):
    v = [
        r['good_rejected'] - TARGETS['good_rejected'],
        TARGETS['bad_caught'] - r['bad_caught'],
        TARGETS['nf_caught'] - r['nf_caught'],
    ]
    return max(x for x in v if x == x)


def loco_one(d, cand):
    """One candidate's worst violation, its threshold (chosen by the
    worst fold) and the held-out p(gradable) of every row of each
    fold."""
    X = d['X']
    held = []
    for i in range(len(SOURCES)):
        train, test = _fold_rows(d, i)
        y = np.array([LABELS[v] for v in d['label'][train]])
        model = fit(X[train], y, *cand)
        p = QM.probabilities(model, X[test])
        held.append((test, p))
    worst = []
    for t in GRID:
        worst.append(
            max(
                _violation(_rates(p[sub, 0], d['label'][test][sub], t))
                for i, (test, p) in enumerate(held)
                for _, sub in _subsets(d, i, test)
            )
        )
    worst = np.array(worst)
    best = np.flatnonzero(worst <= worst.min() + 1e-9)
    t = float(GRID[best[len(best) // 2]])
    print(
        f'{cand}: worst violation {worst.min():+.3f} at t={t}',
        file=sys.stderr,
    )
    return float(worst.min()), t, held


def loco(d):
    """Per candidate: the held-out p(gradable) of every row of each
    fold, and the threshold chosen by the worst fold."""
    return {cand: loco_one(d, cand) for cand in CANDIDATES}


def choose(results):
    return min(results, key=lambda c: (results[c][0], CANDIDATES.index(c)))


def good_threshold(d, held, t):
    """The score above which a photo is 'good': the largest value that
    keeps at least 90 % of each left-out source's own photos (not the
    synthetic versions) 'good'."""
    lows = []
    for test, p in held:
        sel = (d['label'][test] == 'good') & np.isin(
            d['version'][test], ['original', 'real']
        )
        if sel.any():
            lows.append(float(np.quantile(p[sel, 0], 0.10)))
    return float(max(t + 0.05, min(0.9, min(lows))))


def _pc(x):
    return '-' if x != x else f'{x:.1%}'


def table(d, results, cand):
    _, t, held = results[cand]
    t_good = good_threshold(d, held, t)
    lines = [
        '| left-out source | good photos | good ungradable | own photos '
        'good | bad photos | bad ungradable | middling ungradable | '
        'non-fundus | non-fundus ungradable |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for i, (test_all, p_all) in enumerate(held):
        for row, sub in _subsets(d, i, test_all):
            lab = d['label'][test_all][sub]
            ver = d['version'][test_all][sub]
            p = p_all[sub]
            r = _rates(p[:, 0], lab, t)
            own = (lab == 'good') & np.isin(ver, ['original', 'real'])
            own_good = (
                f'{(p[own, 0] >= t_good).mean():.0%} of {int(own.sum())}'
                if own.any()
                else '-'
            )
            lines.append(
                f'| {row} | {r["n_good"]} | {_pc(r["good_rejected"])} | '
                f'{own_good} | {r["n_bad"]} | {_pc(r["bad_caught"])} | '
                f'{_pc(r["mid_caught"])} | {r["n_nf"]} | '
                f'{_pc(r["nf_caught"])} |'
            )
    head = (
        f'Model {cand[0]} ({cand[1]}); ungradable below a score of {t}, '
        f'good from {t_good:.2f}.'
    )
    worst = []
    for i, (test, p) in enumerate(held):
        lab, ver, nm = d['label'][test], d['version'][test], d['name'][test]
        wrong = ((lab == 'good') & (p[:, 0] < t)) | (
            np.isin(lab, ['bad', 'nf']) & (p[:, 0] >= t)
        )
        for j in np.flatnonzero(wrong)[:6]:
            worst.append(
                f'- {SOURCES[i]}: {nm[j]} ({ver[j]}, {lab[j]}): '
                f'score {p[j, 0]:.2f}'
            )
    return (
        head
        + '\n\n'
        + '\n'.join(lines)
        + '\n\nMisgraded:\n\n'
        + ('\n'.join(worst) or '- none'),
        t,
        t_good,
    )


def run(args):
    d = load(args.cache)
    results = loco(d)
    cand = choose(results)
    text, t, t_good = table(d, results, cand)
    print(text)
    if args.out:
        Path(args.out).write_text(text + '\n')
    if args.command != 'train':
        return 0
    keep = d['label'] != 'mid'
    y = np.array([LABELS[v] for v in d['label'][keep]])
    model = fit(d['X'][keep], y, *cand)
    model['t_ungradable'] = np.array(t)
    model['t_good'] = np.array(t_good)
    counts = {k: int((d['label'] == k).sum()) for k in LABELS}
    model['trained_on'] = np.array(
        f'{counts} rows from {", ".join(SOURCES)} and 5 non-fundus groups'
    )
    dest = HERE / 'src' / 'napari_retina_vessels' / '_weights' / QM.FILE_NAME
    np.savez(dest, **model)
    sha = hashlib.sha256(dest.read_bytes()).hexdigest()
    print(f'\nwrote {dest} ({dest.stat().st_size} bytes) sha256 {sha}')
    return 0
