"""What several subcommands share: model options and progress bars."""

from __future__ import annotations

import argparse
import sys


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add --model, --device, --precision, --views/--tta and
    --threshold to *p*: made from :mod:`..options`, each value checked
    by the option's own rule while parsing."""
    from ._options import add_arguments

    add_arguments(p)


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
    from ._options import add_arguments

    add_arguments(p, ('precision',))


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
