"""The output folder of a batch command: checked before any work, and
the temporary files of killed writers cleared from it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import RetinaVesselsError

__all__ = ['check_out', 'remove_leftovers']


def _check_summary(path: Path) -> None:
    """Refuse to replace a ``summary.csv`` that is not ours."""
    try:
        with open(path, encoding='utf-8', errors='replace') as fh:
            head = fh.readline()
    except FileNotFoundError:
        return
    except OSError as err:
        raise RetinaVesselsError(
            f'cannot read {path} ({err.strerror or err}); choose another '
            '--out folder'
        ) from err
    if not head.startswith('name,path,'):
        raise RetinaVesselsError(
            f'{path} exists and was not written by retina-vessels; '
            'choose another --out folder or move that file away'
        )


def check_out(out: Path) -> None:
    """The output folder exists (created) and is writable, or a
    one-line error before any work."""
    if out.exists() and not out.is_dir():
        raise RetinaVesselsError(
            f'the output folder {out} is a file, not a folder; give the '
            'name of a folder (it is created if missing)'
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        import tempfile

        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise RetinaVesselsError(
            f'cannot write into the output folder {out} '
            f'({err.strerror or type(err).__name__}); choose a folder you '
            'can write to'
        ) from err
    _check_summary(out / 'summary.csv')


# Temporary files untouched for this long belong to a killed writer; a
# younger one may be another run's, writing into the same folder.
_STALE_PART_SECONDS = 3600.0


def remove_leftovers(out: Path, names: set[str]) -> None:
    """Delete temporary files that killed writers left behind.

    Only those named after *names* (this batch's output files) and
    untouched for ``_STALE_PART_SECONDS``: a second run writing into the
    same folder keeps its own. One listing of the folder, whatever the
    number of images (a glob per output made reruns quadratic).
    """
    now = time.time()
    try:
        entries = list(os.scandir(out))
    except OSError:
        return
    for entry in entries:
        # atomic writes use '.<name>.<random>.part'
        if not (entry.name.startswith('.') and entry.name.endswith('.part')):
            continue
        base = entry.name[1:-5].rsplit('.', 1)[0]
        try:
            if (
                base in names
                and now - entry.stat().st_mtime > _STALE_PART_SECONDS
            ):
                os.unlink(entry.path)
        except OSError:
            pass  # gone already, or not ours to delete
