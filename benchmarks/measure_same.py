"""Do two versions of ``measure`` give the same numbers, bit for bit?

Runs each version in its own process (its own ``src`` folder first on
``sys.path``) on the manual A/V maps with their photos of RITE test 01-05
and 12 and HRF-AV 01_h and 04_g (plain; the widest zone-B artery flipped
to vein; that artery excluded and the longest segment flipped), and on
RITE 01 with a soft probability map (the manual vessels blurred), then
compares every ``measures.csv`` and ``segments.csv`` value (``seconds``
aside) and the corrections reports. Prints the differences and exits 1
when there are any. Run from the repository root::

    git worktree add /tmp/old REV
    python benchmarks/measure_same.py /tmp/old/src src
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

WORKER = r"""
import pickle, sys
src, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, src)
import numpy as np
from scipy import ndimage as ndi
import napari_retina_vessels as nrv
assert nrv.__file__.startswith(src), nrv.__file__
from napari_retina_vessels.io import imread, read_av
from napari_retina_vessels.io.datasets import data_root
from napari_retina_vessels.measures import measure

root = data_root()
cases = [
    (f'RITE {i:02d}', f'RITE/test/images/{i:02d}_test.tif',
     f'RITE/test/av/{i:02d}_test.png')
    for i in (1, 2, 3, 4, 5, 12)
] + [
    (f'HRF {n}', f'HRF-AV/training/images/{n}.jpg',
     f'HRF-AV/training/av/{n}_AVmanual.png')
    for n in ('01_h', '04_g')
]
res = {}


def keep(name, m):
    res[name] = (m.image.drop(columns=['seconds']), m.segments,
                 m.corrections)


def mid(seg, i):
    return [int(seg.loc[i, 'y_mid']), int(seg.loc[i, 'x_mid'])]


for name, photo, av in cases:
    photo, av = imread(root / photo), read_av(root / av)
    m = measure(av, photo, artery_vein=av)
    keep(name, m)
    seg = m.segments
    used = seg[(seg['label'] == 'artery') & seg['in_crae_crve']]
    if len(used):
        at = mid(seg, int(used['zone_b_calibre_px'].idxmax()))
        at2 = mid(seg, int(seg['length_px'].idxmax()))
        for what, corr in (
            ('flip', [{'at': at, 'label': 'vein'}]),
            ('exclude + flip', [{'at': at, 'label': 'exclude'},
                                {'at': at2, 'label': 'vein'}]),
        ):
            keep(f'{name} {what}', measure(
                av, photo, artery_vein=av, disc=m.disc,
                corrections={'segments': corr}))
    print(name, file=sys.stderr, flush=True)
photo = imread(root / 'RITE/test/images/01_test.tif')
av = read_av(root / 'RITE/test/av/01_test.png')
soft = ndi.gaussian_filter((av > 0).astype(float), 1.0)
keep('RITE 01 soft', measure(soft >= 0.5, photo, artery_vein=av,
                             probability=soft))
keep('RITE 01 soft, no A/V', measure(soft >= 0.5, photo,
                                     probability=soft))
with open(out, 'wb') as f:
    pickle.dump(res, f)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('old', help='src folder of one version')
    ap.add_argument('new', help='src folder of the other')
    args = ap.parse_args()
    import pandas as pd

    got = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in (('old', args.old), ('new', args.new)):
            out = Path(tmp) / f'{name}.pkl'
            src = str(Path(src).resolve())
            subprocess.run(
                [sys.executable, '-c', WORKER, src, str(out)], check=True
            )
            with open(out, 'rb') as f:
                got[name] = pickle.load(f)
    bad = 0
    for case, (img, seg, report) in got['old'].items():
        new = got['new'].get(case)
        if new is None:
            print(f'{case}: missing in the new version')
            bad += 1
            continue
        for what, a, b in (
            ('measures', img, new[0]),
            ('segments', seg, new[1]),
        ):
            try:
                pd.testing.assert_frame_equal(a, b, check_exact=True)
            except AssertionError as err:
                bad += 1
                print(f'{case} {what}: {str(err)[:400]}')
        if report != new[2]:
            bad += 1
            print(f'{case}: the corrections reports differ')
    print(f'{len(got["old"])} measurements compared: {bad} differ')
    return 1 if bad else 0


if __name__ == '__main__':
    raise SystemExit(main())
