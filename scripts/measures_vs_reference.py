"""CRAE, CRVE and AVR beside PVBM's on the manual A/V maps.

PVBM (Fhima et al., the Python Vasculature Biomarker toolbox) is an
independent implementation of the same Knudtson formulas. It is not a
dependency of this package: install it for this script only, away from
the package's environment, e.g.::

    pip install --no-deps --target /tmp/pvbm pvbm
    PYTHONPATH=/tmp/pvbm python scripts/measures_vs_reference.py \\
        RITE/test [HRF-AV] --out table.csv

(``--no-deps``: its geometric and CRE modules need only NumPy, SciPy
and scikit-image, while its requirements would replace PyTorch.) Both
tools get the same manual artery and vein maps (label 3, crossings and
uncertain pixels, in both) and the same disc (found from the photo and
the manual vessels); PVBM's zone B is the same 2-3 disc radii. Prints
per dataset the mean difference (ours - PVBM) and the 95 % limits of
agreement for CRAE, CRVE (pixels) and AVR, and writes one row per photo.
Maps whose zone B is under 75 px wide are enlarged for PVBM only (it
needs 50-pixel skeleton pieces there) and its calibres scaled back.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from napari_retina_vessels.io.datasets import data_root, discover, load_sample
from napari_retina_vessels.measures import find_disc, measure


def _pvbm(av: np.ndarray, disc) -> dict[str, float]:
    """PVBM's Knudtson CRAE and CRVE (pixels) of the manual map."""
    from PVBM.CentralRetinalAnalysis import CREVBMs
    from skimage.morphology import skeletonize

    # PVBM starts a vessel only from a skeleton piece of >= 50 pixels in
    # zone B, which is one disc radius wide: on a DRIVE-sized map (r
    # about 37 px) no piece is that long. Enlarge such maps (nearest
    # neighbour) so that zone B is >= 75 px wide, and scale back.
    k = max(1, int(np.ceil(75 / disc.radius)))
    if k > 1:
        from napari_retina_vessels.measures import Disc

        av = np.repeat(np.repeat(av, k, axis=0), k, axis=1)
        disc = Disc(
            disc.y * k + (k - 1) / 2, disc.x * k + (k - 1) / 2, disc.radius * k
        )
    yy, xx = np.mgrid[: av.shape[0], : av.shape[1]]
    d = np.hypot(yy - disc.y, xx - disc.x)
    zones = np.zeros((*av.shape, 3))
    zones[..., 0] = 255 * (d <= 2 * disc.radius)  # PVBM's inner circle
    zones[..., 2] = 255 * (d <= 3 * disc.radius)  # and outer circle
    out = {}
    cre = CREVBMs()
    for name, labels in (('crae', (1, 3)), ('crve', (2, 3))):
        seg = np.isin(av, labels).astype(float)
        skel = skeletonize(seg > 0).astype(float)
        seg_roi, skel_roi = cre.apply_roi(seg, skel, zones)
        res, _ = cre.compute_central_retinal_equivalents(
            seg_roi.copy(),
            skel_roi.copy(),
            int(round(disc.x)),
            int(round(disc.y)),
            int(round(disc.radius)),
            artery=name == 'crae',
        )
        v = float(res['craek' if name == 'crae' else 'crvek'])
        out[name] = v / k if v > 0 else float('nan')
    out['avr'] = out['crae'] / out['crve']
    return out


def _limits(a, b) -> str:
    d = np.asarray(a, float) - np.asarray(b, float)
    d = d[np.isfinite(d)]
    if not d.size:
        return 'n/a'
    m, sd = float(d.mean()), float(d.std(ddof=1)) if d.size > 1 else 0.0
    return f'{m:+.3f} ({m - 1.96 * sd:+.3f} to {m + 1.96 * sd:+.3f})'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('datasets', nargs='+')
    ap.add_argument('--out', type=Path, required=True)
    ap.add_argument('--limit', type=int, default=None)
    args = ap.parse_args(argv)
    try:
        import PVBM  # noqa: F401
    except ImportError:
        print(
            'PVBM is not installed: pip install --no-deps --target '
            '/tmp/pvbm pvbm, then PYTHONPATH=/tmp/pvbm',
            file=sys.stderr,
        )
        return 1
    sys.setrecursionlimit(100_000)  # PVBM walks the skeleton recursively
    rows = []
    with open(args.out, 'w', newline='') as f:
        writer = None
        for folder in args.datasets:
            path = Path(folder)
            if not path.is_dir():
                path = data_root() / folder
            for s in [s for s in discover(path) if s.av][: args.limit]:
                data = load_sample(s)
                img, av, fov = data['image'], data['av'], data['fov']
                disc = find_disc(img, av > 0, fov=fov)
                t0 = time.perf_counter()
                ours = measure(av, img, fov=fov, disc=disc).image.iloc[0]
                t1 = time.perf_counter()
                ref = _pvbm(av, disc)
                t2 = time.perf_counter()
                row = {
                    'dataset': folder,
                    'name': s.name,
                    'ours_crae_px': ours['crae_px'],
                    'pvbm_crae_px': round(ref['crae'], 3),
                    'ours_crve_px': ours['crve_px'],
                    'pvbm_crve_px': round(ref['crve'], 3),
                    'ours_avr': ours['avr'],
                    'pvbm_avr': round(ref['avr'], 4),
                    'ours_s': round(t1 - t0, 2),
                    'pvbm_s': round(t2 - t1, 2),
                }
                rows.append(row)
                if writer is None:
                    writer = csv.DictWriter(f, list(row))
                    writer.writeheader()
                writer.writerow(row)
                f.flush()
                print(row, file=sys.stderr, flush=True)
    print(
        '| dataset | photos | CRAE ours - PVBM (px) | CRVE ours - PVBM '
        '(px) | AVR ours - PVBM | seconds ours / PVBM |'
    )
    print('|---|---|---|---|---|---|')
    for ds in dict.fromkeys(r['dataset'] for r in rows):
        rs = [r for r in rows if r['dataset'] == ds]

        def col(k, rs=rs):
            return [r[k] for r in rs]

        print(
            f'| {ds} | {len(rs)} | '
            f'{_limits(col("ours_crae_px"), col("pvbm_crae_px"))} | '
            f'{_limits(col("ours_crve_px"), col("pvbm_crve_px"))} | '
            f'{_limits(col("ours_avr"), col("pvbm_avr"))} | '
            f'{np.mean(col("ours_s")):.2f} / {np.mean(col("pvbm_s")):.2f} |'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
