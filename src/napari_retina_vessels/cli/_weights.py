"""``retina-vessels weights``: list, fetch, locate, import."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    """Add the ``weights`` subcommand to *sub*."""
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


def run(args: Any) -> int:
    """Do the ``weights`` action *args* names; the exit status."""
    from .. import weights

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
