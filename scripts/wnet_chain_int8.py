"""An int8 W-Net good enough to feed the A/V stage: candidates scored on
the CHAIN (W-Net -> int8 A/V network), training photos only.

Usage::

    PYTHONPATH=src RETINA_VESSELS_DATA=../shared/datasets \\
        python scripts/wnet_chain_int8.py --cache /tmp/chain.npz \\
        [--cameras RITE,HRF-AV] [--scopes shipped,none,s2head,...] \\
        [--save SCOPE --out DIR --suffix -chain]

Each candidate is the W-Net quantised by NNCF's post-training
quantisation (``nncf.quantize``, calibrated on the chain photos) with
one *ignored scope*: the convolutions named in :data:`SCOPES` stay
float32 (``shipped`` is the registered vessel-only int8 file, for
comparison). Every candidate is scored on the photos of ``--cameras``'
TRAINING splits without the photos held out of every A/V network's
training (RITE 39, 40; HRF-AV 08_g, 08_h):

- chain agreement: the share of labelled artery and vein pixels whose
  artery-or-vein decision (the shipped int8 A/V network, 2 flip views)
  is the one it makes from the float32 W-Net's map (2 views, as the
  pipeline), per camera and pooled;
- chain A/V accuracy against the labels, minus the float32 W-Net's;
- vessel AUC on ``--drive`` DRIVE training photos minus float32's;
- the W-Net's own forward time (2 views of a DRIVE-size photo), int8
  over float32, the two run in turn.

The script prints the table and writes ``--save``'s candidate; which one
to ship is chosen from the table (docs/weights.md: ``first``, the
fewest fp32 layers of the chain-calibrated ones) and then judged on
held-out photos by ``scripts/openvino_accuracy.py --candidate NAME=FILE
--wnet-int8-with-av``. ``--cameras RITE`` (or
``HRF-AV``) calibrates on one camera: the leave-one-camera-out check.
Needs ``pip install openvino nncf`` (nncf only here).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from convert_openvino import (  # noqa: E402
    HELD_OUT,
    _auc,
    _pad,
    _run,
    _samples,
    _two_views,
    pack,
)

_S1 = '.*stage1.'
_S2 = '.*stage2.'
_FIRST = (f'{_S1}encoders.0.body.0/.*', f'{_S2}encoders.0.body.0/.*')


def _convs(stage: str, *parts: str) -> tuple[str, ...]:
    return tuple(f'{stage}{p}/.*' for p in parts)


#: name -> convolutions kept in float32 (regular expressions on the
#: converted network's node names). Each stage's first convolution
#: is kept in every scope but ``none`` (accuracy control on the vessel
#: AUC kept exactly those two for the vessel-only file).
SCOPES: dict[str, tuple[str, ...]] = {
    'none': (),
    'first': _FIRST,
    's2head': _FIRST + _convs(_S2, 'head'),
    's2dec2': _FIRST
    + _convs(_S2, 'decoders.2.body.0', 'decoders.2.body.3', 'head'),
    's1s2heads': _FIRST
    + _convs(_S1, 'decoders.2.body.3', 'head')
    + _convs(_S2, 'decoders.2.body.0', 'decoders.2.body.3', 'head'),
    's2dec': _FIRST + _convs(_S2, 'decoders.*', 'head'),
    's2': _FIRST + (f'{_S2}.*',),
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _prepared(cameras, drive: int, cache: Path | None) -> dict:
    """The chain photos (x, rgb_s, fov_s, labelled pixels, artery truth
    there, camera) and the DRIVE AUC photos, prepared as the pipeline
    prepares them; kept in *cache* (an ``.npz``) between runs."""
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            n = int(z['n'])
            m = int(z['m'])
            chain = [
                tuple(z[f'c{i}_{k}'] for k in range(5))
                + (str(z[f'c{i}_cam']),)
                for i in range(n)
            ]
            auc = [tuple(z[f'd{i}_{k}'] for k in range(3)) for i in range(m)]
        return {'chain': chain, 'auc': auc}
    chain = []
    for cam in cameras:
        for x, rgb_s, fov_s, gt in _samples(cam, skip=HELD_OUT[cam]):
            where = (gt[0] | gt[1]) & fov_s
            chain.append((x, rgb_s, fov_s, where, gt[0][where], cam))
        print(f'chain photos: {cam}, {len(chain)} so far', flush=True)
    auc = [(x, fov_s, gt) for x, _, fov_s, gt in _samples('DRIVE', drive)]
    if cache is not None:
        arrays = {'n': len(chain), 'm': len(auc)}
        for i, item in enumerate(chain):
            for k in range(5):
                arrays[f'c{i}_{k}'] = item[k]
            arrays[f'c{i}_cam'] = np.array(item[5])
        for i, item in enumerate(auc):
            for k in range(3):
                arrays[f'd{i}_{k}'] = item[k]
        np.savez(cache, **arrays)
    return {'chain': chain, 'auc': auc}


def main() -> None:
    import nncf
    import openvino as ov

    from napari_retina_vessels import _registry
    from napari_retina_vessels._registry import DEFAULTS
    from napari_retina_vessels._weight_files import openvino_path
    from napari_retina_vessels.engine import _av_input
    from napari_retina_vessels.engines import (
        _convert,
        _read_packed,
        cpu_config,
    )
    from napari_retina_vessels.weights import describe, load_model, resolve

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cameras', default='RITE,HRF-AV')
    ap.add_argument('--drive', type=int, default=10)
    ap.add_argument('--cache', type=Path, default=None)
    ap.add_argument('--scopes', default='shipped,' + ','.join(SCOPES))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=6)
    ap.add_argument('--save', default=None, help='a scope to write')
    ap.add_argument('--out', type=Path, default=Path('.'))
    ap.add_argument('--suffix', default='-chain')
    args = ap.parse_args()

    core = ov.Core()
    cfg = cpu_config('f32', args.threads)
    data = _prepared(args.cameras.split(','), args.drive, args.cache)
    chain, auc_items = data['chain'], data['auc']
    cams = sorted({c for *_, c in chain})
    vname, aname = DEFAULTS['vessels'], DEFAULTS['av']
    mode = describe(vname)['input']
    av_mode = describe(aname)['input']
    vnet, _ = load_model(resolve('default', 'vessels'))
    vmodel = _convert(vnet, 3)
    a_entry = _registry.OPENVINO[aname]['int8']
    a_path = str(openvino_path(a_entry))
    acomp = core.compile_model(_read_packed(a_path, ''), 'CPU', cfg)

    def decisions(vcomp) -> list[np.ndarray]:
        out = []
        for x, rgb_s, fov_s, where, _, _ in chain:
            prob = (_sigmoid(_two_views(vcomp, x)[0]) * fov_s).astype(
                np.float32
            )
            p = type('P', (), {})()
            p.x, p.rgb_s, p.fov_s, p.prob_s = x, rgb_s, fov_s, prob
            lg = _two_views(acomp, _av_input(p, mode, av_mode))
            out.append((lg[0] > lg[1])[where])
        return out

    def vessel_auc(vcomp) -> float:
        s = [_run(vcomp, x)[0][f] for x, f, _ in auc_items]
        t = [g[f] for _, f, g in auc_items]
        return _auc(np.concatenate(s), np.concatenate(t))

    f32comp = core.compile_model(vmodel, 'CPU', cfg)
    ref = decisions(f32comp)
    ref_auc = vessel_auc(f32comp)
    truth = [art for *_, art, _ in chain]

    def acc(dec) -> dict:
        out = {}
        for cam in cams + ['all']:
            idx = [i for i, c in enumerate(chain) if cam in (c[5], 'all')]
            right = sum(int((dec[i] == truth[i]).sum()) for i in idx)
            out[cam] = right / sum(truth[i].size for i in idx)
        return out

    ref_acc = acc(ref)
    print(f'float32 W-Net chain A/V accuracy (training photos): {ref_acc}')
    calib = nncf.Dataset([_pad(c[0]) for c in chain])
    h, w = 584, 568  # a DRIVE photo at the canonical scale, padded
    x_speed = np.random.default_rng(0).random((2, 3, h, w), np.float32)
    rows = []
    for name in args.scopes.split(','):
        if name == 'shipped':
            entry = _registry.OPENVINO[vname]['int8']
            model = _read_packed(str(openvino_path(entry)), '')
        else:
            ignored = (
                nncf.IgnoredScope(patterns=list(SCOPES[name]), validate=False)
                if SCOPES[name]
                else None
            )
            model = nncf.quantize(
                vmodel,
                calib,
                subset_size=len(chain),
                ignored_scope=ignored,
            )
        comp = core.compile_model(model, 'CPU', cfg)
        dec = decisions(comp)
        agree = {}
        for cam in cams + ['all']:
            idx = [i for i, c in enumerate(chain) if cam in (c[5], 'all')]
            same = sum(int((dec[i] == ref[i]).sum()) for i in idx)
            agree[cam] = same / sum(ref[i].size for i in idx)
        got = acc(dec)
        d_auc = vessel_auc(comp) - ref_auc
        comp(x_speed)
        f32comp(x_speed)
        ratios = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            f32comp(x_speed)
            t1 = time.perf_counter()
            comp(x_speed)
            ratios.append((time.perf_counter() - t1) / (t1 - t))
        row = {
            'scope': name,
            'agree': agree,
            'd_acc': {k: got[k] - ref_acc[k] for k in got},
            'd_auc': d_auc,
            'speed': statistics.median(ratios),
        }
        rows.append(row)
        print(row, flush=True)
        if name == args.save:
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / f'{vname}{args.suffix}.int8.ovz'
            print(f'{name}: {path} sha256 {pack(model, path)}', flush=True)
    print(
        f'\ncalibrated and scored on {", ".join(cams)} training photos '
        f'({len(chain)}) and {len(auc_items)} DRIVE training photos'
    )
    head = ' | '.join(f'agree {c}' for c in cams + ['all'])
    dacc = ' | '.join(f'A/V acc {c}' for c in cams + ['all'])
    print(f'| scope | {head} | {dacc} | vessel AUC | int8/fp32 time |')
    print('|---' * (3 + 2 * (len(cams) + 1)) + '|')
    for r in rows:
        print(
            f'| {r["scope"]} | '
            + ' | '.join(f'{r["agree"][c]:.5f}' for c in cams + ['all'])
            + ' | '
            + ' | '.join(f'{r["d_acc"][c]:+.5f}' for c in cams + ['all'])
            + f' | {r["d_auc"]:+.5f} | {r["speed"]:.2f} |'
        )


if __name__ == '__main__':
    main()
