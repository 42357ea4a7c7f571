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
  an 8000 x 8000 photo (tiled);
- every engine x arithmetic (torch and OpenVINO, fp32 and bf16, and
  OpenVINO's int8 files, ``engines.py``): seconds per DRIVE photo,
  vessels and vessels + A/V, and the 3504 x 2336 photo with A/V, each as
  its ratio to the reference job timed right after it (median and range
  over the photos; ``--matrix-only`` prints just this);
- ``--networks``: each OpenVINO network's int8 forward pass over its
  fp32 one, the files run in turn (``--candidate NAME=PATH``: an int8
  file not yet registered, in turn with NAME's files);
- ``--swap NAME=PATH``: vessels + A/V with OpenVINO int8, the int8 file
  PATH standing in for NAME's registered one over that file, in turn.

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


def peak_kb():
    # VmHWM belongs to this address space; ru_maxrss would carry the
    # parent's peak across exec on Linux.
    try:
        for line in open('/proc/self/status'):
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


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
base = peak_kb()
kw = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
nrv.segment(img[:256, :256], av=False, device=sys.argv[5], **kw)  # warm-up
t = time.perf_counter()
res = nrv.segment(img, av=sys.argv[6] == '1', device=sys.argv[5], **kw)
dt = time.perf_counter() - t
peak = peak_kb()
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
        '--matrix-only',
        action='store_true',
        help='only the engine x arithmetic table',
    )
    ap.add_argument(
        '--photos', type=int, default=5, help='DRIVE photos per row'
    )
    ap.add_argument(
        '--configs',
        nargs='*',
        default=None,
        help='only these rows of the engine table, e.g. "torch fp32"',
    )
    ap.add_argument(
        '--large-repeat', type=int, default=2, help='runs of the big photo'
    )
    ap.add_argument(
        '--interleaved',
        action='store_true',
        help='only each engine row against torch fp32, run in turn on '
        'every photo (robust to a busy machine)',
    )
    ap.add_argument(
        '--networks',
        action='store_true',
        help='only each OpenVINO file\'s forward pass, int8 over fp32, '
        'the files run in turn (robust to a busy machine)',
    )
    ap.add_argument(
        '--chain',
        action='store_true',
        help='only vessels + A/V with OpenVINO int8, the int8 W-Net '
        'feeding the A/V stage over the fp32 W-Net feeding it, in turn',
    )
    ap.add_argument(
        '--candidate',
        default=None,
        metavar='NAME=PATH',
        help='with --networks: an int8 file for network NAME, timed in '
        'turn with its registered files',
    )
    ap.add_argument(
        '--swap',
        default=None,
        metavar='NAME=PATH',
        help='only vessels + A/V with OpenVINO int8, the int8 file PATH '
        'standing in for NAME\'s registered one over that file, in turn',
    )
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
    from napari_retina_vessels.io.datasets import data_root, discover
    from napari_retina_vessels.weights import list_models

    root = data_root()
    samples = discover(root / 'DRIVE' / 'test')
    images = [nrv.imread(s.image) for s in samples]
    has_av = bool(list_models(task='av'))
    nrv.segment(images[0], av=has_av, device=args.device)  # load, warm up

    reference = _reference(args.reference)
    refs: list[float] = []
    if args.interleaved:
        interleaved(args, images)
        return
    if args.networks:
        networks(args, images)
        return
    if args.chain:
        chain(args, images)
        return
    if args.swap:
        swap(args, images)
        return
    if args.matrix_only:
        matrix(args, images, samples[0].image, reference)
        return

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
    matrix(args, images, samples[0].image, reference)


#: The engine x arithmetic rows of :func:`matrix`: label, segment options.
CONFIGS = [
    ('torch fp32', {'engine': 'torch', 'precision': 'fp32'}),
    ('torch bf16', {'engine': 'torch', 'precision': 'bf16'}),
    ('OpenVINO fp32', {'engine': 'openvino', 'precision': 'fp32'}),
    ('OpenVINO bf16', {'engine': 'openvino', 'precision': 'bf16'}),
    ('OpenVINO int8', {'engine': 'openvino', 'precision': 'auto'}),
]


def _large(args, photo, kw: dict) -> float:
    """Seconds of the 3504 x 2336 photo with A/V in a fresh process."""
    out = subprocess.run(
        [
            sys.executable,
            '-c',
            LARGE_CODE,
            '2336',
            '3504',
            str(args.threads),
            str(photo),
            args.device,
            '1',
            json.dumps(kw),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])['seconds']


def matrix(args, images, photo, reference) -> None:
    """Every engine x arithmetic as ratios to the reference job, each
    time followed by a reference job so that both see the same load."""
    import napari_retina_vessels as nrv
    from napari_retina_vessels.engines import openvino_available
    from napari_retina_vessels.inference import cpu_has_native_bf16

    if reference is None:
        print('no reference job: no engine table')
        return
    print(
        f'\nengine x arithmetic ({args.threads} threads; this CPU '
        f'{"computes" if cpu_has_native_bf16() else "does NOT compute"} '
        'bfloat16 natively); x reference job: median [min-max] over '
        f'{args.photos} DRIVE photos, each the best of {args.repeat}'
    )
    print('| engine | vessels | vessels + A/V | 3504 x 2336, A/V |')
    print('|---|---|---|---|')
    for label, kw in CONFIGS:
        if args.configs and label not in args.configs:
            continue
        if kw['engine'] == 'openvino' and not openvino_available():
            print(f'| {label} | openvino not installed | | |')
            continue
        cells = []
        for av in (False, True):
            warm = nrv.segment(images[0], av=av, device=args.device, **kw)
            ratios = []
            for img in images[: args.photos]:
                ts = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    nrv.segment(img, av=av, device=args.device, **kw)
                    ts.append(time.perf_counter() - t)
                ratios.append(min(ts) / reference(args.threads, 3))
            ran = f'{warm.engine} {warm.precision}'
            cells.append(
                f'{statistics.median(ratios):.2f}x '
                f'[{min(ratios):.2f}-{max(ratios):.2f}] ({ran})'
            )
        if args.skip_large:
            cells.append('')
        else:
            big = [
                _large(args, photo, kw) / reference(args.threads, 3)
                for _ in range(args.large_repeat)
            ]
            cells.append(f'{min(big):.2f}x [{min(big):.2f}-{max(big):.2f}]')
        print(f'| {label} | ' + ' | '.join(cells) + ' |', flush=True)



def interleaved(args, images) -> None:
    """Each engine row's time over torch fp32's, the rows run in turn on
    every photo (so that load changes hit them alike): median [min-max]
    over photos x repeats."""
    import napari_retina_vessels as nrv

    rows = [
        (label, kw)
        for label, kw in CONFIGS
        if not args.configs or label in args.configs or label == 'torch fp32'
    ]
    print(
        f'\ntime / torch fp32 time, rows in turn per photo ({args.threads} '
        f'threads, {args.photos} photos x {args.repeat} repeats)'
    )
    print('| engine | vessels | vessels + A/V |')
    print('|---|---|---|')
    out = {label: [] for label, _ in rows}
    for av in (False, True):
        for _label, kw in rows:  # warm up, compile
            nrv.segment(images[0], av=av, device=args.device, **kw)
        got = {label: [] for label, _ in rows}
        for img in images[: args.photos]:
            for _ in range(args.repeat):
                ts = {}
                for label, kw in rows:
                    t = time.perf_counter()
                    nrv.segment(img, av=av, device=args.device, **kw)
                    ts[label] = time.perf_counter() - t
                for label, _ in rows:
                    got[label].append(ts[label] / ts['torch fp32'])
        for label, _ in rows:
            r = got[label]
            out[label].append(
                f'{statistics.median(r):.2f} [{min(r):.2f}-{max(r):.2f}]'
            )
    for label, _ in rows:
        print(f'| {label} | ' + ' | '.join(out[label]) + ' |')

def _int8_in_turn(args, images, name: str, kinds: dict) -> tuple:
    """``segment(av=True)`` with OpenVINO, NAME's registered int8 entry
    replaced by each of the two *kinds* (label -> entry, the baseline
    first) in turn on every photo, after one warm-up each; the
    registered entry is put back. Returns the baseline's times, the
    other's, and their per-run ratios (other over baseline)."""
    import napari_retina_vessels as nrv
    from napari_retina_vessels import _registry

    entry = _registry.OPENVINO[name]['int8']

    def run(label, img) -> float:
        _registry.OPENVINO[name]['int8'] = kinds[label]
        t = time.perf_counter()
        nrv.segment(img, av=True, device=args.device, engine='openvino')
        return time.perf_counter() - t

    try:
        for label in kinds:  # warm up, compile
            run(label, images[0])
        times = {label: [] for label in kinds}
        for img in images[: args.photos]:
            for _ in range(args.repeat):
                for label in kinds:
                    times[label].append(run(label, img))
    finally:
        _registry.OPENVINO[name]['int8'] = entry
    old, new = times.values()
    return old, new, [b / a for a, b in zip(old, new)]


def chain(args, images) -> None:
    """``segment(av=True)`` with OpenVINO int8, the int8 W-Net feeding
    the A/V stage over the fp32 W-Net feeding it (the registered int8
    W-Net flagged vessel-only, ``with_av: False``, as before round 3),
    the two in turn on every photo: median [min-max] over photos x
    repeats."""
    from napari_retina_vessels import _registry, engines

    name = _registry.DEFAULTS['vessels']
    entry = _registry.OPENVINO.get(name, {}).get('int8')
    if not engines.openvino_available() or entry is None:
        print('openvino or the int8 W-Net missing: no chain comparison')
        return
    kinds = {
        'fp32 W-Net feeds A/V': {**entry, 'with_av': False},
        'int8 W-Net feeds A/V': {**entry, 'with_av': True},
    }

    old, new, r = _int8_in_turn(args, images, name, kinds)
    print(
        f'\nvessels + A/V, OpenVINO int8, {args.threads} threads, '
        f'{args.photos} photos x {args.repeat}: int8 W-Net feeding the '
        f'A/V stage {statistics.median(new) * 1e3:.0f} ms, fp32 W-Net '
        f'feeding it {statistics.median(old) * 1e3:.0f} ms; ratio '
        f'{statistics.median(r):.2f} [{min(r):.2f}-{max(r):.2f}]'
    )


def swap(args, images) -> None:
    """``segment(av=True)`` with OpenVINO int8, an int8 file not yet
    registered (``--swap NAME=PATH``) standing in for NAME's registered
    one over that one, the two in turn on every photo: median [min-max]
    over photos x repeats."""
    import hashlib

    from napari_retina_vessels import _registry, engines

    name, _, path = args.swap.partition('=')
    entry = _registry.OPENVINO.get(name, {}).get('int8')
    if not engines.openvino_available() or entry is None:
        print(f'openvino or the int8 file of {name} missing: no swap')
        return
    path = Path(path).resolve()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    kinds = {
        'registered': entry,
        'candidate': {**entry, 'file': str(path), 'sha256': sha},
    }

    old, new, r = _int8_in_turn(args, images, name, kinds)
    print(
        f'\nvessels + A/V, OpenVINO int8, {args.threads} threads, '
        f'{args.photos} photos x {args.repeat}: {name} int8 from {path} '
        f'{statistics.median(new) * 1e3:.0f} ms, the registered file '
        f'{statistics.median(old) * 1e3:.0f} ms; ratio '
        f'{statistics.median(r):.2f} [{min(r):.2f}-{max(r):.2f}]'
    )


def networks(args, images) -> None:
    """Each registered network's OpenVINO forward pass (a 2-view batch of
    a DRIVE photo at the canonical scale, compiled as ``engines.py``
    compiles it, float32 arithmetic) in turn, int8 file over fp32 file:
    median [min-max] over ``--photos x --repeat`` rounds."""
    import numpy as np

    from napari_retina_vessels import _registry, engines
    from napari_retina_vessels._weight_files import openvino_path

    if not engines.openvino_available():
        print('openvino not installed: no network table')
        return
    h, w = images[0].shape[:2]
    h, w = -(-h // 8) * 8, -(-w // 8) * 8
    rng = np.random.default_rng(0)
    runs = {}
    for name, kinds in _registry.OPENVINO.items():
        if 'int8' not in kinds:
            continue
        task = _registry.REGISTRY[name]['task']
        x = rng.random((2, 4 if task == 'av' else 3, h, w), np.float32)
        files = {k: str(openvino_path(kinds[k])) for k in ('fp32', 'int8')}
        if args.candidate and args.candidate.partition('=')[0] == name:
            files['candidate'] = args.candidate.partition('=')[2]
        for kind, path in files.items():
            compiled = engines._compiled(
                (path, f'{kind} {path}'),
                'f32',
                args.threads,
                lambda p=path: engines._read_packed(p, ''),
            )
            compiled(x)  # warm up
            runs[(name, kind)] = (compiled, x)
    times = {key: [] for key in runs}
    for _ in range(args.photos * args.repeat):
        for key, (compiled, x) in runs.items():
            t = time.perf_counter()
            compiled(x)
            times[key].append(time.perf_counter() - t)
    print(
        f'\nforward pass, 2 views of {h} x {w}, {args.threads} threads: '
        'int8 time / fp32 time, files in turn'
    )
    print('| network | fp32 ms | int8 ms | int8 / fp32 |')
    print('|---|---|---|---|')
    for name, kind in runs:
        if kind == 'fp32':
            continue
        f32, i8 = times[(name, 'fp32')], times[(name, kind)]
        r = [b / a for a, b in zip(f32, i8)]
        label = name if kind == 'int8' else f'{name} ({args.candidate})'
        print(
            f'| {label} | {statistics.median(f32) * 1e3:.0f} | '
            f'{statistics.median(i8) * 1e3:.0f} | {statistics.median(r):.2f} '
            f'[{min(r):.2f}-{max(r):.2f}] |'
        )
    if args.candidate:
        name = args.candidate.partition('=')[0]
        old, new = times[(name, 'int8')], times[(name, 'candidate')]
        r = [b / a for a, b in zip(old, new)]
        print(
            f'candidate over registered int8 {name}: '
            f'{statistics.median(r):.2f} [{min(r):.2f}-{max(r):.2f}]'
        )


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
    main()
