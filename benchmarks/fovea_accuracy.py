"""How well ``measure`` finds the fovea: DRIVE test, hand-placed centres.

No public dataset here gives fovea positions, so the centres in
``tests/data/fovea_drive_test.csv`` were placed by hand (procedure in
its header; 18 of the 20 DRIVE test photos, the two disc-centred ones
left out). The unit is the true disc radius from the independent
DRIVE-disc masks (radius of a circle of the mask's area). For the photo
alone and the photo with the manual vessel map, it prints the share of
photos whose fovea is within one disc radius, the median and worst
error, and the eye side found (from the disc-fovea axis). Nothing is
fitted to these photos.

Usage::

    python benchmarks/fovea_accuracy.py [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from napari_retina_vessels.io import imread, read_mask
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.measures import measure

CENTRES = (
    Path(__file__).resolve().parents[1]
    / 'tests'
    / 'data'
    / 'fovea_drive_test.csv'
)


def _centres() -> list[dict]:
    with open(CENTRES, encoding='utf-8') as f:
        return list(csv.DictReader(ln for ln in f if not ln.startswith('#')))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=None)
    args = ap.parse_args(argv)
    root = args.data or data_root()
    test = root / 'DRIVE' / 'test'
    errors: dict[str, list[float]] = {'photo': [], 'photo + vessels': []}
    for c in _centres():
        num = c['image'].split('_')[0]
        photo = imread(test / 'images' / c['image'])
        vessels = read_mask(test / '1st_manual' / f'{num}_manual1.gif')
        fov = read_mask(test / 'mask' / f'{num}_test_mask.gif')
        disc = imread(root / 'DRIVE-disc' / f'{num}_test_gt.tif')
        disc = (disc[..., 0] if disc.ndim == 3 else disc) > 127
        radius = float(np.sqrt(disc.sum() / np.pi))
        for what in errors:
            maps = vessels if what != 'photo' else np.zeros_like(vessels)
            row = measure(maps, photo, fov=fov).image.iloc[0]
            err = np.hypot(
                row['fovea_y'] - float(c['y']), row['fovea_x'] - float(c['x'])
            )
            errors[what].append(float(err) / radius)
            print(
                f'{c["image"]} {what}: error {err / radius:.2f} radii, '
                f'confidence {row["fovea_confidence"]}, eye {row["eye"]}, '
                f'{row["disc_fovea_dd"]} DD, axis {row["axis_angle_deg"]} deg'
                + (f' ({row["fovea_reason"]})' if row['fovea_reason'] else ''),
                file=sys.stderr,
            )
    print(
        '| input | photos | fovea within 1 disc radius | median / worst '
        'error (disc radii) |'
    )
    print('|---|---|---|---|')
    for what, e in errors.items():
        e = np.array(e)
        ok = np.isfinite(e) & (e <= 1)
        print(
            f'| {what} | {len(e)} | {ok.mean():.0%} ({ok.sum()}/{len(e)}) | '
            f'{np.nanmedian(e):.2f} / {np.nanmax(e):.2f} |'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
