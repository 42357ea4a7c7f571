"""Time the Measure widget's update after a grader's correction.

After each change (a segment flipped, excluded, pixels painted) the
widget measures again with the corrections: ``measure(maps, photo,
artery_vein=..., disc=<the disc layer's>, corrections=...)``, then the
segment map and the class colours of the segments layer. This times
that update, with the widest zone-B artery flipped to vein, on the
ground-truth A/V maps of RITE test 01 (DRIVE 01, 565 x 584) and HRF-AV
01_h (3504 x 2336), 2 threads, median of ``--repeats`` runs, beside the
same update with no correction; the reference job
(``../shared/tools/cpu_reference.py``) is timed between the photos and
every figure is also given as a ratio to it. Targets (issue #30):
<= 1 s on the DRIVE photo, <= 3 s on the HRF one. Run from the
repository root::

    .venv/bin/python benchmarks/bench_corrections.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '2')
os.environ.setdefault('NUMBA_NUM_THREADS', '2')

from napari_retina_vessels.fov import fov_mask  # noqa: E402
from napari_retina_vessels.io import imread, read_av  # noqa: E402
from napari_retina_vessels.io.datasets import data_root  # noqa: E402
from napari_retina_vessels.measures import measure  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / 'shared' / 'tools'
TARGETS = {'DRIVE': 1.0, 'HRF': 3.0}


def _cases(root: Path):
    return {
        'DRIVE': (
            'RITE 01_test (565 x 584)',
            root / 'RITE' / 'test' / 'images' / '01_test.tif',
            root / 'RITE' / 'test' / 'av' / '01_test.png',
        ),
        'HRF': (
            'HRF-AV 01_h (3504 x 2336)',
            root / 'HRF-AV' / 'training' / 'images' / '01_h.jpg',
            root / 'HRF-AV' / 'training' / 'av' / '01_h_AVmanual.png',
        ),
    }


def _update(av, photo, disc, corrections, fov):
    """What the widget computes after a change (Qt aside; the widget
    keeps the photo's FOV between measurements)."""
    from napari_retina_vessels._napari.widgets.corrections import (
        corrected_colours,
    )
    from napari_retina_vessels._napari.widgets.measure import segment_colours

    m = measure(
        av,
        photo,
        artery_vein=av,
        disc=disc,
        fov=fov,
        corrections=corrections,
    )
    m.segment_map()
    corrected_colours(m.segments, segment_colours(m.segments, 'class'))
    return m


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--only', choices=sorted(TARGETS), default=None)
    ap.add_argument('--ref-repeats', type=int, default=15)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REFERENCE))
    from cpu_reference import reference_seconds

    root = data_root()
    refs = []
    for key, (label, photo_path, av_path) in _cases(root).items():
        if args.only and key != args.only:
            continue
        photo, av = imread(photo_path), read_av(av_path)
        first = measure(av, photo, artery_vein=av)  # disc found; numba
        seg = first.segments
        used = seg[(seg['label'] == 'artery') & seg['in_crae_crve']]
        i = int(used['zone_b_calibre_px'].idxmax())
        at = [int(seg.loc[i, 'y_mid']), int(seg.loc[i, 'x_mid'])]
        corr = {'segments': [{'at': at, 'label': 'vein'}]}
        disc = first.disc
        fov = fov_mask(photo)

        def update(corrections, av=av, photo=photo, disc=disc, fov=fov):
            return _update(av, photo, disc, corrections, fov)

        refs.append(reference_seconds(threads=2, repeats=args.ref_repeats))
        plain = _median_seconds(lambda: update(None), args.repeats)
        fixed = _median_seconds(lambda c=corr: update(c), args.repeats)
        refs.append(reference_seconds(threads=2, repeats=args.ref_repeats))
        ref = statistics.median(refs[-2:])
        m = update(corr)
        row, before = m.image.iloc[0], first.image.iloc[0]
        print(
            f'{label}: update after a flip {fixed:.3f} s = '
            f'{fixed / ref:.2f}x the reference ({ref:.3f} s); without a '
            f'correction {plain:.3f} s = {plain / ref:.2f}x; target '
            f'<= {TARGETS[key]:g} s: '
            f'{"met" if fixed <= TARGETS[key] else "MISSED"}'
            f'; CRAE {before["crae_px"]} -> {row["crae_px"]} px, CRVE '
            f'{before["crve_px"]} -> {row["crve_px"]} px'
        )
    print(
        'reference job (cpu_reference.py, 2 threads): '
        + ', '.join(f'{r:.3f} s' for r in refs)
    )
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
