"""``retina-vessels train``: train or fine-tune a network."""

from __future__ import annotations

import sys
from typing import Any


def add_parser(sub: Any) -> None:
    """Add the ``train`` subcommand to *sub*."""
    from ..preprocessing import INPUT_MODES

    tr = sub.add_parser('train', help='train a network')
    tr.add_argument(
        'datasets',
        nargs='+',
        help='dataset folders, optionally PATH:SPLIT (split default: train)',
    )
    tr.add_argument(
        '--arch',
        default=None,
        help="architecture (default: wnet, or that of --init's weights)",
    )
    tr.add_argument(
        '--task',
        choices=['vessels', 'av'],
        default=None,
        help="default: the architecture's task",
    )
    tr.add_argument('--out', required=True, help='run folder')
    tr.add_argument(
        '--channels',
        default=None,
        help='comma-separated widths (wnet, seqnet-av)',
    )
    tr.add_argument(
        '--base',
        type=int,
        default=None,
        help='first-level width (unet, iternet, serr-unet)',
    )
    tr.add_argument(
        '--steps',
        type=int,
        default=None,
        help='optimiser steps (default 6000; with --minutes '
        'only a cap, default none)',
    )
    tr.add_argument(
        '--minutes',
        type=float,
        default=None,
        help='train for this many minutes of wall-clock: the '
        'learning-rate schedule follows the time spent',
    )
    tr.add_argument(
        '--amp', action='store_true', help='bf16 mixed precision (for a GPU)'
    )
    tr.add_argument(
        '--workers',
        type=int,
        default=0,
        help='worker processes making crops (for a GPU; '
        'default: the training process makes them)',
    )
    tr.add_argument(
        '--cache',
        default=None,
        help='folder of prepared photos: read when it holds a '
        'dataset, written otherwise (a run elsewhere then '
        'needs only this folder)',
    )
    tr.add_argument('--batch', type=int, default=8)
    tr.add_argument('--patch', type=int, default=256)
    tr.add_argument('--lr', type=float, default=5e-3)
    tr.add_argument('--val-every', type=int, default=250)
    tr.add_argument('--seed', type=int, default=0)
    tr.add_argument('--threads', type=int, default=0)
    tr.add_argument('--device', default='auto')
    tr.add_argument(
        '--vessel-model',
        default='default',
        help='vessel model feeding an A/V network',
    )
    tr.add_argument(
        '--init',
        default=None,
        help='fine-tune: start from these weights (registry '
        'name or .pt file) instead of random ones; their '
        'architecture and widths are used unless given',
    )
    tr.add_argument(
        '--loss',
        choices=['bce+dice', 'bce'],
        default='bce+dice',
        help='vessel loss (A/V always uses cross-entropy)',
    )
    tr.add_argument(
        '--input',
        choices=INPUT_MODES,
        default=None,
        help='input normalisation: global (per-channel '
        'standardisation inside the FOV) or local '
        '(smooth background removed first); default: '
        "that of --init's weights, else global",
    )
    tr.add_argument(
        '--augment',
        choices=['camera', 'colour'],
        default='camera',
        help='augmentation: camera (colour response, resolution, JPEG) '
        'or colour (camera plus yellow-green and grey casts, haze, low '
        'contrast, gamma, 8-bit noise; needs --input local)',
    )
    tr.add_argument(
        '--resume',
        action='store_true',
        help="continue from the run folder's checkpoint",
    )


def run(args: Any) -> int:
    """Train as *args* say; the exit status."""
    from pathlib import Path

    from ..io._outfolder import check_out
    from ..models import ARCHITECTURES
    from ..training.loop import TrainConfig, train

    # The run folder: one line, before any data is read, when it is a
    # file or cannot be written (the same guard as segment and measure).
    check_out(Path(args.out), summary=False)
    kwargs: dict = {}
    if args.channels:
        kwargs['channels'] = [int(c) for c in args.channels.split(',')]
    if args.base:
        kwargs['base'] = args.base
    if args.init and (args.input is None or not kwargs):
        # Fine-tuning: the network is the one the weights were made for
        # (naming its architecture without widths means the same one).
        from ..weights import describe

        spec = describe(args.init)
        if not kwargs and args.arch in (None, spec['arch']):
            args.arch, kwargs = spec['arch'], spec['arch_kwargs']
        args.input = args.input or spec['input']
    args.arch = args.arch or 'wnet'
    if args.arch not in ARCHITECTURES:
        from ..errors import WeightsError

        raise WeightsError(
            f'unknown architecture {args.arch!r}; choose one of '
            f'{", ".join(ARCHITECTURES)}'
        )
    cfg = TrainConfig(
        datasets=list(args.datasets),
        out=args.out,
        arch=args.arch,
        arch_kwargs=kwargs,
        task=args.task or ARCHITECTURES[args.arch][1],
        steps=args.steps or (10**9 if args.minutes else 6000),
        batch=args.batch,
        patch=args.patch,
        lr=args.lr,
        val_every=args.val_every,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        vessel_weights=args.vessel_model,
        init=args.init,
        loss=args.loss,
        input=args.input or 'global',
        minutes=args.minutes,
        amp=args.amp,
        workers=args.workers,
        cache=args.cache,
        augment=args.augment,
    )
    bar = _StepBar()
    try:
        best = train(
            cfg, resume=args.resume, log=bar.write, on_step=bar.update
        )
    finally:
        bar.close()
    print(f'best weights: {best}')
    return 0


class _StepBar:
    """A tqdm bar over training steps showing the running loss and the
    speed (steps/s); created at the first step so a resumed run starts
    the bar where it left off."""

    def __init__(self) -> None:
        self._bar = None

    def update(self, step: int, total: int, loss: float) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(
                total=total,
                initial=step - 1,
                desc='train',
                unit='step',
                file=sys.stderr,
                dynamic_ncols=True,
            )
        self._bar.set_postfix_str(f'loss {loss:.4f}', refresh=False)
        self._bar.update(step - self._bar.n)

    def write(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line)  # above the bar, not through it

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
