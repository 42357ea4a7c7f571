"""The training loop: checkpoints, resume, CSV log, validation."""

from __future__ import annotations

import csv
import functools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import TrainingConfigError
from ..io._writing import write_atomic
from ..io.datasets import Sample, discover
from ..models import ARCHITECTURES, build_model, count_parameters
from ..preprocessing import INPUT_MODES
from . import cache as C
from . import data as D
from .checks import check_network, saved_config
from .colour import AUGMENTS
from .feed import Feed
from .losses import av_loss, vessel_loss
from .plot import plot_curve as _plot

LOSSES = ('bce+dice', 'bce')


@dataclass
class TrainConfig:
    datasets: list[str]
    out: str
    arch: str = 'wnet'
    arch_kwargs: dict = field(default_factory=dict)
    task: str = 'vessels'
    steps: int = 6000
    batch: int = 8
    patch: int = 256
    lr: float = 5e-3
    weight_decay: float = 1e-5
    val_every: int = 250
    val_per_dataset: int = 2
    seed: int = 0
    threads: int = 0
    vessel_weights: str | None = None
    device: str = 'auto'
    #: Weights (registry name or file) to start from: fine-tuning.
    init: str | None = None
    #: Vessel loss: 'bce+dice' or 'bce' (A/V always uses cross-entropy).
    loss: str = 'bce+dice'
    #: Input normalisation (preprocessing.INPUT_MODES): 'global' or 'local'.
    input: str = 'global'
    #: Wall-clock budget of the training loop in minutes: the learning
    #: rate follows the time spent, and the run stops when the time is up
    #: (``steps`` is then only a cap).
    minutes: float | None = None
    #: bf16 mixed precision (autocast) for the forward passes.
    amp: bool = False
    #: Worker processes making crops (0: the training process makes them).
    workers: int = 0
    #: Folder of prepared photos (training.cache), read and written.
    cache: str | None = None
    #: Augmentation recipe (training.colour.AUGMENTS): 'camera' (that of
    #: earlier runs) or 'colour' (other cameras' casts, haze, contrast).
    augment: str = 'camera'


#: Settings of how a run is executed, not of what it learns: a resumed
#: run takes them from the command, not from its config.json.
RUNTIME = ('threads', 'device', 'workers', 'cache')


def prepare_datasets(cfg: TrainConfig, task: str, log=print):
    """Every photo of the run at the canonical scale, and the source
    folder of each; from ``cfg.cache`` where it holds a dataset."""
    rng = np.random.default_rng(cfg.seed)
    preps: list[D.Prepared] = []
    groups: list[str] = []
    for spec in cfg.datasets:
        entry = C.key(spec, task, cfg.vessel_weights)
        hit = (
            C.load(cfg.cache, entry, task=task, rng=rng) if cfg.cache else None
        )
        if hit is None:
            # "PATH" or "PATH:SPLIT" (default split: train).
            path, _, split = spec.partition(':')
            samples = discover(path, split=split or 'train')
            probs = (
                _vessel_probs(samples, cfg.vessel_weights)
                if task == 'av'
                else [None] * len(samples)
            )
            hit = (
                [
                    D.prepare(s, task=task, vessel_prob=p, rng=rng)
                    for s, p in zip(samples, probs)
                ],
                [str(s.image.parent) for s in samples],
            )
            if cfg.cache and hit[0]:
                C.save(cfg.cache, entry, *hit, task=task)
        else:
            log(f'{entry}: {len(hit[0])} prepared photos from the cache')
        preps += hit[0]
        groups += hit[1]
    return preps, groups


def _split_val(items: list, groups: list[str], per_dataset: int):
    """Hold out the last *per_dataset* items of each source folder."""
    by: dict[str, list] = {}
    for item, g in zip(items, groups):
        by.setdefault(g, []).append(item)
    train, val = [], []
    for g in by.values():
        k = min(per_dataset, max(0, len(g) - 1))
        train += g[: len(g) - k]
        val += g[len(g) - k :]
    return train, val


def _atomic_save(obj, path: Path) -> None:
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def _vessel_probs(samples: list[Sample], weights: str) -> list[np.ndarray]:
    from ..io import imread
    from ..pipeline import segment

    return [
        segment(imread(s.image), model=weights, av=False).probability
        for s in samples
    ]


def _lr(cfg: TrainConfig, step: int, seconds: float = 0.0) -> float:
    """Learning rate: linear warm-up, then cosine decay to 1e-5 over
    the steps, or over the minutes of a time-budgeted run."""
    if cfg.minutes:
        f = min(1.0, seconds / (60 * cfg.minutes))
        if f < 0.03:
            return cfg.lr * max(0.01, f / 0.03)
        t = (f - 0.03) / 0.97
        return 1e-5 + 0.5 * (cfg.lr - 1e-5) * (1 + math.cos(math.pi * t))
    warm = min(200, cfg.steps // 20)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = (step - warm) / max(1, cfg.steps - warm)
    return 1e-5 + 0.5 * (cfg.lr - 1e-5) * (1 + math.cos(math.pi * t))


@torch.inference_mode()
def _validate(
    model,
    val: list[D.Prepared],
    task: str,
    device,
    mode: str = 'global',
    amp: bool = False,
    inputs: dict | None = None,
) -> float:
    """Mean AUC (A/V accuracy) over the validation photos. *inputs*
    keeps their network inputs from one call to the next: the 'local'
    normalisation of a whole photo costs more CPU time than a GPU takes
    to segment it."""
    from ..metrics import roc_auc

    if not val:
        return float('nan')
    model.eval()
    scores = []
    inputs = {} if inputs is None else inputs
    for i, prep in enumerate(val):
        if i not in inputs:
            inputs[i] = D.standardised_input(prep, task, mode)[None]
        x = inputs[i].to(device).contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp):
            out = model(x)[-1].float().cpu()[0]
        fov = (prep.tensor[D.FOV] > 0.5).numpy()
        if task == 'vessels':
            truth = prep.tensor[D.VESSEL].numpy() > 0.5
            scores.append(
                roc_auc(truth, torch.sigmoid(out[0]).numpy(), mask=fov)
            )
        else:
            lab = (prep.tensor[D.LABELLED] > 0.5).numpy()
            y = (prep.tensor[D.VEIN] > prep.tensor[D.ARTERY]).numpy()
            pred = (out[1] > out[0]).numpy()
            scores.append(float((pred == y)[lab].mean()))
    model.train()
    return float(np.nanmean(scores))


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)


def _check(cfg: TrainConfig) -> str:
    """The run's task; TrainingConfigError for a run it cannot do."""
    if cfg.arch == 'ensemble':
        raise TrainingConfigError(
            'an ensemble is not trained: train its members, then combine '
            'them with scripts/make_ensemble.py'
        )
    task = ARCHITECTURES[cfg.arch][1]
    if task != cfg.task:
        raise TrainingConfigError(f'{cfg.arch} is a {task} architecture')
    if cfg.loss not in LOSSES:
        raise TrainingConfigError(
            f'unknown loss {cfg.loss!r}; choose from {", ".join(LOSSES)}'
        )
    if cfg.input not in INPUT_MODES:
        raise TrainingConfigError(
            f'unknown input normalisation '
            f'{cfg.input!r}; choose from '
            f'{", ".join(INPUT_MODES)}'
        )
    if cfg.augment not in AUGMENTS:
        raise TrainingConfigError(
            f'unknown augmentation {cfg.augment!r}; choose from '
            f'{", ".join(AUGMENTS)}'
        )
    if cfg.augment == 'colour' and cfg.input != 'local':
        raise TrainingConfigError(
            "the colour augmentation needs --input local (the 'global' "
            'input is standardised with whole-photo statistics that a '
            'crop-level cast would not match)'
        )
    check_network(cfg.arch, cfg.arch_kwargs)  # before any allocation
    return task


def train(
    cfg: TrainConfig, *, resume: bool = False, log=print, on_step=None
) -> Path:
    """Train a network; returns the path of the best weights file.

    *log* receives one line per event (data prepared, validation...);
    *on_step*, if given, is called after every optimiser step with
    ``(step, total_steps, mean_loss_since_last_validation)`` (the CLI
    draws its progress bar from it); ``total_steps`` is None for a run
    with ``minutes``, and on a GPU the mean is refreshed every 25 steps.
    """
    from ..inference import choose_device

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / 'checkpoint.pt'
    if resume and (out / 'config.json').exists():
        # The schedule and data come from the run being resumed.
        cfg = saved_config(out / 'config.json', cfg, RUNTIME)
    # Refuse a run it cannot do before any work or config.json is written.
    task = _check(cfg)
    ck = load_checkpoint(ckpt_path) if resume and ckpt_path.exists() else None
    (out / 'config.json').write_text(json.dumps(asdict(cfg), indent=2))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = choose_device(cfg.device)
    if device.type == 'cuda':
        # Crops have one size: let cuDNN pick its fastest convolutions.
        torch.backends.cudnn.benchmark = True

    t0 = time.perf_counter()
    prep_train, prep_val = _split_val(
        *prepare_datasets(cfg, task, log), cfg.val_per_dataset
    )
    log(f'{len(prep_train)} training and {len(prep_val)} validation photos')
    log(f'prepared data in {time.perf_counter() - t0:.1f}s')

    model = build_model(cfg.arch, **cfg.arch_kwargs)
    resuming = ck is not None
    if cfg.init and not resuming:  # a checkpoint overrides the start
        _load_init(model, cfg)
        log(f'initialised from {cfg.init}')
    model = model.to(device).to(memory_format=torch.channels_last)
    log(f'{cfg.arch}: {count_parameters(model)} parameters on {device}')
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    feed = Feed(
        prep_train,
        task=task,
        size=cfg.patch,
        seed=cfg.seed,
        input_mode=cfg.input,
        batch=cfg.batch,
        workers=cfg.workers,
        pin=device.type == 'cuda',
        augment=cfg.augment,
    )
    step, best, elapsed = 0, -1.0, 0.0
    if resuming:
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['optimizer'])
        feed.set_state(ck['sampler'])
        torch.set_rng_state(ck['torch_rng'])
        step, best, elapsed = ck['step'], ck['best'], ck['elapsed']
        log(f'resumed at step {step} (best {best:.4f})')
    loss_fn = (
        functools.partial(vessel_loss, dice=cfg.loss == 'bce+dice')
        if task == 'vessels'
        else av_loss
    )
    log_path = out / 'log.csv'
    new_log = not log_path.exists() or not resume
    # Kept open for the whole run; closed after the loop.
    logf = open(log_path, 'w' if new_log else 'a', newline='')  # noqa: SIM115
    writer = csv.writer(logf)
    if new_log:
        writer.writerow(['step', 'loss', 'val', 'lr', 'seconds'])
    model.train()
    # The loss is summed on the device and read every few steps: reading
    # it waits for the GPU, which would then idle while a batch is made.
    every = 1 if device.type == 'cpu' else 25
    run_sum, n_run, mean = torch.zeros((), device=device), 0, float('nan')
    budget = 60 * cfg.minutes if cfg.minutes else math.inf
    total = None if cfg.minutes else cfg.steps
    val_inputs: dict = {}
    feed.start(step)
    t_start = time.perf_counter() - elapsed
    while step < cfg.steps and time.perf_counter() - t_start < budget:
        lr = _lr(cfg, step, time.perf_counter() - t_start)
        for g in opt.param_groups:
            g['lr'] = lr
        x, tgt = next(feed)
        x = x.to(device, non_blocking=True).contiguous(
            memory_format=torch.channels_last
        )
        tgt = {k: v.to(device, non_blocking=True) for k, v in tgt.items()}
        with _autocast(device, cfg.amp):
            outs = model(x)
        loss = loss_fn([o.float() for o in outs], tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        run_sum += loss.detach()
        n_run += 1
        out_of_time = time.perf_counter() - t_start >= budget
        last = step == cfg.steps or out_of_time
        if step % every == 0 or last or step % cfg.val_every == 0:
            mean = float(run_sum) / n_run
        if on_step is not None:
            on_step(step, total, mean)
        if step % cfg.val_every == 0 or last:
            val = _validate(
                model, prep_val, task, device, cfg.input, cfg.amp, val_inputs
            )
            secs = time.perf_counter() - t_start
            writer.writerow(
                [step, f'{mean:.5f}', f'{val:.5f}', f'{lr:.6f}', f'{secs:.0f}']
            )
            logf.flush()
            log(
                f'step {step}/{total or "-"} loss {mean:.4f} '
                f'val {val:.4f} {secs:.0f}s'
            )
            run_sum.zero_()
            n_run = 0
            # Without validation photos the best weights are the last.
            if val > best or not prep_val:
                best = val
                export_weights(
                    model,
                    cfg,
                    out / 'best.pt',
                    extra={'step': step, 'val': val},
                )
            export_weights(
                model, cfg, out / 'last.pt', extra={'step': step, 'val': val}
            )
            _atomic_save(
                {
                    'model': model.state_dict(),
                    'optimizer': opt.state_dict(),
                    'sampler': feed.state(),
                    'torch_rng': torch.get_rng_state(),
                    'step': step,
                    'best': best,
                    'elapsed': secs,
                },
                ckpt_path,
            )
            _plot(log_path, out / 'curve.png')
    feed.close()
    logf.close()
    return out / 'best.pt'


def load_checkpoint(path: Path) -> dict:
    """Load a run folder's ``checkpoint.pt`` like a weights file.

    ``weights_only=True``: tensors and plain types only, so a crafted
    run folder cannot run code when a run is resumed.

    Raises
    ------
    TrainingConfigError
        When the file is not a checkpoint that ``train`` wrote.
    """
    keys = {
        'model',
        'optimizer',
        'sampler',
        'torch_rng',
        'step',
        'best',
        'elapsed',
    }
    from ..io._formats import torch_zip_problem

    problem = torch_zip_problem(path)
    if problem is not None:
        raise TrainingConfigError(
            f'{path} is not a checkpoint written by retina-vessels train: '
            f'{problem}; delete it or start a new run folder'
        )
    try:
        ck = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # unpickling raises many unrelated types
        raise TrainingConfigError(
            f'{path} is not a checkpoint written by retina-vessels train '
            f'({type(err).__name__}); delete it or start a new run folder'
        ) from err
    if not isinstance(ck, dict) or not keys <= set(ck):
        raise TrainingConfigError(
            f'{path} lacks the entries of a training checkpoint; delete it '
            'or start a new run folder'
        )
    return ck


def _load_init(model: torch.nn.Module, cfg: TrainConfig) -> None:
    """Copy the weights named by ``cfg.init`` (registry name or file)."""
    from ..weights import load_model

    src, info = load_model(cfg.init, task=cfg.task, fuse=False)
    if info['arch'] != cfg.arch:
        raise TrainingConfigError(
            f'cannot start from {cfg.init}: it is a {info["arch"]} network; '
            'give the --arch and widths it was trained with'
        )
    try:
        model.load_state_dict(src.state_dict())
    except RuntimeError as err:
        raise TrainingConfigError(
            f'cannot start from {cfg.init}: {str(err).splitlines()[0]}; '
            'give the --arch and widths it was trained with'
        ) from None


def export_weights(
    model, cfg: TrainConfig, path: Path, *, extra: dict | None = None
) -> None:
    """Save a weights file loadable with ``torch.load(weights_only=True)``."""
    state = {
        k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    _atomic_save(
        {
            'arch': cfg.arch,
            'arch_kwargs': cfg.arch_kwargs,
            'task': cfg.task,
            'input': cfg.input,
            'state_dict': state,
            'meta': {
                'datasets': list(cfg.datasets),
                'steps': cfg.steps,
                'batch': cfg.batch,
                'patch': cfg.patch,
                **({'minutes': cfg.minutes} if cfg.minutes else {}),
                **({'amp': 'bf16'} if cfg.amp else {}),
                **({'init': cfg.init} if cfg.init else {}),
                **(extra or {}),
            },
        },
        path,
    )
