"""Weight files on disk and over the network, each hash-checked.

Behind :mod:`.weights`, which decides *which* file a model name means
(and re-exports the public names here): the shipped folder, the cache
folder (``$RETINA_VESSELS_CACHE_DIR``), the base URL
(``$RETINA_VESSELS_BASE_URL``), sha256 checks, the guarded download
(size cap, deadline; pooch moves a file into place only once its hash
matches) and the import of a file copied in by hand.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import _registry
from .errors import WeightsError

#: Where the weight files shipped in the package live.
SHIPPED_DIR = Path(__file__).parent / '_weights'


def cache_dir() -> Path:
    """The download cache folder (``$RETINA_VESSELS_CACHE_DIR``)."""
    import pooch

    env = os.environ.get('RETINA_VESSELS_CACHE_DIR')
    return Path(env) if env else Path(pooch.os_cache('napari-retina-vessels'))


def base_url() -> str:
    """The download base URL (``$RETINA_VESSELS_BASE_URL``)."""
    url = os.environ.get('RETINA_VESSELS_BASE_URL') or _registry.BASE_URL
    return url if url.endswith('/') else url + '/'


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file.

    Remembered per (path, size, modification time): every ``segment``
    call verifies its weight files, and rereading a megabyte each time
    for an unchanged file is wasted work. Any rewrite of the file changes
    its size or mtime and is hashed again.
    """
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, expected: str, what: str) -> None:
    """WeightsError, saying what to do, unless *path* has sha256
    *expected*; *what* names the file in the message."""
    got = file_sha256(path)
    if got != expected:
        raise WeightsError(
            f'{what} {path} is corrupt or not the expected file (sha256 '
            f'{got[:12]}..., expected {expected[:12]}...); {_fix(path)}'
        )


def _fix(path: Path) -> str:
    if SHIPPED_DIR in path.parents:
        return 'reinstall napari-retina-vessels'
    return 'delete it and fetch again (retina-vessels weights fetch)'


#: Largest file a download may bring: weight files are about 1 MB, so a
#: longer stream is a wrong or hostile server, cut off before the disk
#: fills and long before the hash check.
MAX_DOWNLOAD_BYTES = 64 * 2**20

#: Seconds one whole download may take (``$RETINA_VESSELS_DOWNLOAD_TIMEOUT``
#: overrides), and seconds the server may stay silent.
DOWNLOAD_TIMEOUT = 600.0
READ_TIMEOUT = 30.0


def _download_timeout() -> float:
    env = os.environ.get('RETINA_VESSELS_DOWNLOAD_TIMEOUT')
    try:
        return float(env) if env else DOWNLOAD_TIMEOUT
    except ValueError:
        raise WeightsError(
            f'RETINA_VESSELS_DOWNLOAD_TIMEOUT must be a number of '
            f'seconds, got {env!r}'
        ) from None


def _writable_cache() -> Path:
    """The cache folder, created; WeightsError when it is not writable."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ok = os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        ok = False
    if not ok:
        raise WeightsError(
            f'the weights cache {folder} is not writable; set '
            'RETINA_VESSELS_CACHE_DIR to a folder you can write to'
        )
    return folder


class _Downloader:
    """A pooch downloader with a size cap and an overall deadline.

    pooch's own HTTP downloader has neither: an endless stream fills the
    disk before the hash check, and a server sending one byte every few
    seconds never times out.
    """

    def __init__(
        self, progressbar: Any, max_bytes: int, timeout: float
    ) -> None:
        self.progressbar = progressbar
        self.max_bytes = max_bytes
        self.timeout = timeout

    def __call__(
        self,
        url: str,
        output_file: Any,
        pooch_obj: Any,
        check_only: bool = False,
    ) -> Any:
        import time

        import requests

        if check_only:
            with requests.head(
                url, timeout=READ_TIMEOUT, allow_redirects=True
            ) as r:
                return r.status_code == 200
        deadline = time.monotonic() + self.timeout
        bar = self.progressbar
        if bar is True:
            import sys

            from tqdm import tqdm

            bar = tqdm(unit='B', unit_scale=True, leave=True, file=sys.stderr)
        with requests.get(
            url, stream=True, timeout=(READ_TIMEOUT, READ_TIMEOUT)
        ) as r:
            r.raise_for_status()
            total = int(r.headers.get('content-length') or 0)
            if total > self.max_bytes:
                raise WeightsError(
                    f'{url} is {total:,} bytes, more than the '
                    f'{self.max_bytes:,} a weight file may be; the server '
                    'holds a wrong file: try another RETINA_VESSELS_BASE_URL'
                )
            if bar:
                bar.total = total
            # read1 returns whatever one read brings, so the deadline is
            # checked even when a server trickles bytes.
            read = getattr(r.raw, 'read1', None)
            chunks = (
                iter(lambda: read(1 << 16), b'')
                if read
                else r.iter_content(1 << 14)
            )
            done = 0
            out = (
                open(output_file, 'wb')  # noqa: SIM115 - closed below
                if isinstance(output_file, str)
                else output_file
            )
            try:
                for chunk in chunks:
                    done += len(chunk)
                    if done > self.max_bytes:
                        raise WeightsError(
                            f'the download from {url} passed '
                            f'{self.max_bytes:,} bytes without ending and '
                            'was stopped; the server holds a wrong file: '
                            'try another RETINA_VESSELS_BASE_URL'
                        )
                    if time.monotonic() > deadline:
                        raise WeightsError(
                            f'the download from {url} took more than '
                            f'{self.timeout:g} s and was stopped; try '
                            'again, use a mirror (RETINA_VESSELS_BASE_URL) '
                            'or raise RETINA_VESSELS_DOWNLOAD_TIMEOUT'
                        )
                    out.write(chunk)
                    if bar:
                        bar.update(len(chunk))
            finally:
                if out is not output_file:
                    out.close()
                if bar and bar is not self.progressbar:
                    bar.close()
        return None


def download(fname: str, sha: str, progressbar: Any) -> Path:
    """Download *fname* from the base URL into the cache, checked
    against *sha*; WeightsError saying what to do when that fails."""
    import pooch

    url = base_url()
    fetcher = pooch.create(
        path=_writable_cache(),
        base_url=url,
        registry={fname: f'sha256:{sha}'},
        retry_if_failed=1,
    )
    downloader = _Downloader(
        progressbar, MAX_DOWNLOAD_BYTES, _download_timeout()
    )
    try:
        return Path(fetcher.fetch(fname, downloader=downloader))
    except WeightsError:
        raise
    except ValueError as err:
        if 'hash' in str(err).lower() or 'SHA256' in str(err):
            raise WeightsError(
                f'the downloaded {fname} from {url} failed its sha256 check '
                'and was discarded; the server holds a wrong or damaged '
                'file: try another RETINA_VESSELS_BASE_URL or report it'
            ) from err
        raise WeightsError(
            f'cannot download {fname} from {url}: {err}'
        ) from err
    except Exception as err:  # requests' connection errors and friends
        raise WeightsError(
            f'cannot download {fname} from {url} ({type(err).__name__}); '
            'connect to the internet, set RETINA_VESSELS_BASE_URL to a '
            'mirror, or copy the file in with "retina-vessels weights '
            'import FILE"'
        ) from err


class ByteCounter:
    """A tqdm-like object pooch reports download progress to."""

    def __init__(self) -> None:
        self.total = 0
        self.n = 0

    def update(self, n: int) -> None:
        self.n += int(n)

    def reset(self) -> None:
        self.n = 0

    def close(self) -> None:
        pass


def import_weights(path: str | os.PathLike) -> tuple[str, Path]:
    """Copy a weight file into the cache if it matches a registry entry.

    For air-gapped machines: download the file elsewhere, then import it.

    Returns
    -------
    (str, Path)
        The registry name it matched and its new path.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f'{path} does not exist')
    sha = file_sha256(path)
    for name, entry in _registry.REGISTRY.items():
        if entry['sha256'] == sha:
            dest = _writable_cache() / entry['file']
            tmp = dest.with_suffix('.part')
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, dest)
            except OSError as err:
                tmp.unlink(missing_ok=True)
                raise WeightsError(
                    f'cannot copy {path} into the weights cache '
                    f'{dest.parent} ({err.strerror or err}); free some '
                    'space or set RETINA_VESSELS_CACHE_DIR'
                ) from err
            return name, dest
    raise WeightsError(
        f'{path} (sha256 {sha[:12]}...) matches no registered weight file; '
        'use its path directly as the model instead'
    )


def openvino_path(entry: dict, *, progressbar: Any = False) -> Path:
    """The verified local file of an OpenVINO registry entry
    (``_registry.OPENVINO``): shipped, cached or downloaded."""
    fname, sha = entry['file'], entry['sha256']
    shipped = SHIPPED_DIR / fname
    if entry.get('shipped') and shipped.is_file():
        verify(shipped, sha, 'the shipped OpenVINO file')
        return shipped
    cached = cache_dir() / fname
    if cached.is_file() and file_sha256(cached) == sha:
        return cached
    return download(fname, sha, progressbar)
