"""Peak memory of this process, measured so that earlier tests do not hide it.

``ru_maxrss`` is a high-water mark of the whole process life: inside a
pytest run that already peaked at 4 GB it cannot see a test's growth,
and a child started with ``subprocess`` inherits the parent's mark
across ``exec`` on Linux. Linux's ``VmHWM`` belongs to the current
address space and can be reset (``/proc/self/clear_refs``), so tests
measure with it and skip where the system has no such counter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_STATUS = Path('/proc/self/status')

# The same reading, as source for a child process's script.
PEAK_MB_SOURCE = '''
def peak_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    raise OSError('no VmHWM')
'''


def _field(name: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(name + ':'):
            return int(line.split()[1]) / 1024
    raise OSError(f'no {name} in {_STATUS}')


def need_peak_counter() -> None:
    """Skip the calling test where peak memory cannot be measured."""
    try:
        _field('VmHWM')
        Path('/proc/self/clear_refs').write_text('5')
    except OSError:
        pytest.skip('needs Linux /proc peak-memory counters')


def reset_peak() -> float:
    """Reset this process's peak to its current size; return that, MB."""
    need_peak_counter()
    return _field('VmRSS')


def peak_mb() -> float:
    """This process's peak resident memory since the last reset, MB."""
    return _field('VmHWM')
