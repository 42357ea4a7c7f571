"""Per-image work here or on a Dask cluster (the ``cluster`` extra).

``iter_map`` runs a function over items in this process, or, with
``workers`` or ``scheduler``, as one Dask task per item; ``map_images``
collects the results in input order. Dask is imported only when a
cluster is asked for. See ``docs/cluster.md``.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from typing import Any

from ..errors import RetinaVesselsError

__all__ = ['dask_client', 'iter_map', 'map_images', 'wants_cluster']


def wants_cluster(workers: int, scheduler: str | None) -> bool:
    """Whether the options ask for Dask; checks that they make sense.

    Raises
    ------
    RetinaVesselsError
        For a negative worker count, or both options at once.
    """
    if workers < 0:
        raise RetinaVesselsError(
            f'--workers must be 0 (no Dask) or more, got {workers}'
        )
    if workers and scheduler:
        raise RetinaVesselsError(
            'give either --workers (a local cluster) or --scheduler (an '
            'existing one), not both'
        )
    return bool(workers or scheduler)


@contextmanager
def dask_client(
    workers: int = 0, scheduler: str | None = None
) -> Iterator[Any]:
    """A Dask client on an existing scheduler or a new LocalCluster.

    The local cluster has *workers* processes with one thread each,
    listening on 127.0.0.1 only; it is shut down on exit.

    Raises
    ------
    RetinaVesselsError
        When Dask is not installed or the scheduler cannot be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise RetinaVesselsError(
            '--workers and --scheduler need Dask, which is not installed; '
            'run: pip install "napari-retina-vessels[cluster]"'
        ) from err
    if scheduler:
        try:
            client = Client(scheduler, timeout='20s')
        except (OSError, TimeoutError) as err:
            raise RetinaVesselsError(
                f'cannot reach the Dask scheduler at {scheduler!r} '
                f'({type(err).__name__}); is it running and is the '
                'address right (e.g. tcp://10.0.0.5:8786)?'
            ) from err
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host='127.0.0.1',
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def single_thread_torch() -> None:
    """Use one torch thread: a task per core must not oversubscribe.

    The environment variables cover a torch imported later.
    """
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = '1'
    torch = sys.modules.get('torch')
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def worker_device(device: str) -> str:
    """Spread the workers of a local cluster over this machine's GPUs.

    LocalCluster names its workers 0, 1, ...; with ``'auto'`` and several
    visible GPUs, worker *i* takes GPU ``i % count``. Outside a Dask
    task, or with one visible GPU (CUDA_VISIBLE_DEVICES set per worker),
    *device* is returned unchanged.
    """
    if device != 'auto' or 'distributed' not in sys.modules:
        return device
    from distributed import get_worker

    try:
        name = get_worker().name
    except ValueError:  # not inside a Dask task
        return device
    import torch

    count = torch.cuda.device_count()
    if count > 1 and isinstance(name, int):
        return f'cuda:{name % count}'
    return device


def _task(func: Callable[[Any], Any], item: Any) -> Any:
    """What a Dask worker runs: *func* with single-threaded torch (and,
    the worker process being ours, the allocator tuning)."""
    from .._allocator import tune_allocator

    single_thread_torch()
    tune_allocator()
    return func(item)


def iter_map(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int = 0,
    scheduler: str | None = None,
    name: str = 'retina',
) -> Iterator[tuple[int, Any, Exception | None]]:
    """Yield ``(index, result, error)`` for every item as it finishes.

    Without *workers* and *scheduler* the items run here, in order. On a
    cluster every item is one task, retried twice when it raises (and
    re-run elsewhere when its worker dies). Either way an item whose
    *func* raised, or whose task kept killing its workers
    (``KilledWorker``), is yielded with ``result`` None and the exception
    as *error*, so that the other items carry on.
    """
    items = list(items)
    if not wants_cluster(workers, scheduler) or not items:
        for i, item in enumerate(items):
            try:
                result = func(item)
            # Whatever went wrong, it is this item's failure only.
            except Exception as err:  # noqa: BLE001 - reported per item
                yield i, None, err
                continue
            yield i, result, None
        return
    run = uuid.uuid4().hex[:8]
    with dask_client(workers, scheduler) as client:
        from distributed import as_completed

        futures = {
            client.submit(
                _task, func, item, retries=2, key=f'{name}-{run}-{i}'
            ): i
            for i, item in enumerate(items)
        }
        for fut in as_completed(futures):
            try:
                yield futures[fut], fut.result(), None
            # Whatever ended the task, it is this item's failure only.
            except Exception as err:  # noqa: BLE001 - reported per item
                yield futures[fut], None, err


def map_images(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int = 0,
    scheduler: str | None = None,
    progress: Callable[[Any], Any] | None = None,
    stage: str = 'images',
) -> list[Any]:
    """Apply *func* to every item, here or on a Dask cluster.

    Parameters
    ----------
    func : callable
        A picklable (module-level) function of one item; on a cluster it
        runs with one torch thread per task and should catch the errors
        of a bad item itself (return an error record).
    items : iterable
        Small picklable work descriptions (paths, names...).
    workers : int
        Run on a new local cluster of this many processes.
    scheduler : str, optional
        Address of an existing Dask scheduler instead.
    progress : callable, optional
        Called with ``Progress(stage, done, total)`` as items finish.

    Returns
    -------
    list
        ``func(item)`` for every item, in input order.

    Raises
    ------
    Exception
        The first exception *func* raised (on a cluster: after retries).
    """
    from ..progress import Progress

    items = list(items)
    total = len(items)
    results: list[Any] = [None] * total
    if progress is not None:
        progress(Progress(stage, 0, total))
    runs = iter_map(func, items, workers=workers, scheduler=scheduler)
    with closing(runs):  # an early raise shuts the cluster down now
        for done, (i, result, error) in enumerate(runs, 1):
            if error is not None:
                raise error
            results[i] = result
            if progress is not None:
                progress(Progress(stage, done, total))
    return results
