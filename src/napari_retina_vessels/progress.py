"""Progress records: what every long job yields (torch-free).

``iter_segment``, ``iter_fetch``, batches and evaluations yield
:class:`Progress`; the CLI shows them with tqdm, the napari widgets with a
progress bar, and every ``yield`` is a place where a job can be
cancelled. Kept apart from ``inference`` so that modules that only report
progress (``batch``, ``weights``) do not load torch.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ['Progress']


@dataclass(frozen=True)
class Progress:
    """One step of a long job: ``done`` of ``total`` in ``stage``."""

    stage: str
    done: int
    total: int
