"""Batch throughput in one process and on local Dask clusters.

Prints, for the DRIVE test photos (vessels only):

- images/s of ``run_batch`` in this process (no Dask), model loaded,
  with the device's default batch size and with each of --batch-sizes
  photos per forward pass, each also as seconds per photo in units of
  the reference job of ``../shared/tools/cpu_reference.py`` (2 threads),
  timed between these runs: machines and their loads differ, the ratio
  carries over;
- images/s on a LocalCluster of 1 and of 2 worker processes, warm (the
  cluster is up and every worker has loaded the model) and cold (what
  ``retina-vessels segment --workers N`` costs, cluster start included);
- the Dask scheduling overhead per image, two ways: trivial tasks
  through the same map path (``cluster.iter_map`` on a warm 1-worker
  cluster), and ``(wall * workers - sum of per-image seconds) / n`` of
  the warm segmentation runs (an upper bound: it also counts the idle
  tail when the last images run on fewer workers than there are).

Usage: python benchmarks/bench_batch.py [--limit N] [--workers 1,2]
       [--batch-sizes 1,2,4] [--device cpu] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import REFERENCE, _reference  # noqa: E402


def _noop(item: int) -> int:
    return item


def _warm(device: str) -> str:
    """Load the default vessel model in a worker (kept by its cache)."""
    from napari_retina_vessels.batch.cluster import single_thread_torch
    from napari_retina_vessels.inference import choose_device
    from napari_retina_vessels.weights import load_model

    single_thread_torch()
    load_model('default', task='vessels', device=choose_device(device))
    return 'ok'


def _seconds(summary: str) -> float:
    with open(summary, newline='') as fh:
        return sum(
            float(r['seconds'])
            for r in csv.DictReader(fh)
            if r['status'] == 'done'
        )


def _timed_batch(photos, out: Path, **kwargs) -> tuple[float, dict]:
    from napari_retina_vessels.batch import run_batch

    t0 = time.perf_counter()
    res = run_batch(photos, out, overwrite=True, **kwargs)
    wall = time.perf_counter() - t0
    if res['done'] != len(photos):
        sys.exit(f'only {res["done"]} of {len(photos)} photos segmented')
    return wall, res


def _overhead_trivial(address: str, n: int = 200) -> float:
    """Seconds per trivial task through iter_map, client start excluded."""
    from napari_retina_vessels.batch.cluster import iter_map

    def run(m: int) -> float:
        t0 = time.perf_counter()
        for _ in iter_map(_noop, range(m), scheduler=address):
            pass
        return time.perf_counter() - t0

    run(1)  # first connection, imports
    one = min(run(1) for _ in range(3))
    return (run(n) - one) / (n - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--limit', type=int, default=0, help='use only the first N test photos'
    )
    parser.add_argument(
        '--workers', default='1,2', help='comma-separated local cluster sizes'
    )
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--batch-sizes',
        default='1,2,4',
        help='photos per forward pass to time in this '
        'process (comma-separated)',
    )
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument(
        '--reference',
        default=str(REFERENCE),
        help='cpu_reference.py, timed in the same run',
    )
    args = parser.parse_args()
    reference = _reference(args.reference)
    refs: list[float] = []

    def time_reference() -> None:
        if reference is not None:
            refs.append(reference(2, 3))

    def ratio(wall: float) -> str:
        if not refs:
            return ''
        return f' = {wall / n / statistics.median(refs):.2f}x the reference'

    from distributed import Client, LocalCluster

    from napari_retina_vessels.io.datasets import data_root

    folder = data_root() / 'DRIVE' / 'test' / 'images'
    photos = sorted(str(p) for p in folder.glob('*.tif'))
    if args.limit:
        photos = photos[: args.limit]
    if not photos:
        sys.exit(f'no DRIVE test photos under {folder}')
    n = len(photos)
    sizes = [int(w) for w in args.workers.split(',') if w.strip()]
    results: dict = {
        'photos': n,
        'device': args.device,
        'cpus': os.cpu_count(),
    }
    print(
        f'{n} DRIVE test photos, device {args.device}, {os.cpu_count()} CPUs'
    )

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _timed_batch(photos[:1], out / 'warm', device=args.device)
        walls = {}
        time_reference()
        walls['single'], _ = _timed_batch(
            photos, out / 'single', device=args.device
        )
        for b in [int(b) for b in args.batch_sizes.split(',') if b]:
            time_reference()
            walls[b], _ = _timed_batch(
                photos, out / f'batch{b}', device=args.device, batch_size=b
            )
        time_reference()
        if refs:
            results['reference_s'] = statistics.median(refs)
            print(
                f'reference job (cpu_reference.py, 2 threads): '
                f'{statistics.median(refs):.3f} s (median of {len(refs)} '
                'timings between the runs below)'
            )
        for key, wall in walls.items():
            if key == 'single':
                results['single_images_per_s'] = n / wall
                label = 'single process      '
            else:
                results[f'batch_{key}_images_per_s'] = n / wall
                label = f'  --batch-size {key:<4d} '
            if refs:
                results[f'{key}_per_image_vs_reference'] = (
                    wall / n / statistics.median(refs)
                )
            print(
                f'{label}: {n / wall:6.2f} images/s ({wall:.1f} s; per '
                f'photo{ratio(wall)})'
            )

        for w in sizes:
            cold, _ = _timed_batch(
                photos, out / f'cold{w}', device=args.device, workers=w
            )
            with (
                LocalCluster(
                    n_workers=w,
                    threads_per_worker=1,
                    processes=True,
                    host='127.0.0.1',
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                client.run(_warm, args.device)
                wall, res = _timed_batch(
                    photos,
                    out / f'warm{w}',
                    device=args.device,
                    scheduler=cluster.scheduler_address,
                )
                busy = _seconds(res['summary_csv'])
                per_image = (wall * w - busy) / n
                entry = {
                    'warm_images_per_s': n / wall,
                    'cold_images_per_s': n / cold,
                    'overhead_upper_bound_ms': 1e3 * per_image,
                }
                if w == 1:
                    trivial = _overhead_trivial(cluster.scheduler_address)
                    entry['overhead_trivial_ms'] = 1e3 * trivial
                results[f'workers_{w}'] = entry
            print(
                f'{w} Dask worker(s)    : {n / wall:6.2f} images/s warm, '
                f'{n / cold:6.2f} cold (cluster start included)'
            )
            print(
                f'  idle + scheduling : {1e3 * per_image:6.1f} ms/image '
                '(upper bound)'
            )
            if w == 1:
                print(
                    f'  trivial task      : {1e3 * trivial:6.1f} ms/image '
                    '(scheduling overhead; target < 20 ms)'
                )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')


if __name__ == '__main__':
    main()
