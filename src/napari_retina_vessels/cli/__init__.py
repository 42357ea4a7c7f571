"""The ``retina-vessels`` command: segment | measure | evaluate | train |
weights | agreement.

:func:`build_parser` and :func:`main` live here; each subcommand is one
module of this package (``_segment``, ``_measure``, ``_evaluate``,
``_train``, ``_weights``, ``_agreement``) with ``add_parser(sub)`` and
``run(args)``, importing what it needs only when it runs, so the command
starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import _agreement, _evaluate, _measure, _segment, _train, _weights
from ._evaluate import report_table

__all__ = ['build_parser', 'main', 'report_table']

#: Subcommand -> its module, in the order ``--help`` lists them.
_COMMANDS = {
    'segment': _segment,
    'measure': _measure,
    'evaluate': _evaluate,
    'train': _train,
    'weights': _weights,
    'agreement': _agreement,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``retina-vessels``, every subcommand in it."""
    parser = argparse.ArgumentParser(
        prog='retina-vessels',
        description='Retinal vessel and artery/vein segmentation.',
    )
    parser.add_argument(
        '--version', action='store_true', help='print the version and exit'
    )
    sub = parser.add_subparsers(dest='command')
    for module in _COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from ..errors import RetinaVesselsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from .._allocator import tune_allocator

    tune_allocator()  # this process is ours (see _allocator)
    try:
        return _COMMANDS[args.command].run(args)
    except RetinaVesselsError as err:
        from tqdm import tqdm

        # tqdm.write puts the message on its own line, above any bar.
        tqdm.write(f'retina-vessels: error: {err}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        from tqdm import tqdm

        tqdm.write('retina-vessels: interrupted', file=sys.stderr)
        return 130
