"""``retina-vessels segment``: folders of photos through the batch."""

from __future__ import annotations

import sys
from typing import Any

from ._common import (
    add_cluster_options,
    add_model_options,
    engine_hint,
    tqdm_progress,
)
from ._measure import add_ungradable_option
from ._options import add_arguments


def add_parser(sub: Any) -> None:
    """Add the ``segment`` subcommand to *sub*."""
    seg = sub.add_parser('segment', help='segment photos in batch')
    seg.add_argument(
        'inputs', nargs='+', help='files, folders or glob patterns'
    )
    seg.add_argument('--out', required=True, help='output folder')
    add_model_options(seg)
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
    add_cluster_options(seg)
    add_arguments(seg, ('batch_size', 'force', 'contrast_view'))
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
    add_ungradable_option(seg)


def run(args: Any) -> int:
    """Segment the photos *args* name; the exit status."""
    from tqdm import tqdm

    from ..batch import run_batch

    if args.engine == 'auto':
        engine_hint(args.device)  # [#33 engine]
    if args.measure:
        args.av = True  # CRAE, CRVE and AVR need arteries and veins
        from ..batch.measures import check_pixel_size

        # Refused before any photo is segmented, not after all of them.
        check_pixel_size(args.pixel_size)
    summary = run_batch(
        args.inputs,
        args.out,
        model=args.model,
        av=args.av,
        av_model=args.av_model,
        device=args.device,
        views=args.views,
        threshold=args.threshold,
        precision=args.precision,
        engine=args.engine,  # [#33 engine]
        fmt=args.format,
        overwrite=args.overwrite,
        workers=args.workers,
        scheduler=args.scheduler,
        batch_size=args.batch_size,
        force=args.force,
        contrast_view=args.contrast_view,
        progress=tqdm_progress({'images', 'download'}),
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
        from ._measure import run as measure

        return measure(args, inputs=[args.out])
    return 0 if ok else 1
