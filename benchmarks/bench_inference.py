"""Inference speed and memory.

Prints, for the default models on this machine's CPU (or --device), with
the reference job of ``../shared/tools/cpu_reference.py`` timed between
the photos in the same run and each time's ratio to it:

- seconds per DRIVE test photo, whole pipeline from array to probability
  map (vessels only; default 2 flip views, and one view), and with
  artery/vein; in the default arithmetic (``precision='auto'``: bfloat16
  on CPUs that compute it natively) and in float32;
- batch throughput over the 20 DRIVE test photos (images/s);
- time and peak RSS (in a fresh subprocess) for a 3504 x 2336 photo and
  an 8000 x 8000 photo (tiled).

Usage: python benchmarks/bench_inference.py [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

LARGE_CODE = r"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[3]))
import napari_retina_vessels as nrv
from napari_retina_vessels._allocator import tune_allocator
tune_allocator()  # as the retina-vessels command does
from napari_retina_vessels.preprocessing import resize
h, w = int(sys.argv[1]), int(sys.argv[2])
src = nrv.imread(sys.argv[4])
img = (np.clip(resize(src.astype(np.float32), (h, w)), 0, 255)
       .astype(np.uint8))
del src
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
nrv.segment(img[:256, :256], av=False, device=sys.argv[5])  # warm-up
t = time.perf_counter()
res = nrv.segment(img, av=sys.argv[6] == '1', device=sys.argv[5])
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({'seconds': dt, 'peak_rss_mb': peak / 1024,
                  'input_rss_mb': base / 1024}))
"""


REFERENCE = (
    Path(__file__).resolve().parents[2]
    / 'shared'
    / 'tools'
    / 'cpu_reference.py'
)


def _reference(path: str):
    """``reference_seconds(threads, repeats)`` of cpu_reference.py, or
    None when the file is missing."""
    import importlib.util

    if not Path(path).is_file():
        print(f'no reference job at {path}: absolute times only')
        return None
    spec = importlib.util.spec_from_file_location('cpu_reference', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.reference_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--skip-large', action='store_true')
    ap.add_argument(
        '--reference',
        default=str(REFERENCE),
        help='cpu_reference.py, timed in the same run',
    )
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import napari_retina_vessels as nrv
    from napari_retina_vessels._allocator import tune_allocator

    # Timed as in the retina-vessels command, which tunes the allocator
    # (RETINA_VESSELS_TUNE_MALLOC=0 measures without).
    tune_allocator()
    from napari_retina_vessels.datasets import data_root, discover
    from napari_retina_vessels.weights import list_models

    root = data_root()
    samples = discover(root / 'DRIVE' / 'test')
    images = [nrv.imread(s.image) for s in samples]
    has_av = bool(list_models(task='av'))
    nrv.segment(images[0], av=has_av, device=args.device)  # load, warm up

    reference = _reference(args.reference)
    refs: list[float] = []

    def per_image(av: bool, **kw) -> float:
        # The reference job runs between photos, so that both see the
        # same load on a shared machine (the ratio is the figure).
        best = []
        for img in images[:5]:
            ts = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                nrv.segment(img, av=av, device=args.device, **kw)
                ts.append(time.perf_counter() - t)
            best.append(min(ts))
            if reference is not None:
                refs.append(reference(args.threads, 3))
        return statistics.median(best)

    def ratio(seconds: float) -> str:
        if not refs:
            return ''
        return f' = {seconds / statistics.median(refs):.2f}x the reference'

    from napari_retina_vessels.inference import (
        choose_device,
        resolve_precision,
    )

    auto = resolve_precision('auto', choose_device(args.device))
    print(
        f'torch threads: {args.threads}, device: {args.device}, '
        f'default arithmetic: {auto}'
    )
    v = per_image(False)
    v1 = per_image(False, vessel_views=1)
    a = per_image(True) if has_av else None
    v32 = a32 = None
    if auto != 'fp32':
        v32 = per_image(False, precision='fp32')
        a32 = per_image(True, precision='fp32') if has_av else None
    if refs:
        print(
            f'reference job (cpu_reference.py): '
            f'{statistics.median(refs):.3f} s (median of {len(refs)}, '
            'timed between the photos below)'
        )
    print(
        f'DRIVE photo, vessels only:         {v:.3f} s/image (median of '
        f'5 photos, best of {args.repeat}){ratio(v)}'
    )
    print(f'DRIVE photo, vessels, one view:    {v1:.3f} s/image{ratio(v1)}')
    if a is not None:
        print(f'DRIVE photo, vessels + A/V:        {a:.3f} s/image{ratio(a)}')
    if v32 is not None:
        print(
            f'the same in fp32, vessels only:    {v32:.3f} s/image{ratio(v32)}'
        )
    if a32 is not None:
        print(
            f'the same in fp32, vessels + A/V:   {a32:.3f} s/image{ratio(a32)}'
        )
    t = time.perf_counter()
    for img in images:
        nrv.segment(img, av=has_av, device=args.device)
    dt = time.perf_counter() - t
    print(
        f'DRIVE test set ({len(images)} photos, A/V={has_av}): '
        f'{len(images) / dt:.2f} images/s'
    )
    if args.skip_large:
        return
    for h, w in ((2336, 3504), (8000, 8000)):
        out = subprocess.run(
            [
                sys.executable,
                '-c',
                LARGE_CODE,
                str(h),
                str(w),
                str(args.threads),
                str(samples[0].image),
                args.device,
                '1' if has_av else '0',
            ],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        if out.returncode:
            print(out.stderr[-2000:])
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f'{w} x {h} photo (A/V={has_av}): {r["seconds"]:.2f} s'
            f'{ratio(r["seconds"])}, peak RSS {r["peak_rss_mb"]:.0f} MB '
            f'(input alone {r["input_rss_mb"]:.0f} MB)'
        )


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
    main()
