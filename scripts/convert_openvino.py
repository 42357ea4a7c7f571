"""Convert the default networks to OpenVINO: float32 and int8 files.

Usage::

    PYTHONPATH=src RETINA_VESSELS_DATA=../shared/datasets \\
        python scripts/convert_openvino.py \\
        --out src/napari_retina_vessels/_weights [--nets vessels,av]

For each default network (W-Net vessels, SeqNet A/V) it writes
``<name>.fp32.ovz`` (the float32 network, weights NOT compressed to
float16: that moves logits by 0.24) and ``<name>.int8.ovz``, quantised
with NNCF's accuracy-controlled post-training quantisation, calibrated and
validated on TRAINING photos only:

- vessels: the first ``--photos`` DRIVE training photos; metric the vessel
  AUC inside the FOV; layers go back to float32 until the drop is below
  ``--max-drop`` (the first int8 W-Net; the shipped one, whose map must
  also keep the A/V stage's decisions, is made by
  ``scripts/wnet_chain_int8.py``);
- A/V: RITE training and HRF-AV training (``--av-cameras``), without the
  photos held out of every A/V network's training (RITE 39, 40; HRF-AV
  08_g, 08_h: the gate's held-out photos), the vessel probability from the
  float32 W-Net (2 flip views, as the pipeline). Metric (``--av-metric``):
  ``agreement`` (default), the share of labelled artery and vein pixels
  whose artery-or-vein decision stays the float32 network's, or
  ``accuracy``, the A/V accuracy on them; layers go back to float32 until
  the drop is below ``--av-max-drop``. ``--av-keep`` names layers kept in
  float32 from the start (default: the first convolution of each stage and
  the classifier heads).

``--av-wnet int8`` feeds the A/V calibration photos the vessel map of the
registered int8 W-Net instead (the chain that runs with ``engine='auto'``
since the int8 W-Net feeds the A/V stage).

``--av-cameras RITE`` (or ``HRF-AV``) calibrates on one camera only: the
leave-one-camera-out check of the recipe (gate it on the other camera with
``scripts/openvino_accuracy.py --candidate``). A file is a packed IR
(``numpy.savez`` of the XML text and the weights bytes, read with
``allow_pickle=False``); its sha256 is printed for ``_registry.OPENVINO``.
Needs ``pip install openvino nncf`` (nncf only here, never at run time).
Whether an int8 file is shipped is decided on held-out photos by
``scripts/openvino_accuracy.py`` (docs/weights.md).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

#: Photos held out of every A/V network's training (scripts/av_loco.py):
#: never calibrated or validated on here.
HELD_OUT = {'RITE': ('39', '40'), 'HRF-AV': ('08_g', '08_h')}

#: Layers of the A/V network kept in float32 by default: each stage's
#: first convolution (it sees the raw input and the vessel probability)
#: and each stage's classifier head (the logits the decisions come from).
AV_KEEP = (
    '.*stage1.encoders.0.body.0/.*',
    '.*stage2.encoders.0.body.0/.*',
    '.*stage1.head/.*',
    '.*stage2.head/.*',
)

#: Layers kept in float32 in the shipped A/V file (v2,
#: ``--av-keep`` these, ``--av-wnet int8``): the first U-Net's whole
#: encoder too, so that every decoder convolution and the full-resolution
#: concatenation before the widest one run in int8 (docs/weights.md).
AV_KEEP_V2 = AV_KEEP + ('.*stage1.encoders.*',)


def pack(model, path: Path) -> str:
    """Write *model* as a packed IR file; return its sha256."""
    import openvino as ov

    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / 'm.xml'
        ov.save_model(model, xml, compress_to_fp16=False)
        text = xml.read_bytes()
        weights = xml.with_suffix('.bin').read_bytes()
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        xml=np.frombuffer(text, np.uint8),
        bin=np.frombuffer(weights, np.uint8),
    )
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _auc(score: np.ndarray, truth: np.ndarray) -> float:
    order = np.argsort(score, kind='stable')
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    pos = truth.sum()
    neg = len(truth) - pos
    return float((ranks[truth].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _samples(dataset: str, limit: int | None = None, skip=()) -> list:
    """(x, rgb_s, fov_s, gt) of the training photos of *dataset* (up to
    *limit*, without names starting with one of *skip*), prepared as the
    pipeline prepares a photo (engine._prepare). *gt* is the (2, h, w)
    artery and vein masks where the dataset has A/V labels, else the
    (h, w) vessel mask, at the canonical scale."""
    from napari_retina_vessels._registry import DEFAULTS
    from napari_retina_vessels.engine import _prepare
    from napari_retina_vessels.io.datasets import (
        data_root,
        discover,
        load_sample,
    )
    from napari_retina_vessels.preprocessing import resize
    from napari_retina_vessels.weights import describe

    mode = describe(DEFAULTS['vessels'])['input']
    found = discover(data_root() / dataset, split='train')
    found = [s for s in found if not s.name.startswith(tuple(skip))]
    out = []
    for i, s in enumerate(found[:limit]):
        d = load_sample(s)
        p = _prepare(i, d['image'], d['fov'], mode, False, force=True)
        shape = p.fov_s.shape
        if d['av'] is not None:
            gt = np.stack(
                [
                    resize((d['av'] == k).astype(np.float32), shape) > 0.5
                    for k in (1, 2)
                ]
            )
        else:
            gt = resize(d['vessels'].astype(np.float32), shape) > 0.5
        out.append((p.x, p.rgb_s, p.fov_s, gt))
    return out


def _pad(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[-2:]
    ph, pw = -(-h // 8) * 8 - h, -(-w // 8) * 8 - w
    return np.pad(x, ((0, 0), (0, ph), (0, pw)))[None].astype(np.float32)


def _run(compiled, x: np.ndarray) -> np.ndarray:
    h, w = x.shape[-2:]
    return np.asarray(compiled(_pad(x))[0])[0, :, :h, :w]


def _two_views(compiled, x: np.ndarray) -> np.ndarray:
    """Logits averaged over the photo and its left-right mirror."""
    return (_run(compiled, x) + _run(compiled, x[..., ::-1])[..., ::-1]) / 2


def _av_items(vcomp, cameras: list[str]) -> list:
    """(A/V input, labelled artery/vein pixels, artery truth there) of the
    A/V calibration photos; the vessel probability from *vcomp*."""
    from napari_retina_vessels._registry import DEFAULTS
    from napari_retina_vessels.engine import _av_input
    from napari_retina_vessels.weights import describe

    mode = describe(DEFAULTS['vessels'])['input']
    av_mode = describe(DEFAULTS['av'])['input']
    items = []
    for cam in cameras:
        for x, rgb_s, fov_s, gt in _samples(cam, skip=HELD_OUT[cam]):
            logit = _two_views(vcomp, x)[0]
            prob = (1 / (1 + np.exp(-logit)) * fov_s).astype(np.float32)
            # the fields of a prepared photo that engine._av_input reads
            p = SimpleNamespace(x=x, rgb_s=rgb_s, fov_s=fov_s, prob_s=prob)
            xa = _av_input(p, mode, av_mode)
            where = (gt[0] | gt[1]) & fov_s
            items.append((xa, where, gt[0][where]))
        print(f'A/V calibration: {cam} {len(items)} photos so far', flush=True)
    return items


def _registered_int8(name: str):
    """The registered int8 OpenVINO model of network *name*."""
    from napari_retina_vessels import _registry, engines
    from napari_retina_vessels._weight_files import openvino_path

    path = openvino_path(_registry.OPENVINO[name]['int8'])
    return engines._read_packed(str(path), '')


def _ignored(patterns):
    import nncf

    if not patterns:
        return None
    return nncf.IgnoredScope(patterns=list(patterns), validate=False)


def main() -> None:
    import nncf
    import openvino as ov

    from napari_retina_vessels.engines import _convert
    from napari_retina_vessels.weights import load_model, resolve

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', type=Path, required=True)
    ap.add_argument('--nets', default='vessels,av')
    ap.add_argument('--photos', type=int, default=10)
    ap.add_argument('--max-drop', type=float, default=0.0002)
    ap.add_argument('--av-cameras', default='RITE,HRF-AV')
    ap.add_argument(
        '--av-metric', choices=('agreement', 'accuracy'), default='agreement'
    )
    ap.add_argument('--av-max-drop', type=float, default=0.005)
    ap.add_argument('--av-keep', nargs='*', default=list(AV_KEEP))
    ap.add_argument(
        '--av-wnet',
        choices=('fp32', 'int8'),
        default='fp32',
        help='the W-Net file whose map feeds the A/V calibration photos',
    )
    ap.add_argument(
        '--av-preset',
        choices=('performance', 'mixed'),
        default='performance',
        help='NNCF preset of the A/V network: mixed quantises '
        'activations asymmetrically',
    )
    ap.add_argument('--suffix', default='')
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    nets = args.nets.split(',')
    core = ov.Core()
    f32 = {'INFERENCE_PRECISION_HINT': 'f32'}

    vnet, vinfo = load_model(resolve('default', 'vessels'))
    anet, ainfo = load_model(resolve('default', 'av'), task='av')
    vmodel = _convert(vnet, 3)
    vcomp = core.compile_model(vmodel, 'CPU', f32)

    def vessel_auc(compiled, items) -> float:
        scores, truth = [], []
        for x, _, fov_s, gt in items:
            logit = _run(compiled, x)[0]
            scores.append(logit[fov_s])
            truth.append(gt[fov_s])
        return _auc(np.concatenate(scores), np.concatenate(truth))

    jobs = []
    # per-network keyword arguments of nncf.quantize_with_accuracy_control
    extra = {
        vinfo['name']: {},
        ainfo['name']: {
            'preset': {
                'performance': nncf.QuantizationPreset.PERFORMANCE,
                'mixed': nncf.QuantizationPreset.MIXED,
            }[args.av_preset],
        },
    }
    if 'vessels' in nets:
        drive = _samples('DRIVE', args.photos)
        jobs.append(
            (vinfo['name'], vmodel, drive, vessel_auc, args.max_drop, None)
        )
    if 'av' in nets:
        amodel = _convert(anet, 4)
        feed = vcomp
        if args.av_wnet == 'int8':
            feed = core.compile_model(
                _registered_int8(vinfo['name']), 'CPU', f32
            )
        items = _av_items(feed, args.av_cameras.split(','))
        acomp = core.compile_model(amodel, 'CPU', f32)
        ref = [_run(acomp, xa) for xa, _, _ in items]
        ref = [(lg[0] > lg[1])[w] for lg, (_, w, _) in zip(ref, items)]
        truth = {
            'agreement': ref,
            'accuracy': [art for _, _, art in items],
        }[args.av_metric]
        items = [(xa, w, t) for (xa, w, _), t in zip(items, truth)]

        def av_metric(compiled, items):
            right = total = 0
            each = []
            for xa, where, art_truth in items:
                lg = _run(compiled, xa)
                art = (lg[0] > lg[1])[where]
                ok = int((art == art_truth).sum())
                each.append(ok / max(1, art.size))
                right += ok
                total += art.size
            return right / total, each

        jobs.append(
            (
                ainfo['name'], amodel, items, av_metric, args.av_max_drop,
                _ignored(args.av_keep),
            )
        )
    for name, model, items, metric, drop, ignored in jobs:
        fp32 = args.out / f'{name}.fp32.ovz'
        if not fp32.exists():  # a new pack has a new sha256 (zip times)
            print(f'{name} fp32: sha256 {pack(model, fp32)}')
        base = metric(core.compile_model(model, 'CPU', f32), items)
        base = base[0] if isinstance(base, tuple) else base
        calib = nncf.Dataset([_pad(it[0]) for it in items])
        val = nncf.Dataset(items, lambda it: _pad(it[0]))
        q = nncf.quantize_with_accuracy_control(
            model,
            calibration_dataset=calib,
            validation_dataset=val,
            validation_fn=metric,
            max_drop=drop,
            drop_type=nncf.DropType.ABSOLUTE,
            subset_size=len(items),
            ignored_scope=ignored,
            **extra[name],
        )
        got = metric(core.compile_model(q, 'CPU', f32), items)
        got = got[0] if isinstance(got, tuple) else got
        sha = pack(q, args.out / f'{name}{args.suffix}.int8.ovz')
        print(
            f'{name} int8: sha256 {sha}; training-photo metric '
            f'{base:.5f} -> {got:.5f}',
            flush=True,
        )


if __name__ == '__main__':
    main()
