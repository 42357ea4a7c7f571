"""Losses: BCE + soft Dice for vessels, masked cross-entropy for A/V."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def vessel_loss(
    logits: list[torch.Tensor], target: dict, *, dice: bool = True
) -> torch.Tensor:
    """Mean over deep-supervision outputs of masked BCE (+ soft Dice).

    BCE alone ranks uncertain pixels better (ROC AUC); the Dice term
    sharpens the map around the 0.5 threshold (F1).
    """
    fov = target['fov'].float()
    y = target['vessel']
    n = fov.sum().clamp_min(1.0)
    total = logits[0].new_zeros(())
    for lg in logits:
        bce = (
            F.binary_cross_entropy_with_logits(lg, y, reduction='none') * fov
        ).sum() / n
        total = total + bce
        if dice:
            p = torch.sigmoid(lg) * fov
            total = (
                total
                + 1
                - ((2 * (p * y).sum() + 1) / (p.sum() + (y * fov).sum() + 1))
            )
    return total / len(logits)


def av_loss(logits: list[torch.Tensor], target: dict) -> torch.Tensor:
    """Artery-vs-vein cross-entropy on labelled vessel pixels only."""
    lab = target['labelled'][:, 0]
    y = (target['vein'] > target['artery']).long()[:, 0]
    total = logits[0].new_zeros(())
    for lg in logits:
        ce = F.cross_entropy(lg, y, reduction='none')
        total = total + (ce * lab).sum() / lab.sum().clamp_min(1.0)
    return total / len(logits)
