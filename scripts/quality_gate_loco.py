"""The whole quality gate, leave-one-camera-out, as users meet it.

The gate in ``segment`` is the image model before the networks
(``quality.assess_image``) and the vessel map's checks and retina
evidence after them (``quality.assess_prediction``). This script judges
both together, per left-out source (DRIVE, CHASE_DB1, STARE, HRF-AV,
DRIMDB): the image model is trained without that source and without one
of the five non-fundus groups (``scripts/_quality_fit.py``), the
evidence limits are fitted without that source
(``scripts/retina_evidence.py``), and the left-out source is graded on
ALL its photos (training and test splits: nothing of that camera is
fitted in that fold). DRIMDB's graded photos (good / bad / outlier)
count as they were graded.

Usage::

    python scripts/quality_model.py features            # image features
    python scripts/quality_gate_loco.py maps            # every photo
    python scripts/quality_gate_loco.py maps --near-threshold
    python scripts/quality_gate_loco.py maps --versions 6
    python scripts/quality_gate_loco.py table           # the table

``maps`` runs the default vessel model (one view, no A/V, ``force``)
once on every real photo (all splits) and every non-fundus picture and
caches, per picture, the canonical-scale probability map, FOV, green
channel and the image model's measures under ``build/quality_gate/``
(not committed; 1 to 5 s a picture on the shared 2-core machine).
``--near-threshold`` adds the synthetic versions (``quality_model.py``'s
draw) whose held-out gradable probability lies in :data:`NEAR`: every
one a clear map could lift; ``--versions 6`` all synthetic versions of
the first 6 photos of each source (the map checks on versions far from
the threshold). Synthetic versions without a map get the image verdict
only. ``table`` needs ``build/quality_features.npz`` for the image
model's training rows and prints per left-out source, for real photos
and synthetic versions apart: good photos ungradable, bad photos
ungradable, non-fundus pictures ungradable, by the image model alone
and by the whole gate; the limits per fold; the reasons of every
misgraded picture.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import quality_model as QMOD  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
MAPS = HERE / 'build' / 'quality_gate'


def real_photos():
    """(source, path, label): every photo of every source, all splits;
    DRIMDB's as graded ('good', 'bad', 'nf')."""
    from napari_retina_vessels.io.datasets import discover

    root = QMOD.data_root()
    for src in QMOD.SOURCES[:4]:
        for s in discover(root / src, split='all'):
            yield src, s.image, 'good'
    for cls, label in (('good', 'good'), ('bad', 'bad'), ('outlier', 'nf')):
        for p in sorted((root / 'DRIMDB' / cls).iterdir()):
            yield 'DRIMDB', p, label


def _key(src, name):
    return f'{src}__{name}'.replace('/', '_')


def _save(out, src, name, label, image):
    from napari_retina_vessels import segment
    from napari_retina_vessels._quality_features import (
        canonical_copy,
        vector,
    )
    from napari_retina_vessels.preprocessing import resize
    from napari_retina_vessels.quality import image_measures

    seg = segment(image, av=False, views=1, force=True)
    rgb_s, fov_s, d = canonical_copy(image)
    im = image_measures(rgb_s, fov_s, d)
    prob_s = resize(seg.probability, fov_s.shape)
    np.savez_compressed(
        out,
        prob=np.round(np.clip(prob_s, 0, 1) * 255).astype(np.uint8),
        fov=fov_s,
        green=np.round(rgb_s[..., 1] * 255).astype(np.uint8),
        threshold=seg.threshold,
        X=vector(im),
        mkeys=np.array(list(im)),
        mvals=np.array([float(v) for v in im.values()]),
        disc=np.array((im['disc_y'], im['disc_x'])),
        source_diameter=d,
        src=src,
        name=name,
        label=label,
    )


def _versions(per_source, only=None):
    """(source, name::version, label, loader) of the synthetic versions
    that ``quality_model.py features`` made of the first *per_source*
    photos of each source (the same random draw), or of those listed in
    *only* (a set of (source, name, version))."""
    from napari_retina_vessels._quality_features import canonical_copy
    from napari_retina_vessels.io import imread

    seen = {}
    for src, path, _, degrade in QMOD._photos():
        if not degrade or seen.get(src, 0) >= per_source:
            continue
        if only is not None and not any(
            (src, path.name) == o[:2] for o in only
        ):
            continue
        seen[src] = seen.get(src, 0) + 1
        rng = np.random.default_rng(sum(path.name.encode()))
        rgb_s, fov_s, _ = canonical_copy(imread(path))
        vs = QMOD.versions(rgb_s, fov_s, rng)
        for n, im, lab in QMOD._pick(vs, rgb_s, rng):
            if n != 'original' and (
                only is None or (src, path.name, n) in only
            ):
                yield src, f'{path.name}::{n}', lab, (lambda im=im: im)


#: Held-out gradable probabilities of the synthetic versions whose maps
#: ``maps --near-threshold`` makes: every one a clear map may lift
#: (``_quality_gate_table.CLEAR_P``) or that sits near the threshold.
NEAR = (0.02, 0.7)


def near_threshold(cache):
    """{(source, photo, version)} of the synthetic versions whose
    gradable probability under their fold's image model lies in
    :data:`NEAR`."""
    import _quality_fit as FIT
    import _quality_gate_table as T

    from napari_retina_vessels import _quality_model as QM

    d = FIT.load(cache)
    models = T.fold_models(d)[0]
    out = set()
    for i, src in enumerate(FIT.SOURCES):
        sel = (d['source'] == src) & ~np.isin(d['version'], T.REAL)
        p = QM.probabilities(models[i], d['X'][sel])[:, 0]
        keep = (p >= NEAR[0]) & (p < NEAR[1])
        for n, v in zip(d['name'][sel][keep], d['version'][sel][keep]):
            out.add((src, str(n), str(v)))
    return out


def cmd_maps(args):
    from napari_retina_vessels.io import imread

    MAPS.mkdir(parents=True, exist_ok=True)
    if args.near_threshold:
        _run(_versions(10**9, near_threshold(args.cache)))
        return
    if args.versions:
        _run(_versions(args.versions))
        return
    jobs = [
        (s, p.name, lab, (lambda p=p: imread(p)))
        for s, p, lab in real_photos()
    ]
    for name, g, im in QMOD.non_fundus(np.random.default_rng(3)):
        jobs.append((f'nonfundus-{g}', name, 'nf', (lambda im=im: im)))
    _run(jobs)


def _run(jobs):
    for i, (src, name, lab, load) in enumerate(jobs, 1):
        total = len(jobs) if isinstance(jobs, list) else '?'
        out = MAPS / (_key(src, name) + '.npz')
        if out.exists():
            continue
        _save(out, src, name, lab, load())
        print(f'{i}/{total} {src} {name}', file=sys.stderr, flush=True)


def load_maps():
    """Every cached picture as a dict (prob as float32 in [0, 1])."""
    rows = []
    for f in sorted(MAPS.glob('*.npz')):
        z = np.load(f)
        r = {k: z[k] for k in z.files}
        for k in ('src', 'name', 'label'):
            r[k] = str(r[k])
        r['prob'] = r['prob'].astype(np.float32) / 255
        r['threshold'] = float(r['threshold'])
        r['source_diameter'] = float(r['source_diameter'])
        rows.append(r)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=('maps', 'table'))
    parser.add_argument(
        '--cache', default=str(HERE / 'build' / 'quality_features.npz')
    )
    parser.add_argument('--out', default=None, help='also write the table')
    parser.add_argument(
        '--versions',
        type=int,
        default=0,
        metavar='N',
        help='maps: the synthetic versions of the first N photos of each '
        'source instead',
    )
    parser.add_argument(
        '--near-threshold',
        action='store_true',
        help='maps: the synthetic versions whose held-out gradable '
        f'probability lies in {NEAR} instead (those a clear map may lift)',
    )
    args = parser.parse_args(argv)
    if args.command == 'maps':
        cmd_maps(args)
        return 0
    import _quality_gate_table

    return _quality_gate_table.run(args, load_maps())


if __name__ == '__main__':
    sys.exit(main())
