"""Time the quality gate on a DRIVE photo, as a ratio to the reference job.

What ``segment`` adds for the gate: :func:`~.quality.assess_image` (the
learned model's features and verdict) on the canonical copy it already
has, then :func:`~.quality.assess_prediction` (the map's checks and the
retina evidence) on the canonical probability map; and the cheap verdict
that ends a photo with a 40-pixel field of view before any network.
Also times the standalone :func:`~.quality.assess` (which makes its own
FOV mask and canonical copy). The reference job
(``../shared/tools/cpu_reference.py``) is timed in the same run. Target:
gate <= 0.1x the reference job. Run from the repository root::

    .venv/bin/python benchmarks/bench_quality.py [photo] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from napari_retina_vessels._quality_features import diameter
from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import imread
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.preprocessing import (
    as_rgb_float,
    canonical_scale,
    resize,
    scaled_shape,
)
from napari_retina_vessels.quality import (
    assess,
    assess_image,
    assess_prediction,
    precheck,
)

REFERENCE = Path(__file__).resolve().parents[2] / 'shared' / 'tools'


def median_time(func, repeats: int) -> float:
    func()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('photo', nargs='?', default=None)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=15)
    args = parser.parse_args(argv)
    photo = (
        Path(args.photo)
        if args.photo
        else (data_root() / 'DRIVE' / 'test' / 'images' / '01_test.tif')
    )

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REFERENCE))
    from cpu_reference import reference_seconds

    image = imread(photo)
    rgb = as_rgb_float(image)
    fov = fov_mask(rgb)
    shape = scaled_shape(rgb.shape, canonical_scale(fov))
    rgb_s = resize(rgb, shape)
    fov_s = resize(fov.astype(np.float32), shape) > 0.5
    rng = np.random.default_rng(0)
    prob_s = (rng.random(shape, dtype=np.float32) ** 4) * fov_s

    # The reference job before and after the gate (the machine is
    # shared: its load drifts); the ratio uses their mean.
    ref_before = reference_seconds(threads=args.threads, repeats=args.repeats)
    d = diameter(fov)
    gate = median_time(
        lambda: assess_prediction(
            assess_image(rgb_s, fov_s, source_diameter=d), prob_s, fov_s, 0.5
        ),
        args.repeats,
    )
    # A 40-pixel field of view: the cheap verdict, before any network.
    tiny = np.zeros_like(image)
    tiny[:40, :40] = image[::14, ::14][:40, :40]
    early = median_time(
        lambda: precheck(as_rgb_float(tiny), fov_mask(as_rgb_float(tiny))),
        args.repeats,
    )
    alone = median_time(lambda: assess(image), max(3, args.repeats // 3))
    ref_after = reference_seconds(threads=args.threads, repeats=args.repeats)
    ref = (ref_before + ref_after) / 2
    print(f'photo: {photo.name} {image.shape[1]} x {image.shape[0]}')
    print(
        f'reference job: {ref * 1e3:.1f} ms (before {ref_before * 1e3:.1f}, '
        f'after {ref_after * 1e3:.1f})'
    )
    print(
        f'gate in segment (image + model checks): {gate * 1e3:.1f} ms '
        f'= {gate / ref:.3f}x the reference '
        f'({"OK" if gate / ref <= 0.1 else "SLOW"}: target <= 0.1x)'
    )
    print(
        f'cheap verdict on a 40-pixel field of view (FOV mask included): '
        f'{early * 1e3:.1f} ms = {early / ref:.3f}x'
    )
    print(
        f'standalone assess() (own FOV mask and canonical copy): '
        f'{alone * 1e3:.1f} ms = {alone / ref:.3f}x'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
