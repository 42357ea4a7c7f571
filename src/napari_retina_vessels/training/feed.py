"""Training batches, made in the training process or by workers.

Augmented crops are made on the CPU, one at a time
(:class:`.data.PatchSampler`). That keeps pace with a small network on
a CPU, but a GPU consumes batches many times faster than one process can
make them: with ``workers`` > 0, that many worker processes each run
their own sampler and hand whole batches over, while the training
process only moves them to the device.
"""

from __future__ import annotations

import numpy as np
import torch

from . import data as D

__all__ = ['Feed']


class _Stream(torch.utils.data.IterableDataset):
    """An endless stream of batches from one sampler per worker."""

    def __init__(
        self, images, *, task, size, input_mode, batch, seed, augment
    ) -> None:
        super().__init__()
        self.images, self.task, self.size = images, task, size
        self.input_mode, self.batch, self.seed = input_mode, batch, seed
        self.augment = augment

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        # Each worker is one core's worth of crops; more threads would
        # only make the workers compete.
        torch.set_num_threads(1)
        seed = [*self.seed, worker]
        # The sampler's noise comes from torch's generator, which the
        # DataLoader seeds at random in each worker: seed it from ours.
        torch.manual_seed(
            int(np.random.SeedSequence(seed).generate_state(1)[0])
        )
        sampler = D.PatchSampler(
            self.images,
            task=self.task,
            size=self.size,
            input_mode=self.input_mode,
            seed=seed,
            augment=self.augment,
        )
        while True:
            yield sampler.batch(self.batch)


class Feed:
    """Batches of augmented crops: ``next(feed)`` -> ``(x, targets)``.

    Parameters
    ----------
    images : list of Prepared
        Training photos at the canonical scale.
    task, size, input_mode, seed
        As for :class:`.data.PatchSampler`.
    batch : int
        Crops per batch.
    workers : int
        0: crops are made here, and :meth:`state` / :meth:`set_state`
        resume the random stream exactly. N > 0: N worker processes;
        their streams are seeded by ``seed`` and the step at which
        :meth:`start` was called, so a resumed run is reproducible but
        differs from an unbroken one.
    pin : bool
        Pin the workers' batches in page-locked memory (faster copies
        to a GPU).
    augment : str
        Augmentation recipe (:data:`.colour.AUGMENTS`).
    """

    def __init__(
        self,
        images: list[D.Prepared],
        *,
        task: str,
        size: int,
        input_mode: str,
        batch: int,
        seed: int,
        workers: int = 0,
        pin: bool = False,
        augment: str = 'camera',
    ) -> None:
        self.batch, self.workers = batch, workers
        self._kw = {
            'images': images,
            'task': task,
            'size': size,
            'input_mode': input_mode,
            'augment': augment,
        }
        self.seed, self.pin = seed, pin
        self._sampler = (
            D.PatchSampler(**self._kw, seed=seed) if workers == 0 else None
        )
        self._it = None

    def state(self) -> dict | None:
        """The in-process sampler's random state (None with workers)."""
        return self._sampler.state() if self._sampler else None

    def set_state(self, state: dict | None) -> None:
        if self._sampler is not None and state is not None:
            self._sampler.set_state(state)

    def start(self, step: int = 0) -> Feed:
        """Start the workers (if any) for a run that is at *step*."""
        if self.workers and self._it is None:
            stream = _Stream(
                **self._kw, batch=self.batch, seed=[int(self.seed), int(step)]
            )
            loader = torch.utils.data.DataLoader(
                stream,
                batch_size=None,
                num_workers=self.workers,
                pin_memory=self.pin,
                prefetch_factor=4,
            )
            self._it = iter(loader)
        return self

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self._sampler is not None:
            return self._sampler.batch(self.batch)
        if self._it is None:
            self.start()
        return next(self._it)

    def close(self) -> None:
        """Stop the workers."""
        it, self._it = self._it, None
        if it is not None and hasattr(it, '_shutdown_workers'):
            it._shutdown_workers()
