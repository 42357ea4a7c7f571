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

from . import options as _options
from .errors import DeviceError
from .progress import Progress

__all__ = [
    'PRECISIONS',
    'Progress',
    'autocast_dtype',
    'available_devices',
    'check_precision',
    'check_views',
    'choose_device',
    'cpu_has_native_bf16',
    'precision_name',
    'predict',
    'resolve_precision',
    'tta_views',
]


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
            f'unknown device {device!r}; use auto or one of {", ".join(avail)}'
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
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
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


# One rule for flip views and one for precision: in options.
check_views = _options.check_views


def tta_views(tta: bool | int) -> int:
    """Flip views of an old-style ``tta`` value: False -> 1, True -> 4,
    or 1, 2, 4 as given (see :func:`check_views`)."""
    return check_views(4 if tta is True else 1 if tta is False else tta)


PRECISIONS = _options.PRECISIONS
check_precision = _options.check_precision


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (Intel AMX or
    AVX512-BF16): there bfloat16 convolutions are about 1.7x faster
    than float32; elsewhere they are emulated and slower."""
    cpu = getattr(torch, 'cpu', None)
    for name in ('_is_amx_tile_supported', '_is_avx512_bf16_supported'):
        probe = getattr(cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except (RuntimeError, AttributeError):  # pragma: no cover
            continue
    return False


def autocast_dtype(
    precision: str, device: torch.device | str
) -> torch.dtype | None:
    """The autocast dtype of *precision* on *device*; None for float32.

    Raises
    ------
    InvalidOptionError
        An unknown precision.
    DeviceError
        bfloat16 asked of a CUDA device without it.
    """
    precision = check_precision(precision)
    kind = torch.device(device).type
    if precision == 'fp32':
        return None
    if precision == 'fp16':
        return torch.float16
    if precision == 'bf16':
        if kind == 'cuda' and not torch.cuda.is_bf16_supported():
            raise DeviceError(
                f'{device} does not support bfloat16; use precision fp16 '
                'or fp32'
            )
        return torch.bfloat16
    # auto
    if kind == 'cuda':
        return (
            torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        )
    if kind == 'cpu' and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def precision_name(dtype: torch.dtype | None) -> str:
    """``'fp32'``, ``'bf16'`` or ``'fp16'`` for an autocast dtype."""
    return {torch.bfloat16: 'bf16', torch.float16: 'fp16'}.get(dtype, 'fp32')


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """The arithmetic *precision* means on *device*: ``'fp32'``,
    ``'bf16'`` or ``'fp16'`` (``'auto'`` resolved; checked as by
    :func:`autocast_dtype`)."""
    return precision_name(autocast_dtype(precision, device))


def _dtype(model, precision: str, device) -> torch.dtype | None:
    """The autocast dtype for a torch *model*; None for a network of
    another engine, which carries its own arithmetic (``engines.py``)."""
    if hasattr(model, 'forward_views'):
        return None
    return autocast_dtype(precision, device)


def _forward(
    model,
    x: torch.Tensor,
    device: torch.device,
    views: int,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Last output's logits for a (N, C, h, w) batch, averaged over
    *views* flip views (1, 2 or 4), computed in *dtype* under autocast
    (float32 when None). On a multi-core CPU the views run side by side
    (:mod:`._view_threads`), with the same result."""
    from ._view_threads import map_views, view_threads

    flips = _VIEWS[views]
    engine_views = getattr(model, 'forward_views', None)
    if engine_views is not None:  # another engine (engines.OpenVinoNet)
        return engine_views(x, flips)
    # One host-to-device copy (asynchronous from pinned memory); the
    # flips happen where the network runs.
    x = x.to(device, non_blocking=True)

    def one(flip: tuple[bool, bool]) -> torch.Tensor:
        dims = [d for d, f in zip((2, 3), flip, strict=True) if f]
        xi = torch.flip(x, dims) if dims else x
        xi = xi.contiguous(memory_format=torch.channels_last)
        if dtype is not None:
            with torch.autocast(device.type, dtype=dtype):
                out = model(xi)[-1]
        else:
            out = model(xi)[-1]
        out = out.float()
        return torch.flip(out, dims) if dims else out

    outs = map_views(one, flips, view_threads(device, len(flips)))
    acc = outs[0]
    for out in outs[1:]:
        acc = acc + out
    return (acc / len(flips)).cpu()


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
    precision: str = 'auto',
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
    precision : str
        One of :data:`PRECISIONS` (see :func:`autocast_dtype`).

    Raises
    ------
    InvalidOptionError
        A number of views other than 1, 2 or 4, or an unknown precision.
    """
    # Refuse a bad value before any work.
    views = check_views(views) if tta is None else tta_views(tta)
    dtype = _dtype(model, precision, device)
    c, h0, w0 = x.shape
    # Pad to a multiple of 8 and at least 32 pixels: three poolings must
    # leave a few pixels (a 4000 x 40 strip shrinks to 540 x 5 otherwise).
    ph = max(32, -(-h0 // 8) * 8) - h0
    pw = max(32, -(-w0 // 8) * 8) - w0
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, ph), (0, pw)))
    out = yield from _predict(
        model,
        x,
        device=device,
        tile=tile,
        overlap=overlap,
        views=views,
        batch=batch,
        stage=stage,
        dtype=dtype,
    )
    return out[:, :h0, :w0]


def _predict(model, x, *, device, tile, overlap, views, batch, stage, dtype):
    c, h, w = x.shape
    if h <= tile and w <= tile:
        yield Progress(stage, 0, 1)
        with torch.inference_mode():
            out = _forward(
                model, torch.from_numpy(x)[None], device, views, dtype
            )
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
            chunk = boxes[i : i + batch]
            xb = torch.stack(
                [xt[:, y : y + th, xx : xx + tw] for y, xx in chunk]
            )
            out = _forward(model, xb, device, views, dtype)
            if acc is None:
                acc = torch.zeros(out.shape[1], h, w)
            for (y, xx), o in zip(chunk, out):
                acc[:, y : y + th, xx : xx + tw] += o * weight
                norm[y : y + th, xx : xx + tw] += weight
            yield Progress(stage, min(i + batch, total), total)
    return (acc / norm).numpy()


#: Photos per forward pass by device type when none is asked for. On a
#: 2-core CPU one photo per pass is fastest (larger batches only add
#: memory traffic: benchmarks/bench_batch.py); a GPU needs many to stay
#: busy.
DEFAULT_BATCH_SIZE = {'cpu': 1, 'mps': 4, 'cuda': 16}


def default_batch_size(device: torch.device | str) -> int:
    """Photos per forward pass for *device* (see DEFAULT_BATCH_SIZE)."""
    return DEFAULT_BATCH_SIZE.get(torch.device(device).type, 1)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether *err* says that a device (or the host) ran out of memory."""
    oom = getattr(torch, 'OutOfMemoryError', None)
    if oom is not None and isinstance(err, oom):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and (
        'out of memory' in text or "can't allocate memory" in text
    )


def _padded(shape: tuple[int, int]) -> tuple[int, int]:
    """The padded input size of :func:`predict`: multiples of 8, >= 32."""
    return tuple(max(32, -(-n // 8) * 8) for n in shape)


def predict_many(
    model,
    xs: list[npt.NDArray[np.float32]],
    *,
    device: torch.device,
    views: int = 1,
    tile: int = 768,
    batch_size: int = 1,
    log=None,
    precision: str = 'auto',
) -> tuple[list[npt.NDArray[np.float32]], int]:
    """Logits of several inputs, up to *batch_size* per forward pass.

    Inputs whose padded size (:func:`predict`) is the same run together,
    so each result equals what :func:`predict` gives for that input
    alone (the same padding), up to float rounding. Inputs larger than
    *tile* run alone through the tiled :func:`predict`. On CUDA the
    batch is copied from pinned memory without blocking.

    When the device runs out of memory the batch is halved and retried,
    with a message to *log* (default: a ``UserWarning``), down to one
    input per pass; the smaller size is returned so that the caller keeps
    it for its next call.

    Parameters
    ----------
    model : torch.nn.Module
    xs : list of (C, H, W) float32
    device : torch.device
    views, tile
        As for :func:`predict`.
    batch_size : int
        Inputs per forward pass (at least 1).
    log : callable, optional
        Called with a one-line message when a batch is retried.
    precision : str
        As for :func:`predict`.

    Returns
    -------
    (list of (K, H, W) float32, int)
        The logits of every input, in order, and the batch size that
        worked.

    Raises
    ------
    DeviceError
        When even one input per pass does not fit in memory.
    """
    import warnings

    check_views(views)
    dtype = _dtype(model, precision, device)
    size = max(1, int(batch_size))
    say = log or (lambda msg: warnings.warn(msg, UserWarning, stacklevel=3))
    out: list = [None] * len(xs)
    groups: dict[tuple, list[int]] = {}
    for i, x in enumerate(xs):
        c, h, w = x.shape
        ph, pw = _padded((h, w))
        if ph > tile or pw > tile:
            out[i] = _drain(
                predict(
                    model,
                    x,
                    device=device,
                    tile=tile,
                    views=views,
                    precision=precision,
                )
            )
        else:
            groups.setdefault((c, ph, pw), []).append(i)
    pin = device.type == 'cuda'
    for (c, ph, pw), idx in groups.items():
        k = 0
        while k < len(idx):
            chunk = idx[k : k + size]
            xb = np.zeros((len(chunk), c, ph, pw), np.float32)
            for j, i in enumerate(chunk):
                _, h, w = xs[i].shape
                xb[j, :, :h, :w] = xs[i]
            xt = torch.from_numpy(xb)
            if pin:
                xt = xt.pin_memory()
            try:
                with torch.inference_mode():
                    res = _forward(model, xt, device, views, dtype)
            except (RuntimeError, MemoryError) as err:
                if not (isinstance(err, MemoryError) or is_out_of_memory(err)):
                    raise
                del xt, xb
                if device.type == 'cuda':
                    torch.cuda.empty_cache()
                if len(chunk) == 1:
                    raise DeviceError(
                        f'{device} ran out of memory for a single photo; '
                        'use a smaller tile or another device (--device '
                        'cpu)'
                    ) from err
                size = max(1, len(chunk) // 2)
                say(
                    f'out of memory with {len(chunk)} photos per pass on '
                    f'{device}; retrying with {size}'
                )
                continue
            for j, i in enumerate(chunk):
                _, h, w = xs[i].shape
                out[i] = res[j, :, :h, :w].numpy()
            k += len(chunk)
    return out, size


def _drain(gen):
    """Run a generator to its end; return its value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
