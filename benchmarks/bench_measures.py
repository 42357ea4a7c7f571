"""Time ``measure`` on one DRIVE and one HRF photo, beside the reference.

Measures the ground-truth artery/vein map of RITE test 01 (DRIVE 01,
565 x 584) and of HRF-AV 01_h (3504 x 2336) with their photos (disc
finding, FOV, skeleton graph, widths, tortuosity, fractal dimensions,
CRAE/CRVE/AVR), on 2 threads, as for a new photo: nothing kept from an
earlier measurement. Each measurement is followed by the reference job
(``../shared/tools/cpu_reference.py``, median of 3), so both see the same
load; the ratio of the two is reported (median and range over the
repeats). Targets (issue #31): <= 2x the reference for DRIVE, <= 15x for
HRF. The first call in a process also compiles skan's numba code
(reported apart). Run from the repository root::

    .venv/bin/python benchmarks/bench_measures.py [--repeats 5]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import REFERENCE, _reference  # noqa: E402

from napari_retina_vessels.io import imread, read_av  # noqa: E402
from napari_retina_vessels.io.datasets import data_root  # noqa: E402
from napari_retina_vessels.measures import measure  # noqa: E402
from napari_retina_vessels.measures.correcting import (  # noqa: E402
    forget_kept,
)

TARGETS = {'DRIVE': 2.0, 'HRF': 15.0}


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
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reference', default=str(REFERENCE))
    args = ap.parse_args(argv)
    reference = _reference(args.reference)

    refs: list[float] = []
    for name, (photo_path, av_path) in _cases(data_root()).items():
        if args.only and not name.startswith(args.only):
            continue
        photo, av = imread(photo_path), read_av(av_path)
        t0 = time.perf_counter()
        measure(av, photo)
        first = time.perf_counter() - t0
        times, ratios = [], []
        for _ in range(args.repeats):
            forget_kept()  # a new photo: nothing kept
            t0 = time.perf_counter()
            m = measure(av, photo)
            times.append(time.perf_counter() - t0)
            if reference is not None:
                refs.append(reference(args.threads, 3))
                ratios.append(times[-1] / refs[-1])
        med = statistics.median(times)
        target = TARGETS[name.split()[0]]
        row = m.image.iloc[0]
        line = f'{name}: {med:.3f} s'
        if ratios:
            q = statistics.median(ratios)
            line += (
                f' = {q:.2f}x the reference [{min(ratios):.2f}-'
                f'{max(ratios):.2f}] (target <= {target:g}x: '
                f'{"met" if q <= target else "MISSED"})'
            )
        print(
            f'{line}; first call {first:.2f} s; '
            f'{int(row["n_segments"])} segments, AVR {row["avr"]}'
        )
    if refs:
        print(
            f'reference job (cpu_reference.py, {args.threads} threads): '
            f'median {statistics.median(refs):.3f} s, '
            f'{min(refs):.3f}-{max(refs):.3f} s over {len(refs)} runs'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
