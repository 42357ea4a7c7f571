"""Colour and illumination augmentation of the cameras real clinics use.

The photometric jitter of :class:`.data.PatchSampler` (gamma, gain, a
colour response near the identity) covers cameras close to the training
ones. Photos from other cameras show much more: a yellow-green cast
(the blue channel nearly empty), a grey cast (washed-out colour), haze
(a bright veil over the fundus), low contrast, a strong gamma; and each
is recorded in 8 bits with sensor noise, so a faint vessel keeps only a
few grey levels. :func:`colour_cast` draws one such camera for a crop.

It is an option of a training run (``TrainConfig.augment = 'colour'``,
``retina-vessels train --augment colour``); the default ``'camera'``
keeps the older recipes reproducible.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ['AUGMENTS', 'colour_cast', 'weaken_vessel_map']

#: Augmentation recipes: 'camera' (the photometric jitter and camera
#: response of earlier runs) and 'colour' ('camera' plus the casts,
#: haze, low contrast, gamma and 8-bit recording of other cameras).
AUGMENTS = ('camera', 'colour')

#: Probability of each effect in one crop (drawn independently).
P_YELLOW, P_GREY, P_HAZE, P_LOW, P_GAMMA, P_RECORD = (
    0.25,
    0.2,
    0.25,
    0.35,
    0.3,
    0.6,
)


def colour_cast(
    rgb: torch.Tensor, fov: torch.Tensor, rng: np.random.Generator
) -> torch.Tensor:
    """One random camera's colour and illumination on a (3, H, W) crop.

    *rgb* holds values in [0, 1]; *fov* (H, W) marks the field of view,
    whose mean colour the contrast and haze effects refer to. Every
    effect is drawn independently; the result is in [0, 1].
    """
    inside = fov > 0.5
    if rng.random() < P_YELLOW:
        # Yellow-green: blue nearly gone, red somewhat damped.
        gain = torch.tensor(
            [
                rng.uniform(0.55, 1.0),
                rng.uniform(0.9, 1.25),
                rng.uniform(0.1, 0.55),
            ],
            dtype=torch.float32,
        )
        rgb = rgb * gain[:, None, None]
    if rng.random() < P_GREY:
        # Grey cast: the colour partly washed out.
        s = rng.uniform(0.3, 0.9)
        rgb = (1 - s) * rgb + s * rgb.mean(0, keepdim=True)
    if rng.random() < P_LOW:
        # Low contrast about the FOV's mean colour.
        k = rng.uniform(0.3, 0.75)
        m = _mean(rgb, inside)
        rgb = m + (rgb - m) * k
    if rng.random() < P_HAZE:
        # Haze: a bright, slightly tinted veil, stronger to one side.
        h = rng.uniform(0.1, 0.45)
        tint = torch.tensor(1 - rng.uniform(0, 0.25, 3), dtype=torch.float32)[
            :, None, None
        ]
        level = rng.uniform(0.5, 0.9) * tint
        _, hh, ww = rgb.shape
        u = torch.linspace(-1, 1, hh)[:, None]
        v = torch.linspace(-1, 1, ww)[None, :]
        ang = rng.uniform(0, 2 * np.pi)
        side = 1 + rng.uniform(0, 0.6) * (np.cos(ang) * v + np.sin(ang) * u)
        w = (h * side).clamp(0, 0.8)[None]
        rgb = (1 - w) * rgb + w * level
    if rng.random() < P_GAMMA:
        g = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        rgb = rgb.clamp_min(1e-6) ** g
    rgb = rgb.clamp(0, 1)
    if rng.random() < P_RECORD:
        # Recorded by a sensor in 8 bits: noise, then quantisation.
        sigma = rng.uniform(0.002, 0.015)
        rgb = rgb + torch.randn_like(rgb) * sigma
        rgb = torch.round(rgb.clamp(0, 1) * 255) / 255
    return rgb


def weaken_vessel_map(
    vp: torch.Tensor, rng: np.random.Generator, p: float = 0.3
) -> torch.Tensor:
    """A vessel probability map as a low-contrast photo gives it.

    On a faint photo the vessel stage is less sure: with probability
    *p* the map is raised to a power > 1 (faint vessels fade first) and
    scaled down, so the A/V stage learns not to lean on it alone.
    """
    if rng.random() >= p:
        return vp
    g = rng.uniform(1.2, 2.5)
    return vp.clamp(0, 1) ** g * rng.uniform(0.7, 1.0)


def _mean(rgb: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    if bool(inside.any()):
        return rgb[:, inside].mean(1)[:, None, None]
    return rgb.mean((1, 2), keepdim=True)
