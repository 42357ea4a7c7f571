"""Writing files safely: atomic writes, our own outputs, CSV cells.

Behind :mod:`..io`, which re-exports every public name here: a file is
written to a temporary name beside it and renamed into place, so a
reader never sees half a file and a failure leaves none behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidImageError
from ._formats import image_suffix


def check_output_file(path: str | os.PathLike, what: str = 'file') -> Path:
    """Check, before any work, that *path* can be written as a file.

    Raises
    ------
    InvalidImageError
        When *path* is a folder or a device, or its folder cannot be
        created or written to.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidImageError(
            f'the {what} {path} is a folder; give a file name'
        )
    if path.exists() and not path.is_file():
        raise InvalidImageError(
            f'the {what} {path} is not a regular file; give a file name'
        )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        ok = os.access(parent, os.W_OK | os.X_OK)
    except OSError:
        ok = False
    if not ok:
        raise InvalidImageError(
            f'cannot write the {what} {path}: its folder is not writable'
        )
    return path


def imwrite(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write *array* to *path* atomically (temp file, then rename).

    A failure leaves no partial file behind and an existing *path*
    untouched. Missing parent folders are created.

    Parameters
    ----------
    path : str or os.PathLike
        ``.png`` (bool masks become 0/255), ``.tif``/``.tiff`` (zlib
        compressed) or ``.npy`` (any array).
    array : numpy.ndarray
        The image; PNG takes (H, W) uint8/uint16/bool and (H, W, 3|4)
        uint8.

    Returns
    -------
    pathlib.Path
        *path*.

    Raises
    ------
    InvalidImageError
        For any other file suffix.
    """
    from PIL import Image

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ('.npy', '.tif', '.tiff', '.png'):
        raise InvalidImageError(
            f'cannot write {path.name}: use .png, .tif or .npy'
        )
    arr = np.asarray(array)

    def write(tmp: str) -> None:
        if suffix == '.npy':
            with open(tmp, 'wb') as fh:
                np.save(fh, arr)
        elif suffix in ('.tif', '.tiff'):
            import tifffile

            tifffile.imwrite(tmp, arr, compression='zlib', software=SOFTWARE)
        else:
            from PIL.PngImagePlugin import PngInfo

            png = arr.astype(np.uint8) * 255 if arr.dtype == np.bool_ else arr
            info = PngInfo()
            info.add_text('Software', SOFTWARE)
            Image.fromarray(png).save(tmp, format='PNG', pnginfo=info)

    return write_atomic(path, write)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write *text* (UTF-8) to *path* via a temporary file and a rename,
    so a reader never sees half a file. Missing folders are created."""

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8', newline='') as fh:
            fh.write(text)

    return write_atomic(Path(path), write)


#: The ``Software`` tag of every PNG and TIFF that :func:`imwrite` makes:
#: how a batch recognises its own outputs (and never overwrites a file
#: it did not write).
SOFTWARE = 'napari-retina-vessels'


def written_by_us(path: str | os.PathLike) -> bool:
    """Whether *path* is a PNG or TIFF that :func:`imwrite` wrote.

    Reads the header only; False for other files, unreadable ones and
    ``.npy`` (which has no place for the tag).
    """
    path = Path(path)
    try:
        if image_suffix(path) == '.png':
            from PIL import Image

            with Image.open(path) as img:
                return img.info.get('Software') == SOFTWARE
        if image_suffix(path) in ('.tif', '.tiff'):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                tag = tif.pages[0].tags.get('Software')
                return tag is not None and tag.value == SOFTWARE
    except Exception:  # noqa: BLE001 - a file we cannot parse is not ours
        return False
    return False


def csv_cell(value: Any) -> Any:
    """*value* as a safe CSV cell (``summary.csv``, evaluation tables).

    None becomes empty. Text that is not valid UTF-8 (a file name from
    another system) shows its odd bytes as ``\\xNN`` instead of making
    the whole file unwritable, and text a spreadsheet would run as a
    formula (starting with ``= + - @``, tab or carriage return) gets a
    leading ``'``.
    """
    if value is None:
        return ''
    if not isinstance(value, str):
        return value
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        try:
            raw = value.encode('utf-8', 'surrogateescape')
        except UnicodeEncodeError:
            raw = value.encode('utf-8', 'backslashreplace')
        value = raw.decode('utf-8', 'backslashreplace')
    if value[:1] in ('=', '+', '-', '@', '\t', '\r'):
        value = "'" + value
    return value


def write_atomic(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside *path*, then rename.

    A failure removes the temporary file and leaves *path* untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{path.name}.', suffix='.part', dir=path.parent
    )
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file 0600; give it the permissions any
        # other new file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
