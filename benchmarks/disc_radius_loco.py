"""The disc radius's rim level, chosen leave-one-camera-out.

``find_disc`` puts the disc margin where the ring profile of the
brightness falls to a fraction (``RIM_LEVEL``) of the way from the
surround up to the centre. This script sweeps that fraction on the four
cameras with hand-placed disc centres (``tests/data/disc_centres.csv``):
DRIVE (Canon CR5, 45 degrees), CHASE_DB1 (Nidek NM-200-D, 30), STARE
(TopCon TRV-50, 35) and HRF-AV (Canon CR-1, 45); each photo is searched
with its photo and its ground-truth vessel map, as ``measure`` has them.

What a radius is judged against:

- DRIVE: the drawn disc masks of ``DRIVE-disc`` (radius of the circle
  of the mask's area); the camera's error is the median absolute
  per-photo error.
- the other cameras have no drawn discs: their photos' pixel size is
  known from the camera's field of view (288 um per degree over the
  width of the field of view, as ``measure`` computes it from a DICOM
  ``HorizontalFieldOfView``), so each radius is a disc diameter in mm.
  The camera's error is how far the median diameter lies from
  ``--reference-mm`` (1.85 mm: the mean vertical 1.88-1.92 and
  horizontal 1.76-1.77 mm of Jonas et al. 1988 and Quigley et al. 1990,
  as one circle of the same area). Single discs vary by about 15 %, so
  only the median over a camera's photos is compared.

For each camera left out, the level is the one whose worst error over
the other three cameras is smallest; the table gives the left-out
camera's error at that level, which says how well the rule carries to
a camera it has not seen. The level used is the one the same rule picks
on all four cameras. Prints markdown.

Usage::

    python benchmarks/disc_radius_loco.py [--data DIR] [--csv OUT.csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import imread
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.measures import disc as disc_mod
from napari_retina_vessels.measures.calibration import UM_PER_DEGREE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from disc_accuracy import read_centres, truth_vessels  # noqa: E402

#: Horizontal field of view of each camera, degrees (SOURCE.md files).
CAMERA_DEG = {'DRIVE': 45, 'CHASE_DB1': 30, 'STARE': 35, 'HRF-AV': 45}
LEVELS = np.round(np.arange(0.10, 0.601, 0.05), 2)


def _drive_mask_radius(root: Path, image: str) -> float | None:
    stem = Path(image).stem  # 01_test
    f = root / 'DRIVE-disc' / f'{stem}_gt.tif'
    if not f.is_file():
        return None
    m = imread(f)
    m = (m[..., 0] if m.ndim == 3 else m) > 127
    return float(np.sqrt(m.sum() / np.pi))


def profiles(root: Path) -> list[dict]:
    """One record per photo: its radius at every level in LEVELS."""
    seen: dict = {}
    real = disc_mod._profile_radius

    def spy(bright, fov, iy, ix, r0, level=None):
        seen['args'] = (bright, fov, iy, ix, r0)
        return real(bright, fov, iy, ix, r0, level)

    out = []
    disc_mod._profile_radius = spy
    try:
        for row in read_centres():
            ds = row['dataset']
            path = root / ds / row['image']
            if ds not in CAMERA_DEG or not row['x'] or not path.is_file():
                continue
            img = imread(path)
            fov = fov_mask(img)
            found = disc_mod.find_disc(
                img, truth_vessels(root, ds, row['image']), fov=fov
            )
            step = found.radius / real(*seen['args'])
            cols = np.flatnonzero(fov.any(axis=0))
            um = CAMERA_DEG[ds] * UM_PER_DEGREE / (cols[-1] - cols[0] + 1)
            rec = {
                'dataset': ds,
                'image': row['image'],
                'um_per_px': um,
                'r0': step * seen['args'][4],
                'true_radius': (
                    _drive_mask_radius(root, row['image'])
                    if ds == 'DRIVE'
                    else None
                ),
            }
            for lv in LEVELS:
                rec[f'r{lv:.2f}'] = step * real(*seen['args'], level=lv)
            out.append(rec)
    finally:
        disc_mod._profile_radius = real
    return out


def camera_error(recs: list[dict], lv: float, ref_mm: float) -> float:
    """The camera's error at level *lv* (a fraction, see the module)."""
    key = f'r{lv:.2f}'
    if recs[0]['true_radius'] is not None:
        e = [abs(r[key] / r['true_radius'] - 1) for r in recs]
        return float(np.median(e))
    mm = [2 * r[key] * r['um_per_px'] / 1000 for r in recs]
    return float(abs(np.median(mm) / ref_mm - 1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=None)
    ap.add_argument('--csv', type=Path, default=None)
    ap.add_argument('--reference-mm', type=float, default=1.85)
    args = ap.parse_args(argv)
    root = args.data or data_root()
    recs = profiles(root)
    if not recs:
        print(f'no photos found under {root}', file=sys.stderr)
        return 1
    cams = [c for c in CAMERA_DEG if any(r['dataset'] == c for r in recs)]
    by = {c: [r for r in recs if r['dataset'] == c] for c in cams}
    err = {
        (c, lv): camera_error(by[c], lv, args.reference_mm)
        for c in cams
        for lv in LEVELS
    }
    print('Error per camera and level (DRIVE: median |radius error| '
          'against the masks; others: |median diameter / '
          f'{args.reference_mm} mm - 1|):\n')
    print('| level | ' + ' | '.join(cams) + ' |')
    print('|---|' + '---|' * len(cams))
    for lv in LEVELS:
        cells = ' | '.join(f'{100 * err[c, lv]:.0f} %' for c in cams)
        print(f'| {lv:.2f} | {cells} |')
    print('\nMedian disc diameter (mm, camera field of view) per level:\n')
    print('| level | ' + ' | '.join(cams) + ' |')
    print('|---|' + '---|' * len(cams))
    for lv in LEVELS:
        key = f'r{lv:.2f}'
        cells = ' | '.join(
            f'{np.median([2 * r[key] * r["um_per_px"] for r in by[c]]) / 1000:.2f}'  # noqa: E501
            for c in cams
        )
        print(f'| {lv:.2f} | {cells} |')
    print('\nLeave one camera out:\n')
    print('| left out | photos | level chosen on the others | worst '
          'error on the others | error on the left-out camera |')
    print('|---|---|---|---|---|')
    chosen = []
    for out in cams:
        rest = [c for c in cams if c != out]
        worst = {lv: max(err[c, lv] for c in rest) for lv in LEVELS}
        lv = min(LEVELS, key=lambda v: (worst[v], abs(v - 0.5)))
        chosen.append((err[out, lv], lv, out))
        print(f'| {out} | {len(by[out])} | {lv:.2f} | '
              f'{100 * worst[lv]:.0f} % | {100 * err[out, lv]:.0f} % |')
    worst_out = max(chosen)
    print(f'\nworst held-out camera: {worst_out[2]} '
          f'({100 * worst_out[0]:.0f} % at level {worst_out[1]:.2f}); '
          f'levels chosen: {sorted({float(c[1]) for c in chosen})}')
    every = {lv: max(err[c, lv] for c in cams) for lv in LEVELS}
    lv = min(LEVELS, key=lambda v: (every[v], abs(v - 0.5)))
    print(f'on all {len(cams)} cameras: level {lv:.2f} (worst camera '
          f'{100 * every[lv]:.0f} %); find_disc uses '
          f'{disc_mod.RIM_LEVEL:.2f}')
    if args.csv:
        with open(args.csv, 'w', newline='', encoding='utf-8') as f:
            w = csv.DictWriter(f, fieldnames=list(recs[0]))
            w.writeheader()
            w.writerows(recs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
