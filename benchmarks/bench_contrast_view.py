"""What the contrast views cost: seconds per DRIVE test photo,
vessels + A/V in float32 on the CPU, with each contrast view,
each as its ratio to the reference job
(``../shared/tools/cpu_reference.py``) timed right after it, interleaved
over the photos (median and range of the ratios); and the
equalisation alone (``contrast_views.clahe_luminance`` on the photo,
one thread of its own) and the statistics ``'auto'`` decides on
(``contrast_views.photo_statistics`` on the canonical photo, every
photo pays them) as their ratio to the reference job.

Usage: python benchmarks/bench_contrast_view.py [--threads 2] [--photos 6]
       [--alone]   (the equalisation and the statistics only)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REFERENCE = (
    Path(__file__).resolve().parents[2] / 'shared' / 'tools'
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--photos', type=int, default=6)
    ap.add_argument('--alone', action='store_true')
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REFERENCE))
    from cpu_reference import reference_seconds

    import napari_retina_vessels as nrv
    from napari_retina_vessels.io.datasets import data_root

    data = data_root()
    photos = sorted((data / 'DRIVE' / 'test' / 'images').glob('*.tif'))
    photos = photos[: args.photos]
    kw = {'device': 'cpu', 'precision': 'fp32', 'engine': 'torch'}
    nrv.segment(nrv.imread(photos[0]), **kw)  # warm-up
    from napari_retina_vessels._quality_features import canonical_copy
    from napari_retina_vessels.contrast_views import (
        clahe_luminance,
        photo_statistics,
    )

    def equalise(img):
        rgb, fov, _ = canonical_copy(img)
        return lambda: clahe_luminance(rgb, fov)

    def statistics_of(img):
        rgb, fov, _ = canonical_copy(img)
        return lambda: photo_statistics(rgb, fov)

    for name, job in (
        ('equalisation', equalise),
        ('auto statistics', statistics_of),
    ):
        alone, seconds = [], []
        for path in photos:
            work = job(nrv.imread(path))
            t = time.perf_counter()
            work()
            dt = time.perf_counter() - t
            seconds.append(dt)
            ref = reference_seconds(threads=args.threads, repeats=3)
            alone.append(dt / ref)
        print(
            f'{name} alone: {statistics.median(seconds):.3f} s, '
            f'{statistics.median(alone):.3f}x the reference job (range '
            f'{min(alone):.3f}-{max(alone):.3f}x)',
            flush=True,
        )
    if args.alone:
        return
    ratios: dict[str, list[float]] = {'none': [], 'clahe': [], 'auto': []}
    for path in photos:
        img = nrv.imread(path)
        for view in ratios:
            t = time.perf_counter()
            nrv.segment(img, contrast_view=view, **kw)
            dt = time.perf_counter() - t
            ref = reference_seconds(threads=args.threads, repeats=3)
            ratios[view].append(dt / ref)
    for view, r in ratios.items():
        print(
            f'contrast_view={view}: vessels + A/V {statistics.median(r):.2f}x '
            f'the reference job (range {min(r):.2f}-{max(r):.2f}x, '
            f'{len(r)} photos)'
        )


if __name__ == '__main__':
    main()
