"""Train the big vessel models on a lent GPU in a few minutes, then score
them on the test splits. Driven by ``scripts/gpu_train.sh``.

Two steps, on two machines:

``pack`` (a machine with the public datasets, no GPU needed) prepares the
training splits at the canonical scale into a cache (8-bit PNG channels,
``training.cache``), copies the test splits losslessly into a generic
``images/ vessels/ masks/`` layout, and downloads the wheels of the
packages a bare GPU image may lack. The pack folder (``.gpu_data``, git
ignored, ~45 MB) travels with the checkout.

``run`` (the GPU machine) trains the jobs in order of value, each under a
wall-clock budget carved out of ``--minutes``, with bf16 autocast, large
batches and crop-making worker processes; it then evaluates every
model's best weights on the packed test splits and writes, under
``--out``, at most 8 files: one weights file per job, ``summary.json``
and ``logs.tar.gz`` (configs, CSV logs, curves, evaluation reports). A
rerun in the same place resumes the runs under ``--runs``.

``run --smoke`` is the CPU proof of the same path: tiny networks, tiny
crops, seconds per job.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

#: Training jobs, most valuable first. ``data`` are dataset folder names
#: with their split; ``share`` is a job's part of the training time.
JOBS = [
    {
        'name': 'wnet-wide',
        'arch': 'wnet',
        'arch_kwargs': {'channels': [16, 32, 64, 128]},
        'input': 'local',
        'data': [
            'DRIVE:train',
            'CHASE_DB1:train',
            'STARE:train',
            'HRF-AV:train',
        ],
        'batch': 32,
        'patch': 256,
        'lr': 5e-3,
        'share': 0.46,
    },
    {
        'name': 'iternet',
        'arch': 'iternet',
        'arch_kwargs': {'base': 32},
        'input': 'global',
        'data': ['DRIVE:train'],
        'batch': 32,
        'patch': 256,
        'lr': 3e-3,
        'share': 0.24,
    },
    {
        'name': 'unet',
        'arch': 'unet',
        'arch_kwargs': {'base': 32},
        'input': 'global',
        'data': ['DRIVE:train'],
        'batch': 32,
        'patch': 256,
        'lr': 3e-3,
        'share': 0.12,
    },
    {
        'name': 'serr-unet',
        'arch': 'serr-unet',
        'arch_kwargs': {'base': 32},
        'input': 'global',
        'data': ['DRIVE:train'],
        'batch': 32,
        'patch': 256,
        'lr': 3e-3,
        'share': 0.18,
    },
]

#: Test splits every model is scored on (no test photo is trained on).
TESTS = ['DRIVE:test', 'CHASE_DB1:test', 'STARE:test']

#: Packages a bare GPU image may lack (pure Python wheels).
WHEELS = ['pooch', 'platformdirs']

#: Seconds kept back per job still to run (data loading, scoring) and at
#: the end (archive, margin), in GPU runs.
RESERVE_PER_JOB, RESERVE_END = 25.0, 20.0


def _smoke(job: dict) -> dict:
    """The job shrunk to seconds on a CPU: same code path."""
    small = {
        'wnet': {'channels': [4, 8]},
        'unet': {'base': 4},
        'iternet': {'base': 4, 'iterations': 1},
        'serr-unet': {'base': 4},
    }
    return {**job, 'arch_kwargs': small[job['arch']], 'batch': 2, 'patch': 48}


# ---------------------------------------------------------------- pack


def _pack_tests(data: Path, pack: Path, log) -> list[str]:
    """Copy the test splits into PACK/test/NAME in the generic layout."""
    from napari_retina_vessels.io import imread, imwrite, read_mask
    from napari_retina_vessels.io.datasets import discover

    done = []
    for spec in TESTS:
        name, _, split = spec.partition(':')
        if not (data / name).is_dir():
            log(f'skipped {spec}: no {data / name}')
            continue
        dest = pack / 'test' / name
        for s in discover(data / name, split=split):
            if s.image.suffix.lower() in ('.jpg', '.jpeg'):
                # A byte copy decodes to the same pixels.
                (dest / 'images').mkdir(parents=True, exist_ok=True)
                shutil.copyfile(
                    s.image,
                    dest / 'images' / (s.name + s.image.suffix.lower()),
                )
            else:
                imwrite(dest / 'images' / f'{s.name}.png', imread(s.image))
            if s.vessels:
                imwrite(
                    dest / 'vessels' / f'{s.name}.png', read_mask(s.vessels)
                )
            if s.fov:
                imwrite(dest / 'masks' / f'{s.name}.png', read_mask(s.fov))
        done.append(name)
        log(f'packed {spec}')
    return done


def pack(args, log=print) -> int:
    from napari_retina_vessels.training.loop import (
        TrainConfig,
        prepare_datasets,
    )

    data, pack_dir = Path(args.data), Path(args.pack)
    if pack_dir.exists():
        shutil.rmtree(pack_dir)  # a pack never mixes two versions
    pack_dir.mkdir(parents=True)
    specs = sorted({d for j in JOBS for d in j['data']})
    train = []
    for spec in specs:
        name = spec.partition(':')[0]
        if not (data / name).is_dir():
            log(f'skipped {spec}: no {data / name}')
            continue
        cfg = TrainConfig(
            datasets=[f'{data / name}:{spec.partition(":")[2]}'],
            out='',
            cache=str(pack_dir / 'cache'),
        )
        n = len(prepare_datasets(cfg, 'vessels', log)[0])
        train.append(spec)
        log(f'packed {spec}: {n} photos')
    tests = _pack_tests(data, pack_dir, log) if not args.no_tests else []
    wheels = [] if args.no_wheels else _wheels(pack_dir / 'wheels', log)
    size = sum(f.stat().st_size for f in pack_dir.rglob('*') if f.is_file())
    manifest = {'train': train, 'test': tests, 'wheels': wheels, 'bytes': size}
    (pack_dir / 'manifest.json').write_text(json.dumps(manifest, indent=1))
    log(
        f'{pack_dir}: {size / 2**20:.1f} MiB (the device takes a 64 MiB '
        'working tree, checkout included)'
    )
    return 0


def _wheels(dest: Path, log) -> list[str]:
    """Download wheels of WHEELS for the GPU image; [] where offline."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for name in WHEELS:
        try:
            pins.append(f'{name}=={version(name)}')
        except PackageNotFoundError:
            pins.append(name)
    cmd = [
        sys.executable,
        '-m',
        'pip',
        'download',
        '-q',
        '--no-deps',
        '--only-binary=:all:',
        '-d',
        str(dest),
        *pins,
    ]
    try:
        subprocess.run(cmd, check=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as err:
        log(
            f'no wheels downloaded ({err}); the GPU image must have '
            f'{", ".join(WHEELS)}'
        )
        return []
    return sorted(p.name for p in dest.glob('*.whl'))


# ----------------------------------------------------------------- run


def _device(name: str) -> str:
    import torch

    if name != 'auto':
        return name
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def _workers(args, job: dict, gpu: bool, log) -> int:
    """Crop workers: the cores but two on a GPU, as many as shared
    memory holds (each keeps 4 batches in flight)."""
    if args.workers is not None:
        return args.workers
    if not gpu:
        return 0
    n = max(1, (os.cpu_count() or 2) - 2)
    try:
        free = shutil.disk_usage('/dev/shm').free
    except OSError:
        return n
    batch_bytes = job['batch'] * 5 * job['patch'] ** 2 * 4
    fit = int(free // (2 * 4 * batch_bytes))
    if fit < n:
        log(
            f'/dev/shm has {free / 2**30:.1f} GiB free: {max(1, fit)} '
            f'crop workers instead of {n}'
        )
    return max(1, min(n, fit))


def _evaluate(
    weights: Path,
    tests: list[str],
    pack_dir: Path,
    device: str,
    run: Path,
    log,
) -> dict:
    """Score *weights* on every packed test split via the CLI."""
    from napari_retina_vessels.cli import main

    scores = {}
    for name in tests:
        report = run / f'eval-{name}.json'
        t0 = time.perf_counter()
        rc = main(
            [
                'evaluate',
                str(pack_dir / 'test' / name),
                '--model',
                str(weights),
                '--device',
                device,
                '--json',
                str(report),
            ]
        )
        if rc != 0 or not report.is_file():
            scores[name] = {'error': f'evaluate exited with {rc}'}
            continue
        pooled = json.loads(report.read_text()).get('pooled') or {}
        scores[name] = {
            k: pooled[k]
            for k in ('auc', 'f1', 'acc', 'se', 'sp', 'mcc', 'cldice')
            if k in pooled
        }
        scores[name]['seconds'] = round(time.perf_counter() - t0, 1)
        log(
            f'{weights.stem} on {name}: '
            + ', '.join(
                f'{k} {v:.4f}'
                for k, v in scores[name].items()
                if k != 'seconds'
            )
        )
    return scores


def _train_job(
    job: dict, minutes: float, args, manifest: dict, device: str, log
) -> Path | None:
    from napari_retina_vessels.training.loop import TrainConfig, train

    data = [d for d in job['data'] if d in manifest['train']]
    if not data:
        log(f'{job["name"]}: none of its datasets is packed; skipped')
        return None
    gpu = device.startswith('cuda')
    cfg = TrainConfig(
        datasets=data,
        out=str(Path(args.runs) / job['name']),
        arch=job['arch'],
        arch_kwargs=job['arch_kwargs'],
        input=job['input'],
        batch=job['batch'],
        patch=job['patch'],
        lr=job['lr'],
        steps=args.max_steps or 10**9,
        minutes=minutes,
        val_every=2 if args.smoke else args.val_every,
        val_per_dataset=1 if args.smoke else 2,
        seed=args.seed,
        device=device,
        amp=gpu or args.smoke,
        workers=_workers(args, job, gpu, log),
        cache=str(Path(args.pack) / 'cache'),
        threads=0 if gpu else args.threads,
    )
    log(
        f'{job["name"]}: {minutes:.2f} min on {device}, {data}, '
        f'{cfg.workers} crop workers, batch {cfg.batch} x {cfg.patch} px'
    )
    return train(cfg, resume=True, log=lambda s: log(f'  {s}'))


def run(args, log=print) -> int:
    import torch

    t_begin = time.perf_counter()
    deadline = t_begin + 60 * args.minutes
    pack_dir, out, runs = Path(args.pack), Path(args.out), Path(args.runs)
    manifest = json.loads((pack_dir / 'manifest.json').read_text())
    out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    device = _device(args.device)
    log(
        f'torch {torch.__version__} on {device}'
        + (
            f' ({torch.cuda.get_device_name()})'
            if device.startswith('cuda')
            else ''
        )
    )
    jobs = [j for j in JOBS if not args.jobs or j['name'] in args.jobs]
    if args.smoke:
        jobs = [_smoke(j) for j in jobs]
    reserve_job = 2.0 if args.smoke else RESERVE_PER_JOB
    reserve_end = 2.0 if args.smoke else RESERVE_END
    summary = {
        'device': device,
        'torch': torch.__version__,
        'minutes': args.minutes,
        'jobs': {},
    }
    for i, job in enumerate(jobs):
        left = jobs[i:]
        free = (
            deadline
            - time.perf_counter()
            - reserve_end
            - reserve_job * len(left)
        )
        minutes = free * job['share'] / sum(j['share'] for j in left) / 60
        if args.smoke:
            minutes = max(minutes, 0.01)  # always a step or two
        elif minutes < 0.5:
            log(f'{job["name"]}: no time left; skipped')
            continue
        t0 = time.perf_counter()
        try:
            best = _train_job(job, minutes, args, manifest, device, log)
        # One failed job must not cost the others.
        except Exception:  # noqa: BLE001 - logged with its traceback
            import traceback

            log(f'{job["name"]} failed:\n{traceback.format_exc()}')
            summary['jobs'][job['name']] = {
                'error': 'training failed: see gpu_train.log'
            }
            continue
        if best is None or not best.is_file():
            continue
        dest = out / f'{job["name"]}.pt'
        shutil.copyfile(best, dest)
        meta = torch.load(best, weights_only=True)['meta']
        entry = {
            'arch': job['arch'],
            'arch_kwargs': job['arch_kwargs'],
            'input': job['input'],
            'data': job['data'],
            'best_step': meta.get('step'),
            'val_auc': meta.get('val'),
            **_speed(runs / job['name'], job['batch']),
            'job_seconds': round(time.perf_counter() - t0, 1),
            'weights': dest.name,
            'bytes': dest.stat().st_size,
        }
        if dest.stat().st_size > 16 * 2**20:
            log(
                f'{dest.name} is over 16 MiB: it will not come back '
                'from the device'
            )
        tests = [
            t for t in manifest['test'] if not args.tests or t in args.tests
        ]
        entry['test'] = _evaluate(
            dest, tests, pack_dir, device, runs / job['name'], log
        )
        summary['jobs'][job['name']] = entry
        _write_summary(summary, out, runs)
    summary['seconds'] = round(time.perf_counter() - t_begin, 1)
    _write_summary(summary, out, runs)
    log(f'done in {summary["seconds"]:.0f} s: {out}')
    failed = [n for n, j in summary['jobs'].items() if 'error' in j]
    if failed:
        log(f'failed: {", ".join(failed)}')
    return 0 if summary['jobs'] and not failed else 1


def _speed(run: Path, batch: int) -> dict:
    """Steps, seconds and crops per second from a run's last log row."""
    import csv

    with open(run / 'log.csv', newline='') as fh:
        rows = list(csv.DictReader(fh))
    steps, secs = int(rows[-1]['step']), float(rows[-1]['seconds'])
    return {
        'steps': steps,
        'train_seconds': secs,
        'crops_per_second': round(steps * batch / max(secs, 1), 3),
    }


def _write_summary(summary: dict, out: Path, runs: Path) -> None:
    """summary.json and logs.tar.gz (what comes back besides weights)."""
    (out / 'summary.json').write_text(json.dumps(summary, indent=1))
    keep = ('config.json', 'log.csv', 'curve.png')
    with tarfile.open(out / 'logs.tar.gz', 'w:gz') as tar:
        for name in summary['jobs']:
            if not (runs / name).is_dir():
                continue
            for f in sorted((runs / name).iterdir()):
                if f.name in keep or f.name.startswith('eval-'):
                    tar.add(f, arcname=f'{name}/{f.name}')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    pk = sub.add_parser('pack', help='prepare the data pack (no GPU)')
    pk.add_argument(
        '--data',
        default=os.environ.get('RETINA_VESSELS_DATA', '../shared/datasets'),
    )
    pk.add_argument('--pack', default='.gpu_data')
    pk.add_argument('--no-tests', action='store_true')
    pk.add_argument('--no-wheels', action='store_true')
    r = sub.add_parser('run', help='train and evaluate (the GPU machine)')
    r.add_argument('--pack', default='.gpu_data')
    r.add_argument('--out', default=os.environ.get('OUT', 'runs/gpu-out'))
    r.add_argument('--runs', default='runs/gpu')
    r.add_argument(
        '--minutes',
        type=float,
        default=8.0,
        help='wall-clock for the whole run, scoring included',
    )
    r.add_argument(
        '--jobs',
        nargs='*',
        default=None,
        help=f'subset of {", ".join(j["name"] for j in JOBS)}',
    )
    r.add_argument(
        '--tests',
        nargs='*',
        default=None,
        help='subset of the packed test splits to score',
    )
    r.add_argument('--device', default='auto')
    r.add_argument(
        '--workers',
        type=int,
        default=None,
        help='crop workers (default: cores - 2 on a GPU, else 0)',
    )
    r.add_argument('--threads', type=int, default=2)
    r.add_argument('--val-every', type=int, default=200)
    r.add_argument('--max-steps', type=int, default=None)
    r.add_argument('--seed', type=int, default=0)
    r.add_argument(
        '--smoke',
        action='store_true',
        help='tiny networks and crops: the CPU proof of the path',
    )
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()

    def log(line: str) -> None:  # seconds since start: where time goes
        print(f'[{time.perf_counter() - t0:6.1f}s] {line}', flush=True)

    return (pack if args.command == 'pack' else run)(args, log)


if __name__ == '__main__':
    sys.exit(main())
