"""``retina-vessels measure``: calibre, tortuosity, CRAE/CRVE/AVR."""

from __future__ import annotations

import sys
from typing import Any

from ..contrast_views import DEFAULT_VIEW
from ._common import add_cluster_options, tqdm_progress
from ._options import add_arguments


def add_parser(sub: Any) -> None:
    """Add the ``measure`` subcommand to *sub*."""
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
    # For photos, which are segmented first (with artery/vein).
    add_arguments(
        me,
        (
            'model',
            'av_model',
            'device',
            'precision',
            'threshold',
            'contrast_view',
        ),
    )
    me.add_argument(
        '--overwrite',
        action='store_true',
        help='redo images measured before (default: skip)',
    )
    me.add_argument(
        '--corrections',
        metavar='DIR',
        default=None,
        help="folder of graders' NAME.corrections.json files, applied "
        'to the image of the same name (see docs/grading.md)',
    )
    add_ungradable_option(me)
    add_cluster_options(me)


def add_ungradable_option(parser: Any) -> None:
    """``--measure-ungradable``, for ``measure`` and ``segment
    --measure``."""
    parser.add_argument(
        '--measure-ungradable',
        action='store_true',
        help='also measure photos the quality gate grades ungradable '
        '(default: a row that says why, no numbers)',
    )


def run(args: Any, inputs: list | None = None) -> int:
    """Measure *inputs* (default: the ones *args* name); the exit
    status."""
    from tqdm import tqdm

    from ..batch.measures import run_measures

    summary = run_measures(
        inputs or args.inputs,
        args.out,
        pixel_size_um=args.pixel_size,
        model=args.model,
        av_model=args.av_model,
        device=args.device,
        precision=getattr(args, 'precision', 'auto'),
        contrast_view=getattr(args, 'contrast_view', DEFAULT_VIEW),
        threshold=args.threshold,
        overwrite=args.overwrite,
        measure_ungradable=args.measure_ungradable,
        workers=args.workers,
        scheduler=args.scheduler,
        corrections=getattr(args, 'corrections', None),
        progress=tqdm_progress({'images', 'download'}),
        log=lambda msg: tqdm.write(msg, file=sys.stderr),
    )
    bad = summary['ungradable']
    what = (
        'measured anyway'
        if args.measure_ungradable
        else 'not measured; see quality_reasons'
    )
    print(
        f'{summary["done"]} measured, {summary["skipped"]} already '
        f'done, {summary["failed"]} failed'
        + (f', {bad} ungradable ({what})' if bad else '')
        + (
            f', {len(summary["unmatched"])} corrections file(s) matched '
            'no image'
            if summary.get('unmatched')
            else ''
        )
        + f'; tables: {summary["measures_csv"]}, {summary["segments_csv"]}'
    )
    # An ungradable photo is an answer, not a failure (as in segment).
    return 0 if summary['done'] + summary['skipped'] + bad > 0 else 1
