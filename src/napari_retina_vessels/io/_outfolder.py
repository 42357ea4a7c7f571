"""The output folder guard of every batch writer (``segment``,
``measure``): the folder checked before any work, a file replaced only
when we wrote it, one run at a time per folder and command (another run
with other settings refused in one line), and the temporary files of
killed writers cleared."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import RetinaVesselsError

__all__ = [
    'check_outputs_ours',
    'check_ours',
    'check_out',
    'folder_lock',
    'remove_leftovers',
]


def _refuse(path: Path) -> RetinaVesselsError:
    return RetinaVesselsError(
        f'{path} exists and was not written by retina-vessels; '
        'choose another --out folder or move that file away'
    )


def check_ours(path: Path, header: str | None = None) -> None:
    """Refuse to replace *path* unless retina-vessels wrote it.

    A CSV is ours when its first line is *header* (our column names); a
    JSON marker (``*.done.json``, ``*.measures.json``) when it holds our
    ``settings``. A missing file is free; a folder, link or anything
    else in its place is refused.
    """
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_symlink() or not path.is_file():
        raise _refuse(path)
    try:
        with open(path, encoding='utf-8', errors='replace') as fh:
            text = fh.readline() if header is not None else fh.read(1 << 20)
    except OSError as err:
        raise RetinaVesselsError(
            f'cannot read {path} ({err.strerror or err}); choose another '
            '--out folder'
        ) from err
    if header is not None:
        if text.rstrip('\r\n') != header:
            raise _refuse(path)
        return
    try:
        data = json.loads(text)
    except ValueError:
        # Ours cut short (settings come first) is redone, not refused.
        if ''.join(text[:64].split()).startswith('{"settings"'):
            return
        data = None
    if not (isinstance(data, dict) and 'settings' in data):
        raise _refuse(path)


def check_outputs_ours(marker: Path, files: Any) -> None:
    """Refuse to replace any of a photo's output *files* that we did not
    write.

    A file is ours when the photo's *marker* lists it (a finished run,
    or one cut off half-way) or when it carries our ``Software`` tag
    (:func:`~._writing.written_by_us`). Any other file, such as a user's
    own ``p1_vessels.png`` beside ``p1.png``, is never overwritten. The
    one rule of ``segment`` and the napari writer.
    """
    from ._writing import written_by_us

    try:
        data = json.loads(marker.read_text(encoding='utf-8'))
        owned = (
            set(data.get('outputs') or ()) if isinstance(data, dict) else set()
        )
    except (OSError, ValueError, TypeError):
        owned = set()
    for path in files:
        path = Path(path)
        if (
            path.name not in owned
            and (path.exists() or path.is_symlink())
            and not written_by_us(path)
        ):
            raise RetinaVesselsError(
                f'{path} exists and was not written by retina-vessels; '
                'choose an empty folder or move that file away'
            )


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
        raise _refuse(path)


def check_out(out: Path, *, summary: bool = True) -> None:
    """The output folder exists (created) and is writable, or a
    one-line error before any work (*summary*: and its ``summary.csv``
    is ours)."""
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
    if summary:
        _check_summary(out / 'summary.csv')


@contextlib.contextmanager
def folder_lock(
    out: Path, command: str, settings: dict[str, Any]
) -> Iterator[None]:
    """Hold *out* for a run of *command* with *settings*.

    Runs with the same settings may share a folder (each photo is
    claimed by its marker); a run with other settings while one is
    writing is refused in one line, before any work: its maps and the
    other run's would otherwise mix in one ``summary.csv``. The lock is
    ``.retina-vessels-COMMAND.lock`` in *out*, held with ``flock``
    (released by the system when a run is killed); where ``flock`` does
    not exist no lock is taken.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = out / f'.retina-vessels-{command}.lock'
    mine = json.dumps(settings, sort_keys=True, default=str)
    fh = _locked(path, command, mine, fcntl)
    try:
        yield
    finally:
        # The last run out removes the lock file, so a finished folder
        # holds only outputs; a run that opened the removed file sees
        # that it is gone and opens a new one (_locked).
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # another run with these settings is still writing
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        fh.close()


def _same_file(fh: Any, path: Path) -> bool:
    """Whether *fh* is still the file at *path* (not one removed)."""
    try:
        a, b = os.fstat(fh.fileno()), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _locked(path: Path, command: str, mine: str, fcntl: Any) -> Any:
    """The lock file of *path*, held shared with *mine* written in it,
    or a one-line error when a run with other settings holds it."""
    for _ in range(100):
        try:
            fh = open(path, 'a+', encoding='utf-8')  # noqa: SIM115
        except OSError as err:
            raise RetinaVesselsError(
                f'cannot write into the output folder {path.parent} '
                f'({err.strerror or type(err).__name__}); choose a folder '
                'you can write to'
            ) from err
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                theirs = None
                alone = True
            except OSError:
                theirs = _shared_settings(fh, fcntl)
                alone = False
            if not _same_file(fh, path):
                fh.close()
                continue
            if alone:
                fh.seek(0)
                fh.truncate()
                fh.write(mine)
                fh.flush()
                fcntl.flock(fh, fcntl.LOCK_SH)  # others with these settings
            elif theirs != mine:
                raise RetinaVesselsError(
                    f'another retina-vessels {command} run with other '
                    f'settings is writing into {path.parent}; wait for it '
                    'to finish or choose another --out folder'
                )
            return fh
        except BaseException:
            fh.close()
            raise
    raise RetinaVesselsError(
        f'cannot lock the output folder {path.parent}; try again'
    )


def _shared_settings(fh: Any, fcntl: Any) -> str | None:
    """Share the lock of a running run and read its settings; None when
    the folder stays held exclusively (a run starting up)."""
    for _ in range(50):
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            time.sleep(0.02)
            continue
        fh.seek(0)
        return fh.read()
    return None


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
