"""``retina-vessels evaluate``: score a model or saved maps, and the
short table it prints."""

from __future__ import annotations

import json
from typing import Any

from ._common import add_cluster_options, add_model_options, tqdm_progress
from ._options import add_arguments


def add_parser(sub: Any) -> None:
    """Add the ``evaluate`` subcommand to *sub*."""
    ev = sub.add_parser('evaluate', help='score a model or saved maps')
    ev.add_argument('dataset', help='dataset folder (any known layout)')
    add_model_options(ev)
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
        '--strict',
        action='store_true',
        help='with --predictions: fail when a photo has no saved map '
        '(default: score those that have one and list the others)',
    )
    ev.add_argument(
        '--av',
        action='store_true',
        help='also run and score artery/vein (needs A/V labels)',
    )
    ev.add_argument('--av-model', default='default')
    ev.add_argument(
        '--av-vote',
        choices=['graph', 'segment', 'none'],
        default='graph',
        help='how the artery/vein labels are made to agree along the '
        'vessels: along the vessel graph (default), per segment, or not',
    )
    ev.add_argument(
        '--no-consistency',
        action='store_true',
        help='the same as --av-vote none',
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
    add_arguments(ev, ('contrast_view',))
    ev.add_argument(
        '--model-fov',
        choices=['dataset', 'photo'],
        default='dataset',
        help="FOV given to the model: the dataset's mask (default, the "
        'benchmark protocol) or the one the pipeline finds in the photo, '
        'as segment(image) does; scored inside the mask either way',
    )
    ev.add_argument(
        '--best-threshold',
        action='store_true',
        help='also report the threshold maximising pooled F1',
    )
    ev.add_argument('--json', default=None, help='write the report here')
    ev.add_argument('--csv', default=None, help='write per-image rows here')
    add_cluster_options(ev)


def run(args: Any) -> int:
    """Evaluate as *args* say; the exit status."""
    from ..evaluation import evaluate_dataset, write_csv
    from ..io import check_output_file

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
        precision=args.precision,
        engine=args.engine,  # [#33 engine]
        contrast_view=args.contrast_view,
        threshold=args.threshold,
        av=args.av,
        av_model=args.av_model,
        consistency='none' if args.no_consistency else args.av_vote,
        av_views=args.av_views,
        vessel_views=args.vessel_views,
        best_threshold=args.best_threshold,
        strict=args.strict,
        model_fov=args.model_fov,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=tqdm_progress({'evaluate', 'download'}),
    )
    if args.json:
        from ..io import write_text_atomic

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


#: What the artery/vein rows count (printed under them).
AV_DEFINITION = (
    'pooled over all pixels of all photos; counted: ground-truth artery '
    'and vein pixels inside the FOV (crossings and uncertain excluded); '
    'intersection: those the model calls vessel; all: every one, a '
    'missed pixel classified by its artery probability'
)


def report_table(report: dict) -> str:
    """A few lines summarising an :func:`.evaluation.evaluate_dataset`
    report: pooled, per-image mean and SD, and artery/vein rows."""
    who = report.get('model') or f'maps in {report.get("predictions")}'
    thr = report.get('threshold')
    thr_text = f', threshold {thr:.2f}' if isinstance(thr, float) else ''
    fov = report.get('model_fov')
    fov_text = {
        'dataset': ", model given the dataset's FOV masks",
        'photo': ', model finds the FOV in each photo',
    }.get(fov, '')
    lines = [
        f'{report.get("dataset")}: {report.get("n_images")} images, '
        f'{who}{thr_text}{fov_text}'
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
        lines.append(AV_DEFINITION)
    missing = report.get('missing_predictions') or []
    if missing:
        more = ', ...' if len(missing) > 10 else ''
        shown = ', '.join(missing[:10]) + more
        lines.append(
            f'not scored, no saved map ({len(missing)}): {shown} '
            '(--strict fails instead)'
        )
    return '\n'.join(lines)
