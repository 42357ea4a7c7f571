"""Two versions of ``measure`` timed side by side, interleaved.

Like ``bench_compare.py`` (which does this for ``segment``): each
version runs in its own worker process (its own ``src`` folder first on
``sys.path``), the jobs are handed to them in turn, alternating which
goes first, and the reference job of ``../shared/tools/cpu_reference.py``
is timed between rounds. Prints the median seconds of each job for each
version, their ratio to the reference job, and new/old.

Jobs, on the manual A/V maps with their photos of RITE test 01 (DRIVE
01, 565 x 584) and HRF-AV 01_h (3504 x 2336):

- ``measure``: ``measure(av, photo)``, nothing kept from an earlier
  measurement (as for a new photo in a batch);
- ``flip``: the Measure widget's update after a grader flips an artery
  to vein (``measure(..., corrections=...)``, the segment map, the
  segments' colours), a different zone-B artery each round, after the
  photo was measured once without corrections (as in the widget);
- ``exclude``: the same with a vein excluded, a different one each round.

Usage::

    git worktree add /tmp/old REV
    python benchmarks/bench_measure_compare.py /tmp/old/src src [--rounds 5]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_compare import compare_parser, side_by_side  # noqa: E402

WORKER = r"""
import json, os, sys, time
src = sys.argv[1]
sys.path.insert(0, src)
os.environ.setdefault('OMP_NUM_THREADS', sys.argv[2])
os.environ.setdefault('NUMBA_NUM_THREADS', sys.argv[2])
import napari_retina_vessels as nrv
assert nrv.__file__.startswith(src), nrv.__file__
from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import imread, read_av
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.measures import correcting, measure
from napari_retina_vessels._napari.widgets.corrections import (
    corrected_colours,
)
from napari_retina_vessels._napari.widgets.measure import segment_colours


def forget():
    if hasattr(correcting, 'forget_kept'):
        correcting.forget_kept()
    else:  # the version before it kept one of each
        correcting._REGIONS[:] = [None, None]
        correcting._LAST[:] = [None, None]


root = data_root()
cases = {
    'drive': ('RITE/test/images/01_test.tif', 'RITE/test/av/01_test.png'),
    'hrf': ('HRF-AV/training/images/01_h.jpg',
            'HRF-AV/training/av/01_h_AVmanual.png'),
}
data = {}
for key, (photo, av) in cases.items():
    photo, av = imread(root / photo), read_av(root / av)
    first = measure(av, photo)  # the disc; skan's numba code compiled
    seg = first.segments
    zone_b = seg[seg['in_crae_crve']]
    at = {
        label: [
            [int(seg.loc[i, 'y_mid']), int(seg.loc[i, 'x_mid'])]
            for i in zone_b[zone_b['label'] == label]
            .sort_values('zone_b_calibre_px', ascending=False)
            .index
        ]
        for label in ('artery', 'vein')
    }
    data[key] = (photo, av, first.disc, fov_mask(photo), at)


def update(key, corrections):
    photo, av, disc, fov, _ = data[key]
    m = measure(av, photo, artery_vein=av, disc=disc, fov=fov,
                corrections=corrections)
    m.segment_map()
    corrected_colours(m.segments, segment_colours(m.segments, 'class'))
    return m


print('ready', flush=True)
for line in sys.stdin:
    job = json.loads(line)
    key, what, r = job['photo'], job['what'], job['round']
    photo, av, disc, fov, at = data[key]
    if what == 'measure':
        forget()
        t = time.perf_counter()
        measure(av, photo)
    else:
        forget()
        update(key, None)  # the widget's first measurement of the photo
        label = 'artery' if what == 'flip' else 'vein'
        where = at[label][r % len(at[label])]
        new = 'vein' if what == 'flip' else 'exclude'
        corr = {'segments': [{'at': where, 'label': new}]}
        t = time.perf_counter()
        update(key, corr)
    print(json.dumps(time.perf_counter() - t), flush=True)
"""

JOBS = (
    ('drive', 'measure'),
    ('drive', 'flip'),
    ('drive', 'exclude'),
    ('hrf', 'measure'),
    ('hrf', 'flip'),
    ('hrf', 'exclude'),
)
PHOTOS = {'drive': 'DRIVE 565 x 584', 'hrf': 'HRF 3504 x 2336'}


def main() -> None:
    args = compare_parser(__doc__).parse_args()
    times, refs = side_by_side(
        WORKER,
        args,
        lambda r: [
            ((photo, what), {'photo': photo, 'what': what, 'round': r})
            for photo, what in JOBS
        ],
    )

    ref = statistics.median(refs) if refs else None
    print(
        f'{args.threads} threads; {args.rounds} rounds, old and new '
        'interleaved'
    )
    if ref is not None:
        print(
            f'reference job: {ref:.3f} s (median of the rounds; '
            f'{min(refs):.3f}-{max(refs):.3f} s)'
        )
    for photo, what in JOBS:
        old = statistics.median(times[('old', (photo, what))])
        new = statistics.median(times[('new', (photo, what))])
        line = f'{PHOTOS[photo]} {what:8s} old {old:.3f} s  new {new:.3f} s'
        if ref is not None:
            line += f'  ({old / ref:.2f}x -> {new / ref:.2f}x the reference)'
        print(f'{line}  new/old {new / old:.3f}')


if __name__ == '__main__':
    main()
