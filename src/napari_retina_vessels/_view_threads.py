"""Flip views of a network side by side on a multi-core CPU.

A flip view of our small networks on a CPU is a chain of a few hundred
operations on modest feature maps. PyTorch's intra-op parallelism splits
each of them across its threads and waits for all of them at the end of
every one; on maps this small the waiting and the memory traffic leave
the cores idle much of the time. Running the views at once, each on its
own thread with its share of PyTorch's threads (on 2 cores: two views on
one thread each), keeps every core busy with whole operations instead.
The views are summed in the same order as before, and each is computed
as it would be on that many threads: on 2 cores the result is exactly
that of the views one after the other on one thread
(``tests/test_inference.py``). Against the views one after the other on
two threads, bfloat16 maps are identical and float32 probabilities move
by rounding (< 1e-6). Speed: ``docs/results.md``.

Only on a CPU, without gradients (inference mode), with at least two
threads and two views, and where PyTorch's threads are OpenMP's: there
the thread count is a per-thread setting, so a view thread taking one
thread leaves the caller's setting alone.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

__all__ = ['map_views', 'view_threads']

T = TypeVar('T')
R = TypeVar('R')

_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


@functools.cache
def _openmp() -> bool:
    return 'parallel backend: OpenMP' in torch.__config__.parallel_info()


def view_threads(device: torch.device, n_views: int) -> int:
    """How many views of *n_views* to run at once on *device*: 1 (one
    after the other, each with all of PyTorch's threads) except as the
    module notes say."""
    if (
        device.type != 'cpu'
        or n_views < 2
        or not torch.is_inference_mode_enabled()
        or not _openmp()
    ):
        return 1
    return max(1, min(n_views, torch.get_num_threads()))


def _pool(n: int) -> ThreadPoolExecutor:
    with _LOCK:
        pool = _POOLS.get(n)
        if pool is None:
            pool = ThreadPoolExecutor(n, thread_name_prefix='retina-view')
            _POOLS[n] = pool
        return pool


def map_views(
    fn: Callable[[T], R], items: Sequence[T], workers: int
) -> list[R]:
    """``[fn(item) for item in items]``, on *workers* threads at once.

    Each thread runs under ``torch.inference_mode`` with its share of the
    caller's PyTorch threads (at least one). *fn* must enter any other
    thread-local state it needs itself (autocast, for one).
    """
    if workers <= 1 or len(items) < 2:
        return [fn(item) for item in items]
    total = torch.get_num_threads()
    share = max(1, total // workers)

    def task(item: T) -> R:
        # A thread's first parallel operation sets its thread count from
        # the process-wide one (the last any thread set): read the count
        # first, so that this lazy start is over before the share is set
        # and another view thread finishing cannot undo it.
        torch.get_num_threads()
        torch.set_num_threads(share)
        with torch.inference_mode():
            return fn(item)

    try:
        return list(_pool(workers).map(task, items))
    finally:
        # The process-wide count back, for threads started from now on.
        torch.set_num_threads(total)
