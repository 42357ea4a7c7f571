"""How well ``find_disc`` finds the optic disc on the public datasets.

Compares the detected centre with the hand-placed centres in
``tests/data/disc_centres.csv`` (DRIVE, CHASE_DB1, STARE, HRF-AV) and
prints, per dataset and for two inputs (the photo alone; the photo and
the dataset's ground-truth vessel map), the share of photos found within
one disc radius and the mean error in disc radii. The disc radius used
as the unit is the finder's prior, 1/13 of the field-of-view diameter
(a disc is about 1/6.5 of it across), so that a detector cannot look
better by reporting a larger disc.

Usage::

    python benchmarks/disc_accuracy.py [--data DIR] [--csv OUT.csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import imread, read_av, read_mask
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.measures.disc import _DISC_PER_FOV, find_disc

CENTRES = (
    Path(__file__).resolve().parents[1] / 'tests' / 'data' / 'disc_centres.csv'
)


def read_centres(path: Path = CENTRES) -> list[dict]:
    """Rows of the hand-placed centres (comment lines skipped)."""
    with open(path, encoding='utf-8') as f:
        lines = [ln for ln in f if not ln.startswith('#')]
    return list(csv.DictReader(lines))


def truth_vessels(root: Path, dataset: str, image: str) -> np.ndarray | None:
    """The dataset's ground-truth vessel map for *image*, if any."""
    p = Path(image)
    if dataset == 'DRIVE':
        num = p.name.split('_')[0]
        split = p.parts[0]
        f = root / 'DRIVE' / split / '1st_manual' / f'{num}_manual1.gif'
    elif dataset == 'CHASE_DB1':
        f = root / 'CHASE_DB1' / f'{p.stem}_1stHO.png'
    elif dataset == 'STARE':
        f = (
            root
            / 'STARE'
            / 'labels-ah'
            / p.name.replace('.ppm.gz', '.ah.ppm.gz')
        )
    elif dataset == 'HRF-AV':
        f = root / 'HRF-AV' / 'training' / 'av' / f'{p.stem}_AVmanual.png'
        return read_av(f) > 0 if f.is_file() else None
    else:
        return None
    return read_mask(f) if f.is_file() else None


def evaluate(root: Path) -> list[dict]:
    out = []
    for row in read_centres():
        if not row['x']:
            continue
        path = root / row['dataset'] / row['image']
        if not path.is_file():
            continue
        img = imread(path)
        fov = fov_mask(img)
        ys, xs = np.nonzero(fov)
        diam = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        r_ref = 0.5 * diam * _DISC_PER_FOV
        truth = truth_vessels(root, row['dataset'], row['image'])
        x, y = float(row['x']), float(row['y'])
        rec = {
            'dataset': row['dataset'],
            'image': row['image'],
            'r_ref': r_ref,
        }
        for name, ves in (('photo', None), ('photo+vessels', truth)):
            if name != 'photo' and ves is None:
                continue
            t0 = time.perf_counter()
            d = find_disc(img, ves, fov=fov)
            rec[f'{name}_seconds'] = time.perf_counter() - t0
            rec[f'{name}_error'] = np.hypot(d.y - y, d.x - x) / r_ref
            rec[f'{name}_confidence'] = d.confidence
        out.append(rec)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=None)
    ap.add_argument('--csv', type=Path, default=None)
    args = ap.parse_args(argv)
    root = args.data or data_root()
    recs = evaluate(root)
    if not recs:
        print(f'no photos found under {root}', file=sys.stderr)
        return 1
    print(
        '| dataset | input | photos | within 1 radius | mean error '
        '(radii) | ms per photo |'
    )
    print('|---|---|---|---|---|---|')
    groups = sorted({r['dataset'] for r in recs}) + ['all']
    for ds in groups:
        rs = [r for r in recs if ds in ('all', r['dataset'])]
        for name in ('photo', 'photo+vessels'):
            e = np.array(
                [r[f'{name}_error'] for r in rs if f'{name}_error' in r]
            )
            s = np.array(
                [r[f'{name}_seconds'] for r in rs if f'{name}_error' in r]
            )
            if not e.size:
                continue
            print(
                f'| {ds} | {name} | {e.size} | {np.mean(e <= 1):.0%} | '
                f'{e.mean():.2f} | {1000 * np.median(s):.0f} |'
            )
    if args.csv:
        keys = sorted({k for r in recs for k in r})
        with open(args.csv, 'w', newline='') as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            w.writerows(recs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
