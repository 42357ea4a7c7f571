"""How the quality gate grades development photos and degraded versions.

Reads every photo of DRIVE, CHASE_DB1, STARE, RITE and HRF-AV under
``$RETINA_VESSELS_DATA`` (default ``../shared/datasets``), grades it, then
grades synthetic degradations of a few photos per dataset (blur,
exposure, noise, JPEG, crop, grayscale, red-free) and a corpus of
non-photos (blank, lens cap, uniform, noise, natural photos). Prints a
Markdown table: how many photos of each kind got each grade.

Usage::

    python scripts/quality_table.py [--model] [--per-dataset 3]
        [--measures] [--out docs/results/quality_table.md]

``--model`` also runs the default vessel model (one flip view) on every
image, so the model-confidence checks count: this is the grade that
``segment`` and ``retina-vessels segment`` report. Without it only the
image checks run (seconds instead of minutes).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from napari_retina_vessels import quality as Q
from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import imread
from napari_retina_vessels.io.datasets import discover
from napari_retina_vessels.preprocessing import (
    as_rgb_float,
    canonical_scale,
    resize,
    scaled_shape,
)

DATASETS = ('DRIVE', 'CHASE_DB1', 'STARE', 'RITE', 'HRF-AV')


def data_root() -> Path:
    here = Path(__file__).resolve().parents[1]
    return Path(
        os.environ.get(
            'RETINA_VESSELS_DATA', here.parent / 'shared' / 'datasets'
        )
    )


def photos(root: Path) -> dict[str, list[Path]]:
    out = {}
    for name in DATASETS:
        folder = root / name
        if not folder.is_dir():
            continue
        seen, paths = set(), []
        for sub in [
            folder,
            *sorted(p for p in folder.iterdir() if p.is_dir()),
        ]:
            try:
                samples = discover(sub)
            except Exception:  # noqa: BLE001 - not a dataset folder
                continue
            for s in samples:
                if s.image not in seen:
                    seen.add(s.image)
                    paths.append(s.image)
        out[name] = sorted(paths)
    return out


# -- degradations: (H, W, 3) float in [0, 1] -> same -----------------------


def _gauss(rgb, sigma):
    from scipy import ndimage as ndi

    return np.stack(
        [ndi.gaussian_filter(rgb[..., c], sigma) for c in range(3)], -1
    )


def _canonical_sigma(rgb, fov, sigma):
    """A blur of *sigma* pixels at the canonical FOV diameter (540)."""
    from napari_retina_vessels.preprocessing import canonical_scale

    return sigma / canonical_scale(fov)


def _jpeg(rgb, q):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((rgb * 255).astype(np.uint8)).save(buf, 'JPEG', quality=q)
    return np.asarray(Image.open(buf)).astype(np.float32) / 255


def _crop(rgb, frac):
    h, w = rgb.shape[:2]
    ch, cw = int(h * frac), int(w * frac)
    y, x = (h - ch) // 2, (w - cw) // 2
    return rgb[y : y + ch, x : x + cw]


def degradations(rgb, fov):
    rng = np.random.default_rng(0)

    def s(sig):
        return _canonical_sigma(rgb, fov, sig)

    gray = rgb.mean(-1, keepdims=True).repeat(3, -1)
    green = np.zeros_like(rgb)
    green[..., 1] = rgb[..., 1]
    return {
        'original': rgb,
        'blur sigma 1.5': _gauss(rgb, s(1.5)),
        'blur sigma 3': _gauss(rgb, s(3)),
        'blur sigma 6': _gauss(rgb, s(6)),
        'under-exposed x0.4': rgb * 0.4,
        'under-exposed x0.15': rgb * 0.15,
        'under-exposed x0.05': rgb * 0.05,
        'over-exposed x2': np.clip(rgb * 2, 0, 1),
        'over-exposed x4': np.clip(rgb * 4, 0, 1),
        'low contrast 30%': 0.35 + 0.3 * (rgb - 0.35),
        'low contrast 10%': 0.35 + 0.1 * (rgb - 0.35),
        'noise sd 0.03': np.clip(rgb + rng.normal(0, 0.03, rgb.shape), 0, 1),
        'noise sd 0.1': np.clip(rgb + rng.normal(0, 0.1, rgb.shape), 0, 1),
        'JPEG q20': _jpeg(rgb, 20),
        'JPEG q5': _jpeg(rgb, 5),
        'crop centre 70%': _crop(rgb, 0.7),
        'crop centre 40%': _crop(rgb, 0.4),
        'grayscale': gray,
        'red-free (green only)': green,
        'red-free (green as gray)': rgb[..., 1:2].repeat(3, -1),
    }


def non_photos(shape=(584, 565)):
    from skimage import data

    h, w = shape
    rng = np.random.default_rng(1)
    out = {
        'blank (black)': np.zeros((h, w, 3), np.float32),
        'lens cap (dark noise)': np.clip(
            rng.normal(0.02, 0.01, (h, w, 3)), 0, 1
        ),
        'uniform grey': np.full((h, w, 3), 0.5, np.float32),
        'white': np.ones((h, w, 3), np.float32),
        'noise': rng.uniform(0, 1, (h, w, 3)),
    }
    for name in ('astronaut', 'coffee', 'chelsea', 'rocket'):
        out[f'natural photo ({name})'] = as_rgb_float(getattr(data, name)())
    out['skimage retina (sample data)'] = as_rgb_float(data.retina())
    return out


def grade(rgb, *, model: bool) -> Q.Quality:
    if model:
        from napari_retina_vessels import segment

        return segment(rgb, av=False, views=1).quality
    return Q.assess(rgb)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--model', action='store_true', help='run the vessel model too (slow)'
    )
    parser.add_argument(
        '--per-dataset',
        type=int,
        default=3,
        help='photos per dataset to degrade',
    )
    parser.add_argument(
        '--limit',
        type=int,
        default=0,
        help='at most this many photos per dataset (0: all)',
    )
    parser.add_argument(
        '--datasets',
        default=','.join(DATASETS),
        help='comma-separated dataset names',
    )
    parser.add_argument(
        '--measures',
        action='store_true',
        help='print the raw measures of every image',
    )
    parser.add_argument('--out', default=None, help='also write the table')
    args = parser.parse_args(argv)

    rows: dict[str, Counter] = defaultdict(Counter)
    scores: dict[str, list[float]] = defaultdict(list)
    reasons: dict[str, Counter] = defaultdict(Counter)
    worst_dev = []
    t0 = time.perf_counter()

    def add(label, q, name):
        rows[label][q.grade] += 1
        scores[label].append(q.score)
        for r in q.reasons:
            reasons[label][r.split(' (')[0]] += 1
        if args.measures:
            ms = ' '.join(f'{k}={v:.3f}' for k, v in q.measures.items())
            print(
                f'{label:28s} {name:24s} {q.grade:10s} {q.score:.2f} '
                f'{q.kind:18s} {ms}',
                file=sys.stderr,
            )

    wanted = args.datasets.split(',')
    for ds, paths in photos(data_root()).items():
        if ds not in wanted:
            continue
        for i, path in enumerate(paths[: args.limit or None]):
            rgb = as_rgb_float(imread(path))
            q = grade(rgb, model=args.model)
            add(f'{ds} photos', q, path.name)
            worst_dev.append((q.score, f'{ds}/{path.name}', q.reason))
            if i < args.per_dataset:
                # Degrade the canonical copy (FOV 540 px across): what
                # the gate and the model see, and fast for HRF's 8 MP.
                fov = fov_mask(rgb)
                shape = scaled_shape(rgb.shape, canonical_scale(fov))
                rgb = np.clip(resize(rgb, shape), 0, 1)
                fov = resize(fov.astype(np.float32), shape) > 0.5
                for label, img in degradations(rgb, fov).items():
                    if label == 'original':
                        continue
                    add(
                        label,
                        grade(img.astype(np.float32), model=args.model),
                        path.name,
                    )
    for label, img in non_photos().items():
        add(label, grade(img.astype(np.float32), model=args.model), label)

    lines = [
        '| image | n | good | usable | ungradable | median score | '
        'main reason |',
        '|---|---|---|---|---|---|---|',
    ]
    for label, c in rows.items():
        n = sum(c.values())
        main_reason = reasons[label].most_common(1)
        lines.append(
            f'| {label} | {n} | {c["good"]} | {c["usable"]} | '
            f'{c["ungradable"]} | {np.median(scores[label]):.2f} | '
            f'{main_reason[0][0] if main_reason else ""} |'
        )
    worst_dev.sort()
    lines += [
        '',
        'Lowest-scoring development photos: '
        + '; '.join(f'{n} {s:.2f} ({r})' for s, n, r in worst_dev[:5]),
    ]
    lines += [
        '',
        f'({"image and model" if args.model else "image"} '
        f'checks; {time.perf_counter() - t0:.0f} s)',
    ]
    text = '\n'.join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
