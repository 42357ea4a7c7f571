"""Fingerprints of the maps of a few DRIVE and RITE test photos.

A refactor of the engine must leave every map bit-identical: run this
before and after the change (same machine, same precision) and compare
the two JSON files::

    python scripts/map_fingerprints.py before.json
    # ... change the code ...
    python scripts/map_fingerprints.py after.json --compare before.json

Each photo is segmented alone (``segment``, views 1 and 2) and in one
batch (``segment_many``, views 1); the sha256 of the probability, vessel,
A/V and artery-probability maps is recorded with the threshold and the
quality grade. ``--precision fp32`` (the default here) gives maps that
do not depend on whether the CPU computes bfloat16 natively. The
dataset root is ``RETINA_VESSELS_DATA``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np


def _sha(a) -> str | None:
    if a is None:
        return None
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _print(seg) -> list:
    return [
        _sha(seg.probability),
        _sha(seg.vessels),
        _sha(seg.artery_vein),
        _sha(seg.artery_probability),
        seg.threshold,
        seg.quality.grade if seg.quality is not None else None,
    ]


def main(argv: list[str] | None = None) -> int:
    import napari_retina_vessels as nrv
    from napari_retina_vessels.batch.batching import segment_many

    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('out', help='JSON file to write')
    p.add_argument('--compare', help='an earlier JSON file to compare')
    p.add_argument('--precision', default='fp32')
    args = p.parse_args(argv)
    from napari_retina_vessels.io.datasets import data_root

    root = data_root()
    paths = sorted((root / 'DRIVE' / 'test' / 'images').glob('*'))[:2]
    paths += sorted((root / 'RITE' / 'test' / 'images').glob('*'))[:1]
    if not paths:
        print(f'no DRIVE/RITE test photos under {root}', file=sys.stderr)
        return 1
    kw = {'device': 'cpu', 'precision': args.precision}
    out = {}
    for path in paths:
        img = nrv.imread(path)
        for views in (1, 2):
            seg = nrv.segment(img, views=views, **kw)
            out[f'{path.parent.parent.parent.name}/{path.name}|{views}'] = (
                _print(seg)
            )
    many = segment_many(
        [nrv.imread(p) for p in paths], views=1, batch_size=2, **kw
    )
    for path, seg in zip(paths, many):
        out[f'{path.parent.parent.parent.name}/{path.name}|1|batch'] = _print(
            seg
        )
    Path(args.out).write_text(json.dumps(out, indent=1))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        diff = [k for k in before if before[k] != out.get(k)]
        print('identical' if not diff else f'differ: {", ".join(diff)}')
        return 1 if diff else 0
    return 0


if __name__ == '__main__':
    sys.exit(main())
