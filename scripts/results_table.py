"""Print the Markdown results tables from docs/results/*.json."""

from __future__ import annotations

import json
from pathlib import Path

RES = Path(__file__).resolve().parents[1] / 'docs' / 'results'


def load(name: str) -> dict | None:
    path = RES / f'{name}.json'
    return json.loads(path.read_text()) if path.exists() else None


def vessel_table() -> None:
    print(
        '| dataset (test split) | images | AUC | F1 | Acc | Se | Sp | '
        'MCC | clDice | threshold | best-F1 threshold (F1) | s/image |'
    )
    print('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for name, label in (
        ('drive', 'DRIVE'),
        ('drive_1view', 'DRIVE, one view'),
        ('drive_tta', 'DRIVE, 4-view TTA'),
        ('drive_global', 'DRIVE, previous default, one view'),
        ('chase', 'CHASE_DB1'),
        ('stare', 'STARE'),
    ):
        r = load(name)
        if not r or not r.get('pooled'):
            continue
        p = r['pooled']
        bt = r.get('best_threshold') or {}
        best = (
            f'{bt["threshold"]:.2f} ({bt["f1"]:.4f})'
            if bt.get('threshold') is not None
            else '-'
        )
        print(
            f'| {label} | {r["n_images"]} | {p["auc"]:.4f} | '
            f'{p["f1"]:.4f} | {p["acc"]:.4f} | {p["se"]:.4f} | '
            f'{p["sp"]:.4f} | {p["mcc"]:.4f} | {p["cldice"]:.4f} | '
            f'{p["threshold"]:.2f} | {best} | '
            f'{r["seconds_per_image"]:.2f} |'
        )


def av_table() -> None:
    print(
        '| RITE test (20) | Acc (intersection) | Se artery | Sp vein | '
        'detected | Acc (all labelled) |'
    )
    print('|---|---|---|---|---|---|')
    for name, label in (
        ('rite_av_raw', 'no vote'),
        ('rite_av_segment', 'segment vote (the previous default)'),
        ('rite_av_1view', 'graph vote, one view'),
        ('rite_av', 'graph vote (default)'),
        ('rite_av_tta', 'graph vote + flip TTA'),
        ('rite_av_bf16', 'the default in bfloat16 (`--precision bf16`)'),
    ):
        r = load(name)
        if not r or not r.get('av'):
            continue
        a = r['av']
        i, al = a['intersection'], a['all']
        print(
            f'| {label} | {i["acc"]:.4f} | {i["se"]:.4f} | '
            f'{i["sp"]:.4f} | {a["detected"]:.3f} | {al["acc"]:.4f} |'
        )


def camera_table() -> None:
    print(
        '| A/V model (trained on) | tested on | Acc (intersection) | '
        'Se artery | Sp vein | detected | Acc (all labelled) |'
    )
    print('|---|---|---|---|---|---|---|')
    rows = (
        ('rite_av', 'shipped (RITE + HRF-AV)', 'RITE test (20)'),
        (
            'hrf_av_rite_only',
            'seqnet-av-rite (RITE only)',
            'HRF-AV, all 24 (unseen camera)',
        ),
        (
            'rite_av_hrf_only',
            'seqnet-av-hrf (HRF-AV only)',
            'RITE test (20, unseen camera)',
        ),
        (
            'hrf_av_val',
            'shipped (RITE + HRF-AV)',
            'HRF-AV 08_g, 08_h (held out of its training)',
        ),
    )
    for name, model, data in rows:
        r = load(name)
        if not r or not r.get('av'):
            continue
        a = r['av']
        i, al = a['intersection'], a['all']
        print(
            f'| {model} | {data} | {i["acc"]:.4f} | {i["se"]:.4f} | '
            f'{i["sp"]:.4f} | {a["detected"]:.3f} | {al["acc"]:.4f} |'
        )


def seed_table() -> None:
    print(
        '| model (DRIVE only) | parameters | AUC | F1 | Acc | Se | Sp | '
        'MCC | clDice | s/image |'
    )
    print('|---|---|---|---|---|---|---|---|---|---|')
    for name in ('unet', 'iternet', 'serr-unet'):
        r = load(f'{name}_drive')
        if not r or not r.get('pooled'):
            continue
        p = r['pooled']
        print(
            f'| {name} | {PARAMS.get(name, "-")} | {p["auc"]:.4f} | '
            f'{p["f1"]:.4f} | {p["acc"]:.4f} | {p["se"]:.4f} | '
            f'{p["sp"]:.4f} | {p["mcc"]:.4f} | {p["cldice"]:.4f} | '
            f'{r["seconds_per_image"]:.2f} |'
        )


def _params() -> dict[str, str]:
    from napari_retina_vessels.models import build_model, count_parameters
    from napari_retina_vessels.weights import load_weights_file

    out = {}
    root = RES.parents[1] / 'weights'
    for name in ('unet', 'iternet', 'serr-unet'):
        path = root / f'{name}-drive.pt'
        if path.exists():
            data = load_weights_file(path)
            model = build_model(data['arch'], **data['arch_kwargs'])
            out[name] = f'{count_parameters(model):,}'
    return out


if __name__ == '__main__':
    PARAMS = _params()
    vessel_table()
    print()
    av_table()
    print()
    camera_table()
    print()
    seed_table()
