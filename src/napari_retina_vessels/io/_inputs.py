"""The photos a batch command is given: files, folders, glob patterns.

Shared by ``retina-vessels segment`` (:mod:`..batch`) and ``measure``
(:mod:`..batch.measures`): the same expansion, the same output names, the
same report of an input that matched nothing.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import RetinaVesselsError
from . import file_stem, is_image_path, written_by_us

__all__ = ['collect_inputs', 'missing_rows']

# Our own outputs, never taken for photos when a folder is read again.
_OUTPUT_ENDINGS = (
    '_prob.png',
    '_prob.tif',
    '_prob.npy',
    '_vessels.png',
    '_av.png',
    '_av_overlay.png',
)


class Skipped(str):
    """A file a folder or glob gave that is left out, and why: a ``str``
    among the inputs that matched nothing, so every command reports it
    (:func:`missing_rows`) instead of leaving it out in silence."""

    reason: str

    def __new__(cls, path: Path, reason: str):
        self = super().__new__(cls, str(path))
        self.reason = reason
        return self


def _folder_images(
    folder: Path, skipped: list[str] | None = None
) -> list[Path]:
    """Photos of a dataset folder (not its labels), else its image files;
    files named like our outputs but not ours go to *skipped*."""
    from .datasets import detect_layout, discover

    if detect_layout(folder) is not None:
        try:
            return [s.image for s in discover(folder)]
        except RetinaVesselsError:
            pass  # a layout without photos: fall back to the plain files
    try:
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and _is_candidate(p, skipped)
        )
    except OSError as err:
        raise _UnreadableInput(
            f'cannot list the folder {folder} '
            f'({err.strerror or type(err).__name__}); check its '
            'permissions'
        ) from err


class _UnreadableInput(RetinaVesselsError):
    """An input folder that cannot be listed."""


def _glob(pattern: str) -> list[Path]:
    """Paths matching *pattern*.

    ``**`` enters symbolically linked folders, as bash's globstar and
    Python's ``glob`` do, but each real folder once, so a link loop
    cannot make the walk endless.
    """
    parts = Path(pattern).parts
    i = next(k for k, part in enumerate(parts) if glob.has_magic(part))
    root = Path(*parts[:i]) if i else Path('.')
    rest = parts[i:]
    try:
        if '**' not in rest:
            return sorted(root.glob(str(Path(*rest))))
        k = rest.index('**')
        heads = [root / Path(*rest[:k])] if k else [root]
        if k and any(glob.has_magic(x) for x in rest[:k]):
            heads = [h for h in root.glob(str(Path(*rest[:k]))) if h.is_dir()]
        tail = str(Path(*rest[k + 1 :])) if k + 1 < len(rest) else '*'
        found: set[Path] = set()
        for head in heads:
            for folder in _walk(head):
                found.update(folder.glob(tail))
        return sorted(found)
    except (OSError, ValueError):
        return []


def _walk(top: Path) -> list[Path]:
    """*top* and every folder under it, symbolic links followed, each
    real folder once."""
    seen: set[str] = set()
    out: list[Path] = []
    for folder, dirs, _ in os.walk(top, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []  # a link back into the walk: stop here
            continue
        seen.add(real)
        out.append(Path(folder))
        dirs.sort()
    return out


def _is_candidate(path: Path, skipped: list[str] | None = None) -> bool:
    """An image file of a folder or glob, not one of our own outputs.

    A file named like an output (``eye_prob.tif``) that this package did
    not write is left out too, but said so in *skipped*.
    """
    name = path.name.lower()
    if not is_image_path(path) or name.startswith('.'):
        return False
    if not name.endswith(_OUTPUT_ENDINGS):
        return True
    if skipped is not None and not written_by_us(path):
        skipped.append(
            Skipped(
                path,
                'named like a retina-vessels output but not written by '
                'it; rename it, or give the file itself, to use it as a '
                'photo',
            )
        )
    return False


def collect_inputs(
    inputs: Sequence[str | os.PathLike],
) -> tuple[list[Path], list[str]]:
    """Expand files, folders and glob patterns into photo paths.

    Folders give the image files directly inside them, or the photos of a
    dataset folder (DRIVE, CHASE_DB1, ...; see ``datasets``). Globs give
    the image files they match (and the photos of matched folders).
    Explicit files are kept whatever their name. Duplicates are dropped.

    Returns
    -------
    (list of Path, list of str)
        The photos in input order, and the inputs that matched nothing
        followed by the files left out (:class:`Skipped`, with a reason).
    """
    found: list[Path] = []
    missing: list[str] = []
    skipped: list[str] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            # unreadable: the batch fails
            found += _folder_images(path, skipped)
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            hits = []
            for p in _glob(text):
                if p.is_dir():
                    # One unreadable match among many is skipped.
                    with contextlib.suppress(_UnreadableInput):
                        hits += _folder_images(p, skipped)
                elif p.is_file() and _is_candidate(p, skipped):
                    hits.append(p)
            if hits:
                found += hits
            else:
                missing.append(text)
        else:
            missing.append(text)
    seen: set[Path] = set()
    out = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out, missing + sorted(set(skipped))


def _names(paths: list[Path]) -> list[str]:
    """Output names: the file stem, made unique with a path hash."""
    import hashlib
    from collections import Counter

    stems = [file_stem(p) for p in paths]
    counts = Counter(stems)
    out = []
    for p, s in zip(paths, stems):
        if counts[s] > 1:
            digest = hashlib.sha1(os.fsencode(p.resolve())).hexdigest()
            s = f'{s}-{digest[:8]}'
        out.append(s)
    return out


def missing_rows(missing, columns, say) -> list[dict]:
    """A failed table row for every input that matched nothing.

    Shared by the segment and measure commands so both report an input
    pattern that finds no file the same way.
    """
    rows = []
    for text in missing:
        reason = getattr(text, 'reason', None)
        if reason is not None:  # a file left out: said, not a failure
            say(f'left out {text}: {reason}')
            continue
        row = dict.fromkeys(columns, '')
        row.update(
            name=Path(text).name,
            path=text,
            status='failed',
            error=f'{text} matches no file or folder',
        )
        say(f'skipped {text}: no such file, folder or matching pattern')
        rows.append(row)
    return rows
