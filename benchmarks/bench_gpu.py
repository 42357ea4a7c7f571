"""GPU throughput: DRIVE photos/s by batch size, HRF seconds per photo.

Prints a table and (with --json) writes it: for vessels alone and for
vessels + artery/vein, at several batch sizes, end to end from decoded
arrays in memory to the maps (``batching.segment_many``: FOV, canonical
scale, both networks, full-size maps, A/V vote):

- photos/s over --photos DRIVE test photos (the 20 repeated);
- peak GPU memory (``torch.cuda.max_memory_allocated``);
- GPU busy share: the mean of ``torch.cuda.utilization()`` sampled every
  20 ms while the batch runs (NVML's "kernel running" share; needs
  nvidia-ml-py, else blank).

and the seconds per 3504 x 2336 photo (an HRF photo when
``RETINA_VESSELS_DATA`` has HRF-AV, else a DRIVE photo scaled up) with
A/V, one photo at a time (``pipeline.segment``).

Without CUDA it says so and exits 0; ``--device cpu`` runs the same
measurements on the CPU (to test this script).

Usage: python benchmarks/bench_gpu.py [--batch-sizes 1,8,32,64]
       [--photos 200] [--device cuda] [--json FILE] [--skip-hrf]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path


def _photos(n: int):
    """*n* DRIVE test photos (repeated), or the skimage sample retina."""
    import numpy as np

    from napari_retina_vessels.io import imread
    from napari_retina_vessels.io.datasets import data_root

    folder = data_root() / 'DRIVE' / 'test' / 'images'
    paths = sorted(folder.glob('*.tif'))
    if paths:
        base = [imread(p) for p in paths]
        source = f'{len(base)} DRIVE test photos'
    else:
        from skimage.data import retina
        from skimage.transform import resize

        img = resize(retina(), (584, 565), preserve_range=True)
        base = [img.astype(np.uint8)]
        source = 'the skimage sample retina at DRIVE size (no DRIVE found)'
    return [base[i % len(base)] for i in range(n)], source


def _hrf_photo():
    import numpy as np

    from napari_retina_vessels.io import imread
    from napari_retina_vessels.io.datasets import data_root
    from napari_retina_vessels.preprocessing import resize

    folder = data_root() / 'HRF-AV'
    for p in sorted(folder.glob('*/images/*')):
        img = imread(p)
        if img.shape[:2] == (2336, 3504):
            return img, p.name
    photos, source = _photos(1)
    img = resize(photos[0].astype(np.float32), (2336, 3504))
    return np.clip(img, 0, 255).astype(np.uint8), f'{source}, scaled up'


class _BusySampler:
    """Mean GPU utilisation (%) sampled in a thread; None if unknown."""

    def __init__(self, device, period: float = 0.02) -> None:
        self.device, self.period = device, period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import torch

        while not self._stop.is_set():
            try:
                self.samples.append(float(torch.cuda.utilization(self.device)))
            except Exception:  # noqa: BLE001 - no NVML: share unknown
                return
            time.sleep(self.period)

    def __enter__(self):
        if self.device.type == 'cuda':
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def share(self) -> float | None:
        return statistics.fmean(self.samples) / 100.0 if self.samples else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch-sizes', default='1,8,32,64')
    ap.add_argument('--photos', type=int, default=200)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--hrf-repeat', type=int, default=5)
    ap.add_argument('--skip-hrf', action='store_true')
    ap.add_argument('--json', default=None, help='write results here')
    args = ap.parse_args(argv)

    import torch

    if args.device.startswith('cuda') and not torch.cuda.is_available():
        print(
            'bench_gpu: torch sees no CUDA device here, nothing to '
            'measure; run scripts/device_check.sh on a machine with a '
            'GPU (or --device cpu to test this script)'
        )
        return 0
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.inference import choose_device
    from napari_retina_vessels.pipeline import segment

    dev = choose_device(args.device)
    cuda = dev.type == 'cuda'
    sizes = [int(b) for b in args.batch_sizes.split(',') if b.strip()]
    images, source = _photos(args.photos)
    name = torch.cuda.get_device_name(dev) if cuda else 'CPU'
    results: dict = {
        'device': str(dev),
        'name': name,
        'torch': torch.__version__,
        'photos': len(images),
        'source': source,
        'runs': [],
    }
    print(
        f'{name} ({dev}), torch {torch.__version__}; {len(images)} '
        f'photos from {source}'
    )

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    messages: list[str] = []
    for av in (False, True):
        # Load the models and warm up cuDNN for the largest batch.
        for _ in segment_many(
            images[: max(sizes)],
            av=av,
            device=dev,
            batch_size=max(sizes),
            log=messages.append,
        ):
            pass
        for b in sizes:
            if cuda:
                torch.cuda.reset_peak_memory_stats(dev)
            sync()
            with _BusySampler(dev) as busy:
                t0 = time.perf_counter()
                n = sum(
                    1
                    for _ in segment_many(
                        images,
                        av=av,
                        device=dev,
                        batch_size=b,
                        log=messages.append,
                    )
                )
                sync()
                dt = time.perf_counter() - t0
            run = {
                'stage': 'vessels + A/V' if av else 'vessels',
                'batch_size': b,
                'photos_per_s': n / dt,
                'seconds': dt,
                'peak_memory_gb': (
                    torch.cuda.max_memory_allocated(dev) / 1e9
                    if cuda
                    else None
                ),
                'gpu_busy_share': busy.share,
            }
            results['runs'].append(run)
            print(
                f'  {run["stage"]:14s} batch {b:3d}: '
                f'{run["photos_per_s"]:8.1f} photos/s',
                flush=True,
            )
    if not args.skip_hrf:
        img, what = _hrf_photo()
        segment(img, device=dev)  # warm-up at this size
        ts = []
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        for _ in range(args.hrf_repeat):
            sync()
            t0 = time.perf_counter()
            segment(img, device=dev)
            sync()
            ts.append(time.perf_counter() - t0)
        results['hrf'] = {
            'photo': what,
            'seconds_median': statistics.median(ts),
            'seconds_min': min(ts),
            'peak_memory_gb': (
                torch.cuda.max_memory_allocated(dev) / 1e9 if cuda else None
            ),
        }
    results['messages'] = messages

    print()
    print('| stage | batch | photos/s | peak GPU memory | GPU busy |')
    print('|---|---|---|---|---|')
    for r in results['runs']:
        mem = (
            ''
            if r['peak_memory_gb'] is None
            else f'{r["peak_memory_gb"]:.2f} GB'
        )
        busy = (
            ''
            if r['gpu_busy_share'] is None
            else f'{100 * r["gpu_busy_share"]:.0f} %'
        )
        print(
            f'| {r["stage"]} | {r["batch_size"]} | '
            f'{r["photos_per_s"]:.1f} | {mem} | {busy} |'
        )
    if 'hrf' in results:
        h = results['hrf']
        mem = (
            ''
            if h['peak_memory_gb'] is None
            else f', peak {h["peak_memory_gb"]:.2f} GB'
        )
        print(
            f'\n3504 x 2336 photo ({h["photo"]}), vessels + A/V: '
            f'{h["seconds_median"]:.3f} s median, {h["seconds_min"]:.3f} '
            f's best of {args.hrf_repeat}{mem}'
        )
    for msg in sorted(set(messages)):
        print('note:', msg)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
    sys.exit(main())
