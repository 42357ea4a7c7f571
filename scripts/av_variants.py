"""Artery/vein variants on the validation photos (and, after, the test).

The figures of the "Why: the errors are whole segments" paragraph of
docs/results.md. Each photo is segmented once with the default models
(float32, its FOV mask); the vessel map and vessel probability are kept
and only the A/V part is redone for each variant:

- ``default``: the A/V model (``--av-model``), 2 views, per-segment
  vote, as the pipeline ran it before the graph vote (which these
  variants were measured against; ``scripts/fit_av_graph.py`` compares
  the votes);
- ``blend A``: each pixel keeps a share A of its own artery probability
  beside its segment's vote;
- ``4 views``: 4 flip views of the A/V stage;
- ``step750 input``: the A/V stage fed the vessel probability of
  ``wnet-universal-step750``, the model its training input came from;
- ``soup v2+v3``: the weight average of seqnet-av-universal-v2 and -v3.

Prints intersection accuracy (labelled pixels detected and decided) and
coverage on the validation photos the A/V models were chosen on (RITE
39, 40 and HRF-AV 08_g, 08_h) and on RITE test.

Usage: python scripts/av_variants.py [--skip-test]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _weights(name: str) -> str:
    """The file of a downloadable model in the repository's weights/
    folder (no download needed), else the registry name."""
    path = ROOT / 'weights' / f'{name}.pt'
    return str(path) if path.is_file() else name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--skip-test', action='store_true')
    ap.add_argument(
        '--av-model',
        default=_weights('seqnet-av-universal-v3'),
        help='the A/V model of every variant but the soup (default: the '
        'one these variants were tried on)',
    )
    args = ap.parse_args()

    import numpy as np
    import torch

    import napari_retina_vessels as nrv
    from napari_retina_vessels.av import label_av, segment_consistency
    from napari_retina_vessels.inference import _drain, predict
    from napari_retina_vessels.io import read_av, read_mask
    from napari_retina_vessels.io.datasets import discover
    from napari_retina_vessels.pipeline import _canonical_input
    from napari_retina_vessels.preprocessing import as_rgb_float, resize
    from napari_retina_vessels.training.ensemble import average
    from napari_retina_vessels.weights import load_model, resolve

    root = Path(os.environ.get('RETINA_VESSELS_DATA', '../shared/datasets'))
    val = [
        s
        for s in discover(root / 'RITE' / 'training')
        if s.name.startswith(('39', '40'))
    ] + [
        s
        for s in discover(root / 'HRF-AV' / 'training')
        if s.name.startswith(('08_g', '08_h'))
    ]
    sets = {'validation': val}
    if not args.skip_test:
        sets['RITE test'] = discover(root / 'RITE' / 'test')

    dev = torch.device('cpu')
    av_net, info = load_model(
        resolve(args.av_model, 'av'), task='av', device=dev
    )
    soup_file = ROOT / 'runs' / 'soup-v2-v3.pt'
    soup_file.parent.mkdir(exist_ok=True)
    torch.save(
        average(
            [
                torch.load(f, map_location='cpu', weights_only=True)
                for f in (
                    resolve(_weights(n), 'av').local_path()
                    for n in (
                        'seqnet-av-universal-v2',
                        'seqnet-av-universal-v3',
                    )
                )
            ]
        ),
        soup_file,
    )
    soup, _ = load_model(resolve(str(soup_file), 'av'), task='av', device=dev)
    v750, i750 = load_model(
        resolve(
            str(ROOT / 'weights' / 'wnet-universal-step750.pt'), 'vessels'
        ),
        task='vessels',
        device=dev,
    )

    def av_prob(net, x, prob, views=2):
        logits = _drain(
            predict(
                net,
                np.concatenate([x, prob[None]]),
                device=dev,
                views=views,
                precision='fp32',
            )
        )
        diff = np.clip(logits[0] - logits[1], -30, 30)
        return (1 / (1 + np.exp(-diff))).astype(np.float32)

    variants = (
        'default',
        'blend 0.3',
        'blend 0.5',
        '4 views',
        'step750 input',
        'soup v2+v3',
    )
    for set_name, samples in sets.items():
        counts = {v: np.zeros(3, np.int64) for v in variants}
        for s in samples:
            img = nrv.imread(s.image)
            fov = read_mask(s.fov) if s.fov is not None else None
            seg = nrv.segment(
                img,
                fov=fov,
                device='cpu',
                precision='fp32',
                av_model=args.av_model,
            )
            canon = seg._canonical[0]
            prob = canon.probability
            rgb = as_rgb_float(img)
            _, _, x = _canonical_input(rgb, seg.fov, info['input'])
            _, fov_s, x750 = _canonical_input(rgb, seg.fov, i750['input'])
            p750 = _drain(
                predict(v750, x750, device=dev, views=2, precision='fp32')
            )
            p750 = (1 / (1 + np.exp(-p750[0]))).astype(np.float32) * fov_s
            vessels = prob >= seg.threshold
            raw = {
                'default': canon.artery,
                '4 views': av_prob(av_net, x, prob, views=4),
                'step750 input': av_prob(av_net, x, p750),
                'soup v2+v3': av_prob(soup, x, prob),
            }
            truth = read_av(s.av)
            art, vein = truth == 1, truth == 2
            for v in variants:
                own = 0.0
                p = raw.get(v, canon.artery)
                if v.startswith('blend'):
                    own = float(v.split()[1])
                voted = segment_consistency(vessels, p)
                p = own * p + (1 - own) * voted if own else voted
                p_full = np.clip(resize(p, truth.shape), 0, 1) * seg.fov
                labels = label_av(seg.vessels, p_full)
                decided = (art | vein) & ((labels == 1) | (labels == 2))
                right = (art & (labels == 1)) | (vein & (labels == 2))
                counts[v] += (
                    np.count_nonzero(right),
                    np.count_nonzero(decided),
                    np.count_nonzero(art | vein),
                )
            print(f'  {set_name}: {s.name}', flush=True)
        print(f'\n{set_name} ({len(samples)} photos)')
        print('| variant | intersection accuracy | coverage |')
        print('|---|---|---|')
        for v in variants:
            right, decided, labelled = counts[v]
            print(
                f'| {v} | {right / decided:.4f} | {decided / labelled:.1%} |'
            )


if __name__ == '__main__':
    main()
