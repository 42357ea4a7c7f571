"""Convert the default networks to OpenVINO: float32 and int8 files.

Usage::

    PYTHONPATH=src RETINA_VESSELS_DATA=../shared/datasets \\
        python scripts/convert_openvino.py \\
        --out src/napari_retina_vessels/_weights

For each default network (W-Net vessels, SeqNet A/V) it writes
``<name>.fp32.ovz`` (the float32 network, weights NOT compressed to
float16: that moves logits by 0.24) and ``<name>.int8.ovz``, quantised
with NNCF's accuracy-controlled post-training quantisation: calibrated and
validated on TRAINING photos only (vessels: DRIVE training, AUC; A/V:
RITE training, artery/vein accuracy on labelled vessel pixels), layers
kept in float32 until the drop is below ``--max-drop``. A file is a
packed IR (``numpy.savez`` of the XML text and the weights bytes, read
with ``allow_pickle=False``); its sha256 is printed for
``_registry.OPENVINO``. Needs ``pip install openvino nncf`` (nncf only
here, never at run time). Whether an int8 file is shipped is decided on
the test sets by ``scripts/openvino_accuracy.py`` (docs/weights.md).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
from pathlib import Path

import numpy as np


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


def _samples(dataset: str, limit: int):
    """(x, rgb_s, fov_s, gt_s) of up to *limit* training photos."""
    from napari_retina_vessels.fov import fov_mask
    from napari_retina_vessels.io.datasets import (
        data_root,
        discover,
        load_sample,
    )
    from napari_retina_vessels.pipeline import _canonical_input
    from napari_retina_vessels.preprocessing import as_rgb_float, resize
    from napari_retina_vessels.weights import describe

    mode = describe('default')['input']
    out = []
    for s in discover(data_root() / dataset, split='train')[:limit]:
        d = load_sample(s)
        rgb = as_rgb_float(d['image'])
        fov = d['fov'] if d['fov'] is not None else fov_mask(rgb)
        rgb_s, fov_s, x = _canonical_input(rgb, fov, mode)
        shape = fov_s.shape
        if d['av'] is not None:
            gt = np.stack(
                [
                    resize((d['av'] == k).astype(np.float32), shape) > 0.5
                    for k in (1, 2)
                ]
            )
        else:
            gt = resize(d['vessels'].astype(np.float32), shape) > 0.5
        out.append((x, rgb_s, fov_s, gt))
    return out


def _pad(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[-2:]
    ph, pw = -(-h // 8) * 8 - h, -(-w // 8) * 8 - w
    return np.pad(x, ((0, 0), (0, ph), (0, pw)))[None].astype(np.float32)


def _run(compiled, x: np.ndarray) -> np.ndarray:
    h, w = x.shape[-2:]
    return np.asarray(compiled(_pad(x))[0])[0, :, :h, :w]


def main() -> None:
    import nncf
    import openvino as ov

    from napari_retina_vessels.engines import _convert
    from napari_retina_vessels.pipeline import _av_input
    from napari_retina_vessels.weights import load_model, resolve

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', type=Path, required=True)
    ap.add_argument('--photos', type=int, default=10)
    ap.add_argument('--max-drop', type=float, default=0.0002)
    ap.add_argument('--av-max-drop', type=float, default=0.001)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    core = ov.Core()
    f32 = {'INFERENCE_PRECISION_HINT': 'f32'}

    vnet, vinfo = load_model(resolve('default', 'vessels'))
    anet, ainfo = load_model(resolve('default', 'av'), task='av')
    vmodel = _convert(vnet, 3)
    amodel = _convert(anet, 4)
    vcomp = core.compile_model(vmodel, 'CPU', f32)

    drive = _samples('DRIVE', args.photos)
    rite = _samples('RITE', args.photos)

    def vessel_auc(compiled, items) -> float:
        scores, truth = [], []
        for x, _, fov_s, gt in items:
            logit = _run(compiled, x)[0]
            scores.append(logit[fov_s])
            truth.append(gt[fov_s])
        return _auc(np.concatenate(scores), np.concatenate(truth))

    av_items = []
    for x, rgb_s, fov_s, gt in rite:
        prob = 1 / (1 + np.exp(-_run(vcomp, x)[0])) * fov_s
        xa = _av_input(
            x, rgb_s, fov_s, prob.astype(np.float32),
            vinfo['input'], ainfo['input'],
        )
        av_items.append((xa, rgb_s, fov_s, gt))

    def av_accuracy(compiled, items) -> float:
        right = total = 0
        for xa, _, fov_s, gt in items:
            lg = _run(compiled, xa)
            art = lg[0] > lg[1]
            right += int((art & gt[0] & fov_s).sum())
            right += int((~art & gt[1] & fov_s).sum())
            total += int(((gt[0] | gt[1]) & fov_s).sum())
        return right / total

    jobs = [
        (vinfo['name'], vmodel, drive, vessel_auc, args.max_drop),
        (ainfo['name'], amodel, av_items, av_accuracy, args.av_max_drop),
    ]
    for name, model, items, metric, drop in jobs:
        sha = pack(model, args.out / f'{name}.fp32.ovz')
        print(f'{name} fp32: sha256 {sha}')
        base = metric(core.compile_model(model, 'CPU', f32), items)
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
        )
        got = metric(core.compile_model(q, 'CPU', f32), items)
        sha = pack(q, args.out / f'{name}.int8.ovz')
        print(
            f'{name} int8: sha256 {sha}; training-photo metric '
            f'{base:.5f} -> {got:.5f}'
        )


if __name__ == '__main__':
    main()
