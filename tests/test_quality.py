"""The image-quality gate on a corpus made at test time.

Each kind of image gets the grade docs/quality.md promises; development
photos are never ungradable; the API, the batch summary (and, in
tests/napari/, the widget) agree on the grade of the same photo.
"""

from __future__ import annotations

import csv
import io as _io
import subprocess
import sys

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels import quality as Q
from napari_retina_vessels.preprocessing import (
    as_rgb_float,
    canonical_scale,
    resize,
    scaled_shape,
)

# -- the corpus -------------------------------------------------------------


def _non_photos(h=584, w=565):
    from skimage import data

    rng = np.random.default_rng(1)
    return {
        'blank': np.zeros((h, w, 3), np.float32),
        'lens cap': np.clip(rng.normal(0.02, 0.01, (h, w, 3)), 0, 1),
        'uniform grey': np.full((h, w, 3), 0.5, np.float32),
        'white': np.ones((h, w, 3), np.float32),
        'noise': rng.uniform(0, 1, (h, w, 3)).astype(np.float32),
        'natural photo': as_rgb_float(data.astronaut()),
    }


def _gauss(rgb, sigma):
    from scipy import ndimage as ndi

    return np.stack(
        [ndi.gaussian_filter(rgb[..., c], sigma) for c in range(3)], -1
    )


def _crop(rgb, frac):
    h, w = rgb.shape[:2]
    ch, cw = int(h * frac), int(w * frac)
    return rgb[
        (h - ch) // 2 : (h - ch) // 2 + ch, (w - cw) // 2 : (w - cw) // 2 + cw
    ]


def _degraded(rgb):
    """Degradations of a photo at the canonical scale (docs/quality.md)."""
    green = np.zeros_like(rgb)
    green[..., 1] = rgb[..., 1]
    return {
        'blurred (sigma 6)': _gauss(rgb, 6),
        'under-exposed (x0.05)': rgb * 0.05,
        'over-exposed (x4)': np.clip(rgb * 4, 0, 1),
        'low contrast (10%)': 0.35 + 0.1 * (rgb - 0.35),
        'cropped (centre 40%)': _crop(rgb, 0.4),
        'grayscale': rgb.mean(-1, keepdims=True).repeat(3, -1),
        'red-free': green,
    }


#: The grade each kind gets (the table in docs/quality.md).
EXPECTED = {
    'blank': 'ungradable',
    'lens cap': 'ungradable',
    'uniform grey': 'ungradable',
    'white': 'ungradable',
    'noise': 'ungradable',
    'natural photo': 'ungradable',
    'blurred (sigma 6)': 'ungradable',
    'under-exposed (x0.05)': 'ungradable',
    'over-exposed (x4)': 'ungradable',
    'low contrast (10%)': 'ungradable',
    'cropped (centre 40%)': 'usable',
    'grayscale': 'usable',
    'red-free': 'usable',
}


@pytest.mark.parametrize('name', list(_non_photos()))
def test_non_photos_are_ungradable_from_the_image_alone(name):
    q = Q.assess(_non_photos()[name])
    assert q.grade == EXPECTED[name], (q.grade, q.reasons, q.measures)
    assert q.reasons and all('\n' not in r for r in q.reasons)


def test_synthetic_fundus_is_gradable():
    # Speed: benchmarks/bench_quality.py.
    for size in ((300, 320), (96, 96)):
        q = Q.assess(fake_fundus(*size))
        assert q.grade in ('good', 'usable'), q.reasons


def test_grade_follows_the_score():
    assert Q._grade(1.0) == 'good'
    assert Q._grade(0.7) == 'usable'
    assert Q._grade(0.2) == 'ungradable'
    q = Q.assess(_non_photos()['blank'])
    assert q.score < 0.5 and q.row()['quality_grade'] == 'ungradable'


def test_quality_module_stays_torch_free():
    code = (
        'import sys, numpy as np; '
        'from napari_retina_vessels.quality import assess; '
        'assess(np.zeros((64, 64, 3), np.uint8)); '
        'assert "torch" not in sys.modules'
    )
    subprocess.run([sys.executable, '-c', code], check=True)


# -- development photos and their degradations -----------------------------


def _first_photos(root):
    from napari_retina_vessels.datasets import discover

    out = {}
    for name, sub in (
        ('DRIVE', 'DRIVE/test'),
        ('CHASE_DB1', 'CHASE_DB1'),
        ('STARE', 'STARE'),
        ('RITE', 'RITE/test'),
        ('HRF-AV', 'HRF-AV/training'),
    ):
        folder = root / sub
        if folder.is_dir():
            out[name] = discover(folder)[0].image
    return out


@pytest.mark.data
@pytest.mark.slow
def test_development_photos_and_degradations_get_the_documented_grade(
    data_root,
):
    from napari_retina_vessels import segment
    from napari_retina_vessels.fov import fov_mask
    from napari_retina_vessels.io import imread

    photos = _first_photos(data_root)
    assert photos
    for name, path in photos.items():
        q = segment(imread(path), av=False, views=1).quality
        assert q.grade in ('good', 'usable'), (name, q.reasons)
    rgb = as_rgb_float(
        imread(photos.get('DRIVE') or next(iter(photos.values())))
    )
    fov = fov_mask(rgb)
    shape = scaled_shape(rgb.shape, canonical_scale(fov))
    rgb = np.clip(resize(rgb, shape), 0, 1)
    for kind, img in _degraded(rgb).items():
        q = segment(img.astype(np.float32), av=False, views=1).quality
        assert q.grade == EXPECTED[kind], (kind, q.grade, q.reasons)


# -- the API and the batch agree --------------------------------------------


def test_api_and_batch_summary_agree_on_the_grade(tmp_path):
    from napari_retina_vessels import segment
    from napari_retina_vessels.batch import run_batch
    from napari_retina_vessels.io import imwrite

    photo = fake_fundus(200, 210, seed=3)
    blank = np.zeros((200, 210, 3), np.uint8)
    imwrite(tmp_path / 'in' / 'photo.png', photo)
    imwrite(tmp_path / 'in' / 'blank.png', blank)
    res = run_batch([tmp_path / 'in'], tmp_path / 'out', av=False, views=1)
    with open(tmp_path / 'out' / 'summary.csv', newline='') as fh:
        rows = {r['name']: r for r in csv.DictReader(fh)}
    for name, img in (('photo', photo), ('blank', blank)):
        q = segment(img, av=False, views=1).quality
        assert rows[name]['quality_grade'] == q.grade
        assert float(rows[name]['quality_score']) == pytest.approx(
            round(q.score, 3)
        )
        assert rows[name]['quality_reasons'] == q.reason
    assert rows['blank']['status'] == 'ungradable'
    assert rows['blank']['quality_reasons']
    assert rows['photo']['status'] == 'done'
    # Ungradable outputs are still written, and marked in the summary.
    assert (tmp_path / 'out' / 'blank_prob.png').is_file()
    assert res['ungradable'] == 1 and res['done'] == 1


def test_cli_reports_ungradable_photos(tmp_path, capsys):
    from napari_retina_vessels.cli import main
    from napari_retina_vessels.io import imwrite

    imwrite(tmp_path / 'in' / 'blank.png', np.zeros((96, 96, 3), np.uint8))
    assert (
        main(
            [
                'segment',
                str(tmp_path / 'in'),
                '--out',
                str(tmp_path / 'out'),
                '--views',
                '1',
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert '1 ungradable' in captured.out
    assert 'ungradable blank.png' in captured.err
    text = (tmp_path / 'out' / 'summary.csv').read_text()
    row = next(csv.DictReader(_io.StringIO(text)))
    assert row['status'] == 'ungradable'


@pytest.mark.parametrize('k', [1, 2, 3, 5])
@pytest.mark.parametrize('shape', [(37, 41), (37, 41, 3)])
def test_block_mean_is_the_mean_of_each_whole_block(k, shape):
    from napari_retina_vessels.quality import _block_mean

    arr = np.random.default_rng(k).random(shape, dtype=np.float32)
    h, w = shape[0] // k * k, shape[1] // k * k
    expected = (
        arr[:h, :w]
        .reshape(h // k, k, w // k, k, *shape[2:])
        .mean(axis=(1, 3), dtype=np.float64)
    )
    got = _block_mean(arr, k)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
