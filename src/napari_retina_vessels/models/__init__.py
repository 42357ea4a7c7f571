"""Network architectures, registered by name.

Every model maps a (N, C, H, W) float tensor to a list of logit tensors
(deep supervision); the last one is the prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ['ARCHITECTURES', 'build_model', 'count_parameters']


def _wnet(**kw: Any):
    from .wnet import WNet

    return WNet(**kw)


def _unet(**kw: Any):
    from .unet import VesselUNet

    return VesselUNet(**kw)


def _iternet(**kw: Any):
    from .iternet import IterNet

    return IterNet(**kw)


def _serr(**kw: Any):
    from .serr_unet import SERRUNet

    return SERRUNet(**kw)


def _seqnet_av(**kw: Any):
    from .seqnet import SeqNetAV

    return SeqNetAV(**kw)


def _ensemble(**kw: Any):
    from .ensemble import Ensemble

    return Ensemble(**kw)


#: name -> (builder, task, one-line description)
ARCHITECTURES: dict[str, tuple[Callable[..., Any], str, str]] = {
    'wnet': (_wnet, 'vessels', 'tiny two-stage W-Net (default, fast)'),
    'unet': (_unet, 'vessels', 'four-level U-Net'),
    'iternet': (
        _iternet,
        'vessels',
        'U-Net + weight-shared mini U-Net iterations',
    ),
    'serr-unet': (_serr, 'vessels', 'U-Net with SE residual recurrent blocks'),
    'seqnet-av': (_seqnet_av, 'av', 'artery/vein stage on image + vessel map'),
    'ensemble': (
        _ensemble,
        'vessels',
        'mean of independently trained networks (not trained '
        'directly: see scripts/make_ensemble.py)',
    ),
}


def build_model(arch: str, **kwargs: Any):
    """Build an untrained network by architecture name."""
    from ..errors import WeightsError

    try:
        builder = ARCHITECTURES[arch][0]
    except KeyError:
        raise WeightsError(
            f'unknown architecture {arch!r}; choose one of '
            f'{", ".join(ARCHITECTURES)}'
        ) from None
    return builder(**kwargs)


def count_parameters(model) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
