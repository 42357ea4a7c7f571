"""Building blocks shared by every architecture."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

BlockFactory = Callable[[int, int], nn.Module]


class ConvBlock(nn.Module):
    """Two 3x3 convolutions, each followed by batch norm and ReLU."""

    def __init__(self, cin: int, cout: int, *, n: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n):
            layers += [
                nn.Conv2d(
                    cin if i == 0 else cout, cout, 3, padding=1, bias=False
                ),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SqueezeExcitation(nn.Module):
    """Channel attention: global pool, bottleneck MLP, sigmoid gate."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(2, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.adaptive_avg_pool2d(x, 1)
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(w), inplace=True)))
        return x * w


class RecurrentConv(nn.Module):
    """A 3x3 convolution applied recurrently ``steps`` times (R2U-Net)."""

    def __init__(self, channels: int, steps: int = 2) -> None:
        super().__init__()
        self.steps = steps
        self.conv = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        for _ in range(self.steps - 1):
            h = self.conv(x + h)
        return h


class ResidualRecurrentSE(nn.Module):
    """SERR block: 1x1 projection, two recurrent convs, SE, residual add."""

    def __init__(self, cin: int, cout: int, *, steps: int = 2) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 1)
        self.body = nn.Sequential(
            RecurrentConv(cout, steps), RecurrentConv(cout, steps)
        )
        self.se = SqueezeExcitation(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        return x + self.se(self.body(x))


def _fast_path(x: torch.Tensor) -> bool:
    """Whether :class:`UNet` may use :func:`max_pool2` and
    :func:`upsample2_cat`: inference (no gradients: they write into
    preallocated buffers) on a CPU (on a GPU PyTorch's own kernels are
    fast)."""
    return (
        not torch.is_grad_enabled() and x.device.type == 'cpu' and x.dim() == 4
    )


def max_pool2(x: torch.Tensor) -> torch.Tensor:
    """2x2 max pooling, stride 2, odd last row/column dropped.

    The same values as ``F.max_pool2d(x, 2)``, without the argmax indices
    that PyTorch's CPU kernel computes and discards: 3-4x faster on a
    channels-last bfloat16 map (benchmarks in docs/results.md).
    """
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    return torch.maximum(
        torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2]),
        torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]),
    )


def upsample2_cat(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``cat([interpolate(x, 2x, bilinear), skip], 1)`` in one buffer.

    A channels-last buffer is made with *skip* in its last channels and
    filled by :func:`upsample2_into`: this saves the interpolation's own
    output and the copy ``torch.cat`` makes of it.
    """
    n, c, h, w = x.shape
    buf = torch.empty(
        (n, c + skip.shape[1], 2 * h, 2 * w),
        dtype=x.dtype,
        memory_format=torch.channels_last,
    )
    buf[:, c:] = skip
    return upsample2_into(x, buf)


def upsample2_into(x: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:
    """Write ``interpolate(x, 2x, bilinear)`` into ``buf[:, :C]``.

    *buf* is channels-last, (N, C + k, 2H, 2W) for *x* (N, C, H, W); its
    other channels are left as they are. For an output exactly twice the
    size of *x*, PyTorch's bilinear interpolation (``align_corners=
    False``) puts each output pixel a quarter of a pixel from its nearest
    input pixel: output row ``2i`` is ``0.75 x[i] + 0.25 x[i-1]`` and row
    ``2i+1`` is ``0.75 x[i] + 0.25 x[i+1]``, with the edge rows copied;
    the same along columns. Equal to ``F.interpolate`` up to rounding
    (float32: ~1e-7; bfloat16: the row pass is rounded to bfloat16 before
    the column pass, one unit in the last place at most). Returns *buf*.
    """
    n, c, h, w = x.shape
    src = x.permute(0, 2, 3, 1)  # (n, h, w, c)
    # (n, h, 2, w, 2, c): [:, i, dy, j, dx] is output pixel (2i+dy, 2j+dx)
    out = buf.permute(0, 2, 3, 1)[..., :c].unflatten(1, (h, 2))
    out = out.unflatten(3, (w, 2))
    rows = torch.empty((2, n, h, w, c), dtype=x.dtype)
    even, odd = rows[0], rows[1]
    even[:, 0] = src[:, 0]
    torch.lerp(src[:, 1:], src[:, :-1], 0.25, out=even[:, 1:])
    odd[:, -1] = src[:, -1]
    torch.lerp(src[:, :-1], src[:, 1:], 0.25, out=odd[:, :-1])
    for dy, r in ((0, even), (1, odd)):
        out[:, :, dy, 0, 0] = r[:, :, 0]
        torch.lerp(r[:, :, 1:], r[:, :, :-1], 0.25, out=out[:, :, dy, 1:, 0])
        out[:, :, dy, -1, 1] = r[:, :, -1]
        torch.lerp(r[:, :, :-1], r[:, :, 1:], 0.25, out=out[:, :, dy, :-1, 1])
    return buf


def _relu_last(block: nn.Module) -> bool:
    """Whether *block* is a :class:`ConvBlock` ending in a ReLU (its
    last step can then write into a preallocated buffer)."""
    return isinstance(block, ConvBlock) and isinstance(block.body[-1], nn.ReLU)


class UNet(nn.Module):
    """Encoder-decoder with skip connections, any depth and block type.

    Decoder stages upsample bilinearly to the skip's exact size, so inputs
    of any size work. ``forward`` returns logits; ``features`` also returns
    the last decoder feature map (used by IterNet).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int],
        *,
        block: BlockFactory = ConvBlock,
    ) -> None:
        super().__init__()
        self.widths = tuple(int(c) for c in channels)
        self.encoders = nn.ModuleList()
        cin = in_channels
        for c in channels:
            self.encoders.append(block(cin, c))
            cin = c
        self.decoders = nn.ModuleList()
        for c in reversed(channels[:-1]):
            self.decoders.append(block(cin + c, c))
            cin = c
        self.head = nn.Conv2d(cin, out_channels, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if _fast_path(x):
            return self._fast_features(x)
        skips = []
        for i, enc in enumerate(self.encoders):
            if i:
                x = F.max_pool2d(x, 2)
            x = enc(x)
            skips.append(x)
        skips.pop()
        for dec in self.decoders:
            skip = skips.pop()
            x = F.interpolate(
                x, size=skip.shape[-2:], mode='bilinear', align_corners=False
            )
            x = dec(torch.cat([x, skip], dim=1))
        return x

    def _fast_features(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`features` for CPU inference, the same values.

        Pools with :func:`max_pool2`; where a decoder's input is the x2
        upsampling of the level below beside the skip, it is one buffer:
        the encoder's last ReLU writes the skip straight into it (when
        the encoder is a :class:`ConvBlock`) and :func:`upsample2_into`
        fills the rest, so neither map is copied again.
        """
        n_levels = len(self.encoders)
        skips = []
        for i, enc in enumerate(self.encoders):
            if i:
                x = max_pool2(x)
            last = i == n_levels - 1
            h, w = x.shape[-2:]
            if last or h % 2 or w % 2 or not _relu_last(enc):
                x = enc(x)
                skips.append((x, None))
                continue
            pre = enc.body[:-1](x)
            c_up = self.widths[i + 1]  # what the level below returns
            buf = torch.empty(
                (pre.shape[0], c_up + pre.shape[1], h, w),
                dtype=pre.dtype,
                memory_format=torch.channels_last,
            )
            x = torch.clamp_min(pre, 0, out=buf[:, c_up:])
            skips.append((x, buf))
        skips.pop()
        for dec in self.decoders:
            skip, buf = skips.pop()
            if buf is not None:
                x = dec(upsample2_into(x, buf))
            elif skip.shape[-2:] == (2 * x.shape[-2], 2 * x.shape[-1]):
                x = dec(upsample2_cat(x, skip))
            else:
                x = F.interpolate(
                    x,
                    size=skip.shape[-2:],
                    mode='bilinear',
                    align_corners=False,
                )
                x = dec(torch.cat([x, skip], dim=1))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that follows a convolution into its weights.

    In eval mode a BatchNorm is an affine map per channel, so a
    ``Conv2d -> BatchNorm2d`` pair inside an ``nn.Sequential`` equals one
    convolution with scaled weights and a bias; the BatchNorm becomes an
    ``nn.Identity`` (indices unchanged). That saves a pass over every
    feature map: about 8 % of the default W-Net's CPU time. For
    inference only: the result is not meant to be trained, and its
    ``state_dict`` no longer matches the architecture's. Modifies and
    returns *model*, which must be in eval mode.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.training:
        raise ValueError('fuse_batchnorm needs a model in eval mode')
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if (
                isinstance(conv, nn.Conv2d)
                and type(bn) is nn.BatchNorm2d
                and bn.track_running_stats
            ):
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = nn.Identity()
    return model
