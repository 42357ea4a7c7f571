"""Tiny W-Net: two small U-Nets in sequence (after Galdran et al., 2022).

The second U-Net sees the image and the first one's probability map, and
refines it. About 60k parameters with the default widths: fast on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._blocks import UNet


class WNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        channels: Sequence[int] = (8, 16, 32),
    ) -> None:
        super().__init__()
        self.stage1 = UNet(in_channels, out_channels, channels)
        self.stage2 = UNet(in_channels + out_channels, out_channels, channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        first = self.stage1(x)
        second = self.stage2(torch.cat([x, torch.sigmoid(first)], dim=1))
        return [first, second]
