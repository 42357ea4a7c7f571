"""The ensemble architecture: the mean of several networks' logits.

Its weights are made by
:func:`napari_retina_vessels.training.ensemble.combine` from trained
members (see ``scripts/make_ensemble.py``); it is not trained directly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Ensemble(nn.Module):
    """*n* networks of architecture *member*; the output is the mean of
    their last outputs' logits."""

    def __init__(
        self, member: str = 'wnet', n: int = 2, **member_kwargs: Any
    ) -> None:
        from . import ARCHITECTURES, build_model

        super().__init__()
        if member not in ARCHITECTURES or member == 'ensemble':
            raise ValueError(f'cannot ensemble {member!r} networks')
        if n < 1:
            raise ValueError('an ensemble needs at least one member')
        self.members = nn.ModuleList(
            build_model(member, **member_kwargs) for _ in range(n)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [m(x)[-1] for m in self.members]
        return [torch.stack(outs).mean(0)]
