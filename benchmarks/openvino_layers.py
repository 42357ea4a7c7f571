"""Where an OpenVINO network's forward pass goes, layer by layer.

Usage::

    PYTHONPATH=src python benchmarks/openvino_layers.py [--threads 2] \\
        [--batch 2] [--file EXTRA.ovz ...]

For every registered OpenVINO file (``_registry.OPENVINO``) and any
``--file``, compiled as ``engines.py`` compiles it (float32 hint) with
OpenVINO's per-layer counters on (``PERF_COUNT``), runs a DRIVE-size
batch (``--batch`` views of 584 x 568; random values: the time does not
depend on them) and prints the forward time, the slowest layers with the
kernel OpenVINO chose (``ref_*``: a reference kernel) and the time by
kind of layer.
"""

from __future__ import annotations

import argparse
import collections

import numpy as np


def main() -> None:
    import openvino as ov

    from napari_retina_vessels import _registry, engines
    from napari_retina_vessels._weight_files import openvino_path

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--top', type=int, default=8)
    ap.add_argument('--file', nargs='*', default=[])
    args = ap.parse_args()
    core = ov.Core()
    cfg = {**engines.cpu_config('f32', args.threads), 'PERF_COUNT': True}
    files = [
        (f'{name} {kind}', str(openvino_path(entry)))
        for name, kinds in _registry.OPENVINO.items()
        for kind, entry in kinds.items()
    ]
    files += [(path, path) for path in args.file]
    for label, path in files:
        model = engines._read_packed(path, '')
        channels = model.inputs[0].get_partial_shape()[1].get_length()
        x = np.random.default_rng(0).random(
            (args.batch, channels, 584, 568), np.float32
        )
        req = core.compile_model(model, 'CPU', cfg).create_infer_request()
        req.infer({0: x})  # warm up
        layers = collections.Counter()
        kinds = collections.Counter()
        for _ in range(args.rounds):
            req.infer({0: x})
            for p in req.profiling_info:
                ms = p.real_time.total_seconds() * 1e3 / args.rounds
                layers[(p.node_name, p.exec_type)] += ms
                kinds[f'{p.node_type} ({p.exec_type.split("_")[0]})'] += ms
        total = sum(layers.values())
        print(f'\n{label}: {total:.0f} ms per forward of {x.shape}')
        for (name, kernel), ms in layers.most_common(args.top):
            print(f'  {ms:7.1f} ms {ms / total:6.1%}  {kernel:22s} {name}')
        print(
            '  by kind: '
            + ', '.join(
                f'{k} {ms / total:.0%}' for k, ms in kinds.most_common(6)
            )
        )


if __name__ == '__main__':
    main()
