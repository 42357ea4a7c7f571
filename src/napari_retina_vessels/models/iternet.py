"""IterNet (Li et al., WACV 2020): a U-Net refined by weight-shared minis.

The first U-Net segments the image; then the same mini U-Net is applied
``iterations`` times to the previous output's features, each time also
receiving the first network's features as a skip connection. Every
iteration's output is supervised.
"""

from __future__ import annotations

import torch
from torch import nn

from ._blocks import ConvBlock, UNet


class IterNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        base: int = 16,
        iterations: int = 3,
    ) -> None:
        super().__init__()
        self.first = UNet(
            in_channels, out_channels, [base, 2 * base, 4 * base, 8 * base]
        )
        self.iterations = iterations
        # Input of each iteration: previous features + first features.
        self.fuse = ConvBlock(2 * base, base, n=1)
        self.mini = UNet(base, out_channels, [base, 2 * base, 4 * base])
        self.mini_features = nn.Conv2d(base, base, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f0 = self.first.features(x)
        outs = [self.first.head(f0)]
        f = f0
        for _ in range(self.iterations):
            h = self.mini.features(self.fuse(torch.cat([f, f0], dim=1)))
            outs.append(self.mini.head(h))
            f = self.mini_features(h)
        return outs
