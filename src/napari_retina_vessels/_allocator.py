"""Let glibc keep freed memory for reuse during inference (Linux only).

By default glibc serves every allocation above a dynamic threshold with a
fresh ``mmap`` and returns freed memory at the top of the heap to the
system as soon as 128 KiB of it is free. Inference allocates and frees
feature maps of several megabytes dozens of times per photo, so the
default makes the kernel map and zero the same pages over and over: on
this project's 2-core benchmark machine that was about a third of the
time of a DRIVE photo (0.185 s against 0.134 s, vessels, one view).

:func:`tune_allocator` raises the two thresholds once per process: blocks
up to 32 MiB (glibc's largest mmap threshold) come from the heap, and the
heap keeps up to 256 MiB of free memory at its top instead of giving it
back. Larger blocks (huge photos) are still mapped and unmapped at once,
so the memory a process keeps is bounded; the cost is that a process's
resident size stays near its peak use of small and medium blocks (about
100 MB more for DRIVE-sized photos). Other C libraries and systems are
left alone.

The setting holds for the whole process, so it is made by default only
in processes this package owns: the ``retina-vessels`` command and Dask
workers (``tune_allocator()``). Anywhere else (napari, where every other
plugin shares the heap, or a user's script) it is opt-in: the pipeline
calls ``tune_allocator(default=False)``, which acts only with
``RETINA_VESSELS_TUNE_MALLOC=1``. ``RETINA_VESSELS_TUNE_MALLOC=0`` turns it
off everywhere.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ['MMAP_THRESHOLD', 'TRIM_THRESHOLD', 'tune_allocator']

MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 256 * 2**20
_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3

_state: bool | None = None


def _wanted(default: bool) -> bool:
    value = os.environ.get('RETINA_VESSELS_TUNE_MALLOC')
    if value is None or not value.strip():
        return default
    return value.strip().lower() not in ('0', 'false', 'no', 'off')


def tune_allocator(*, default: bool = True) -> bool:
    """Raise glibc's mmap and trim thresholds, once; True if they are set.

    Parameters
    ----------
    default : bool
        Whether to tune when ``RETINA_VESSELS_TUNE_MALLOC`` is unset:
        True in processes this package owns (CLI, Dask workers), False
        in a shared one (napari).

    Does nothing (False) off Linux, with another C library, or when
    ``RETINA_VESSELS_TUNE_MALLOC`` is ``0`` (or unset with *default*
    False). Once set, the thresholds stay for the process's lifetime.
    """
    global _state
    if _state:
        return _state
    if not (_wanted(default) and sys.platform.startswith('linux')):
        return False
    _state = False
    try:
        if not os.confstr('CS_GNU_LIBC_VERSION').startswith('glibc'):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, ValueError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _state = (
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    )
    return _state
