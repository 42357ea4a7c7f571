"""Training data: photos at the canonical scale, augmented patch batches."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DatasetError
from ..fov import fov_mask
from ..io.datasets import Sample, load_sample
from ..preprocessing import (
    as_rgb_float,
    canonical_scale,
    gaussian_blur,
    local_contrast,
    normalise_input,
    resize,
    scaled_shape,
)
from .colour import colour_cast, weaken_vessel_map

# Channel layout of a prepared image tensor.
RGB, FOV, VESSEL = slice(0, 3), 3, 4
ARTERY, VEIN, LABELLED, VPROB = 5, 6, 7, 8


@dataclass
class Prepared:
    name: str
    tensor: torch.Tensor  # (C, H, W) float32, channels as above
    pixels: torch.Tensor  # (K, 3) RGB of random FOV pixels
    centres: np.ndarray  # (M, 2) candidate crop centres (y, x)


def prepare(
    sample: Sample,
    *,
    task: str = 'vessels',
    vessel_prob: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> Prepared:
    """Load *sample* and bring it to the canonical scale."""
    from skimage.segmentation import expand_labels

    rng = rng or np.random.default_rng(0)
    data = load_sample(sample)
    rgb = as_rgb_float(data['image'])
    fov = data['fov'] if data['fov'] is not None else fov_mask(data['image'])
    shape = scaled_shape(rgb.shape, canonical_scale(fov))
    chans = [resize(rgb, shape), resize(fov.astype(np.float32), shape)]
    if task == 'vessels':
        if data['vessels'] is None:
            raise DatasetError(
                f'{sample.name} has no vessel labels ({sample.image.parent}'
                '): training needs a vessel map for every photo'
            )
        chans.append(resize(data['vessels'].astype(np.float32), shape))
    else:
        if data['av'] is None:
            raise DatasetError(
                f'{sample.name} has no artery/vein labels '
                f'({sample.image.parent}): the av task needs them for '
                'every photo'
            )
        av = data['av']
        # Widen the labels by a pixel so that vessel borders a vessel
        # model calls "vessel" are taught too; crossings stay unlabelled.
        av = expand_labels(np.where(av == 3, 0, av), 1) * (av != 3)
        vessel = (data['av'] > 0).astype(np.float32)
        chans.append(resize(vessel, shape))
        art = resize((av == 1).astype(np.float32), shape)
        vein = resize((av == 2).astype(np.float32), shape)
        chans += [art, vein, np.clip(art + vein, 0, 1)]
        if vessel_prob is None:
            raise ValueError('the av task needs vessel probability maps')
        chans.append(resize(vessel_prob.astype(np.float32), shape))
    stack = np.concatenate(
        [c[..., None] if c.ndim == 2 else c for c in chans], axis=-1
    )
    tensor = torch.from_numpy(np.ascontiguousarray(np.moveaxis(stack, -1, 0)))
    return from_tensor(sample.name, tensor, task=task, rng=rng)


def from_tensor(
    name: str,
    tensor: torch.Tensor,
    *,
    task: str = 'vessels',
    rng: np.random.Generator | None = None,
) -> Prepared:
    """A :class:`Prepared` photo from its (C, H, W) channel tensor.

    The pixel sample and the crop centres are drawn here, so that a
    cached tensor (:mod:`.cache`) gives the same kind of photo as
    :func:`prepare`.
    """
    rng = rng or np.random.default_rng(0)
    ys, xs = np.nonzero((tensor[FOV] > 0.5).numpy())
    pick = rng.choice(ys.size, size=min(8192, ys.size), replace=False)
    pixels = tensor[RGB, ys[pick], xs[pick]].T.contiguous()
    if task == 'av':
        # Centre half the crops on labelled vessels: A/V loss lives there.
        ly, lx = np.nonzero((tensor[LABELLED] > 0.5).numpy())
        centres = np.stack(
            [np.concatenate([ys, ly]), np.concatenate([xs, lx])], 1
        )
    else:
        centres = np.stack([ys, xs], 1)
    return Prepared(name, tensor, pixels, centres)


def standardised_input(
    prep: Prepared, task: str, mode: str = 'global'
) -> torch.Tensor:
    """The whole prepared image as the network sees it at inference."""
    t = prep.tensor
    fov = (t[FOV] > 0.5).numpy()
    x = torch.from_numpy(
        normalise_input(t[RGB].permute(1, 2, 0).numpy(), fov, mode)
    )
    if task == 'av':
        x = torch.cat([x, t[VPROB : VPROB + 1] * torch.from_numpy(fov)], 0)
    return x


def _affine_grid(cy, cx, h, w, size, angle, scale, flip):
    """Sampling grid of a rotated, scaled, maybe flipped square crop."""
    u = (torch.arange(size, dtype=torch.float32) - (size - 1) / 2) * scale
    gy, gx = torch.meshgrid(u, u, indexing='ij')
    if flip:
        gx = -gx
    c, s = math.cos(angle), math.sin(angle)
    sy = cy + c * gy - s * gx
    sx = cx + s * gy + c * gx
    # align_corners=False pixel-centre convention.
    return torch.stack([(2 * sx + 1) / w - 1, (2 * sy + 1) / h - 1], -1)


class PatchSampler:
    """Random augmented crops from prepared images."""

    def __init__(
        self,
        images: list[Prepared],
        *,
        task: str,
        size: int = 256,
        seed: int = 0,
        input_mode: str = 'global',
        augment: str = 'camera',
    ) -> None:
        self.images = images
        self.task = task
        self.size = size
        self.input_mode = input_mode
        # 'local' normalisation needs the background around the crop: the
        # crop is sampled this much larger, normalised, then cut back.
        self.margin = 32 if input_mode == 'local' else 0
        # Camera augmentation (colour response, resolution, JPEG) for the
        # A/V stage, which must not learn one camera's absolute colours.
        # The vessel stage keeps its batches as they were.
        self.camera_aug = task == 'av'
        # 'colour': other cameras' casts, haze, contrast (.colour).
        self.colour_aug = augment == 'colour'
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def batch(self, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xs, targets = [], []
        for _ in range(n):
            x, t = self._one()
            xs.append(x)
            targets.append(t)
        tgt = torch.stack(targets)
        out = {'fov': tgt[:, 0:1] > 0.5, 'vessel': tgt[:, 1:2]}
        if self.task == 'av':
            out['artery'] = tgt[:, 2:3]
            out['vein'] = tgt[:, 3:4]
            out['labelled'] = tgt[:, 4:5] > 0.5
        return torch.stack(xs), out

    def _one(self):
        rng = self.rng
        prep = self.images[rng.integers(len(self.images))]
        _, h, w = prep.tensor.shape
        cy, cx = prep.centres[rng.integers(len(prep.centres))]
        scale = math.exp(rng.uniform(math.log(0.7), math.log(1.4)))
        size = self.size + 2 * self.margin
        grid = _affine_grid(
            float(cy),
            float(cx),
            h,
            w,
            size,
            rng.uniform(0, 2 * math.pi),
            scale,
            bool(rng.integers(2)),
        )
        crop = F.grid_sample(
            prep.tensor[None],
            grid[None],
            mode='bilinear',
            padding_mode='zeros',
            align_corners=False,
        )[0]
        fov = (crop[FOV] > 0.5).float()
        rgb = crop[RGB].clamp(0, 1)
        if self.colour_aug:
            rgb = colour_cast(rgb, fov, rng)
        # Only the global normalisation needs the pixel sample's statistics.
        use_pix = self.input_mode == 'global'
        # Photometric jitter: shared and per-channel gamma and gain; the
        # same pointwise map on the pixel sample gives matching statistics.
        gam = np.exp(rng.normal(0, 0.25) + rng.normal(0, 0.08, 3))
        gain = np.exp(rng.normal(0, 0.2, 3))
        gam_t = torch.tensor(gam, dtype=torch.float32)
        gain_t = torch.tensor(gain, dtype=torch.float32)
        rgb = (
            rgb.clamp_min(1e-6) ** gam_t[:, None, None] * gain_t[:, None, None]
        )
        if use_pix:
            pix = prep.pixels.clamp_min(1e-6) ** gam_t * gain_t
        if self.camera_aug:
            mix = _colour_response(rng)
            rgb = torch.einsum('ij,jhw->ihw', mix, rgb).clamp_min(0)
            if use_pix:
                pix = (pix @ mix.T).clamp_min(0)
            rgb = _optics(rgb, rng)
        if rng.random() < 0.05 and self.task == 'vessels':
            g = rgb.mean(0, keepdim=True)
            rgb = g.expand(3, -1, -1).clone()
            if use_pix:
                pix = pix.mean(1, keepdim=True).expand(-1, 3)
        # Uneven illumination: a smooth multiplicative ramp.
        if rng.random() < 0.5:
            a = rng.uniform(-0.4, 0.4)
            ang = rng.uniform(0, 2 * math.pi)
            u = torch.linspace(-1, 1, size)
            gy, gx = torch.meshgrid(u, u, indexing='ij')
            ramp = 1 + a * (math.cos(ang) * gx + math.sin(ang) * gy)
            rgb = rgb * ramp.clamp_min(0.2)
        if use_pix:
            mean = pix.mean(0)[:, None, None]
            std = pix.std(0).clamp_min(1e-4)[:, None, None]
            x = (rgb - mean) / std
        else:
            x = local_contrast(rgb[None], fov[None, None])[0]
            if self.margin:
                cut = slice(self.margin, self.margin + self.size)
                x, crop, fov = x[:, cut, cut], crop[:, cut, cut], fov[cut, cut]
        if rng.random() < 0.3:
            sigma = rng.uniform(0.3, 1.2)
            x = _blur(x, sigma)
        if rng.random() < 0.3:
            x = x + torch.randn_like(x) * rng.uniform(0.02, 0.15)
        x = x.clamp(-8, 8) * fov
        if self.task == 'av':
            vp = crop[VPROB : VPROB + 1].clamp(0, 1)
            if self.colour_aug:
                vp = weaken_vessel_map(vp, rng)
            x = torch.cat([x, vp * fov], 0)
            tgt = torch.stack(
                [fov, crop[VESSEL], crop[ARTERY], crop[VEIN], crop[LABELLED]]
            )
        else:
            tgt = torch.stack([fov, crop[VESSEL]])
        return x, tgt


def _colour_response(rng: np.random.Generator) -> torch.Tensor:
    """A random camera colour response: a 3x3 matrix near the identity
    (channel cross-talk on top of the per-channel gain), rows summing to
    one so that grey stays grey."""
    mix = np.eye(3) + rng.normal(0, 0.06, (3, 3))
    mix /= mix.sum(1, keepdims=True)
    return torch.tensor(mix, dtype=torch.float32)


def _optics(rgb: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Imitate another camera's optics and file format on a (3, H, W)
    crop: a lower resolution (down- then up-sampling) and JPEG
    compression, each drawn at random."""
    _, h, w = rgb.shape
    if rng.random() < 0.3:
        f = rng.uniform(1.3, 2.5)
        small = F.interpolate(
            rgb[None],
            size=(max(8, int(h / f)), max(8, int(w / f))),
            mode='area',
        )
        rgb = F.interpolate(
            small, size=(h, w), mode='bilinear', align_corners=False
        )[0]
    if rng.random() < 0.3:
        rgb = _jpeg(rgb, int(rng.integers(30, 91)))
    return rgb


def _jpeg(rgb: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip of a (3, H, W) crop; values above 1 are clipped."""
    import io as _io

    from PIL import Image

    arr = rgb.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5
    buf = _io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, 'JPEG', quality=quality)
    buf.seek(0)
    out = np.asarray(Image.open(buf).convert('RGB'), np.float32) / 255
    return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur augmentation of one (C, H, W) crop."""
    r = max(1, int(math.ceil(2.5 * sigma)))
    return gaussian_blur(x[None], sigma, r)[0]
