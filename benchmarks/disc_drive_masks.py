"""``find_disc`` against an independent drawing: the DRIVE-disc masks.

``../shared/datasets/DRIVE-disc`` has one optic-disc mask per DRIVE
photo (40, drawn by the easytorch authors, not by us). The true centre
is the mask's centroid and the true radius that of a circle of the
mask's area. For three inputs (the photo; the photo and the manual
vessel map; the manual vessel map alone) it prints the share of photos
whose detected centre is within one true radius, the median and worst
centre error in true radii, and the median and 90th-percentile absolute
radius error (per cent of the true radius; the vessel map alone has no
radius of its own: it reports the prior). Finding the disc fits nothing
to these photos, so all 40 (training and test) are used.

Usage::

    python benchmarks/disc_drive_masks.py [--data DIR] [--csv OUT.csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from napari_retina_vessels.io import imread, read_mask
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.measures.disc import find_disc

INPUTS = ('photo', 'photo + vessels', 'vessels only')


def _cases(root: Path):
    for mask in sorted((root / 'DRIVE-disc').glob('*_gt.tif')):
        num, split = mask.stem.split('_')[:2]
        folder = root / 'DRIVE' / split
        yield (
            mask,
            folder / 'images' / f'{num}_{split}.tif',
            folder / '1st_manual' / f'{num}_manual1.gif',
            folder / 'mask' / f'{num}_{split}_mask.gif',
        )


def evaluate(root: Path) -> list[dict]:
    rows = []
    for mask_path, photo_path, vessel_path, fov_path in _cases(root):
        disc = imread(mask_path)
        disc = (disc[..., 0] if disc.ndim == 3 else disc) > 127
        ys, xs = np.nonzero(disc)
        ty, tx = ys.mean(), xs.mean()
        tr = float(np.sqrt(disc.sum() / np.pi))
        photo = imread(photo_path)
        vessels = read_mask(vessel_path)
        fov = read_mask(fov_path)
        for what in INPUTS:
            found = find_disc(
                None if what == 'vessels only' else photo,
                None if what == 'photo' else vessels,
                fov=fov,
            )
            rows.append(
                {
                    'image': photo_path.name,
                    'input': what,
                    'true_y': round(ty, 1),
                    'true_x': round(tx, 1),
                    'true_radius': round(tr, 1),
                    'y': round(found.y, 1),
                    'x': round(found.x, 1),
                    'radius': round(found.radius, 1),
                    'confidence': found.confidence,
                    'centre_error_radii': round(
                        float(np.hypot(found.y - ty, found.x - tx)) / tr, 3
                    ),
                    'radius_error_pct': round(
                        100 * (found.radius - tr) / tr, 1
                    ),
                }
            )
    return rows


def summary(rows: list[dict]) -> list[str]:
    out = [
        '| input | photos | centre within 1 radius | median / worst centre '
        'error (radii) | median / 90th pct abs radius error | median '
        'signed radius error |',
        '|---|---|---|---|---|---|',
    ]
    for what in INPUTS:
        sel = [r for r in rows if r['input'] == what]
        err = np.array([r['centre_error_radii'] for r in sel])
        rad = np.abs([r['radius_error_pct'] for r in sel])
        out.append(
            f'| {what} | {len(sel)} | {np.mean(err <= 1):.1%} '
            f'({int((err <= 1).sum())}/{len(sel)}) | '
            f'{np.median(err):.2f} / {err.max():.2f} | '
            f'{np.median(rad):.0f} % / {np.percentile(rad, 90):.0f} % | '
            f'{np.median([r["radius_error_pct"] for r in sel]):+.0f} % |'
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=None)
    ap.add_argument('--csv', type=Path, default=None)
    args = ap.parse_args(argv)
    root = args.data or data_root()
    if not (root / 'DRIVE-disc').is_dir():
        print(f'no DRIVE-disc folder under {root}', file=sys.stderr)
        return 1
    rows = evaluate(root)
    if args.csv:
        with open(args.csv, 'w', newline='', encoding='utf-8') as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print('\n'.join(summary(rows)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
