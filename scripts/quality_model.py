"""Train the quality gate's model and its leave-one-camera-out table.

Data (everything under ``$RETINA_VESSELS_DATA``, default
``../shared/datasets``):

- the training splits of DRIVE, CHASE_DB1, STARE and HRF-AV, each photo
  as it is and in synthetic versions: benign ones labelled gradable
  (light blur, JPEG, vignetting, uneven light, colour casts including
  yellow-green, exposure, gamma, octagonal / notched / cut apertures and
  none, date stamps, redaction boxes, 12- and 16-bit data with a hot
  pixel, low resolution) and heavy ones labelled ungradable (blur,
  haze / cataract, under- and over-exposure, low contrast, noise,
  half-dark frames); middling ones are kept out of training and only
  reported;
- DRIMDB's share: ``good`` gradable, ``bad`` ungradable, ``outlier``
  not a fundus photo (its good photos also get the synthetic versions);
- pictures that are not fundus photos: scikit-image's bundled images,
  textures and noise, as they are, inside a round black aperture, and
  tinted red-orange inside the aperture; split into five groups.

Usage::

    python scripts/quality_model.py features   # cache the features
    python scripts/quality_model.py loco       # the table (Markdown)
    python scripts/quality_model.py train      # write the model file

``loco`` trains on every source but one of DRIVE, CHASE_DB1, STARE,
HRF-AV and DRIMDB (and four of the five non-fundus groups) and grades the
left-out one, for each in turn; the threshold and regularisation are
chosen by the worst left-out source. ``train`` fits on everything with
those choices and writes ``src/napari_retina_vessels/_weights/`` +
prints the sha256 for ``_registry.py``. scikit-learn is needed here
only: the package evaluates the model with NumPy.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
SOURCES = ('DRIVE', 'CHASE_DB1', 'STARE', 'HRF-AV', 'DRIMDB')
CLASSES = ('gradable', 'ungradable', 'not a fundus photo')
SKIMAGE = (
    'astronaut', 'brick', 'camera', 'cell', 'chelsea', 'chessboard_RGB',
    'clock_motion', 'coffee', 'coins', 'color', 'grass', 'gravel',
    'horse', 'hubble_deep_field', 'ihc', 'logo', 'moon',
    'motorcycle_left', 'page', 'phantom', 'rocket', 'text',
)  # fmt: skip


def data_root() -> Path:
    return Path(
        os.environ.get('RETINA_VESSELS_DATA', HERE.parent / 'shared/datasets')
    )


# -- synthetic versions: (H, W, 3) float in [0, 1] -> image ----------------


def _gauss(x, s):
    from scipy import ndimage as ndi

    return np.stack([ndi.gaussian_filter(x[..., c], s) for c in range(3)], -1)


def _radius(x, fov):
    h, w = x.shape[:2]
    ys, xs = np.nonzero(fov)
    cy, cx = (ys.mean(), xs.mean()) if ys.size else (h / 2, w / 2)
    rad = max(h, w) / 2
    yy, xx = np.mgrid[:h, :w]
    return np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / rad, yy / h, xx / w


def _jpeg(x, q):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.clip(x, 0, 1) * 255).astype(np.uint8)).save(
        buf, 'JPEG', quality=q
    )
    return np.asarray(Image.open(buf)).astype(np.float32) / 255


def _shrink(x, f):
    from napari_retina_vessels.preprocessing import resize

    h, w = x.shape[:2]
    return resize(x, (max(8, int(h * f)), max(8, int(w * f))))


def _octagon(x, fov, cut=0.29):
    h, w = x.shape[:2]
    ys, xs = np.nonzero(fov)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    d = max(y1 - y0, x1 - x0)
    yy, xx = np.mgrid[:h, :w]
    u, v = np.abs(yy - (y0 + y1) / 2), np.abs(xx - (x0 + x1) / 2)
    inside = (u <= d / 2) & (v <= d / 2) & (u + v <= d / 2 * (2 - cut * 2))
    return x * inside[..., None]


def _notch(x, fov):
    h, w = x.shape[:2]
    r, yf, xf = _radius(x, fov)
    out = x.copy()
    out[(yf < 0.12) & (np.abs(xf - 0.5) < 0.06)] = 0
    return out


def _cut(x, fov, keep=0.8):
    h = x.shape[0]
    out = x.copy()
    m = int(h * (1 - keep) / 2)
    out[:m] = 0
    out[h - m :] = 0
    return out


def _stamp(x, text='12.05.2008 10:33', colour=(0.1, 1.0, 0.1)):
    from PIL import Image, ImageDraw

    im = Image.fromarray((np.clip(x, 0, 1) * 255).astype(np.uint8))
    dr = ImageDraw.Draw(im)
    h, w = x.shape[:2]
    c = tuple(int(v * 255) for v in colour)
    dr.text((int(w * 0.72), int(h * 0.02)), text, fill=c)
    dr.text((int(w * 0.02), int(h * 0.95)), 'OD  ID 0042', fill=c)
    return np.asarray(im).astype(np.float32) / 255


def _redact(x):
    out = x.copy()
    h, w = x.shape[:2]
    out[int(h * 0.88) : int(h * 0.98), int(w * 0.02) : int(w * 0.3)] = 1.0
    return out


def _bits(x, bits, hot=True):
    top = 2**bits - 1
    out = np.round(x * top).astype(np.uint16)
    if hot:
        out[5, 7, 0] = 65535
    return out


def _haze(x, a, colour=(0.85, 0.8, 0.6), blur=0.0):
    y = _gauss(x, blur) if blur else x
    return (1 - a) * y + a * np.asarray(colour, np.float32)


def versions(x, fov, rng):
    """name -> (function making the image, label): label 'good',
    'bad' or 'mid'."""
    r, yf, xf = _radius(x, fov)
    vign = np.clip(1 - 0.35 * r**2, 0, 1)[..., None]
    ramp = (0.75 + 0.5 * xf)[..., None]
    half = np.where(xf < 0.55, 0.04, 1.0)[..., None]
    c = np.clip
    h, w = x.shape[:2]
    sq = min(h, w)
    out = {
        'original': (lambda: x, 'good'),
        'blur 1': (lambda: _gauss(x, 1.0), 'good'),
        'jpeg 30': (lambda: _jpeg(x, 30), 'good'),
        'vignetting': (lambda: x * vign, 'good'),
        'uneven light': (lambda: c(x * ramp, 0, 1), 'good'),
        'yellow-green cast': (lambda: c(x * [0.7, 1.1, 0.45], 0, 1), 'good'),
        'blue cast': (lambda: c(x * [0.85, 1.0, 1.4], 0, 1), 'good'),
        'darker x0.6': (lambda: x * 0.6, 'good'),
        'brighter x1.3': (lambda: c(x * 1.3, 0, 1), 'good'),
        'gamma 0.7': (lambda: x**0.7, 'good'),
        'gamma 1.4': (lambda: x**1.4, 'good'),
        'noise 0.02': (lambda: c(x + rng.normal(0, .02, x.shape), 0, 1),
                       'good'),
        'octagonal aperture': (lambda: _octagon(x, fov), 'good'),
        'notched aperture': (lambda: _notch(x, fov), 'good'),
        'cut aperture': (lambda: _cut(x, fov), 'good'),
        'no aperture (crop)': (
            lambda: x[(h - sq) // 2 + sq // 6 : (h + sq) // 2 - sq // 6,
              (w - sq) // 2 + sq // 6 : (w + sq) // 2 - sq // 6],
            'good',
        ),  # fmt: skip
        'date stamp': (lambda: _stamp(x), 'good'),
        'redaction box': (lambda: _redact(x), 'good'),
        '12-bit + hot pixel': (lambda: _bits(x, 12), 'good'),
        '16-bit': (lambda: _bits(x, 16, hot=False), 'good'),
        'half size': (lambda: _shrink(x, 0.5), 'good'),
        'quarter size': (lambda: _shrink(x, 0.25), 'good'),
        'grayscale': (
            lambda: x.mean(-1, keepdims=True).repeat(3, -1),
            'good',
        ),
        'red-free': (lambda: x * np.array([0, 1, 0], np.float32), 'good'),
        'blur 2.5': (lambda: _gauss(x, 2.5), 'mid'),
        'haze 0.45': (lambda: _haze(x, 0.45), 'mid'),
        'darker x0.25': (lambda: x * 0.25, 'mid'),
        'blur 5': (lambda: _gauss(x, 5.0), 'bad'),
        'blur 9': (lambda: _gauss(x, 9.0), 'bad'),
        'haze 0.8': (lambda: _haze(x, 0.8), 'bad'),
        'cataract': (lambda: _haze(x, 0.6, blur=4.0), 'bad'),
        'darker x0.07': (lambda: x * 0.07, 'bad'),
        'over-exposed x4': (lambda: c(x * 4, 0, 1), 'bad'),
        'contrast 10%': (lambda: 0.35 + 0.1 * (x - 0.35), 'bad'),
        'noise 0.3': (lambda: c(x + rng.normal(0, 0.3, x.shape), 0, 1), 'bad'),
        'half dark': (lambda: x * half, 'bad'),
    }  # fmt: skip
    return out


def non_fundus(rng):
    """(name, group, image): the pictures that are not fundus photos."""
    from skimage import data
    from skimage.io import imread as skread

    from napari_retina_vessels.preprocessing import as_rgb_float, resize

    bases = []
    for n in SKIMAGE:
        path = Path(data.__file__).parent / (
            n + ('.jpg' if n in ('rocket', 'hubble_deep_field') else '.png')
        )
        bases.append((n, as_rgb_float(skread(path))))
    shape = (584, 565)
    white = rng.uniform(0, 1, (*shape, 3)).astype(np.float32)
    bases += [
        ('white noise', white),
        ('smoothed noise 2', _norm(_gauss(white, 2))),
        ('smoothed noise 8', _norm(_gauss(white, 8))),
        (
            'grey smoothed noise 4',
            _norm(_gauss(white, 4)).mean(-1, keepdims=True)
            * np.ones(3, np.float32),
        ),
    ]
    out = []
    for i, (n, im) in enumerate(bases):
        im = resize(im, shape)
        r, _, _ = _radius(im, np.ones(shape, bool))
        disc = (r <= 0.92)[..., None]
        warm = im.mean(-1, keepdims=True) * [1.0, 0.5, 0.25]
        g = i % len(SOURCES)
        out += [
            (n, g, im),
            (n + ' in aperture', g, im * disc),
            (n + ' warm in aperture', g, (warm * disc).astype(np.float32)),
        ]
    return out


def _norm(a):
    a = a - a.min()
    return (a / max(a.max(), 1e-6)).astype(np.float32)


# -- features -----------------------------------------------------------------


def _photos():
    from napari_retina_vessels.io.datasets import discover

    root = data_root()
    for src in SOURCES[:4]:
        for s in discover(root / src, split='train'):
            yield src, s.image, 'good', True
    for cls, label in (('good', 'good'), ('bad', 'bad'), ('outlier', 'nf')):
        for p in sorted((root / 'DRIMDB' / cls).iterdir()):
            yield 'DRIMDB', p, label, cls == 'good'


#: Versions made of each photo: the original, and this many of each
#: label drawn at random (every version still gets dozens of photos).
PER_LABEL = {'good': 7, 'mid': 1, 'bad': 5}


#: Versions made of every photo, outside the random draw.
ALWAYS = ('grayscale', 'red-free')


def _pick(vs, x0, rng, only_always=False):
    vs.pop('original')
    out = [] if only_always else [('original', x0, 'good')]
    for n in ALWAYS:
        make, lab = vs.pop(n)
        out.append((n, make(), lab))
    if only_always:
        return out
    for lab, k in PER_LABEL.items():
        names = sorted(n for n, (_, v) in vs.items() if v == lab)
        for n in rng.choice(names, size=min(k, len(names)), replace=False):
            make, lab2 = vs[n]
            out.append((str(n), make(), lab2))
    return out


def _one(job):
    from napari_retina_vessels._quality_features import (
        canonical_copy,
        features,
        vector,
    )
    from napari_retina_vessels.io import imread

    src, path, label, degrade, only_always = job
    rows = []
    rng = np.random.default_rng(sum(path.name.encode()) + len(rows))
    rgb_s, fov_s, d = canonical_copy(imread(path))
    items = [('real', rgb_s, label)]
    if degrade:
        vs = versions(rgb_s, fov_s, rng)
        items = _pick(vs, rgb_s, rng, only_always)
    elif only_always:
        items = []
    for name, im, lab in items:
        if name == 'real' or name == 'original':
            x, f, dd = rgb_s, fov_s, d
        else:
            x, f, dd = canonical_copy(im)
        rows.append(
            (src, path.name, name, lab, vector(features(x, f, dd)), dd)
        )
    return rows


def _nf_one(item):
    from napari_retina_vessels._quality_features import (
        canonical_copy,
        features,
        vector,
    )

    name, g, im = item
    x, f, d = canonical_copy(im)
    return [
        (f'nonfundus-{g}', name, 'as is', 'nf', vector(features(x, f, d)), d)
    ]


def cmd_features(args):
    from multiprocessing import Pool

    jobs = [(*j, args.always_only) for j in _photos()]
    nf = [] if args.always_only else non_fundus(np.random.default_rng(3))
    rows = []
    if args.always_only:
        old = np.load(args.cache)
        rows = list(
            zip(
                *(old[k] for k in ('source', 'name', 'version', 'label')),
                old['X'],
                old['diameter'],
                strict=True,
            )
        )
    with Pool(args.workers) as pool:
        for i, rs in enumerate(pool.imap_unordered(_one, jobs), 1):
            rows += rs
            if i % 20 == 0:
                print(f'{i}/{len(jobs)} photos', file=sys.stderr)
        for rs in pool.imap_unordered(_nf_one, nf):
            rows += rs
    src, name, version, label, X, d = zip(*rows)
    Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.cache,
        source=np.array(src),
        name=np.array(name),
        version=np.array(version),
        label=np.array(label),
        X=np.stack(X),
        diameter=np.array(d),
    )
    print(f'{len(rows)} rows -> {args.cache}', file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=('features', 'loco', 'train'))
    parser.add_argument(
        '--cache', default=str(HERE / 'build' / 'quality_features.npz')
    )
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument(
        '--always-only',
        action='store_true',
        help='features: add only the ALWAYS versions to an existing cache',
    )
    parser.add_argument('--out', default=None, help='also write the table')
    args = parser.parse_args(argv)
    if args.command == 'features':
        cmd_features(args)
        return 0
    import _quality_fit

    return _quality_fit.run(args)


if __name__ == '__main__':
    sys.exit(main())
