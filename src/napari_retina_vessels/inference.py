"""Run a network over a whole image: device choice, tiles, blending, views.

Models see the image at the canonical scale (see ``preprocessing``);
large images are cut into overlapping tiles blended with a smooth window.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import numpy as np
import numpy.typing as npt
import torch

from .errors import DeviceError, InvalidOptionError
from .progress import Progress

__all__ = ['Progress', 'available_devices', 'check_views', 'choose_device',
           'predict', 'tta_views']


def available_devices() -> list[str]:
    """Devices torch can use here, best first, ``'cpu'`` always last."""
    out = []
    if torch.cuda.is_available():
        out.append('cuda')
    mps = getattr(torch.backends, 'mps', None)
    if mps is not None and mps.is_available():
        out.append('mps')
    out.append('cpu')
    return out


def choose_device(device: str | torch.device = 'auto') -> torch.device:
    """Resolve ``'auto'`` to cuda, mps or cpu; check explicit choices.

    Raises
    ------
    DeviceError
        When the requested device is not available here.
    """
    if isinstance(device, torch.device):
        device = str(device)
    name = str(device).lower()
    avail = available_devices()
    if name == 'auto':
        return torch.device(avail[0])
    base = name.split(':')[0]
    if base not in ('cpu', 'cuda', 'mps'):
        raise DeviceError(
            f'unknown device {device!r}; use auto or one of '
            f'{", ".join(avail)}'
        )
    if base not in avail:
        raise DeviceError(
            f'device {device!r} is not available on this machine; '
            f'available: {", ".join(avail)}'
        )
    if base == 'cuda' and ':' in name:
        idx = int(name.split(':')[1])
        if idx >= torch.cuda.device_count():
            raise DeviceError(
                f'there is no {name}: this machine has '
                f'{torch.cuda.device_count()} CUDA device(s)'
            )
    return torch.device(name)


def _window(size: int, overlap: int) -> np.ndarray:
    """1-D blending weights: flat middle, raised-cosine ramps."""
    w = np.ones(size, np.float32)
    if overlap > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5)
                                  / overlap)
        w[:overlap] = ramp
        w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return np.maximum(w, 1e-3)


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / step) + 1
    return sorted({min(i * step, length - tile) for i in range(n)})


#: Flip views (vertical, horizontal) by their number: the photo; the
#: photo and its left-right mirror; those and their up-down mirrors.
_VIEWS = {
    1: [(False, False)],
    2: [(False, False), (False, True)],
    4: [(False, False), (False, True), (True, False), (True, True)],
}


def check_views(views: int) -> int:
    """*views* as an int, refused unless it is 1, 2 or 4.

    The one rule for a number of flip views, used by the pipeline,
    batches, evaluation, the CLI and the widget.

    Raises
    ------
    InvalidOptionError
    """
    if isinstance(views, bool) or views not in _VIEWS:
        raise InvalidOptionError(
            f'the number of flip views must be 1, 2 or 4, got {views!r}'
        )
    return int(views)


def tta_views(tta: bool | int) -> int:
    """Flip views of an old-style ``tta`` value: False -> 1, True -> 4,
    or 1, 2, 4 as given (see :func:`check_views`)."""
    return check_views(4 if tta is True else 1 if tta is False else tta)


def _forward(model, x: torch.Tensor, device: torch.device,
             views: int) -> torch.Tensor:
    """Last output's logits for a (N, C, h, w) batch, averaged over
    *views* flip views (1, 2 or 4)."""
    views = _VIEWS[views]
    acc = None
    for fy, fx in views:
        dims = [d for d, f in ((2, fy), (3, fx)) if f]
        xi = torch.flip(x, dims) if dims else x
        xi = xi.to(device, non_blocking=True).contiguous(
            memory_format=torch.channels_last)
        if device.type == 'cuda':
            dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported()
                     else torch.float16)
            with torch.autocast('cuda', dtype=dtype):
                out = model(xi)[-1]
        else:
            out = model(xi)[-1]
        out = out.float()
        if dims:
            out = torch.flip(out, dims)
        acc = out if acc is None else acc + out
    return (acc / len(views)).cpu()


def predict(
    model,
    x: npt.NDArray[np.float32],
    *,
    device: torch.device,
    tile: int = 768,
    overlap: int = 64,
    views: int = 1,
    batch: int = 4,
    stage: str = 'vessels',
    tta: bool | int | None = None,
) -> Generator[Progress, None, npt.NDArray[np.float32]]:
    """Yield progress per tile batch; return the (K, H, W) logits.

    Parameters
    ----------
    model : torch.nn.Module
        A network in eval mode on *device*.
    x : (C, H, W) float32
        The standardised input at the canonical scale.
    tile, overlap : int
        Tile side and overlap in pixels; an image no larger than *tile*
        runs in one pass.
    views : int
        Flip views averaged: 1, 2 (the image and its left-right mirror)
        or 4 (and their up-down mirrors).
    tta : bool or int, optional
        The old name: False is 1 view, True 4, an int that many; when
        given it wins over *views*.

    Raises
    ------
    InvalidOptionError
        A number of views other than 1, 2 or 4.
    """
    # Refuse a bad value before any work.
    views = check_views(views) if tta is None else tta_views(tta)
    c, h0, w0 = x.shape
    # Pad to a multiple of 8 and at least 32 pixels: three poolings must
    # leave a few pixels (a 4000 x 40 strip shrinks to 540 x 5 otherwise).
    ph = max(32, -(-h0 // 8) * 8) - h0
    pw = max(32, -(-w0 // 8) * 8) - w0
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, ph), (0, pw)))
    out = yield from _predict(model, x, device=device, tile=tile,
                              overlap=overlap, views=views, batch=batch,
                              stage=stage)
    return out[:, :h0, :w0]


def _predict(model, x, *, device, tile, overlap, views, batch, stage):
    c, h, w = x.shape
    if h <= tile and w <= tile:
        yield Progress(stage, 0, 1)
        with torch.inference_mode():
            out = _forward(model, torch.from_numpy(x)[None], device,
                           views)
        yield Progress(stage, 1, 1)
        return out[0].numpy()
    th, tw = min(tile, h), min(tile, w)
    ys = _starts(h, th, th - overlap)
    xs = _starts(w, tw, tw - overlap)
    boxes = [(y, xx) for y in ys for xx in xs]
    wy = _window(th, overlap if len(ys) > 1 else 0)
    wx = _window(tw, overlap if len(xs) > 1 else 0)
    weight = torch.from_numpy(np.outer(wy, wx))
    acc = None
    norm = torch.zeros(h, w)
    xt = torch.from_numpy(x)
    total = len(boxes)
    yield Progress(stage, 0, total)
    with torch.inference_mode():
        for i in range(0, total, batch):
            chunk = boxes[i:i + batch]
            xb = torch.stack([xt[:, y:y + th, xx:xx + tw] for y, xx in chunk])
            out = _forward(model, xb, device, views)
            if acc is None:
                acc = torch.zeros(out.shape[1], h, w)
            for (y, xx), o in zip(chunk, out):
                acc[:, y:y + th, xx:xx + tw] += o * weight
                norm[y:y + th, xx:xx + tw] += weight
            yield Progress(stage, min(i + batch, total), total)
    return (acc / norm).numpy()
