"""Time ``measure`` on one DRIVE and one HRF photo, beside the reference.

Measures the ground-truth artery/vein map of RITE test 01 (DRIVE 01,
565 x 584) and of HRF-AV 01_h (3504 x 2336) with their photos (disc
finding, FOV, skeleton graph, widths, tortuosity, fractal dimensions,
CRAE/CRVE/AVR), on 2 threads, and reports the median of 5 runs as a
ratio to ``../shared/tools/cpu_reference.py`` timed in the same run.
Targets: <= 2x the reference for DRIVE, <= 15x for HRF. The first call
in a process also compiles skan's numba code (reported apart). Run from
the repository root::

    .venv/bin/python benchmarks/bench_measures.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '2')
os.environ.setdefault('NUMBA_NUM_THREADS', '2')

import numpy as np  # noqa: E402

from napari_retina_vessels.io import imread, read_av  # noqa: E402
from napari_retina_vessels.io.datasets import data_root  # noqa: E402
from napari_retina_vessels.measures import measure  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / 'shared' / 'tools'


def _cases(root: Path):
    return {
        'DRIVE 01 (565 x 584)': (
            root / 'RITE' / 'test' / 'images' / '01_test.tif',
            root / 'RITE' / 'test' / 'av' / '01_test.png',
        ),
        'HRF 01_h (3504 x 2336)': (
            root / 'HRF-AV' / 'training' / 'images' / '01_h.jpg',
            root / 'HRF-AV' / 'training' / 'av' / '01_h_AVmanual.png',
        ),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument(
        '--only',
        choices=['DRIVE', 'HRF'],
        default=None,
        help='time one of the two photos',
    )
    ap.add_argument('--ref-repeats', type=int, default=15)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REFERENCE))
    from cpu_reference import reference_seconds

    targets = {'DRIVE': 2.0, 'HRF': 15.0}
    ref = reference_seconds(threads=2, repeats=args.ref_repeats)
    print(f'reference job: {ref:.3f} s (2 threads)')
    for name, (photo_path, av_path) in _cases(data_root()).items():
        if args.only and not name.startswith(args.only):
            continue
        photo, av = imread(photo_path), read_av(av_path)
        t0 = time.perf_counter()
        measure(av, photo)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            m = measure(av, photo)
            times.append(time.perf_counter() - t0)
        med = float(np.median(times))
        target = targets[name.split()[0]]
        row = m.image.iloc[0]
        print(
            f'{name}: {med:.3f} s = {med / ref:.2f}x reference '
            f'(target <= {target:g}x; first call {first:.2f} s); '
            f'{int(row["n_segments"])} segments, AVR {row["avr"]}'
        )
    ref2 = reference_seconds(threads=2, repeats=args.ref_repeats)
    print(f'reference job again: {ref2:.3f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
