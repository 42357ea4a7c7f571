"""SERR-U-Net: U-Net with squeeze-excitation residual recurrent blocks.

After Wang et al. (2021): every encoder and decoder block is a residual
unit of two recurrent convolutions with a squeeze-and-excitation gate.
"""

from __future__ import annotations

import torch
from torch import nn

from ._blocks import ResidualRecurrentSE, UNet


class SERRUNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        base: int = 16,
        steps: int = 2,
    ) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Module:
            return ResidualRecurrentSE(cin, cout, steps=steps)

        self.net = UNet(
            in_channels,
            out_channels,
            [base, 2 * base, 4 * base, 8 * base],
            block=block,
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.net(x)]
