"""Does an "uncertain" class raise artery/vein accuracy on the rest?

Segments every photo of an A/V dataset once (default models, float32),
then for several margins m labels the detected vessel pixels whose
artery probability is within m of 0.5 as uncertain (label 3, what
``label_av(..., uncertain_margin=m)`` gives) and prints, pooled over the
photos and counting only pixels the ground truth labels artery or vein:

- accuracy on the pixels that stay artery or vein (intersection: the
  model found them as vessel and decided);
- coverage: the share of labelled pixels detected and decided;
- the share of detected pixels that became uncertain, and of those how
  many sit within 3 pixels of a labelled crossing or of the other class
  (where the two classes meet).

Usage: python scripts/av_uncertain.py [DATASET] [--margins 0,0.05,...]
       [--vote graph|segment|none]
       (DATASET default: $RETINA_VESSELS_DATA/RITE/test)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(os.environ.get('RETINA_VESSELS_DATA', '../shared/datasets'))
    ap.add_argument('dataset', nargs='?', default=str(root / 'RITE' / 'test'))
    ap.add_argument('--margins', default='0,0.05,0.1,0.15,0.2,0.3')
    ap.add_argument(
        '--vote',
        choices=('graph', 'segment', 'none'),
        default='graph',
        help='the A/V vote (default: graph, the pipeline default)',
    )
    args = ap.parse_args()

    import numpy as np
    from scipy import ndimage as ndi

    import napari_retina_vessels as nrv
    from napari_retina_vessels.io import read_av, read_mask
    from napari_retina_vessels.io.datasets import discover

    margins = [float(m) for m in args.margins.split(',')]
    tot = {m: np.zeros(5, np.int64) for m in margins}
    labelled_all = 0
    samples = [s for s in discover(args.dataset) if s.av is not None]
    for i, s in enumerate(samples):
        photo = nrv.imread(s.image)
        fov = read_mask(s.fov) if s.fov is not None else None
        seg = nrv.segment(
            photo,
            fov=fov,
            device='cpu',
            precision='fp32',
            consistency=args.vote,
        )
        truth = read_av(s.av)
        art, vein = truth == 1, truth == 2
        labelled = art | vein
        labelled_all += int(labelled.sum())
        # Where the classes meet: labelled crossings (3) and pixels of one
        # class next to the other.
        near = ndi.binary_dilation(
            (truth == 3)
            | (art & ndi.binary_dilation(vein))
            | (vein & ndi.binary_dilation(art)),
            iterations=3,
        )
        p = seg.artery_probability
        detected = seg.vessels
        for m in margins:
            unsure = detected & (np.abs(p - 0.5) < m)
            decided = detected & ~unsure
            call_art = decided & (p >= 0.5)
            ok = (call_art & art) | (decided & ~call_art & vein)
            tot[m] += [
                int((decided & labelled).sum()),
                int(ok.sum()),
                int((unsure & labelled).sum()),
                int(unsure.sum()),
                int((unsure & near).sum()),
            ]
        print(f'{i + 1}/{len(samples)} {s.name}', file=sys.stderr)
    print(f'{args.dataset}: {len(samples)} photos, {labelled_all} labelled')
    print(
        '| margin | accuracy on decided pixels | coverage | '
        'uncertain (of detected labelled) | of them where classes meet |'
    )
    print('|---|---|---|---|---|')
    for m in margins:
        dec, ok, unl, uns, unn = tot[m]
        det = dec + unl
        print(
            f'| {m:g} | {ok / dec:.4f} | {dec / labelled_all:.1%} | '
            f'{unl / max(det, 1):.1%} | {unn / max(uns, 1):.0%} |'
        )


if __name__ == '__main__':
    main()
