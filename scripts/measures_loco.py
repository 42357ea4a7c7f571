"""The measures' thresholds, each chosen leave-one-camera-out.

Three thresholds of the measures are swept here, each on the cameras
that have what it needs; for every camera left out the value is chosen
on the others (the one whose worst camera is best) and judged on the
left-out one, and the value kept is the one the same rule picks on all
cameras. Prints markdown tables (docs/measures.md).

``fovea``
    The fovea finder's weights (``measures/fovea.py``: the blur of its
    darkness and vessel cues, the weight of the distance from the disc
    and of the distance from the middle of the field, and the disc
    confidence below which the disc is not used). Truth: the
    hand-placed centres of ``tests/data/fovea_drive_test.csv``
    (DRIVE test, 18) and
    ``tests/data/fovea_centres.csv`` (HRF-AV 24, STARE 14); the disc
    and the fovea are found from the photo and the manual vessel map,
    as ``measure`` has them. Score: the share of photos whose fovea is
    within one disc radius (DRIVE: the DRIVE-disc mask's; others: the
    finder's prior r0, 1/13 of the field of view, which is smaller than
    a 35-degree camera's disc, so STARE is judged strictly). A second
    table gives the held-out figures under other second criteria (ties
    broken by the worst median error, or by the worst share within half
    a radius) and how widely the left-out camera varies over the
    weights tied on the others.
``tree``
    The vessel tree needed to place the disc without a photo
    (``measures/disc.py``, ``MIN_TREE_FRACTION``: vessel pixels as a
    share of the field of view). Each manual vessel map of DRIVE,
    CHASE_DB1, STARE and HRF-AV is thinned by dropping random 1/16-wide
    blocks of it (keeping 100 % down to 2 %, two seeds), the disc is
    placed from what is left alone, and it is right when within one r0
    of the hand-placed centre (``tests/data/disc_centres.csv``). A
    threshold accepts the maps at or above it. Score: the worst of the
    share of wrong discs accepted and the share of right discs refused.
``share``
    The largest vessel share of the field of view that is measured
    (``measures/checks.py``, ``MAX_VESSEL_FRACTION``): above it a map is
    refused as a wrong threshold or an all-True map. Real maps are the
    manual ones; wrong ones are each photo's green channel thresholded
    below its median inside the field of view (what a threshold far too
    low gives: half the field or more marked vessel), and the all-True
    map. Score: the worst of real maps refused and wrong maps accepted.

Usage::

    python scripts/measures_loco.py fovea|tree|share|all [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path

import numpy as np

from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import imread
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.measures import checks
from napari_retina_vessels.measures import disc as disc_mod
from napari_retina_vessels.measures import fovea as fovea_mod

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / 'benchmarks'))
from disc_accuracy import read_centres, truth_vessels  # noqa: E402


def _rows(name: str) -> list[dict]:
    with open(HERE / 'tests' / 'data' / name, encoding='utf-8') as f:
        return list(csv.DictReader(ln for ln in f if not ln.startswith('#')))


def _r0(fov: np.ndarray) -> float:
    ys, xs = np.nonzero(fov)
    diam = max(np.ptp(xs) + 1, np.ptp(ys) + 1)
    return 0.5 * diam * disc_mod._DISC_PER_FOV


def _rank(score: dict, cams: list[str], v) -> tuple[float, float]:
    got = [score[k, v] for k in cams]
    return round(min(got), 6), round(float(np.mean(got)), 6)


def _choose(score: dict, cams: list[str], values: list):
    top = max(_rank(score, cams, v) for v in values)
    tied = [v for v in values if _rank(score, cams, v) == top]
    return tied[len(tied) // 2]


def loco(score: dict, cams: list[str], values: list, fmt) -> list[str]:
    """Leave-one-camera-out table: *score[(camera, value)]*, higher is
    better. A value is chosen by its worst camera, ties by the mean
    over the cameras; among values still tied, the middle one of
    *values* (the farthest from both ends of the tied run)."""
    out = [
        '| left out | chosen on the others | worst of the others | '
        'left-out camera |',
        '|---|---|---|---|',
    ]
    held = []
    for c in cams:
        rest = [k for k in cams if k != c]
        best = _choose(score, rest, values)
        worst = min(score[k, best] for k in rest)
        held.append(score[c, best])
        out.append(
            f'| {c} | {fmt(best)} | {worst:.0%} | {score[c, best]:.0%} |'
        )
    best = _choose(score, cams, values)
    out.append(
        f'\nworst held-out camera: {min(held):.0%}; chosen on all '
        f'{len(cams)} cameras: {fmt(best)} (worst camera '
        f'{min(score[k, best] for k in cams):.0%})'
    )
    return out


# -- fovea weights ---------------------------------------------------------


BLURS = (0.5, 0.75, 1.0)
DISTANCE_WEIGHTS = (0.0, 0.15, 0.3)
CENTRE_WEIGHTS = (0.0, 0.05, 0.1, 0.2)
TRUSTS = (0.15, 0.3, 0.5)
_FOVEA_KNOBS = ('BLUR', 'DISTANCE_WEIGHT', 'CENTRE_WEIGHT', 'TRUST_DISC')


def _fovea_cases(root: Path):
    for r in _rows('fovea_drive_test.csv'):
        num = r['image'].split('_')[0]
        mask = imread(root / 'DRIVE-disc' / f'{num}_test_gt.tif')
        mask = (mask[..., 0] if mask.ndim == 3 else mask) > 127
        yield (
            'DRIVE',
            f'test/images/{r["image"]}',
            float(r['y']),
            float(r['x']),
            float(np.sqrt(mask.sum() / np.pi)),
        )
    for r in _rows('fovea_centres.csv'):
        if r['x']:
            yield r['dataset'], r['image'], float(r['y']), float(r['x']), 0


def fovea(root: Path, full: bool = False) -> list[str]:
    from napari_retina_vessels.measures.core import MIN_CONFIDENCE

    values = list(
        itertools.product(BLURS, DISTANCE_WEIGHTS, CENTRE_WEIGHTS, TRUSTS)
    )
    hits: dict = {}
    errs: dict = {}
    keep = tuple(getattr(fovea_mod, k) for k in _FOVEA_KNOBS)
    try:
        for cam, image, ty, tx, radius in _fovea_cases(root):
            photo = imread(root / cam / image)
            vessels = truth_vessels(root, cam, image)
            fov = fov_mask(photo)
            unit = radius or _r0(fov)
            disc = disc_mod.find_disc(photo, vessels, fov=fov)
            if disc.confidence < MIN_CONFIDENCE:  # as ``measure``
                disc = None
            for v in values:
                for k, x in zip(_FOVEA_KNOBS, v):
                    setattr(fovea_mod, k, x)
                f, _ = fovea_mod.find_fovea(photo, vessels, disc, fov=fov)
                e = (
                    np.hypot(f.y - ty, f.x - tx) / unit
                    if f is not None
                    else np.inf
                )
                errs.setdefault((cam, v), []).append(float(e))
                hits.setdefault((cam, v), []).append(bool(e <= 1))
            print(f'{cam} {image}', file=sys.stderr)
    finally:
        for k, x in zip(_FOVEA_KNOBS, keep):
            setattr(fovea_mod, k, x)
    cams = list(dict.fromkeys(c for c, _ in hits))
    score = {k: float(np.mean(h)) for k, h in hits.items()}
    n = {c: len(hits[c, values[0]]) for c in cams}

    def fmt(v):
        return (
            f'blur {v[0]:g} r0, distance {v[1]:g}, centre {v[2]:g}, '
            f'trust {v[3]:g}'
        )

    out = [
        '### Fovea weights (fovea within one disc radius)\n',
        '| weights | ' + ' | '.join(f'{c} ({n[c]})' for c in cams) + ' |',
        '|---|' + '---|' * len(cams),
    ]
    for v in values:
        near = sum(a != b for a, b in zip(v, keep)) <= 1
        if near or full:
            out.append(
                f'| {fmt(v)} | '
                + ' | '.join(f'{score[c, v]:.0%}' for c in cams)
                + ' |'
            )
    if not full:
        out.append(
            '\n(rows: the weights in use and those differing from them '
            'in one; --all-rows for every combination)\n'
        )
    out += loco(score, cams, values, fmt)
    if all((c, keep) in score for c in cams):
        out.append(
            f'in use: {fmt(keep)}: '
            + ', '.join(f'{c} {score[c, keep]:.0%}' for c in cams)
        )
    out += ['', *tie_breaks(errs, cams, values)]
    return out


#: Second criteria tried for the fovea weights, after the worst camera's
#: share within one disc radius: (name, key of one camera's errors in
#: disc radii; higher is better, the worst camera's key counts).
_TIE_BREAKS = (
    ('mean share over the cameras (in use)', None),
    ('worst median error', lambda e: -float(np.median(e))),
    ('worst share within half a radius', lambda e: float(np.mean(e <= 0.5))),
)


def tie_breaks(errs: dict, cams: list[str], values: list) -> list[str]:
    """Held-out figures of the fovea weights under each second
    criterion of ``_TIE_BREAKS`` (the same rule in every fold; the
    last ties go to the middle of the tied values, as ``loco``)."""
    e = {k: np.asarray(x) for k, x in errs.items()}

    def share(c, v):
        return float(np.mean(e[c, v] <= 1))

    out = [
        '| second criterion | '
        + ' | '.join(f'{c} held out' for c in cams)
        + ' | worst held out |',
        '|---|' + '---|' * (len(cams) + 1),
    ]
    for name, key in _TIE_BREAKS:
        held = []
        for c in cams:
            rest = [k for k in cams if k != c]

            def rank(v, rest=rest, key=key):
                got = [share(k, v) for k in rest]
                second = (
                    float(np.mean(got))
                    if key is None
                    else min(key(e[k, v]) for k in rest)
                )
                return round(min(got), 6), round(second, 6)

            top = max(rank(v) for v in values)
            tied = [v for v in values if rank(v) == top]
            best = tied[len(tied) // 2]
            ok = e[c, best] <= 1
            spread = [share(c, v) for v in tied]
            held.append(
                (
                    float(ok.mean()),
                    f'{ok.mean():.0%} ({ok.sum()}/{ok.size}; {len(tied)} '
                    f'tied: {min(spread):.0%}-{max(spread):.0%})',
                )
            )
        out.append(
            f'| {name} | '
            + ' | '.join(t for _, t in held)
            + f' | {min(h for h, _ in held):.0%} |'
        )
    out.append(
        '\n(each cell: the left-out camera with the weights chosen on the '
        'others; how many weights tied on the others and the range of '
        'the left-out camera over them)'
    )
    return out


# -- tree share for a disc without a photo ---------------------------------


KEEP = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)
TREES = (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.07)


def _thin(v: np.ndarray, keep: float, seed: int) -> np.ndarray:
    if keep >= 1:
        return v
    b = max(8, v.shape[1] // 16)
    rng = np.random.default_rng(seed)
    grid = rng.random((v.shape[0] // b + 1, v.shape[1] // b + 1)) < keep
    return v & np.kron(grid, np.ones((b, b), bool))[: v.shape[0], : v.shape[1]]


def _tree_cases(root: Path) -> list[tuple]:
    """(camera, vessel share of the FOV, disc right?) per thinned map."""
    cases = []
    for row in read_centres():
        cam = row['dataset']
        path = root / cam / row['image']
        if not row['x'] or not path.is_file():
            continue
        photo = imread(path)
        vessels = truth_vessels(root, cam, row['image'])
        if vessels is None:
            continue
        fov = fov_mask(photo)
        r0 = _r0(fov)
        for keep, seed in itertools.product(KEEP, (0, 1)):
            if keep >= 1 and seed:
                continue
            v = _thin(vessels > 0, keep, seed) & fov
            n = int(v.sum())
            if not n:
                continue
            d = disc_mod.find_disc(None, v, fov=fov)
            err = np.hypot(d.y - float(row['y']), d.x - float(row['x']))
            cases.append((cam, n / fov.sum(), bool(err <= r0)))
    return cases


def tree(root: Path) -> list[str]:
    keep_min = disc_mod.MIN_TREE_FRACTION
    disc_mod.MIN_TREE_FRACTION = 0.0  # place every disc, judge after
    try:
        cases = _tree_cases(root)
    finally:
        disc_mod.MIN_TREE_FRACTION = keep_min
    cams = list(dict.fromkeys(c for c, *_ in cases))
    score = {}
    for c in cams:
        sel = [(f, ok) for k, f, ok in cases if k == c]
        for t in TREES:
            wrong_in = [f >= t for f, ok in sel if not ok]
            right_out = [f < t for f, ok in sel if ok]
            bad = max(
                np.mean(wrong_in) if wrong_in else 0.0,
                np.mean(right_out) if right_out else 0.0,
            )
            score[c, t] = 1.0 - bad
    out = [
        '### Vessel tree needed for a disc without a photo '
        '(1 - worst of wrong discs accepted, right discs refused)\n',
        '| tree share | ' + ' | '.join(cams) + ' |',
        '|---|' + '---|' * len(cams),
    ]
    for t in TREES:
        out.append(
            f'| {t:.1%} | '
            + ' | '.join(f'{score[c, t]:.0%}' for c in cams)
            + ' |'
        )
    for c in cams:
        sel = [(f, ok) for k, f, ok in cases if k == c]
        wrong = [f for f, ok in sel if not ok]
        out.append(
            f'\n{c}: {len(sel)} maps, {len(wrong)} wrong discs'
            + (f' (largest share {max(wrong):.1%})' if wrong else '')
        )
    out.append('')
    out += loco(score, cams, list(TREES), lambda t: f'{t:.1%}')
    out.append(f'in use: {disc_mod.MIN_TREE_FRACTION:.1%}')
    return out


# -- largest vessel share measured -----------------------------------------


SHARES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9)


def share(root: Path) -> list[str]:
    cases = []  # (camera, share of the FOV, real map?)
    for row in read_centres():
        cam = row['dataset']
        path = root / cam / row['image']
        if not path.is_file():
            continue
        photo = imread(path)
        fov = fov_mask(photo)
        vessels = truth_vessels(root, cam, row['image'])
        if vessels is None:
            continue
        area = fov.sum()
        cases.append((cam, (vessels > 0)[fov].sum() / area, True))
        g = photo[..., 1] if photo.ndim == 3 else photo
        low = g < np.median(g[fov])
        cases.append((cam, low[fov].sum() / area, False))
        cases.append((cam, 1.0, False))
    cams = list(dict.fromkeys(c for c, *_ in cases))
    score = {}
    for c in cams:
        real = [f for k, f, ok in cases if k == c and ok]
        wrong = [f for k, f, ok in cases if k == c and not ok]
        for s in SHARES:
            bad = max(
                np.mean([f > s for f in real]),
                np.mean([f <= s for f in wrong]),
            )
            score[c, s] = 1.0 - bad
    out = [
        '### Largest vessel share measured '
        '(1 - worst of real maps refused, wrong maps measured)\n',
        '| camera | real maps: median / largest share | '
        'wrong maps: smallest share |',
        '|---|---|---|',
    ]
    for c in cams:
        real = [f for k, f, ok in cases if k == c and ok]
        wrong = [f for k, f, ok in cases if k == c and not ok]
        out.append(
            f'| {c} | {np.median(real):.1%} / {max(real):.1%} | '
            f'{min(wrong):.1%} |'
        )
    out += ['', '| largest share | ' + ' | '.join(cams) + ' |']
    out.append('|---|' + '---|' * len(cams))
    for s in SHARES:
        out.append(
            f'| {s:.0%} | '
            + ' | '.join(f'{score[c, s]:.0%}' for c in cams)
            + ' |'
        )
    out.append('')
    out += loco(score, cams, list(SHARES), lambda s: f'{s:.0%}')
    out.append(f'in use: {checks.MAX_VESSEL_FRACTION:.0%}')
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('what', choices=('fovea', 'tree', 'share', 'all'))
    ap.add_argument('--data', type=Path, default=None)
    ap.add_argument('--all-rows', action='store_true')
    args = ap.parse_args(argv)
    root = args.data or data_root()
    for name, fn in (('fovea', fovea), ('tree', tree), ('share', share)):
        if args.what in (name, 'all'):
            lines = fn(root, args.all_rows) if name == 'fovea' else fn(root)
            print('\n'.join(lines) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
