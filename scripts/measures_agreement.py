"""CRAE, CRVE and AVR from ground-truth A/V maps and from the model's.

For each photo of a dataset with artery/vein labels (RITE = DRIVE with
A/V, HRF-AV) the script measures the ground-truth A/V map and the map
the default models produce, with the same disc (found from the photo and
the ground-truth vessels, so that both sides use the same zone B), and
writes one row per photo with both sets of values side by side, then
prints a summary: how many photos got each value, the mean AVR, the
share of AVRs in 0.5-1.0, and the mean absolute difference model - truth.

Usage::

    python scripts/measures_agreement.py RITE/test HRF-AV --out table.csv
        [--limit N] [--views 1] [--device cpu] [--precision auto]
        [--cache DIR] [--av-model NAME] [--manual-only]

``--manual-only`` measures the manual maps alone (no model runs: the
model columns stay empty), for re-running the manual side after a
change to the measures.

Rows are written as each photo finishes, so an interrupted run keeps
what it measured. ``--cache DIR`` keeps each photo's model maps
(``.npz``, named with the views, the arithmetic that ran and the A/V
model, so maps made in float32 and in bfloat16, or by two models, never
mix in one table) so that a re-run after a change to the measures does
not segment again.

Dataset folders are relative to $RETINA_VESSELS_DATA when not found.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from napari_retina_vessels.io.datasets import data_root, discover, load_sample
from napari_retina_vessels.measures import find_disc, measure

KEYS = ('crae_um', 'crve_um', 'avr', 'crae_n', 'crve_n')


def _arithmetic(precision: str, device: str) -> str:
    """The arithmetic *precision* resolves to on *device* ('fp32', ...)."""
    from napari_retina_vessels.inference import (
        choose_device,
        resolve_precision,
    )

    return resolve_precision(precision, choose_device(device))


def _segment(
    img, views, device, precision, cache: Path | None, key: str, av_model
):
    """The model's maps for *img*, from *cache* when it has them."""
    from types import SimpleNamespace

    from napari_retina_vessels.weights import resolve

    f = None
    if cache:
        arith = _arithmetic(precision, device)
        model = resolve(av_model, 'av').name
        f = cache / f'{key}_views{views}_{arith}_{model}.npz'
    if f is not None and f.exists():
        z = np.load(f)
        return SimpleNamespace(
            vessels=z['vessels'],
            artery_vein=z['artery_vein'],
            probability=z['probability'],
            fov=z['fov'],
        )
    from napari_retina_vessels.pipeline import segment

    seg = segment(
        img,
        av=True,
        av_model=av_model,
        device=device,
        vessel_views=views,
        av_views=views,
        precision=precision,
    )
    if f is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            f,
            vessels=seg.vessels,
            artery_vein=seg.artery_vein,
            probability=seg.probability,
            fov=seg.fov,
        )
    return seg


def run(
    folders,
    limit,
    views,
    device,
    out,
    cache=None,
    precision='auto',
    av_model='default',
    manual_only=False,
) -> list[dict]:
    rows = []
    writer = None
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            path = data_root() / folder
        samples = [s for s in discover(path) if s.av][:limit]
        for s in samples:
            t0 = time.perf_counter()
            data = load_sample(s)
            img, av = data['image'], data['av']
            fov = data['fov']
            disc = find_disc(img, av > 0, fov=fov)
            row = {
                'dataset': folder,
                'name': s.name,
                'disc_confidence': disc.confidence,
            }
            truth = measure(av, img, fov=fov, disc=disc).image.iloc[0]
            key = f'{folder}_{s.name}'.replace('/', '_')
            if manual_only:
                model = dict.fromkeys([*KEYS, 'avr_reason'], float('nan'))
            else:
                seg = _segment(
                    img, views, device, precision, cache, key, av_model
                )
                model = measure(seg, img, disc=disc).image.iloc[0]
            for k in KEYS:
                row[f'truth_{k}'] = truth[k]
                row[f'model_{k}'] = model[k]
            row['truth_reason'] = truth['avr_reason']
            row['model_reason'] = model['avr_reason']
            row['pixel_size_um'] = truth['pixel_size_um']
            row['seconds'] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            if writer is None:
                writer = csv.DictWriter(out, list(row))
                writer.writeheader()
            writer.writerow(row)
            out.flush()
            print(
                f'{folder} {s.name}: AVR truth {truth["avr"]:.3f} model '
                f'{model["avr"]:.3f} ({row["seconds"]} s)',
                file=sys.stderr,
                flush=True,
            )
    return rows


def summary(rows: list[dict]) -> str:
    lines = [
        '| dataset | source | photos with AVR | mean AVR | AVR in '
        '0.5-1.0 | mean CRAE (µm) | mean CRVE (µm) | mean abs diff '
        'AVR vs truth |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for ds in sorted({r['dataset'] for r in rows}):
        rs = [r for r in rows if r['dataset'] == ds]
        for src in ('truth', 'model'):
            avr = np.array([r[f'{src}_avr'] for r in rs], float)
            ok = np.isfinite(avr)
            crae = np.nanmean([r[f'{src}_crae_um'] for r in rs])
            crve = np.nanmean([r[f'{src}_crve_um'] for r in rs])
            diff = ''
            if src == 'model':
                t = np.array([r['truth_avr'] for r in rs], float)
                both = ok & np.isfinite(t)
                diff = (
                    f'{np.mean(np.abs(avr[both] - t[both])):.3f}'
                    if both.any()
                    else '-'
                )
            inside = (
                np.mean((avr[ok] >= 0.5) & (avr[ok] <= 1.0))
                if ok.any()
                else float('nan')
            )
            lines.append(
                f'| {ds} | {src} | {ok.sum()}/{len(rs)} | '
                f'{np.nanmean(avr):.3f} | {inside:.0%} | {crae:.1f} | '
                f'{crve:.1f} | {diff} |'
            )
    return '\n'.join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('datasets', nargs='+')
    ap.add_argument('--out', type=Path, required=True)
    ap.add_argument('--limit', type=int, default=None)
    ap.add_argument('--views', type=int, default=1, choices=[1, 2, 4])
    ap.add_argument('--device', default='auto')
    ap.add_argument('--precision', default='auto')
    ap.add_argument('--cache', type=Path, default=None)
    ap.add_argument('--av-model', default='default')
    ap.add_argument('--manual-only', action='store_true')
    args = ap.parse_args(argv)
    with open(args.out, 'w', newline='') as f:
        rows = run(
            args.datasets,
            args.limit,
            args.views,
            args.device,
            f,
            args.cache,
            args.precision,
            args.av_model,
            args.manual_only,
        )
    if not rows:
        print('no photos with A/V labels found', file=sys.stderr)
        return 1
    print(summary(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
