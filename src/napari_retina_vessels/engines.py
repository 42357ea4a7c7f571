"""Inference engines: torch everywhere, OpenVINO on CPUs where installed.

The one run engine (``inference.predict`` and ``predict_many``: views,
tiles, batches, cancel points) takes either a torch network or an
:class:`OpenVinoNet` from :func:`load_net`; only the forward pass differs.

``engine='auto'`` is OpenVINO when the networks run on the CPU, the
``openvino`` package is installed and every network asked for has
converted files in the registry (``_registry.OPENVINO``, made by
``scripts/convert_openvino.py``); torch otherwise (CUDA, MPS, custom
``.pt`` weights, training). ``engine='openvino'`` forces it: a custom
``.pt`` file is then converted in memory (float32).

Arithmetic with OpenVINO follows ``precision``: ``fp32`` runs the float32
files in float32 (OpenVINO's own default on CPUs with AMX or AVX512-BF16
would be bfloat16: the hint is always set); ``bf16`` runs them in
bfloat16; ``auto`` runs the int8 file of each network that has one for
the run (an int8 file flagged ``with_av: False`` only without the A/V
stage: its map moved the A/V accuracy over the gate) and the others'
float32 files, every float layer in bfloat16 on CPUs that compute it natively
and float32 elsewhere, and is recorded as ``'int8'``. Inside napari's
process OpenVINO does not pin threads to cores; it uses as many threads
as torch. Which files are shipped, and their accuracy against torch:
``docs/weights.md``.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from typing import Any

import numpy as np

from . import _registry
from .errors import InvalidOptionError, WeightsError

__all__ = [
    'ENGINES',
    'OPENVINO_HINT',
    'OpenVinoNet',
    'check_engine',
    'cpu_config',
    'load_net',
    'openvino_available',
    'openvino_files',
    'resolve_engine',
]

#: The engine choices of the ``engine`` option.
ENGINES = ('auto', 'torch', 'openvino')

#: The one-line hint shown where OpenVINO would help (widget, CLI).
OPENVINO_HINT = (
    'tip: pip install "napari-retina-vessels[openvino]" makes CPU '
    'segmentation about 1.7x faster (int8 OpenVINO engine)'
)


def check_engine(engine: str) -> str:
    """*engine* checked against :data:`ENGINES`.

    Raises
    ------
    InvalidOptionError
    """
    from ._choices import one_of

    return one_of('engine', engine, ENGINES)


@lru_cache(maxsize=1)
def openvino_available() -> bool:
    """Whether the ``openvino`` package can be imported here."""
    return importlib.util.find_spec('openvino') is not None


def openvino_files(name: str) -> dict[str, dict]:
    """The converted files of registry model *name*, by kind (``fp32``,
    ``int8``); empty when there are none."""
    return dict(_registry.OPENVINO.get(name, {}))


def hint_wanted(device: Any = 'auto') -> bool:
    """Whether :data:`OPENVINO_HINT` would help: the networks run on the
    CPU and OpenVINO is not installed."""
    from .inference import choose_device

    try:
        dev = choose_device(device)
    except Exception:  # noqa: BLE001 - a bad device is reported elsewhere
        return False
    return dev.type == 'cpu' and not openvino_available()


def resolve_engine(
    engine: str, precision: str, device: Any, refs: dict
) -> tuple[str, str]:
    """``(engine, precision)`` resolved for networks *refs* (task ->
    ``weights.ModelRef``) on torch *device*.

    The precision is what the result records: ``'fp32'``, ``'bf16'``,
    ``'fp16'`` or, with OpenVINO's int8 files, ``'int8'``.

    Raises
    ------
    InvalidOptionError
        An unknown engine or precision; OpenVINO asked for off the CPU
        or with fp16.
    WeightsError
        OpenVINO asked for but not installed.
    """
    from .inference import check_precision, cpu_has_native_bf16
    from .inference import resolve_precision as torch_precision

    engine = check_engine(engine)
    precision = check_precision(precision)
    on_cpu = str(device).split(':')[0] == 'cpu'
    if engine == 'auto':
        engine = (
            'openvino'
            if on_cpu
            and openvino_available()
            and all(
                r.registered and openvino_files(r.name) for r in refs.values()
            )
            else 'torch'
        )
    if engine == 'torch':
        return engine, torch_precision(precision, device)
    if not on_cpu:
        raise InvalidOptionError(
            f'the openvino engine runs on the CPU, not on {device}; use '
            'device cpu or engine torch'
        )
    if not openvino_available():
        raise WeightsError(
            'the openvino engine is not installed; pip install '
            '"napari-retina-vessels[openvino]" or use engine torch'
        )
    if precision == 'fp16':
        raise InvalidOptionError(
            'the openvino engine computes in fp32, bf16 or int8 (precision '
            'auto), not fp16; use another precision or engine torch'
        )
    if precision == 'auto':
        if any(_int8(r, 'av' in refs) for r in refs.values()):
            return engine, 'int8'
        precision = 'bf16' if cpu_has_native_bf16() else 'fp32'
    return engine, precision


def _int8(ref, with_av: bool) -> bool:
    """Whether registry model *ref* has an int8 file for this run
    (an entry with ``with_av: False`` is not used when the A/V stage
    runs: it failed the A/V accuracy gate there, docs/weights.md)."""
    entry = openvino_files(ref.name).get('int8') if ref.registered else None
    return entry is not None and (entry.get('with_av', True) or not with_av)


def _read_packed(path: str, sha: str):
    """An OpenVINO model from a packed IR file (``.npz`` of the IR's XML
    text and weights bytes, read without pickles)."""
    import openvino as ov

    try:
        with np.load(path, allow_pickle=False) as z:
            xml = z['xml'].tobytes().decode('utf-8')
            weights = np.ascontiguousarray(z['bin'])
    except (OSError, KeyError, ValueError) as err:
        raise WeightsError(
            f'{path} is not a packed OpenVINO model ({type(err).__name__}); '
            'fetch it again'
        ) from err
    return ov.Core().read_model(model=xml, weights=ov.Tensor(weights))


def _convert(model, channels: int):
    """A torch network's last output converted to OpenVINO in memory."""
    import openvino as ov
    import torch

    class _Last(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)[-1]

    # Traced with gradients on: the networks' CPU fast path (buffers
    # written in place, models/_blocks.py) is for torch only; the plain
    # path gives the same values in operations OpenVINO knows.
    example = torch.zeros(1, channels, 64, 64)
    with torch.enable_grad():
        traced = torch.jit.trace(
            _Last(model).eval().float(), example, check_trace=False
        )
    return ov.convert_model(
        traced, example_input=example, input=[(-1, channels, -1, -1)]
    )


_COMPILED: dict[tuple, Any] = {}
_COMPILE_LOCK = threading.Lock()


def cpu_config(hint: str, threads: int) -> dict:
    """OpenVINO's CPU settings for arithmetic *hint* (``'f32'``,
    ``'bf16'``) on *threads* threads: one stream for the lowest latency,
    no pinning of threads to cores (napari's process shares them). The
    engine compiles with these, and so do the scripts that time or
    profile its files."""
    return {
        'INFERENCE_PRECISION_HINT': hint,
        'INFERENCE_NUM_THREADS': threads,
        'ENABLE_CPU_PINNING': False,
        'PERFORMANCE_HINT': 'LATENCY',
        'NUM_STREAMS': 1,
    }


def _compiled(key: tuple, hint: str, threads: int, make):
    """The model *make()* gives, compiled for the CPU once per *key*,
    arithmetic and thread count (the last 8 kept)."""
    import openvino as ov

    full = (key, hint, threads)
    with _COMPILE_LOCK:
        hit = _COMPILED.get(full)
    if hit is not None:
        return hit
    compiled = ov.Core().compile_model(
        make(), 'CPU', cpu_config(hint, threads)
    )
    with _COMPILE_LOCK:
        while len(_COMPILED) >= 8:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[full] = compiled
    return compiled


class OpenVinoNet:
    """A compiled OpenVINO network in place of a torch one for
    ``inference.predict``: :meth:`forward_views` gives the averaged
    logits of a batch's flip views (run as one batch)."""

    def __init__(self, compiled, precision: str):
        self.compiled = compiled
        self.precision = precision
        self._lock = threading.Lock()
        self._request = compiled.create_infer_request()

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The last output's logits of a (N, C, h, w) float32 batch."""
        with self._lock:  # one request; batches share it in turn
            self._request.infer({0: np.ascontiguousarray(x, np.float32)})
            return np.array(self._request.get_output_tensor(0).data)

    def forward_views(self, x, flips):
        """Logits of batch *x* (torch or NumPy) averaged over *flips*
        ((vertical, horizontal) pairs), as a torch tensor."""
        import torch

        x = np.asarray(x.numpy() if hasattr(x, 'numpy') else x)
        axes = [
            tuple(a for a, f in zip((2, 3), flip, strict=True) if f)
            for flip in flips
        ]
        stack = np.concatenate(
            [np.flip(x, ax) if ax else x for ax in axes], 0
        )
        out = self.logits(stack)
        n = x.shape[0]
        acc = None
        for i, ax in enumerate(axes):
            o = out[i * n : (i + 1) * n]
            o = np.flip(o, ax) if ax else o
            acc = o if acc is None else acc + o
        return torch.from_numpy(np.ascontiguousarray(acc / len(flips)))


def load_net(
    ref,
    *,
    task: str,
    device: Any,
    engine: str,
    precision: str,
    progressbar: Any = False,
    with_av: bool = False,
):
    """The network of *ref* for *engine* (resolved, see
    :func:`resolve_engine`) and its information, as
    ``weights.load_model`` gives them (plus ``engine``). *with_av*: the
    A/V stage runs too (some int8 files are not used then)."""
    from .weights import load_model

    net, info = load_model(
        ref, task=task, device=device, progressbar=progressbar
    )
    info = {**info, 'engine': engine}
    if engine != 'openvino':
        return net, info
    import torch

    from ._weight_files import openvino_path

    threads = max(1, torch.get_num_threads())
    kind = 'int8' if precision == 'int8' else 'fp32'
    hint = 'bf16' if precision == 'bf16' else 'f32'
    if precision == 'int8':
        from .inference import cpu_has_native_bf16

        hint = 'bf16' if cpu_has_native_bf16() else 'f32'
    files = openvino_files(ref.name) if ref.registered else {}
    if kind not in files or not _int8(ref, with_av):
        kind = 'fp32'  # a network without int8 file: its float32 one
    if kind in files:
        entry = files[kind]
        path = str(openvino_path(entry, progressbar=progressbar))
        key = (path, entry['sha256'])
        compiled = _compiled(
            key, hint, threads, lambda: _read_packed(path, entry['sha256'])
        )
    else:
        channels = next(
            m.in_channels
            for m in net.modules()
            if isinstance(m, torch.nn.Conv2d)
        )
        key = (info['path'], info['sha256'], channels)
        compiled = _compiled(
            key, hint, threads, lambda: _convert(net, channels)
        )
    return OpenVinoNet(compiled, precision), info
