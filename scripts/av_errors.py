"""Where the artery/vein errors are: whole segments or junctions?

Segments every photo of an A/V dataset once (default models, float32,
the dataset's FOV masks) and, on the labelled pixels the model detected
and decided (intersection accuracy), counts the errors

- near a branch point or crossing (the pixels ``av.segment_index`` leaves
  out of every segment: they keep their own probability in the vote),
  and inside segments;
- in segments that are mostly wrong (more than half of their labelled
  pixels) against scattered errors in segments that are mostly right.

If most errors sit in wholly wrong segments, a label near junctions
(a crossing class) or a per-pixel "uncertain" margin cannot remove them
cheaply; the segment's decision itself has to improve.

Usage: python scripts/av_errors.py [DATASET] [--av-model NAME_OR_FILE]
       [--vote graph|segment|none]
       (default: $RETINA_VESSELS_DATA/RITE/test)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(os.environ.get('RETINA_VESSELS_DATA', '../shared/datasets'))
    ap.add_argument('dataset', nargs='?', default=str(root / 'RITE' / 'test'))
    ap.add_argument('--av-model', default='default')
    ap.add_argument(
        '--vote',
        choices=('graph', 'segment', 'none'),
        default='graph',
        help='the A/V vote (default: graph, the pipeline default)',
    )
    args = ap.parse_args()

    import numpy as np

    import napari_retina_vessels as nrv
    from napari_retina_vessels.av import segment_index
    from napari_retina_vessels.io import read_av, read_mask
    from napari_retina_vessels.io.datasets import discover

    near = {'px': 0, 'err': 0}
    inside = {'px': 0, 'err': 0}
    segs_seen = segs_wrong = err_in_wrong = 0
    samples = [s for s in discover(args.dataset) if s.av is not None]
    for i, s in enumerate(samples):
        print(f'{i + 1}/{len(samples)} {s.name}', flush=True)
        fov = read_mask(s.fov) if s.fov is not None else None
        seg = nrv.segment(
            nrv.imread(s.image),
            fov=fov,
            device='cpu',
            precision='fp32',
            av_model=args.av_model,
            consistency=args.vote,
        )
        truth = read_av(s.av)
        labels = seg.artery_vein
        # The vote's segments, cut at the canonical scale as the pipeline
        # cuts them, brought to the photo's size.
        canon = seg._canonical[0]
        seg_of, n = segment_index(canon.probability >= seg.threshold)
        if seg_of.shape != truth.shape:  # nearest neighbour
            rows = np.arange(truth.shape[0]) * seg_of.shape[0]
            cols = np.arange(truth.shape[1]) * seg_of.shape[1]
            seg_of = seg_of[
                (rows // truth.shape[0])[:, None],
                (cols // truth.shape[1])[None, :],
            ]
        art, vein = truth == 1, truth == 2
        decided = (art | vein) & ((labels == 1) | (labels == 2))
        wrong = decided & (((labels == 1) & vein) | ((labels == 2) & art))
        junction = seg_of == 0
        for where, m in ((near, junction), (inside, ~junction)):
            where['px'] += int(np.count_nonzero(decided & m))
            where['err'] += int(np.count_nonzero(wrong & m))
        idx = seg_of[decided]
        bad = np.bincount(idx, weights=wrong[decided], minlength=n + 1)
        cnt = np.bincount(idx, minlength=n + 1)
        share = np.divide(bad, cnt, out=np.zeros(n + 1), where=cnt > 0)
        segs_seen += int(np.count_nonzero(cnt[1:]))
        mostly = share[1:] > 0.5
        segs_wrong += int(np.count_nonzero(mostly))
        err_in_wrong += int(bad[1:][mostly].sum())

    total_px = near['px'] + inside['px']
    total_err = near['err'] + inside['err']
    print(f'\n{args.dataset}: {len(samples)} photos')
    print(
        f'intersection accuracy {1 - total_err / total_px:.4f} '
        f'({total_err} errors on {total_px} decided labelled pixels)'
    )
    for name, where in (('near junctions', near), ('inside segments', inside)):
        print(
            f'{name:16s}: {where["px"]:7d} px, error rate '
            f'{where["err"] / max(where["px"], 1):.3f}, '
            f'{where["err"] / max(total_err, 1):.0%} of the errors'
        )
    print(
        f'segments mostly wrong: {segs_wrong} of {segs_seen}; they hold '
        f'{err_in_wrong / max(inside["err"], 1):.0%} of the errors inside '
        'segments'
    )


if __name__ == '__main__':
    main()
