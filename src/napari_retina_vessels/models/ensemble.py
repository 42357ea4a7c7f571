"""An ensemble of independently trained networks of one architecture.

The members see the same input; the ensemble's prediction is the mean of
their last outputs' logits. Members trained from different seeds make
different mistakes, so the mean usually ranks pixels a little better
than its members (for the default W-Net, by 0.0002 validation AUC: see
docs/results.md), at the cost of one forward pass per member.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Ensemble(nn.Module):
    def __init__(self, member: str = 'wnet', n: int = 2,
                 **member_kwargs: Any) -> None:
        from . import ARCHITECTURES, build_model

        super().__init__()
        if member not in ARCHITECTURES or member == 'ensemble':
            raise ValueError(f'cannot ensemble {member!r} networks')
        if n < 1:
            raise ValueError('an ensemble needs at least one member')
        self.members = nn.ModuleList(
            build_model(member, **member_kwargs) for _ in range(n))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [m(x)[-1] for m in self.members]
        return [torch.stack(outs).mean(0)]


def combine(files: list[dict[str, Any]]) -> dict[str, Any]:
    """One weights dictionary from the weights dictionaries of members.

    Every member must have the same architecture, widths, task and input
    normalisation.
    """
    if not files:
        raise ValueError('no members given')
    first = files[0]
    for f in files[1:]:
        if (f['arch'], f.get('arch_kwargs'), f.get('task'),
                f.get('input', 'global')) != (
                first['arch'], first.get('arch_kwargs'), first.get('task'),
                first.get('input', 'global')):
            raise ValueError('ensemble members must share architecture, '
                             'widths, task and input normalisation')
    state = {f'members.{i}.{k}': v for i, f in enumerate(files)
             for k, v in f['state_dict'].items()}
    return {
        'arch': 'ensemble',
        'arch_kwargs': {'member': first['arch'], 'n': len(files),
                        **dict(first.get('arch_kwargs') or {})},
        'task': first.get('task', 'vessels'),
        'input': first.get('input', 'global'),
        'state_dict': state,
        'meta': {'members': [dict(f.get('meta') or {}) for f in files]},
    }
