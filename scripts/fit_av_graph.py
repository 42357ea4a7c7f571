"""Fit the A/V graph vote's junction table, and compare the votes.

1. ``fit``: segments the A/V training photos (RITE training and HRF-AV
   training, without the 4 validation photos RITE 39, 40 and HRF-AV
   08_g, 08_h) with the default models in float32, builds
   ``av.vessel_graph`` on each canonical-scale vessel map, gives each
   segment the label most of its labelled pixels carry (the labels
   brought to the canonical scale by nearest neighbour) and counts, per
   junction degree and 20-degree angle bin, how often two segments that
   meet carry the same label (one pseudo-count each way), per junction
   degree, 20-degree angle bin and calibre-ratio bin
   (``VesselGraph.cells``). Prints the table to paste into
   ``vessel_graph.JUNCTION_AGREEMENT``.
2. ``compare``: on the validation photos (and then on RITE test unless
   ``--skip-test``), the intersection accuracy and coverage of: no vote,
   the segment vote, and the graph vote at several strengths. The
   defaults were chosen on the validation rows only.
3. ``camera-out``: the leave-one-camera-out rows of docs/results.md
   (RITE-only A/V model on all 24 HRF-AV photos, HRF-AV-only model on
   RITE test) with the vote's table counted on the training camera's
   labels alone, beside the shipped table (counted on both cameras).

Segmentations are cached under runs/av_graph_cache/ (the vessel map and
the A/V network's probabilities do not depend on the vote), so a second
run takes seconds. ``--refresh`` redoes them.

Usage: python scripts/fit_av_graph.py {fit,compare,camera-out} [--skip-test]
       [--av-model NAME_OR_FILE] [--refresh]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / 'runs' / 'av_graph_cache'
VALIDATION = {'RITE': ('39', '40'), 'HRF-AV': ('08_g', '08_h')}


def _samples(root: Path, which: str, cameras=tuple(VALIDATION)):
    """'training' or 'validation' photos of *cameras*, 'test' (RITE
    test) or 'hrf-all' (all 24 HRF-AV photos)."""
    from napari_retina_vessels.io.datasets import discover

    if which == 'test':
        return discover(root / 'RITE' / 'test')
    if which == 'hrf-all':
        return discover(root / 'HRF-AV')
    out = []
    for name in cameras:
        held = VALIDATION[name]
        for s in discover(root / name / 'training'):
            if s.name.startswith(held) == (which == 'validation'):
                out.append(s)
    return out


def _cached(sample, which: str, refresh: bool, av_model='default'):
    """Canonical vessel probability, threshold, artery probability before
    any vote, and the full-size vessel map, FOV and labels."""
    import numpy as np

    import napari_retina_vessels as nrv
    from napari_retina_vessels.io import read_av, read_mask

    tag = '' if av_model == 'default' else Path(av_model).stem + '_'
    path = CACHE / f'{tag}{which}_{sample.name}.npz'
    if path.is_file() and not refresh:
        return dict(np.load(path))
    fov = read_mask(sample.fov) if sample.fov is not None else None
    seg = nrv.segment(
        nrv.imread(sample.image),
        fov=fov,
        device='cpu',
        precision='fp32',
        av_model=av_model,
    )
    canon = seg._canonical[0]
    item = {
        'prob_s': canon.probability,
        'art_s': canon.artery,
        'thr': np.float32(seg.threshold),
        'vessels': seg.vessels,
        'fov': seg.fov,
        'truth': read_av(sample.av),
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **item)
    return item


def count_table(items):
    """The agreement table counted on *items* (cached segmentations with
    labels), and the number of pairs counted per cell."""
    import numpy as np
    from skimage.transform import resize as sk_resize

    from napari_retina_vessels.av import vessel_graph

    same = np.ones((4, 9, 3))  # pseudo-counts: one agreement ...
    seen = np.full((4, 9, 3), 2.0)  # ... of two
    for item in items:
        vessels = item['prob_s'] >= item['thr']
        graph = vessel_graph(vessels)
        truth = sk_resize(
            item['truth'],
            vessels.shape,
            order=0,
            preserve_range=True,
            anti_aliasing=False,
        ).astype(np.uint8)
        flat = graph.seg_of.ravel()
        art = np.bincount(
            flat, (truth == 1).ravel().astype(float), minlength=graph.n + 1
        )
        vein = np.bincount(
            flat, (truth == 2).ravel().astype(float), minlength=graph.n + 1
        )
        label = np.where(art + vein < 3, 0, np.where(art > vein, 1, 2))
        la, lb = label[graph.pairs[:, 0]], label[graph.pairs[:, 1]]
        known = (la > 0) & (lb > 0)
        cell = tuple(c[known] for c in graph.cells())
        np.add.at(seen, cell, 1)
        np.add.at(same, cell, (la == lb)[known])
    return same / seen, (seen - 2).astype(int)


def fit(root: Path, refresh: bool) -> None:
    samples = _samples(root, 'training')

    def items():
        for i, s in enumerate(samples):
            yield _cached(s, 'training', refresh)
            print(f'  {i + 1}/{len(samples)} {s.name}', flush=True)

    table, pairs = count_table(items())
    print(f'\npairs counted: {int(pairs.sum())}')
    print('JUNCTION_AGREEMENT = np.array(\n    [')
    for block in table:
        print('        [')
        for r in block:
            print('            [' + ', '.join(f'{v:.3f}' for v in r) + '],')
        print('        ],')
    print('    ]\n)')
    print('pairs per cell (degree, angle, calibre ratio):')
    print(pairs)


def _score(item, p) -> tuple[int, int, int]:
    """(right, decided, labelled) A/V pixels of *item* with the
    canonical-scale artery probability *p*."""
    import numpy as np

    from napari_retina_vessels.av import label_av
    from napari_retina_vessels.preprocessing import resize

    truth = item['truth']
    art, vein = truth == 1, truth == 2
    full = np.clip(resize(p, truth.shape), 0, 1) * item['fov']
    labels = label_av(item['vessels'], full)
    decided = (art | vein) & (labels > 0)
    right = (art & (labels == 1)) | (vein & (labels == 2))
    return (
        np.count_nonzero(right),
        np.count_nonzero(decided),
        np.count_nonzero(art | vein),
    )


def camera_out(root: Path, refresh: bool) -> None:
    """The leave-one-camera-out rows with the vote's table counted on the
    training camera alone: the tested camera's labels used nowhere."""
    import numpy as np

    from napari_retina_vessels.av import graph_vote, vessel_graph

    rows = (
        ('seqnet-av-rite', 'RITE', 'hrf-all', 'HRF-AV, all 24'),
        ('seqnet-av-hrf', 'HRF-AV', 'test', 'RITE test'),
    )
    print('| A/V model | tested on | vote table counted on | intersection |')
    print('|---|---|---|---|')
    for model, camera, which, tested in rows:
        table, pairs = count_table(
            _cached(s, 'training', refresh)
            for s in _samples(root, 'training', (camera,))
        )
        weights = str(ROOT / 'weights' / f'{model}.pt')
        counts = {'both': np.zeros(3), camera: np.zeros(3)}
        for s in _samples(root, which):
            item = _cached(s, which, refresh, weights)
            graph = vessel_graph(item['prob_s'] >= item['thr'])
            counts['both'] += _score(item, graph_vote(graph, item['art_s']))
            counts[camera] += _score(
                item, graph_vote(graph, item['art_s'], table=table)
            )
        for name, (right, decided, _) in counts.items():
            on = 'RITE + HRF-AV (default)' if name == 'both' else name
            print(f'| {model} | {tested} | {on} | {right / decided:.4f} |')


def compare(root: Path, refresh: bool, skip_test: bool, av_model: str) -> None:
    import numpy as np

    from napari_retina_vessels.av import (
        graph_vote,
        segment_consistency,
        vessel_graph,
    )

    strengths = (0.3, 0.45, 0.6, 0.8, 1.0)
    variants = ['no vote', 'segment vote'] + [
        f'graph vote, strength {s}' for s in strengths
    ]
    sets = ['validation'] + ([] if skip_test else ['test'])
    for which in sets:
        counts = {v: np.zeros(3) for v in variants}
        samples = _samples(root, which)
        for s in samples:
            item = _cached(s, which, refresh, av_model)
            vessels = item['prob_s'] >= item['thr']
            graph = vessel_graph(vessels)
            for v in variants:
                if v == 'no vote':
                    p = item['art_s']
                elif v == 'segment vote':
                    p = segment_consistency(
                        vessels, item['art_s'], index=graph.index
                    )
                else:
                    p = graph_vote(
                        graph, item['art_s'], strength=float(v.split()[-1])
                    )
                counts[v] += _score(item, p)
            print(f'  {which}: {s.name}', flush=True)
        name = 'RITE test' if which == 'test' else which
        print(f'\n{name} ({len(samples)} photos)')
        print('| vote | intersection accuracy | coverage |')
        print('|---|---|---|')
        for v in variants:
            right, decided, labelled = counts[v]
            print(
                f'| {v} | {right / decided:.4f} | {decided / labelled:.1%} |'
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('step', choices=('fit', 'compare', 'camera-out'))
    ap.add_argument('--skip-test', action='store_true')
    ap.add_argument('--refresh', action='store_true')
    ap.add_argument(
        '--av-model',
        default='default',
        help='A/V model of the comparison (fit: always the default)',
    )
    args = ap.parse_args()
    os.environ.setdefault('OMP_NUM_THREADS', '2')
    root = Path(os.environ.get('RETINA_VESSELS_DATA', '../shared/datasets'))
    if args.step == 'fit':
        fit(root, args.refresh)
    elif args.step == 'camera-out':
        camera_out(root, args.refresh)
    else:
        compare(root, args.refresh, args.skip_test, args.av_model)


if __name__ == '__main__':
    main()
