"""Accuracy of the OpenVINO files against torch float32, on test photos.

Usage::

    PYTHONPATH=src RETINA_VESSELS_DATA=../shared/datasets \\
        python scripts/openvino_accuracy.py --json accuracy.json

Runs the default pipeline (default views, graph vote) three ways: torch
fp32, OpenVINO fp32 and OpenVINO int8 (``engine='openvino'``, precision
auto where int8 files are registered), on DRIVE test (vessel AUC), RITE
test (artery/vein accuracy; this copy has no vessel maps) and the sets
no network or calibration saw: CHASE_DB1 test, STARE test (vessel AUC)
and the HRF-AV photos held out of A/V training (08_g, 08_h: AUC of the
labelled tree, A/V accuracy). Prints a Markdown table of each metric
and of the int8 files' difference to torch fp32, and whether int8
passes the gate of issue #33: within 0.0005 AUC and 0.002 A/V accuracy
everywhere.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

AUC_GATE = 0.0005
AV_GATE = 0.002

#: id -> (label, folder, split, score A/V, HRF photos)
SETS = {
    'DRIVE': ('DRIVE test', 'DRIVE', 'test', False, None),
    'RITE': ('RITE test', 'RITE', 'test', True, None),  # A/V labels only
    'CHASE_DB1': ('CHASE_DB1 test', 'CHASE_DB1', 'test', False, None),
    'STARE': ('STARE test', 'STARE', 'test', False, None),
    'HRF-AV': ('HRF-AV 08_g, 08_h', 'HRF-AV', 'all', True, ('08_g', '08_h')),
    # Every HRF-AV photo: the held-out camera of an int8 file calibrated
    # on RITE only (--candidate), not run unless asked for (--sets).
    'HRF-AV-all': ('HRF-AV all', 'HRF-AV', 'all', True, None),
}
DEFAULT_SETS = ('DRIVE', 'RITE', 'CHASE_DB1', 'STARE', 'HRF-AV')

ENGINES = [
    ('torch fp32', {'engine': 'torch', 'precision': 'fp32'}),
    ('OpenVINO fp32', {'engine': 'openvino', 'precision': 'fp32'}),
    ('OpenVINO int8', {'engine': 'openvino', 'precision': 'auto'}),
]


def _hrf_subset(root: Path, names, tmp: Path) -> Path:
    """A folder in HRF layout holding only the photos *names*."""
    src = root / 'training'
    dst = tmp / 'HRF-AV' / 'training'
    for sub in ('images', 'mask', 'av'):
        (dst / sub).mkdir(parents=True)
        for f in (src / sub).iterdir():
            if any(f.name.startswith(n) for n in names):
                (dst / sub / f.name).symlink_to(f)
    return tmp / 'HRF-AV'


def _use_candidates(pairs, wnet_with_av: bool, tmp: Path) -> None:
    """Register int8 files *pairs* (``NAME=PATH``) for this process only:
    copied into a scratch download cache, entered in ``_registry.OPENVINO``
    with their sha256 (as a registered file would be). *wnet_with_av*
    lets the int8 W-Net feed the A/V stage too."""
    import hashlib
    import os
    import shutil

    from napari_retina_vessels import _registry

    cache = tmp / 'cache'
    cache.mkdir()
    os.environ['RETINA_VESSELS_CACHE_DIR'] = str(cache)
    for pair in pairs:
        name, _, path = pair.partition('=')
        path = Path(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        fname = f'candidate-{sha[:12]}-{path.name}'
        shutil.copy(path, cache / fname)
        entry = {'file': fname, 'sha256': sha, 'shipped': False}
        _registry.OPENVINO.setdefault(name, {})['int8'] = entry
        print(f'candidate int8 {name}: {path} sha256 {sha}', flush=True)
    if wnet_with_av:
        name = _registry.DEFAULTS['vessels']
        entry = _registry.OPENVINO[name]['int8']
        _registry.OPENVINO[name]['int8'] = {**entry, 'with_av': True}


def main() -> None:
    from napari_retina_vessels.evaluation import evaluate_dataset
    from napari_retina_vessels.io.datasets import data_root

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--json', type=Path, default=None)
    ap.add_argument(
        '--sets', nargs='*', default=list(DEFAULT_SETS), choices=list(SETS)
    )
    ap.add_argument(
        '--candidate',
        nargs='*',
        default=[],
        metavar='NAME=PATH',
        help='score this int8 file as registry model NAME\'s',
    )
    ap.add_argument(
        '--wnet-int8-with-av',
        action='store_true',
        help='the int8 W-Net feeds the A/V stage too',
    )
    ap.add_argument(
        '--baseline',
        type=Path,
        default=None,
        help='a --json of an earlier run: its torch fp32 and OpenVINO '
        'fp32 rows are reused, only int8 runs',
    )
    ap.add_argument(
        '--no-openvino-fp32',
        action='store_true',
        help='skip OpenVINO fp32 (the same maps as torch fp32 within '
        '4e-7): torch fp32 and int8 only',
    )
    ap.add_argument(
        '--no-int8',
        action='store_true',
        help='run torch fp32 and OpenVINO fp32 only (a --baseline)',
    )
    args = ap.parse_args()
    root = data_root()
    old = {}
    if args.baseline:
        old = {
            r['set']: r
            for r in json.loads(args.baseline.read_text())['rows']
        }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        _use_candidates(args.candidate, args.wnet_int8_with_av, Path(tmp))
        for key in args.sets:
            label, folder, split, av, only = SETS[key]
            path = root / folder
            if only:
                path = _hrf_subset(path, only, Path(tmp) / key)
            row = {'set': label}
            for name, opts in ENGINES:
                if name == 'OpenVINO int8' and args.no_int8:
                    continue
                if name == 'OpenVINO fp32' and args.no_openvino_fp32:
                    row[name] = {'auc': None, 'av_acc': None}
                    continue
                if name != 'OpenVINO int8' and name in old.get(label, {}):
                    row[name] = old[label][name]
                    continue
                rep = evaluate_dataset(
                    path, split=split, av=av, device='cpu', **opts
                )
                row[name] = {
                    'auc': (rep['pooled'] or {}).get('auc'),
                    'av_acc': rep['av']['all']['acc'] if av else None,
                    'arithmetic': rep['arithmetic'],
                    'n': rep['n_images'],
                }
                print(label, name, row[name], flush=True)
            rows.append(row)
    if args.no_int8:
        args.json and args.json.write_text(json.dumps({'rows': rows}))
        return
    ok = True
    print('\n| set | metric | torch fp32 | OpenVINO fp32 | OpenVINO int8 '
          '| int8 - torch |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        for key, gate in (('auc', AUC_GATE), ('av_acc', AV_GATE)):
            vals = [row[name][key] for name, _ in ENGINES]
            if vals[0] is None:
                continue
            diff = vals[2] - vals[0]
            ok &= diff >= -gate
            print(
                f'| {row["set"]} ({row["torch fp32"]["n"]}) | {key} | '
                + ' | '.join('—' if v is None else f'{v:.5f}' for v in vals)
                + f' | {diff:+.5f} |'
            )
    print(f'\nint8 within {AUC_GATE} AUC and {AV_GATE} A/V accuracy '
          f'everywhere: {"yes" if ok else "NO"}')
    if args.json:
        args.json.write_text(json.dumps({'rows': rows, 'pass': ok}, indent=1))


if __name__ == '__main__':
    main()
