"""The CLI flags of :class:`~..options.SegmentOptions`: made from its
field list, each value checked by the option's own rule while parsing
(a bad value is one usage line before any photo)."""

from __future__ import annotations

import argparse
from typing import Any

from ..contrast_views import CONTRAST_VIEWS, DEFAULT_VIEW
from ..errors import InvalidOptionError
from ..options import (
    ENGINES,
    FIELDS,
    PRECISIONS,
    SegmentOptions,
    _check_views_pair,
    check_batch_size,
    check_threshold,
)

__all__ = ['add_arguments', 'from_args']


def _argtype(check):
    """An argparse ``type`` from a checker: a bad value is one usage
    line, before any work."""

    def parse(text: str):
        try:
            return check(text)
        except InvalidOptionError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = check.__name__.removeprefix('_')
    return parse


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidOptionError(
            f'expected a whole number, got {text!r}'
        ) from None


_ARGS = {
    'model': {'default': 'default'},
    'av_model': {'default': 'default'},
    'device': {'default': 'auto'},
    # argparse's own 'invalid choice' line names every choice.
    'precision': {'default': 'auto', 'choices': PRECISIONS},
    'engine': {'default': 'auto', 'choices': ENGINES},
    'contrast_view': {'default': DEFAULT_VIEW, 'choices': CONTRAST_VIEWS},
    'views': {'default': None, 'type': _argtype(_check_views_pair)},
    'threshold': {'default': None, 'type': _argtype(check_threshold)},
    # A switch: the photos the gate ends early are segmented anyway.
    'force': {'default': False, 'action': 'store_true'},
    'batch_size': {
        'default': None,
        'type': _argtype(lambda t: check_batch_size(_int(t))),
    },
}


def add_arguments(
    parser: argparse.ArgumentParser,
    names: tuple[str, ...] = (
        'model',
        'device',
        'precision',
        'engine',
        'views',
        'threshold',
    ),
) -> None:
    """Add the flags of the options *names* to *parser*.

    Each flag is checked by the option's own rule while parsing, so a
    bad value is one usage line before any photo. ``views`` adds
    ``--tta`` too, the old spelling of ``--views 4``.
    """
    for name in names:
        spec = dict(_ARGS[name])
        flag = '--' + name.replace('_', '-')
        spec['help'] = FIELDS[name] + (
            ' (default: %(default)s)'
            if spec.get('default') not in (None, False) and name != 'device'
            else ''
        )
        parser.add_argument(flag, dest=name, **spec)
        if name == 'views':
            parser.add_argument(
                '--tta',
                dest='views',
                action='store_const',
                const=(4, 4),
                help='the same as --views 4 (old spelling)',
            )


def from_args(args: argparse.Namespace, **fixed: Any) -> SegmentOptions:
    """The options an argparse namespace holds (those present), with
    *fixed* values on top."""
    values = {k: getattr(args, k) for k in FIELDS if hasattr(args, k)}
    values.update(fixed)
    return SegmentOptions(**values)
