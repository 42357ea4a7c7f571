"""``retina-vessels agreement``: two gradings of the same photos
compared (ICC, mean difference, Bland-Altman limits)."""

from __future__ import annotations

import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """Add the ``agreement`` subcommand to *sub*."""
    ag = sub.add_parser(
        'agreement',
        help="compare two graders' measures: ICC, Bland-Altman",
    )
    ag.add_argument(
        'a', help='first `retina-vessels measure` output (or measures.csv)'
    )
    ag.add_argument('b', help='second one, compared as B - A')
    ag.add_argument(
        '--out',
        default='.',
        help='folder for agreement.csv and agreement.png (default: here)',
    )
    ag.add_argument(
        '--no-plot',
        action='store_true',
        help='write agreement.csv only (the plot needs matplotlib)',
    )


def _cell(value: Any) -> Any:
    """Six significant digits; NaN as an empty cell."""
    if isinstance(value, float):
        return '' if value != value else f'{value:.6g}'
    return value


def run(args: Any) -> int:
    """Compare the two tables; the exit status."""
    import csv
    import io
    from pathlib import Path

    from ..errors import RetinaVesselsError
    from ..io import write_text_atomic
    from ..measures.agreement import (
        AGREEMENT_COLUMNS,
        agreement_table,
        plot_bland_altman,
        read_measures,
    )

    a, b = read_measures(args.a), read_measures(args.b)
    both = set(a) & set(b)
    if not both:
        raise RetinaVesselsError(
            f'the two tables share no photo name ({len(a)} and {len(b)} '
            'rows); compare measures of the same photos'
        )
    rows, pairs = agreement_table(a, b)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, AGREEMENT_COLUMNS, lineterminator='\n', restval=''
    )
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(v) for k, v in r.items()})
    table = write_text_atomic(out / 'agreement.csv', buf.getvalue())
    alone = len(set(a) ^ set(b))
    print(
        f'{len(both)} photos in both tables'
        + (f' ({alone} in only one, left out)' if alone else '')
    )
    for r in rows:
        if r['n'] >= 2:
            print(
                f'{r["measure"]:>26}: n {r["n"]:>3}  ICC {r["icc"]:.3f}  '
                f'B-A {r["mean_difference"]:+.4g} '
                f'[{r["loa_lower"]:+.4g}, {r["loa_upper"]:+.4g}]'
            )
    print(f'table: {table}')
    if not args.no_plot:
        try:
            png = plot_bland_altman(
                pairs, rows, out / 'agreement.png', labels=('A', 'B')
            )
            print(f'plot: {png}')
        except RetinaVesselsError as err:
            print(f'retina-vessels: no plot: {err}', file=sys.stderr)
    return 0
