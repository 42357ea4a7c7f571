"""U-Net (Ronneberger et al. 2015) as used for DRIVE patch training."""

from __future__ import annotations

import torch
from torch import nn

from ._blocks import UNet


class VesselUNet(nn.Module):
    """Four-level U-Net returning ``[logits]``."""

    def __init__(
        self, in_channels: int = 3, out_channels: int = 1, base: int = 16
    ) -> None:
        super().__init__()
        self.net = UNet(
            in_channels, out_channels, [base, 2 * base, 4 * base, 8 * base]
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.net(x)]
