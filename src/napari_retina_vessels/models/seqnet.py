"""SeqNet's artery/vein stage (after Li et al., 2022).

Vessels first, then artery/vein: this network takes the standardised RGB
photo and the vessel probability map of a vessel model (4 channels) and
returns, for every pixel, two logits (artery, vein). Only the classes on
vessel pixels are used; a W-Net shape refines the first guess.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._blocks import UNet


class SeqNetAV(nn.Module):
    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 2,
        channels: Sequence[int] = (16, 32, 64, 64),
    ) -> None:
        super().__init__()
        self.stage1 = UNet(in_channels, out_channels, channels)
        self.stage2 = UNet(
            in_channels + out_channels, out_channels, channels[:3]
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        first = self.stage1(x)
        second = self.stage2(torch.cat([x, torch.softmax(first, 1)], dim=1))
        return [first, second]
