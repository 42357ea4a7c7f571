"""Where the time of one ``segment()`` call goes, stage by stage.

Usage::

    PYTHONPATH=src RETINA_VESSELS_DATA=../shared/datasets \\
        python benchmarks/profile_segment.py [--av] [--engine openvino] \\
        [--precision auto] [--photos 5] [--repeat 3] [--threads 2]

Wraps the engine's stage functions (decoding aside: the photos are
arrays) with wall-clock timers, runs ``segment`` on DRIVE test photos
and prints, per stage, the median milliseconds per photo and the thread
it ran on (``main``: the engine's own thread; ``pool``: the preparing
and finishing threads, which overlap the networks). The networks'
forward passes are timed where they run (``OpenVinoNet.logits`` or the
torch ``_forward``). Also prints the whole call's median time and its
ratio to the reference job timed after each photo (median), and how
much of the call the main thread spent outside the timed stages.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: (module, attribute, label) of the stages timed.
STAGES = [
    ('engine', '_prepare', 'prepare (all)'),
    ('fov', 'fov_mask', '  FOV mask'),
    ('quality', 'precheck', '  quality precheck'),
    ('preprocessing', 'as_rgb_float', '  as_rgb_float'),
    ('preprocessing', 'resize', 'resize (any)'),
    ('preprocessing', 'normalise_input', 'normalise_input'),
    ('_quality_features', 'diameter', '  FOV diameter'),
    ('quality', 'assess_image', 'quality: image measures'),
    ('quality', 'assess_prediction', 'quality: map measures'),
    ('engine', '_vessel_maps', 'vessel maps (sigmoid, resize back)'),
    ('av', 'vessel_graph', 'vessel graph'),
    ('engine', '_av_input', 'A/V input'),
    ('engine', '_finish', 'finish (all)'),
    ('av', 'label_av', '  label_av'),
    ('segmentation', '_Canonical', '  canonical A/V'),
    ('segmentation', 'threshold_vessels', 'threshold vessels'),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--av', action='store_true')
    ap.add_argument('--engine', default='openvino')
    ap.add_argument('--precision', default='auto')
    ap.add_argument('--photos', type=int, default=5)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()

    import importlib

    import torch

    torch.set_num_threads(args.threads)
    from bench_inference import REFERENCE, _reference

    import napari_retina_vessels as nrv
    from napari_retina_vessels import inference
    from napari_retina_vessels._allocator import tune_allocator
    from napari_retina_vessels.io.datasets import data_root, discover

    tune_allocator()
    times: dict[str, list[float]] = defaultdict(list)
    where: dict[str, set] = defaultdict(set)
    main_thread = threading.main_thread()

    def timed(fn, label):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                times[label].append(time.perf_counter() - t)
                th = threading.current_thread()
                where[label].add('main' if th is main_thread else 'pool')

        return wrapper

    pkg = 'napari_retina_vessels'
    for mod, attr, label in STAGES:
        m = importlib.import_module(f'{pkg}.{mod}')
        if mod == 'segmentation' and attr == '_Canonical':
            cls = m._Canonical
            cls.artery_probability = timed(
                cls.artery_probability, '  artery probability (vote)'
            )
            continue
        setattr(m, attr, timed(getattr(m, attr), label))
    forward = inference._forward

    def by_stage(model, x, *a, **k):
        # The vessel network takes the photo (3 channels), the A/V
        # network the photo and the vessel probability (4).
        name = 'vessels' if x.shape[1] == 3 else 'A/V'
        return timed(forward, f'network forward, {name}')(model, x, *a, **k)

    inference._forward = by_stage

    samples = discover(data_root() / 'DRIVE' / 'test')[: args.photos]
    images = [nrv.imread(s.image) for s in samples]
    kw = {
        'av': args.av,
        'engine': args.engine,
        'precision': args.precision,
        'device': 'cpu',
    }
    warm = nrv.segment(images[0], **kw)
    reference = _reference(str(REFERENCE))
    times.clear()
    calls, refs = [], []
    for img in images:
        for _ in range(args.repeat):
            t = time.perf_counter()
            nrv.segment(img, **kw)
            calls.append(time.perf_counter() - t)
        if reference is not None:
            refs.append(reference(args.threads, 3))
    n = len(calls)
    total = statistics.median(calls)
    print(
        f'segment(av={args.av}) {warm.engine} {warm.precision}, '
        f'{args.threads} threads, {len(images)} DRIVE photos x '
        f'{args.repeat}: median {total * 1e3:.0f} ms per call'
        + (
            f' = {total / statistics.median(refs):.2f}x the reference job'
            f' ({statistics.median(refs) * 1e3:.0f} ms)'
            if refs
            else ''
        )
    )
    print('| stage | thread | ms per call | share of call |')
    print('|---|---|---|---|')
    main_ms = 0.0
    for label, ts in times.items():
        per_call = sum(ts) / n
        thread = '/'.join(sorted(where[label]))
        if thread == 'main' and not label.startswith(' '):
            main_ms += per_call
        print(
            f'| {label} | {thread} | {per_call * 1e3:.1f} | '
            f'{per_call / total:.0%} |'
        )
    print(
        f'main thread outside the timed top-level stages: '
        f'{(total - main_ms) * 1e3:.0f} ms per call (waiting for the pool, '
        'flips, loading, the rest)'
    )


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
    main()
