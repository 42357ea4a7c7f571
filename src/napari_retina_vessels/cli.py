"""The ``retina-vessels`` command: segment | measure | evaluate | train |
weights."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ['build_parser', 'main']


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        '--model',
        default='default',
        help='registry name or weights file (default: %(default)s)',
    )
    p.add_argument(
        '--device',
        default='auto',
        help='auto, cpu, cuda, cuda:N or mps (default: auto)',
    )
    p.add_argument(
        '--views',
        type=int,
        choices=[1, 2, 4],
        default=None,
        help='flip views both stages average: 1 is fastest, 2 '
        'the photo and its mirror image (default), 4 adds '
        'the up-down mirrors (2x slower, slightly better)',
    )
    p.add_argument(
        '--tta',
        dest='views',
        action='store_const',
        const=4,
        help='the same as --views 4',
    )
    p.add_argument(
        '--threshold',
        type=float,
        default=None,
        help="vessel probability cut-off (default: the model's)",
    )


def build_parser() -> argparse.ArgumentParser:
    from .preprocessing import INPUT_MODES

    parser = argparse.ArgumentParser(
        prog='retina-vessels',
        description='Retinal vessel and artery/vein segmentation.',
    )
    parser.add_argument(
        '--version', action='store_true', help='print the version and exit'
    )
    sub = parser.add_subparsers(dest='command')

    seg = sub.add_parser('segment', help='segment photos in batch')
    seg.add_argument(
        'inputs', nargs='+', help='files, folders or glob patterns'
    )
    seg.add_argument('--out', required=True, help='output folder')
    _add_model_options(seg)
    seg.add_argument(
        '--av',
        dest='av',
        action='store_true',
        default=False,
        help='also classify arteries and veins',
    )
    seg.add_argument('--av-model', default='default')
    seg.add_argument(
        '--format',
        choices=['png', 'tif', 'npy'],
        default='png',
        help='probability map format',
    )
    seg.add_argument(
        '--overwrite',
        action='store_true',
        help='redo images whose outputs exist (default: skip)',
    )
    seg.add_argument(
        '--workers',
        type=int,
        default=0,
        help='run on a local Dask cluster with N workers',
    )
    seg.add_argument(
        '--scheduler',
        default=None,
        help='address of an existing Dask scheduler',
    )
    seg.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help='photos per forward pass without Dask (default '
        '1 on a CPU, 16 on a GPU)',
    )
    seg.add_argument(
        '--measure',
        action='store_true',
        help='then measure the maps (measures.csv, '
        'segments.csv in --out; implies --av)',
    )
    seg.add_argument(
        '--pixel-size',
        type=float,
        default=None,
        help='with --measure: micrometres per pixel',
    )

    me = sub.add_parser(
        'measure', help='measure vessels: calibre, tortuosity, CRAE/CRVE'
    )
    me.add_argument(
        'inputs',
        nargs='+',
        help='photos, folders, glob patterns, or folders of '
        '`retina-vessels segment` outputs',
    )
    me.add_argument('--out', required=True, help='output folder')
    me.add_argument(
        '--pixel-size',
        type=float,
        default=None,
        help='micrometres per pixel (default: from the optic '
        'disc, assumed 1.8 mm across)',
    )
    me.add_argument(
        '--model',
        default='default',
        help='vessel model for photos (default: %(default)s)',
    )
    me.add_argument('--av-model', default='default')
    me.add_argument('--device', default='auto')
    me.add_argument('--threshold', type=float, default=None)
    me.add_argument(
        '--overwrite',
        action='store_true',
        help='redo images measured before (default: skip)',
    )
    me.add_argument(
        '--workers',
        type=int,
        default=0,
        help='run on a local Dask cluster with N workers',
    )
    me.add_argument(
        '--scheduler',
        default=None,
        help='address of an existing Dask scheduler',
    )

    ev = sub.add_parser('evaluate', help='score a model or saved maps')
    ev.add_argument('dataset', help='dataset folder (any known layout)')
    _add_model_options(ev)
    ev.add_argument(
        '--split',
        choices=['all', 'train', 'test'],
        default='all',
        help='usual split of flat releases (CHASE_DB1, STARE)',
    )
    ev.add_argument(
        '--predictions',
        default=None,
        help='folder of saved probability maps to score '
        'instead of running a model',
    )
    ev.add_argument(
        '--av',
        action='store_true',
        help='also run and score artery/vein (needs A/V labels)',
    )
    ev.add_argument('--av-model', default='default')
    ev.add_argument(
        '--no-consistency',
        action='store_true',
        help='skip the per-segment artery/vein vote',
    )
    ev.add_argument(
        '--av-views',
        type=int,
        choices=[1, 2, 4],
        default=None,
        help='flip views of the A/V stage (default: --views)',
    )
    ev.add_argument(
        '--vessel-views',
        type=int,
        choices=[1, 2, 4],
        default=None,
        help='flip views of the vessel stage (default: --views)',
    )
    ev.add_argument(
        '--best-threshold',
        action='store_true',
        help='also report the threshold maximising pooled F1',
    )
    ev.add_argument('--json', default=None, help='write the report here')
    ev.add_argument('--csv', default=None, help='write per-image rows here')
    ev.add_argument(
        '--workers',
        type=int,
        default=0,
        help='run on a local Dask cluster with N workers',
    )
    ev.add_argument(
        '--scheduler',
        default=None,
        help='address of an existing Dask scheduler',
    )

    tr = sub.add_parser('train', help='train a network')
    tr.add_argument(
        'datasets',
        nargs='+',
        help='dataset folders, optionally PATH:SPLIT (split default: train)',
    )
    tr.add_argument(
        '--arch',
        default=None,
        help="architecture (default: wnet, or that of --init's weights)",
    )
    tr.add_argument(
        '--task',
        choices=['vessels', 'av'],
        default=None,
        help="default: the architecture's task",
    )
    tr.add_argument('--out', required=True, help='run folder')
    tr.add_argument(
        '--channels',
        default=None,
        help='comma-separated widths (wnet, seqnet-av)',
    )
    tr.add_argument(
        '--base',
        type=int,
        default=None,
        help='first-level width (unet, iternet, serr-unet)',
    )
    tr.add_argument(
        '--steps',
        type=int,
        default=None,
        help='optimiser steps (default 6000; with --minutes '
        'only a cap, default none)',
    )
    tr.add_argument(
        '--minutes',
        type=float,
        default=None,
        help='train for this many minutes of wall-clock: the '
        'learning-rate schedule follows the time spent',
    )
    tr.add_argument(
        '--amp', action='store_true', help='bf16 mixed precision (for a GPU)'
    )
    tr.add_argument(
        '--workers',
        type=int,
        default=0,
        help='worker processes making crops (for a GPU; '
        'default: the training process makes them)',
    )
    tr.add_argument(
        '--cache',
        default=None,
        help='folder of prepared photos: read when it holds a '
        'dataset, written otherwise (a run elsewhere then '
        'needs only this folder)',
    )
    tr.add_argument('--batch', type=int, default=8)
    tr.add_argument('--patch', type=int, default=256)
    tr.add_argument('--lr', type=float, default=5e-3)
    tr.add_argument('--val-every', type=int, default=250)
    tr.add_argument('--seed', type=int, default=0)
    tr.add_argument('--threads', type=int, default=0)
    tr.add_argument('--device', default='auto')
    tr.add_argument(
        '--vessel-model',
        default='default',
        help='vessel model feeding an A/V network',
    )
    tr.add_argument(
        '--init',
        default=None,
        help='fine-tune: start from these weights (registry '
        'name or .pt file) instead of random ones; their '
        'architecture and widths are used unless given',
    )
    tr.add_argument(
        '--loss',
        choices=['bce+dice', 'bce'],
        default='bce+dice',
        help='vessel loss (A/V always uses cross-entropy)',
    )
    tr.add_argument(
        '--input',
        choices=INPUT_MODES,
        default=None,
        help='input normalisation: global (per-channel '
        'standardisation inside the FOV) or local '
        '(smooth background removed first); default: '
        "that of --init's weights, else global",
    )
    tr.add_argument(
        '--resume',
        action='store_true',
        help="continue from the run folder's checkpoint",
    )

    w = sub.add_parser('weights', help='list, fetch, locate, import')
    wsub = w.add_subparsers(dest='action', required=True)
    wsub.add_parser('list', help='list registered models')
    f = wsub.add_parser('fetch', help='download a model (or "all")')
    f.add_argument('name')
    pth = wsub.add_parser('path', help='print the local path of a model')
    pth.add_argument('name')
    imp = wsub.add_parser(
        'import', help='copy a downloaded file into the cache'
    )
    imp.add_argument('file')
    return parser


def _tqdm_progress(stages: set[str] | None = None):
    """A Progress callback drawing one tqdm bar per stage.

    With *stages*, only those stages get a bar (the per-image model
    stages would otherwise open a bar per photo).
    """
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(rec) -> None:
        if stages is not None and rec.stage not in stages:
            return
        bar = bars.get(rec.stage)
        if bar is None:
            bar = bars[rec.stage] = tqdm(
                total=rec.total, desc=rec.stage, leave=False, file=sys.stderr
            )
        bar.total = rec.total
        bar.n = rec.done
        bar.refresh()

    return update


def _cmd_weights(args) -> int:
    from . import weights

    if args.action == 'list':
        for m in weights.list_models():
            flag = (
                'shipped'
                if m.get('shipped')
                else ('cached' if m['available'] else 'download')
            )
            star = '*' if m['default'] else ' '
            print(
                f'{star} {m["name"]:<22} {m["task"]:<8} {m["arch"]:<10} '
                f'{flag:<9} {m.get("description", "")}'
            )
        print('* default for its task')
        return 0
    if args.action == 'fetch':
        names = (
            [m['name'] for m in weights.list_models()]
            if args.name == 'all'
            else [args.name]
        )
        for n in names:
            print(weights.resolve(n, task=None).local_path(progressbar=True))
        return 0
    if args.action == 'path':
        print(weights.resolve(args.name, task=None).local_path(download=False))
        return 0
    name, dest = weights.import_weights(args.file)
    print(f'imported {name} -> {dest}')
    return 0


def _cmd_train(args) -> int:
    from .models import ARCHITECTURES
    from .training.loop import TrainConfig, train

    kwargs: dict = {}
    if args.channels:
        kwargs['channels'] = [int(c) for c in args.channels.split(',')]
    if args.base:
        kwargs['base'] = args.base
    if args.init and (args.input is None or not kwargs):
        # Fine-tuning: the network is the one the weights were made for
        # (naming its architecture without widths means the same one).
        from .weights import describe

        spec = describe(args.init)
        if not kwargs and args.arch in (None, spec['arch']):
            args.arch, kwargs = spec['arch'], spec['arch_kwargs']
        args.input = args.input or spec['input']
    args.arch = args.arch or 'wnet'
    if args.arch not in ARCHITECTURES:
        from .errors import WeightsError

        raise WeightsError(
            f'unknown architecture {args.arch!r}; choose one of '
            f'{", ".join(ARCHITECTURES)}'
        )
    cfg = TrainConfig(
        datasets=list(args.datasets),
        out=args.out,
        arch=args.arch,
        arch_kwargs=kwargs,
        task=args.task or ARCHITECTURES[args.arch][1],
        steps=args.steps or (10**9 if args.minutes else 6000),
        batch=args.batch,
        patch=args.patch,
        lr=args.lr,
        val_every=args.val_every,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        vessel_weights=args.vessel_model,
        init=args.init,
        loss=args.loss,
        input=args.input or 'global',
        minutes=args.minutes,
        amp=args.amp,
        workers=args.workers,
        cache=args.cache,
    )
    bar = _StepBar()
    try:
        best = train(
            cfg, resume=args.resume, log=bar.write, on_step=bar.update
        )
    finally:
        bar.close()
    print(f'best weights: {best}')
    return 0


class _StepBar:
    """A tqdm bar over training steps showing the running loss and the
    speed (steps/s); created at the first step so a resumed run starts
    the bar where it left off."""

    def __init__(self) -> None:
        self._bar = None

    def update(self, step: int, total: int, loss: float) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(
                total=total,
                initial=step - 1,
                desc='train',
                unit='step',
                file=sys.stderr,
                dynamic_ncols=True,
            )
        self._bar.set_postfix_str(f'loss {loss:.4f}', refresh=False)
        self._bar.update(step - self._bar.n)

    def write(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line)  # above the bar, not through it

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _cmd_evaluate(args) -> int:
    from .evaluation import evaluate_dataset, write_csv
    from .io import check_output_file

    # Where the report goes is checked before the evaluation runs.
    if args.json:
        check_output_file(args.json, 'report')
    if args.csv:
        check_output_file(args.csv, 'CSV file')

    report = evaluate_dataset(
        args.dataset,
        model=args.model,
        predictions=args.predictions,
        split=args.split,
        device=args.device,
        views=args.views,
        threshold=args.threshold,
        av=args.av,
        av_model=args.av_model,
        consistency=not args.no_consistency,
        av_views=args.av_views,
        vessel_views=args.vessel_views,
        best_threshold=args.best_threshold,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=_tqdm_progress({'evaluate', 'download'}),
    )
    if args.json:
        from .io import write_text_atomic

        write_text_atomic(args.json, json.dumps(report, indent=2) + '\n')
    if args.csv:
        write_csv(report, args.csv)
    print(report_table(report))
    if not args.json:
        print(
            '(--json FILE writes the full report, --csv FILE one row per '
            'image)'
        )
    return 0


#: Columns of the short evaluation table: report key -> header.
_TABLE_COLUMNS = {
    'auc': 'AUC',
    'f1': 'F1',
    'acc': 'Acc',
    'se': 'Se',
    'sp': 'Sp',
    'mcc': 'MCC',
    'cldice': 'clDice',
}


def _cells(values: dict | None, keys) -> str:
    values = values or {}
    return ''.join(
        f'{values[k]:>8.4f}'
        if isinstance(values.get(k), float)
        else f'{"-":>8}'
        for k in keys
    )


def report_table(report: dict) -> str:
    """A few lines summarising an :func:`.evaluation.evaluate_dataset`
    report: pooled, per-image mean and SD, and artery/vein rows."""
    who = report.get('model') or f'maps in {report.get("predictions")}'
    thr = report.get('threshold')
    thr_text = f', threshold {thr:.2f}' if isinstance(thr, float) else ''
    lines = [
        f'{report.get("dataset")}: {report.get("n_images")} images, '
        f'{who}{thr_text}'
    ]
    if report.get('pooled'):
        keys = list(_TABLE_COLUMNS)
        lines.append(
            f'{"":<14}' + ''.join(f'{h:>8}' for h in _TABLE_COLUMNS.values())
        )
        for label, key in (
            ('pooled', 'pooled'),
            ('per-image mean', 'per_image_mean'),
            ('per-image SD', 'per_image_sd'),
        ):
            lines.append(f'{label:<14}' + _cells(report.get(key), keys))
    best = report.get('best_threshold')
    if best and isinstance(best.get('threshold'), float):
        lines.append(
            f'best threshold {best["threshold"]:.3f}: F1 '
            f'{best.get("f1", float("nan")):.4f}'
        )
    av = report.get('av')
    if av:
        lines.append(
            f'{"artery/vein":<14}'
            + ''.join(f'{h:>8}' for h in ('Acc', 'Se', 'Sp'))
        )
        for part in ('intersection', 'all'):
            lines.append(
                f'{part:<14}' + _cells(av.get(part), ('acc', 'se', 'sp'))
            )
        if isinstance(av.get('detected'), float):
            lines.append(f'labelled A/V pixels detected: {av["detected"]:.4f}')
    return '\n'.join(lines)


def _cmd_measure(args, inputs=None) -> int:
    from tqdm import tqdm

    from .measures.batch import run_measures

    summary = run_measures(
        inputs or args.inputs,
        args.out,
        pixel_size_um=args.pixel_size,
        model=args.model,
        av_model=args.av_model,
        device=args.device,
        threshold=args.threshold,
        overwrite=args.overwrite,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=_tqdm_progress({'images', 'download'}),
        log=lambda msg: tqdm.write(msg, file=sys.stderr),
    )
    print(
        f'{summary["done"]} measured, {summary["skipped"]} already '
        f'done, {summary["failed"]} failed; tables: '
        f'{summary["measures_csv"]}, {summary["segments_csv"]}'
    )
    return 0 if summary['done'] + summary['skipped'] > 0 else 1


def _cmd_segment(args) -> int:
    from tqdm import tqdm

    from .batch import run_batch

    if args.measure:
        args.av = True  # CRAE, CRVE and AVR need arteries and veins
    summary = run_batch(
        args.inputs,
        args.out,
        model=args.model,
        av=args.av,
        av_model=args.av_model,
        device=args.device,
        views=args.views,
        threshold=args.threshold,
        fmt=args.format,
        overwrite=args.overwrite,
        workers=args.workers,
        scheduler=args.scheduler,
        batch_size=args.batch_size,
        progress=_tqdm_progress({'images', 'download'}),
        # tqdm.write keeps a message off the progress bar's line.
        log=lambda msg: tqdm.write(msg, file=sys.stderr),
    )
    bad = summary.get('ungradable', 0)
    print(
        f'{summary["done"]} segmented, {summary["skipped"]} already '
        f'done, {summary["failed"]} failed'
        + (f', {bad} ungradable (see quality_reasons)' if bad else '')
        + f'; summary: {summary["summary_csv"]}'
    )
    ok = summary['done'] + summary['skipped'] + bad > 0
    if ok and args.measure:
        return _cmd_measure(args, inputs=[args.out])
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from .errors import RetinaVesselsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from ._allocator import tune_allocator

    tune_allocator()  # this process is ours (see _allocator)
    handlers = {
        'segment': _cmd_segment,
        'measure': _cmd_measure,
        'evaluate': _cmd_evaluate,
        'train': _cmd_train,
        'weights': _cmd_weights,
    }
    try:
        return handlers[args.command](args)
    except RetinaVesselsError as err:
        from tqdm import tqdm

        # tqdm.write puts the message on its own line, above any bar.
        tqdm.write(f'retina-vessels: error: {err}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('retina-vessels: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
