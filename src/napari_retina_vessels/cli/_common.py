"""What several subcommands share: model options and progress bars."""

from __future__ import annotations

import argparse
import sys


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add --model, --device, --precision, --views/--tta and
    --threshold to *p*."""
    p.add_argument(
        '--model',
        default='default',
        help='registry name or weights file (default: %(default)s)',
    )
    p.add_argument(
        '--device',
        default='auto',
        help='auto, cpu, cuda, cuda:N or mps (default: auto)',
    )
    add_precision_option(p)
    add_engine_option(p)  # [#33 engine]
    p.add_argument(
        '--views',
        type=int,
        choices=[1, 2, 4],
        default=None,
        help='flip views both stages average: 1 is fastest, 2 '
        'the photo and its mirror image (default), 4 adds '
        'the up-down mirrors (2x slower, slightly better)',
    )
    p.add_argument(
        '--tta',
        dest='views',
        action='store_const',
        const=4,
        help='the same as --views 4',
    )
    p.add_argument(
        '--threshold',
        type=float,
        default=None,
        help="vessel probability cut-off (default: the model's)",
    )


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """Add --workers and --scheduler (Dask) to *p*."""
    p.add_argument(
        '--workers',
        type=int,
        default=0,
        help='run on a local Dask cluster with N workers',
    )
    p.add_argument(
        '--scheduler',
        default=None,
        help='address of an existing Dask scheduler',
    )


def add_precision_option(p: argparse.ArgumentParser) -> None:
    """Add --precision (the networks' arithmetic) to *p*."""
    p.add_argument(
        '--precision',
        choices=['auto', 'fp32', 'bf16', 'fp16'],
        default='auto',
        help='arithmetic of the networks: auto (default) is bf16 on '
        'CUDA and on CPUs that compute it natively (1.7x faster there, '
        'same accuracy figures), fp32 elsewhere; fp32 forces float32',
    )


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """Add --engine (torch or OpenVINO, ``engines.py``) to *p*."""
    from ..engines import ENGINES

    p.add_argument(
        '--engine',
        choices=list(ENGINES),
        default='auto',
        help='inference engine: auto (default) is OpenVINO on the CPU '
        'when installed (int8 under --precision auto), torch elsewhere',
    )


def engine_hint(device: str = 'auto') -> None:
    """Print the one-line OpenVINO hint to stderr where it would help
    (the networks run on the CPU and OpenVINO is not installed)."""
    from ..engines import OPENVINO_HINT, hint_wanted

    if hint_wanted(device):
        print(OPENVINO_HINT, file=sys.stderr)


def tqdm_progress(stages: set[str] | None = None):
    """A Progress callback drawing one tqdm bar per stage.

    With *stages*, only those stages get a bar (the per-image model
    stages would otherwise open a bar per photo).
    """
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(rec) -> None:
        if stages is not None and rec.stage not in stages:
            return
        bar = bars.get(rec.stage)
        if bar is None:
            bar = bars[rec.stage] = tqdm(
                total=rec.total, desc=rec.stage, leave=False, file=sys.stderr
            )
        bar.total = rec.total
        bar.n = rec.done
        bar.refresh()

    return update
