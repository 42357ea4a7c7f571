"""Time the fovea finder on one DRIVE and one HRF photo, beside the
reference job.

``find_fovea`` on the photo and the manual vessel map (the disc found
first, not timed), median of *repeats* calls, each followed by the
reference job (``../shared/tools/cpu_reference.py``, median of 3) so
that both see the same load; prints the ratio median [range]. The
finder is part of ``measure``, whose targets (<= 2x the reference per
DRIVE photo, <= 15x on 3504 x 2336) ``bench_measures.py`` checks.

Usage::

    python benchmarks/bench_fovea.py [--repeats 5] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '2')

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import REFERENCE, _reference  # noqa: E402
from disc_accuracy import truth_vessels  # noqa: E402

from napari_retina_vessels.fov import fov_mask  # noqa: E402
from napari_retina_vessels.io import imread  # noqa: E402
from napari_retina_vessels.io.datasets import data_root  # noqa: E402
from napari_retina_vessels.measures.disc import find_disc  # noqa: E402
from napari_retina_vessels.measures.fovea import find_fovea  # noqa: E402

CASES = (
    ('DRIVE 01', 'DRIVE', 'test/images/01_test.tif'),
    ('HRF 01_h', 'HRF-AV', 'training/images/01_h.jpg'),
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--data', type=Path, default=None)
    args = ap.parse_args(argv)
    root = args.data or data_root()
    reference = _reference(str(REFERENCE))
    for name, cam, image in CASES:
        photo = imread(root / cam / image)
        vessels = truth_vessels(root, cam, image)
        fov = fov_mask(photo)
        disc = find_disc(photo, vessels, fov=fov)
        find_fovea(photo, vessels, disc, fov=fov)  # warm up
        took, ratio = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            find_fovea(photo, vessels, disc, fov=fov)
            took.append(time.perf_counter() - t)
            if reference is not None:
                ratio.append(took[-1] / reference(2, 3))
        line = f'{name}: find_fovea {statistics.median(took) * 1e3:.0f} ms'
        if ratio:
            line += (
                f' = {statistics.median(ratio):.3f}x the reference '
                f'[{min(ratio):.3f}-{max(ratio):.3f}]'
            )
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
