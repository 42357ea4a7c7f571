"""Two versions of the package timed side by side, interleaved.

On a shared machine whose load changes from minute to minute, the ratio
of two runs made at different times says little. This runs both
versions in one session: each in its own worker process (its own
``src`` folder first on ``sys.path``), the photos handed to them in
turn, alternating which goes first, with the reference job of
``../shared/tools/cpu_reference.py`` timed between rounds. It prints the
median seconds per photo of each version, their ratio to the reference
job, and new/old.

Jobs: DRIVE test photos 1-5 (vessels only; vessels + A/V) and the first
HRF-AV photo (3504 x 2336, vessels + A/V), default settings.

Usage:
    git worktree add /tmp/old REV
    python benchmarks/bench_compare.py /tmp/old/src src [--threads 2]
        [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import REFERENCE, _reference  # noqa: E402

WORKER = r"""
import json, sys, time
src = sys.argv[1]
sys.path.insert(0, src)
import torch
torch.set_num_threads(int(sys.argv[2]))
import napari_retina_vessels as nrv
assert nrv.__file__.startswith(src), nrv.__file__
from napari_retina_vessels._allocator import tune_allocator
tune_allocator()  # as the retina-vessels command does
from napari_retina_vessels.io.datasets import data_root, discover
root = data_root()
drive = [nrv.imread(s.image) for s in discover(root / 'DRIVE' / 'test')[:5]]
hrf = nrv.imread(discover(root / 'HRF-AV' / 'training')[0].image)
nrv.segment(drive[0], av=True, device='cpu')  # load, warm up
nrv.segment(hrf, av=True, device='cpu')
print('ready', flush=True)
for line in sys.stdin:
    job = json.loads(line)
    img = hrf if job['what'] == 'hrf' else drive[job['i']]
    t = time.perf_counter()
    nrv.segment(img, av=job['av'], device='cpu')
    print(json.dumps(time.perf_counter() - t), flush=True)
"""

JOBS = (('drive', False, 5), ('drive', True, 5), ('hrf', True, 1))
NAMES = {
    ('drive', False): 'DRIVE photo, vessels',
    ('drive', True): 'DRIVE photo, vessels + A/V',
    ('hrf', True): '3504 x 2336 photo, vessels + A/V',
}


def compare_parser(doc: str) -> argparse.ArgumentParser:
    """The command line of a side-by-side comparison of two versions."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument('old', help='src folder of the old version')
    ap.add_argument('new', help='src folder of the new version')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--reference', default=str(REFERENCE))
    return ap


def side_by_side(worker: str, args, jobs_of_round) -> tuple[dict, list]:
    """Run *worker* (a script reading one JSON job per line, answering
    one JSON number) once with each of ``args.old`` and ``args.new`` first
    on ``sys.path``; hand it the jobs of each round (``jobs_of_round(r)``:
    ``(key, job)`` pairs), alternating which version goes first, with the
    reference job after each round. Returns ``{(version, key): [seconds,
    ...]}`` and the reference job's seconds."""
    versions = {}
    for name, src in (('old', args.old), ('new', args.new)):
        src = str(Path(src).resolve())
        proc = subprocess.Popen(
            [sys.executable, '-c', worker, src, str(args.threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if proc.stdout.readline().strip() != 'ready':
            sys.exit(f'the {name} version ({src}) did not start')
        versions[name] = proc

    def ask(name: str, job: dict) -> float:
        proc = versions[name]
        proc.stdin.write(json.dumps(job) + '\n')
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    reference = _reference(args.reference)
    times: dict = {}
    refs = []
    for r in range(args.rounds):
        order = ('old', 'new') if r % 2 == 0 else ('new', 'old')
        for key, job in jobs_of_round(r):
            for name in order:
                times.setdefault((name, key), []).append(ask(name, job))
        if reference is not None:
            refs.append(reference(args.threads, 5))
    for proc in versions.values():
        proc.stdin.close()
        proc.wait()
    return times, refs


def main() -> None:
    args = compare_parser(__doc__).parse_args()
    times, refs = side_by_side(
        WORKER,
        args,
        lambda r: [
            ((what, av), {'what': what, 'i': i, 'av': av})
            for what, av, n in JOBS
            for i in range(n)
        ],
    )

    ref = statistics.median(refs) if refs else None
    print(
        f'torch threads: {args.threads}; {args.rounds} rounds, old and new '
        'interleaved'
    )
    if ref is not None:
        print(f'reference job: {ref:.3f} s (median of the rounds)')
    for what, av, _ in JOBS:
        old = statistics.median(times[('old', (what, av))])
        new = statistics.median(times[('new', (what, av))])
        line = f'{NAMES[(what, av)]:34s} old {old:.3f} s  new {new:.3f} s'
        if ref is not None:
            line += f'  ({old / ref:.2f}x -> {new / ref:.2f}x the reference)'
        print(f'{line}  new/old {new / old:.3f}')


if __name__ == '__main__':
    main()
