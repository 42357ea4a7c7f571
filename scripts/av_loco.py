"""Leave-one-camera-out selection table for the artery/vein stage (#28).

Every A/V model and option is scored on photos of cameras (or colour
conditions) it was not trained on, and chosen by the mean and the worst
of those columns, never by one camera's validation photos:

- ``held-out camera``: the single-camera models on the other camera
  (``seqnet-av-rite`` on all 24 HRF-AV photos, ``seqnet-av-hrf`` on the
  20 RITE test photos): the rows that choose an *option* (vote
  strength, colour matching) by leave-one-camera-out;
- ``RITE test``: the 20 RITE test photos (a camera the two-camera
  models saw, photos they did not);
- ``val`` and five colour-cast stress versions of the same 4 validation
  photos, held out of every model's training (RITE 39, 40; HRF-AV 08_g,
  08_h): ``yellow`` (blue x0.3, red x0.8), ``grey`` (colour 70 %
  washed out), ``haze`` (35 % bright veil), ``lowcon`` (contrast x0.45)
  ``gamma`` (gamma 1.8) and ``harsh`` (the yellow cast, contrast
  x0.35 and a 20 % veil: the kind of photo where the vessel stage
  starts to miss vessels), each recorded in 8 bits;
- DRIMDB ``good`` photos (every 4th of the sorted list, no labels): the
  mean fraction of the FOV called vessel and the artery share of it,
  which must stay plausible (RITE test truth: about 12 % and 0.45).

Scoring is the intersection accuracy of ``evaluate --av`` (ground-truth
artery and vein pixels inside the dataset's FOV that the model calls
vessel; crossings and uncertain excluded; pooled over the photos), at
the canonical scale (RITE: the photos' own; HRF-AV labels brought down
by nearest neighbour), with the FOV found in each photo as
``segment(image)`` does. The vessel stage is the default vessel model,
2 views, float32, for every row.

``colour matching`` (``colour_match``): the A/V network's normalised
colour channels are whitened inside the FOV and given the mean channel
covariance of the model's training photos (RITE and/or HRF-AV training,
validation photos excluded), so a photo whose channels are correlated
differently (a cast, a washed-out colour) reaches the network with the
training photos' colour structure.

Test-time views of the A/V stage (rows ``MODEL + VIEW``): the A/V
logits are averaged over the photo and a changed copy of it. ``VIEW/f``
keeps the network time of the default two flip views (one pass of the
photo, one of the mirrored copy); without ``/f`` each copy gets both
flip views. ``gamma2`` (gamma 0.7), ``grey2`` (colour half washed
out), ``smooth2`` (Gaussian sigma 0.8), ``clahe2`` (CLAHE of the Lab
lightness inside the FOV: what ``contrast_view='clahe'`` does, with
``/f``), ``clahey2`` (CLAHE of luma as one gain per pixel), ``clahe``
(the equalised photo alone), ``hist`` / ``hist2`` (each channel's FOV
quantiles mapped onto the mean of the model's training photos').

Results are cached in runs/av_loco_cache/ (``--refresh`` redoes them).
Usage: python scripts/av_loco.py [--models v3,v4,...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / 'runs' / 'av_loco_cache'
VALIDATION = {'RITE': ('39', '40'), 'HRF-AV': ('08_g', '08_h')}
CASTS = ('yellow', 'grey', 'haze', 'lowcon', 'gamma', 'harsh')
#: name -> (weights, training cameras)
MODELS = {
    'v3': ('seqnet-av-universal-v3', ('RITE', 'HRF-AV')),
    'v4': (
        str(ROOT / 'weights' / 'seqnet-av-universal-v4.pt'),
        ('RITE', 'HRF-AV'),
    ),
    'rite': (str(ROOT / 'weights' / 'seqnet-av-rite.pt'), ('RITE',)),
    'hrf': (str(ROOT / 'weights' / 'seqnet-av-hrf.pt'), ('HRF-AV',)),
    # LOCO_FT: a copy of a running fine-tune's best.pt, scored as is.
    'colour-ft': (
        os.environ.get(
            'LOCO_FT', str(ROOT / 'runs' / 'seqnet-av-colour' / 'best.pt')
        ),
        ('RITE', 'HRF-AV'),
    ),
}
#: row -> (model, vote strength, colour matching)
ROWS = {
    'v3 (default)': ('v3', 0.45, False),
    'v3, vote 0.3': ('v3', 0.3, False),
    'v3, vote 0.8': ('v3', 0.8, False),
    'v3 + colour matching': ('v3', 0.45, True),
    'v4': ('v4', 0.45, False),
    'colour fine-tune': ('colour-ft', 0.45, False),
    'seqnet-av-rite': ('rite', 0.45, False),
    'seqnet-av-rite, vote 0.3': ('rite', 0.3, False),
    'seqnet-av-rite, vote 0.8': ('rite', 0.8, False),
    'seqnet-av-rite + colour matching': ('rite', 0.45, True),
    'seqnet-av-hrf': ('hrf', 0.45, False),
    'seqnet-av-hrf, vote 0.3': ('hrf', 0.3, False),
    'seqnet-av-hrf, vote 0.8': ('hrf', 0.8, False),
    'seqnet-av-hrf + colour matching': ('hrf', 0.45, True),
    'seqnet-av-rite + colour matching, vote 0.8': ('rite', 0.8, True),
    'seqnet-av-hrf + colour matching, vote 0.8': ('hrf', 0.8, True),
    'v3 + colour matching, vote 0.8': ('v3', 0.8, True),
}
for _m, _name in (('v3', 'v3'), ('rite', 'seqnet-av-rite'),
                  ('hrf', 'seqnet-av-hrf')):
    for _mode in ('gamma3', 'gamma2', 'grey2', 'smooth2', 'smooth',
                  'clahe', 'clahe2', 'clahey2'):
        ROWS[f'{_name} + {_mode}'] = (_m, 0.45, _mode)
        ROWS[f'{_name} + {_mode}/f'] = (_m, 0.45, _mode + '/f')
    ROWS[f'{_name} + hist'] = (_m, 0.45, 'hist')
    ROWS[f'{_name} + hist2/f'] = (_m, 0.45, 'hist2/f')


def cast(rgb: np.ndarray, fov: np.ndarray, kind: str) -> np.ndarray:
    """A deterministic colour-cast version of an 8-bit (H, W, 3) photo."""
    x = rgb.astype(np.float32) / 255
    if kind == 'yellow':
        x = x * np.array([0.8, 1.0, 0.3], np.float32)
    elif kind == 'grey':
        x = 0.3 * x + 0.7 * x.mean(-1, keepdims=True)
    elif kind == 'haze':
        x = 0.65 * x + 0.35 * np.array([0.75, 0.7, 0.65], np.float32)
    elif kind == 'lowcon':
        m = x[fov].mean(0)
        x = m + (x - m) * 0.45
    elif kind == 'gamma':
        x = x**1.8
    elif kind == 'harsh':  # yellow-green cast, low contrast and a veil
        x = x * np.array([0.8, 1.0, 0.3], np.float32)
        m = x[fov].mean(0)
        x = m + (x - m) * 0.35
        x = 0.8 * x + 0.2 * np.array([0.6, 0.65, 0.3], np.float32)
    x = np.where(fov[..., None], x, 0)
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


def _prepare(sample) -> dict:
    """Photo, dataset FOV and labels at the canonical scale."""
    from napari_retina_vessels.datasets import load_sample
    from napari_retina_vessels.fov import fov_mask
    from napari_retina_vessels.preprocessing import (
        canonical_scale,
        resize,
        scaled_shape,
    )

    if isinstance(sample, Path):  # a photo without labels
        from napari_retina_vessels.io import imread

        d = {'image': imread(sample), 'fov': None, 'av': None}
    else:
        d = load_sample(sample)
    img = d['image']
    fov = d['fov'] if d['fov'] is not None else fov_mask(img)
    shape = scaled_shape(img.shape, canonical_scale(fov_mask(img)))
    rgb = resize(img.astype(np.float32) / 255, shape)
    out = {
        'rgb': np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8),
        'fov': resize(fov.astype(np.float32), shape) > 0.5,
    }
    if d['av'] is not None:
        from skimage.transform import resize as sk_resize

        out['av'] = sk_resize(
            d['av'], shape, order=0, preserve_range=True, anti_aliasing=False
        ).astype(np.uint8)
    return out


def items(data: Path) -> dict[str, list[tuple[str, dict]]]:
    """Test photos by column (cached)."""
    from napari_retina_vessels.datasets import discover

    CACHE.mkdir(parents=True, exist_ok=True)

    def load(tag, sample):
        path = CACHE / f'item_{tag}.npz'
        if not path.is_file():
            np.savez_compressed(path, **_prepare(sample))
        return dict(np.load(path))

    cols: dict[str, list] = {'RITE test': [], 'HRF-AV': [], 'val': []}
    for s in discover(data / 'RITE' / 'test'):
        cols['RITE test'].append((f'rite_{s.name}', load(f'rite_{s.name}', s)))
    for s in discover(data / 'HRF-AV'):
        item = (f'hrf_{s.name}', load(f'hrf_{s.name}', s))
        cols['HRF-AV'].append(item)
        if s.name.startswith(VALIDATION['HRF-AV']):
            cols['val'].append(item)
    for s in discover(data / 'RITE' / 'training'):
        if s.name.startswith(VALIDATION['RITE']):
            tag = f'ritetr_{s.name}'
            cols['val'].append((tag, load(tag, s)))
    for kind in CASTS:
        cols[kind] = [
            (f'{tag}_{kind}', {**it, 'rgb': cast(it['rgb'], it['fov'], kind)})
            for tag, it in cols['val']
        ]
    good = sorted((data / 'DRIMDB' / 'good').glob('*.jpg'))
    cols['DRIMDB'] = [
        (f'drimdb_{i}', load(f'drimdb_{i}', s))
        for i, s in enumerate(good[::4])
    ]
    return cols


class Runner:
    """The vessel stage once per photo, then every A/V variant."""

    def __init__(self, refresh: bool) -> None:
        import torch

        from napari_retina_vessels.weights import load_model

        torch.set_num_threads(int(os.environ.get('LOCO_THREADS', '1')))
        self.refresh = refresh
        self.vnet, self.vinfo = load_model('default', task='vessels')
        self.nets: dict = {}
        self.refs: dict = {}

    def _predict(self, net, x, views=2):
        from napari_retina_vessels.inference import _drain, predict

        return _drain(
            predict(
                net, x, device=self._dev(), views=views, precision='fp32'
            )
        )

    @staticmethod
    def _dev():
        import torch

        return torch.device('cpu')

    def vessels(self, tag: str, it: dict) -> dict:
        from napari_retina_vessels.fov import fov_mask
        from napari_retina_vessels.preprocessing import normalise_input

        pre = os.environ.get('LOCO_VESSEL_PRE', '')
        path = CACHE / f'ves{"_" + pre if pre else ""}_{tag}.npz'
        if path.is_file() and not self.refresh:
            return dict(np.load(path))
        rgb = it['rgb'].astype(np.float32) / 255
        fov = fov_mask(it['rgb'])
        if pre == 'clahe':
            from napari_retina_vessels.contrast_views import clahe_luminance

            rgb = clahe_luminance(rgb, fov)
        x = normalise_input(rgb, fov, self.vinfo['input'])
        logit = self._predict(self.vnet, x)[0]
        prob = (1 / (1 + np.exp(-logit))).astype(np.float32) * fov
        out = {'prob': prob, 'fov_auto': fov, 'thr': self.vinfo['threshold']}
        np.savez_compressed(path, **out)
        return out

    def reference(self, model: str, mode: str) -> np.ndarray:
        """Mean channel covariance of the model's training photos."""
        key = (model, mode)
        if key not in self.refs:
            self.refs[key] = _reference_cov(MODELS[model][1], mode)
        return self.refs[key]

    def quantiles(self, model: str) -> np.ndarray:
        """Mean per-channel FOV quantiles of the model's training
        photos (validation photos excluded)."""
        key = (model, 'q')
        if key not in self.refs:
            self.refs[key] = _reference_quantiles(MODELS[model][1])
        return self.refs[key]

    def artery(self, model, match, tag, it, ves) -> np.ndarray:
        from napari_retina_vessels.preprocessing import normalise_input
        from napari_retina_vessels.weights import load_model

        mode = {True: 'cm', False: ''}.get(match, match)
        suffix = '_' + mode.replace('/', '-') if mode else ''
        name = f'av_{_tag(model)}{suffix}_{tag}.npy'
        path = CACHE / name
        if path.is_file() and not self.refresh:
            return np.load(path)
        if model not in self.nets:
            self.nets[model] = load_model(MODELS[model][0], task='av')
        net, info = self.nets[model]
        fov = ves['fov_auto']
        rgb = it['rgb'].astype(np.float32) / 255
        diff = 0.0
        # 'MODE/f': one pass per colour view, every other one mirrored
        # (the cost of the usual two flip views when there are two).
        flip = mode.endswith('/f')
        if mode.startswith('hist'):
            q = self.quantiles(model)
            hist = quantile_match(rgb, fov, q)
            views = [hist] if mode == 'hist' else [rgb, hist]
        else:
            views = colour_views(mode.removesuffix('/f'), rgb, fov)
        for k, v in enumerate(views):
            x = normalise_input(v, fov, info['input'])
            if mode == 'cm':
                x = colour_match(
                    x, fov, self.reference(model, info['input'])
                )
            x_av = np.concatenate([x, ves['prob'][None]], 0)
            x_av = x_av.astype(np.float32)
            if not flip:
                lg = self._predict(net, x_av)
            elif k % 2:
                lg = self._predict(net, x_av[..., ::-1].copy(), 1)
                lg = lg[..., ::-1]
            else:
                lg = self._predict(net, x_av, 1)
            diff = diff + np.clip(lg[0] - lg[1], -30, 30) / len(views)
        p = 1 / (1 + np.exp(-diff))
        p = p.astype(np.float16)
        np.save(path, p)
        return p


def colour_views(mode: str, rgb: np.ndarray, fov: np.ndarray) -> list:
    """The (H, W, 3) photos whose A/V logits are averaged for *mode*
    (``clahe2/f`` is what ``contrast_view='clahe'`` does)."""
    from napari_retina_vessels.contrast_views import clahe_luminance

    if mode in ('', 'cm'):
        return [rgb]
    if mode == 'gamma3':
        return [rgb, rgb**0.7, rgb**1.4]
    if mode == 'gamma2':
        return [rgb, rgb**0.7]
    if mode == 'grey2':
        return [rgb, 0.5 * rgb + 0.5 * rgb.mean(-1, keepdims=True)]
    if mode == 'smooth2':
        from scipy.ndimage import gaussian_filter

        return [rgb, gaussian_filter(rgb, (0.8, 0.8, 0))]
    if mode == 'smooth':
        from scipy.ndimage import gaussian_filter

        return [gaussian_filter(rgb, (0.8, 0.8, 0))]
    if mode == 'clahe':
        return [clahe_luminance(rgb, fov)]
    if mode == 'clahe2':
        return [rgb, clahe_luminance(rgb, fov)]
    if mode == 'clahey2':  # one gain per pixel from CLAHE of luminance
        luma = np.clip(rgb @ np.array([0.299, 0.587, 0.114], np.float32), 0, 1)
        from skimage.exposure import equalize_adapthist

        eq = equalize_adapthist(luma, kernel_size=64, clip_limit=0.01)
        gain = (eq / np.maximum(luma, 1e-3)).astype(np.float32)
        return [rgb, np.clip(rgb * gain[..., None], 0, 1) * fov[..., None]]
    raise ValueError(mode)


def _tag(model: str) -> str:
    """Cache name of a model; a weights file adds its hash, so a newer
    checkpoint of a running fine-tune is scored afresh."""
    src = Path(MODELS[model][0])
    if not src.is_file():
        return model
    import hashlib

    return f'{model}-{hashlib.sha256(src.read_bytes()).hexdigest()[:8]}'


def colour_match(
    x: np.ndarray, fov: np.ndarray, ref: np.ndarray
) -> np.ndarray:
    """Give the (3, H, W) normalised channels the covariance *ref*."""
    v = x[:, fov].astype(np.float64)
    mu = v.mean(1, keepdims=True)
    cov = np.cov(v) + 0.05 * np.eye(3)
    w, e = np.linalg.eigh(cov)
    whiten = e @ np.diag(w**-0.5) @ e.T
    wr, er = np.linalg.eigh(ref)
    colour = er @ np.diag(np.sqrt(np.clip(wr, 0, None))) @ er.T
    m = colour @ whiten
    out = np.einsum('ij,jhw->ihw', m, x - mu[:, :, None]) + mu[:, :, None]
    return (out * fov).astype(np.float32)


QUANTILES = np.linspace(0, 1, 101)


def quantile_match(
    rgb: np.ndarray, fov: np.ndarray, ref: np.ndarray
) -> np.ndarray:
    """Map each channel's FOV quantiles onto *ref* (3, 101)."""
    out = np.zeros_like(rgb)
    for c in range(3):
        v = rgb[..., c]
        q = np.quantile(v[fov], QUANTILES)
        q = np.maximum.accumulate(q + np.arange(101) * 1e-6)
        out[..., c] = np.interp(v, q, ref[c])
    return (out * fov[..., None]).astype(np.float32)


def _reference_quantiles(cameras) -> np.ndarray:
    from napari_retina_vessels.datasets import discover
    from napari_retina_vessels.fov import fov_mask

    path = CACHE / f'refq_{"+".join(cameras)}.npy'
    if path.is_file():
        return np.load(path)
    data = Path(
        os.environ.get('RETINA_VESSELS_DATA', ROOT.parent / 'shared/datasets')
    )
    qs = []
    for cam in cameras:
        for s in discover(data / cam / 'training'):
            if s.name.startswith(VALIDATION[cam]):
                continue
            it = _prepare(s)
            fov = fov_mask(it['rgb'])
            v = it['rgb'][fov].astype(np.float32) / 255
            qs.append(np.quantile(v, QUANTILES, axis=0).T)
    ref = np.mean(qs, 0)
    np.save(path, ref)
    return ref


def _reference_cov(cameras, mode: str) -> np.ndarray:
    from napari_retina_vessels.datasets import discover
    from napari_retina_vessels.fov import fov_mask
    from napari_retina_vessels.preprocessing import normalise_input

    path = CACHE / f'ref_{"+".join(cameras)}_{mode}.npy'
    if path.is_file():
        return np.load(path)
    data = Path(
        os.environ.get('RETINA_VESSELS_DATA', ROOT.parent / 'shared/datasets')
    )
    covs = []
    for cam in cameras:
        for s in discover(data / cam / 'training'):
            if s.name.startswith(VALIDATION[cam]):
                continue
            it = _prepare(s)
            fov = fov_mask(it['rgb'])
            x = normalise_input(it['rgb'].astype(np.float32) / 255, fov, mode)
            covs.append(np.cov(x[:, fov].astype(np.float64)))
    ref = np.mean(covs, 0)
    np.save(path, ref)
    return ref


def score(it, ves, p, strength) -> tuple[int, int, int, float, float]:
    """right, counted (intersection), labelled, vessel fraction of the
    FOV, artery share of the vessel pixels."""
    from napari_retina_vessels.av import graph_vote, vessel_graph

    vessels = ves['prob'] >= float(ves['thr'])
    p = graph_vote(
        vessel_graph(vessels), p.astype(np.float32), strength=strength
    )
    art_call = p >= 0.5
    fov = it['fov']
    frac = float((vessels & fov).sum() / max(1, fov.sum()))
    share = float(
        (art_call & vessels & fov).sum() / max(1, (vessels & fov).sum())
    )
    if 'av' not in it:
        return 0, 0, 0, frac, share
    lab = (it['av'] == 1) | (it['av'] == 2)
    lab &= fov
    det = lab & vessels
    right = np.count_nonzero(det & (art_call == (it['av'] == 1)))
    return right, int(det.sum()), int(lab.sum()), frac, share


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rows', default=None, help='row names separated by ;')
    ap.add_argument(
        '--cols',
        default=None,
        help='only these columns (separated by ;), e.g. the held-out '
        "camera's: 'HRF-AV;RITE test'",
    )
    ap.add_argument('--json', default=None)
    ap.add_argument('--refresh', action='store_true')
    args = ap.parse_args()
    data = Path(
        os.environ.get('RETINA_VESSELS_DATA', ROOT.parent / 'shared/datasets')
    )
    cols = items(data)
    run = Runner(args.refresh)
    rows = (
        ROWS
        if args.rows is None
        else {k: ROWS[k] for k in args.rows.split(';')}
    )
    table = {}
    for row, (model, strength, match) in rows.items():
        if model == 'colour-ft' and not Path(MODELS[model][0]).is_file():
            continue
        res = {}
        for col, its in cols.items():
            if col == 'HRF-AV' and col in MODELS[model][1]:
                continue  # its training camera: only the held-out one
            if args.cols and col not in args.cols.split(';'):
                continue
            acc = np.zeros(5)
            for tag, it in its:
                ves = run.vessels(tag, it)
                p = run.artery(model, match, tag, it, ves)
                acc += np.array(score(it, ves, p, strength), float)
            n = len(its)
            if col == 'DRIMDB':
                res[col] = {
                    'vessel_fraction': acc[3] / n,
                    'artery_share': acc[4] / n,
                }
            else:
                res[col] = {
                    'acc': acc[0] / max(1, acc[1]),
                    'coverage': acc[1] / max(1, acc[2]),
                    'vessel_fraction': acc[3] / n,
                    'artery_share': acc[4] / n,
                }
        held = [k for k in ('RITE', 'HRF-AV') if k not in MODELS[model][1]]
        res['held-out camera'] = (
            res.get('HRF-AV' if held == ['HRF-AV'] else 'RITE test')
            if len(held) == 1
            else None
        )
        stress = [res[c]['acc'] for c in ('val', *CASTS) if c in res]
        if stress:
            res['stress mean'] = float(np.mean(stress))
            res['stress worst'] = float(np.min(stress))
        table[row] = res
        print(_line(row, res), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1) + '\n')


def _line(row, res) -> str:
    def f(c):
        v = res.get(c)
        return '-' if not v else f'{v["acc"]:.4f} ({v["coverage"]:.0%})'

    def g(v):
        return '-' if v is None else f'{v:.4f}'

    cells = [f('held-out camera'), f('RITE test')]
    cells += [f(c) for c in ('val', *CASTS)]
    cells += [g(res.get('stress mean')), g(res.get('stress worst'))]
    d = res.get('DRIMDB')
    cells.append(
        f'{d["vessel_fraction"]:.3f} / {d["artery_share"]:.2f}' if d else '-'
    )
    return f'| {row} | ' + ' | '.join(cells) + ' |'


if __name__ == '__main__':
    main()
