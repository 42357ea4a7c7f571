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

#: (label, folder, split, score A/V, HRF photos)
SETS = [
    ('DRIVE test', 'DRIVE', 'test', False, None),
    ('RITE test', 'RITE', 'test', True, None),  # A/V labels only
    ('CHASE_DB1 test', 'CHASE_DB1', 'test', False, None),
    ('STARE test', 'STARE', 'test', False, None),
    ('HRF-AV 08_g, 08_h', 'HRF-AV', 'all', True, ('08_g', '08_h')),
]

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


def main() -> None:
    from napari_retina_vessels.evaluation import evaluate_dataset
    from napari_retina_vessels.io.datasets import data_root

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--json', type=Path, default=None)
    ap.add_argument('--sets', nargs='*', default=None)
    args = ap.parse_args()
    root = data_root()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, folder, split, av, only in SETS:
            if args.sets and folder not in args.sets:
                continue
            path = root / folder
            if only:
                path = _hrf_subset(path, only, Path(tmp))
            row = {'set': label}
            for name, opts in ENGINES:
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
                + ' | '.join(f'{v:.5f}' for v in vals)
                + f' | {diff:+.5f} |'
            )
    print(f'\nint8 within {AUC_GATE} AUC and {AV_GATE} A/V accuracy '
          f'everywhere: {"yes" if ok else "NO"}')
    if args.json:
        args.json.write_text(json.dumps({'rows': rows, 'pass': ok}, indent=1))


if __name__ == '__main__':
    main()
