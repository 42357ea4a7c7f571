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
    from napari_retina_vessels.io.datasets import discover

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


# -- the learned gate: cheap verdicts, model, resolution, retina evidence --


def _in_aperture(rgb, warm=False):
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    r = 0.46 * min(h, w)
    disc = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 <= r * r)[..., None]
    if warm:
        rgb = rgb.mean(-1, keepdims=True) * np.array([1.0, 0.5, 0.25])
    return (rgb * disc).astype(np.float32)


@pytest.mark.parametrize('name', ['chelsea', 'coffee', 'grass', 'gravel'])
@pytest.mark.parametrize('warm', [False, True])
def test_pictures_in_a_round_aperture_are_not_gradable(name, warm):
    from skimage import data

    q = Q.assess(_in_aperture(as_rgb_float(getattr(data, name)()), warm))
    assert q.grade == 'ungradable', (q.reasons, q.measures['p_gradable'])


def test_model_file_is_in_the_registry_and_shipped():
    from napari_retina_vessels import _quality_model as QM
    from napari_retina_vessels import _registry
    from napari_retina_vessels.weights import SHIPPED_DIR, file_sha256

    entry = _registry.REGISTRY[QM.MODEL_NAME]
    assert entry['shipped'] and entry['task'] == 'quality'
    path = SHIPPED_DIR / entry['file']
    assert file_sha256(path) == entry['sha256']
    model = QM.load()
    assert 0 < float(model['t_ungradable']) < float(model['t_good']) < 1


def test_reasons_name_what_is_wrong():
    photo = as_rgb_float(fake_fundus(300, 320, seed=1))
    blurred = np.clip(_gauss(photo, 8), 0, 1)
    q = Q.assess(blurred)
    assert q.grade == 'ungradable'
    assert q.reasons and all(isinstance(r, str) for r in q.reasons)


def test_a_thumbnail_is_at_most_usable_and_says_why():
    q = Q.assess(fake_fundus(140, 145, seed=2))
    assert q.grade == 'usable', (q.grade, q.reasons)
    assert any('low resolution' in r for r in q.reasons)


@pytest.mark.parametrize(
    'image',
    [
        np.zeros((300, 300, 3), np.uint8),
        np.full((300, 300, 3), 200, np.uint8),
    ],
)
def test_blank_frames_end_before_any_network(image, monkeypatch):
    from napari_retina_vessels import engines, inference, segment

    def no_network(*a, **k):
        raise AssertionError('a network was run for a blank frame')

    # The engine builds its networks only for the first photo that
    # reaches them: a blank frame loads no network and runs none.
    monkeypatch.setattr(engines, 'load_net', no_network)
    monkeypatch.setattr(inference, 'predict', no_network)
    monkeypatch.setattr(inference, 'predict_many', no_network)
    seg = segment(image, av=True, views=1)
    assert seg.quality.grade == 'ungradable'
    assert not seg.vessels.any() and seg.artery_vein is not None
    assert seg.with_threshold(0.3).quality.grade == 'ungradable'
    with pytest.raises(AssertionError, match='network was run'):
        segment(image, av=False, views=1, force=True)


def test_a_tiny_field_of_view_ends_before_any_network(monkeypatch):
    from napari_retina_vessels import engines, inference, segment

    def no_network(*a, **k):
        raise AssertionError('a network was run for a tiny field of view')

    monkeypatch.setattr(engines, 'load_net', no_network)  # nor loaded
    monkeypatch.setattr(inference, 'predict', no_network)
    monkeypatch.setattr(inference, 'predict_many', no_network)
    img = np.zeros((600, 600, 3), np.uint8)
    img[280:320, 280:320] = fake_fundus(40, 40)
    seg = segment(img, av=False, views=1)
    assert seg.quality.grade == 'ungradable', seg.quality.reasons
    assert 'field of view' in seg.quality.reason


def _tree(h=400, w=400):
    """A probability map like a retina's: branches from one point."""
    p = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[:h, :w]
    for a in np.linspace(0, 2 * np.pi, 9)[:-1]:
        d = np.abs((yy - 200) * np.cos(a) - (xx - 120) * np.sin(a))
        ahead = (xx - 120) * np.cos(a) + (yy - 200) * np.sin(a) > 0
        p[(d < 2.5) & ahead] = 0.95
    return p


def test_retina_evidence_passes_a_tree():
    fov = np.ones((400, 400), bool)
    good = Q.Quality('good', 1.0, measures={'disc_y': 0.5, 'disc_x': 0.3})
    q = Q.assess_prediction(good, _tree(), fov, 0.5)
    assert Q.NOT_FUNDUS not in q.reasons, q.measures
    assert q.grade != 'ungradable', q.reasons
    for key in ('tree_share', 'top5_share', 'vessel_density'):
        assert q.measures[key] >= Q.EVIDENCE[key], key


def test_retina_evidence_tells_a_tree_from_scattered_blobs():
    # Evenly scattered blobs converge on any disc (about 1.0) though
    # they form no tree: the share of the five largest pieces tells.
    fov = np.ones((400, 400), bool)
    good = Q.Quality('good', 1.0, measures={'disc_y': 0.5, 'disc_x': 0.3})
    rng = np.random.default_rng(0)
    blobs = (rng.random((400, 400)) > 0.93).astype(np.float32)
    q = Q.assess_prediction(good, blobs, fov, 0.5)
    assert q.grade == 'ungradable' and q.reasons[0] == Q.NOT_FUNDUS
    assert q.kind == 'not a fundus photo'


@pytest.mark.data
def test_drive_photo_as_12_bit_with_a_hot_pixel_is_gradable(data_root):
    from napari_retina_vessels.io import imread

    photo = imread(data_root / 'DRIVE' / 'test' / 'images' / '01_test.tif')
    high = photo.astype(np.uint16) * 16
    high[3, 4, 0] = 65535
    assert Q.assess(high).grade == Q.assess(photo).grade != 'ungradable'


def test_segment_force_flag_runs_the_networks_on_a_blank_frame(
    tmp_path, monkeypatch
):
    import csv

    from PIL import Image

    from napari_retina_vessels import inference
    from napari_retina_vessels.cli import main

    runs = []
    one, many = inference.predict, inference.predict_many

    def counted_one(*a, **k):
        runs.append(1)
        return (yield from one(*a, **k))

    def counted_many(*a, **k):
        runs.append(1)
        return many(*a, **k)

    monkeypatch.setattr(inference, 'predict', counted_one)
    monkeypatch.setattr(inference, 'predict_many', counted_many)
    (tmp_path / 'in').mkdir()
    Image.fromarray(np.full((120, 130, 3), 90, np.uint8)).save(
        tmp_path / 'in' / 'blank.png'
    )

    def status(out, *flags):
        rc = main(
            ['segment', str(tmp_path / 'in'), '--out', str(tmp_path / out)]
            + ['--device', 'cpu', '--engine', 'torch', '--views', '1', *flags]
        )
        with open(tmp_path / out / 'summary.csv', newline='') as fh:
            return rc, list(csv.DictReader(fh))[0]

    rc, row = status('plain')
    assert rc == 0 and row['status'] == 'ungradable' and not runs
    assert 'blank frame' in row['quality_reasons']
    rc, row = status('forced', '--force')
    assert rc == 0 and runs, row


def test_a_map_sparser_than_any_retina_is_ungradable():
    fov = np.ones((400, 400), bool)
    good = Q.Quality('good', 1.0, measures={'disc_y': 0.5, 'disc_x': 0.3})
    p = _tree()
    thin = np.zeros_like(p)
    ys, xs = np.nonzero(p >= 0.5)
    keep = ys < ys.min() + 0.15 * (ys.max() - ys.min())  # a stub of it
    thin[ys[keep], xs[keep]] = 1.0
    q = Q.assess_prediction(good, thin, fov, 0.5)
    density = q.measures['vessel_density']
    assert density < Q.EVIDENCE['vessel_density'], density
    assert q.grade == 'ungradable' and 'too few vessels' in q.reasons[0]


def test_measures_csv_notes_a_low_resolution_photo(tmp_path):
    import csv

    from PIL import Image

    from napari_retina_vessels.cli import main

    (tmp_path / 'in').mkdir()
    Image.fromarray(fake_fundus(240, 260, seed=0)).save(
        tmp_path / 'in' / 'small.png'
    )
    rc = main(
        ['segment', str(tmp_path / 'in'), '--out', str(tmp_path / 'out')]
        + ['--device', 'cpu', '--views', '1', '--measure']
    )
    with open(tmp_path / 'out' / 'measures.csv', newline='') as fh:
        row = list(csv.DictReader(fh))[0]
    assert rc == 0 and row['quality_grade'] == 'usable', row
    assert 'low resolution' in row['quality_reasons']
    assert 'less reliable calibres: low resolution' in row['note']


def _rays(n=16, h=400, w=400, width=2.5):
    """A map of *n* vessels leaving one disc: a long, clear tree."""
    p = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[:h, :w]
    for a in np.linspace(0, 2 * np.pi, n + 1)[:-1]:
        d = np.abs((yy - 200) * np.cos(a) - (xx - 200) * np.sin(a))
        ahead = (xx - 200) * np.cos(a) + (yy - 200) * np.sin(a) > 0
        p[(d < width) & ahead] = 0.95
    return p


def _disc_fov(h=400, w=400):
    yy, xx = np.mgrid[:h, :w]
    return (yy - h / 2) ** 2 + (xx - w / 2) ** 2 <= (0.48 * h) ** 2


def test_a_lattice_map_is_not_a_fundus_photograph():
    # Scales, lattices and gravel close small cells all over the map; a
    # retina's vessels close a loop only where two of them cross.
    fov = _disc_fov()
    p = np.zeros(fov.shape, np.float32)
    p[::12, :] = 0.95
    p[:, ::12] = 0.95
    p[1::12, :] = 0.95
    p[:, 1::12] = 0.95
    good = Q.Quality('good', 1.0, measures={'disc_y': 0.5, 'disc_x': 0.5})
    q = Q.assess_prediction(good, p * fov, fov, 0.5)
    assert q.measures['mesh'] > Q.EVIDENCE_MAX['mesh'], q.measures
    assert q.grade == 'ungradable' and q.reasons[0] == Q.NOT_FUNDUS
    tree = Q.assess_prediction(good, _rays() * fov, fov, 0.5)
    assert tree.measures['mesh'] < Q.EVIDENCE_MAX['mesh'], tree.measures
    assert tree.grade != 'ungradable', tree.reasons


def _doubted(p_gradable):
    """An image grade: the model alone calls the photo ungradable."""
    return Q.Quality(
        'ungradable',
        0.3,
        reasons=('under-exposed',),
        measures={
            'disc_y': 0.5,
            'disc_x': 0.5,
            'p_gradable': p_gradable,
            'gray_difference': 0.2,
            'green_share': 0.4,
        },
    )


def test_a_clear_vessel_map_lifts_a_photo_only_the_model_doubted():
    from napari_retina_vessels import _quality_model as QM

    t_u = float(QM.load()['t_ungradable'])
    p_low = Q.CLEAR_MAP['p_gradable']
    fov = _disc_fov()
    tree = _rays() * fov
    doubted = _doubted((p_low + t_u) / 2)
    q = Q.assess_prediction(doubted, tree, fov, 0.5)
    m = q.measures
    assert m['vessel_length'] >= Q.CLEAR_MAP['vessel_length'], m
    assert q.grade == 'usable', q.reasons
    assert q.reasons[0].startswith(Q.CLEAR_REASON), q.reasons
    assert 'under-exposed' in q.reasons[0] and q.kind == 'colour'
    # Too sure a verdict is not lifted, nor is a map too short to be
    # a whole retina's.
    if p_low > 0.001:
        sure = Q.assess_prediction(_doubted(p_low / 2), tree, fov, 0.5)
        assert sure.grade == 'ungradable', sure.reasons
    from dataclasses import replace

    picture = replace(doubted, kind='not a fundus photo')
    q = Q.assess_prediction(picture, tree, fov, 0.5)
    assert q.grade == 'ungradable', q.reasons
    short = _rays(n=4) * fov
    q = Q.assess_prediction(doubted, short, fov, 0.5)
    assert q.measures['vessel_length'] < Q.CLEAR_MAP['vessel_length']
    assert q.grade == 'ungradable', q.reasons


def test_no_vessels_visible_says_so_and_nothing_is_lifted():
    fov = _disc_fov()
    stub = np.zeros(fov.shape, np.float32)
    stub[190:200, 200:260] = 0.95  # one short vessel
    q = Q.assess_prediction(_doubted(0.3), stub, fov, 0.5)
    assert q.grade == 'ungradable'
    assert q.reasons[0].startswith('no vessels visible'), q.reasons


@pytest.mark.data
@pytest.mark.slow
def test_drimdb_hazy_photo_shows_no_vessels_and_good_ones_pass(data_root):
    # DRIMDB's bad photos (haze, no vessel visible) draw a sparse, short
    # map: the gate says so after segmentation and nothing is measured;
    # its good photos (yellow-green, octagonal, dated) stay gradable.
    from napari_retina_vessels import segment
    from napari_retina_vessels.io import imread

    folder = data_root / 'DRIMDB'
    bad = folder / 'bad' / 'drimdb_bad (1).jpg'
    good = folder / 'good' / 'drimdb_good (24).jpg'
    if not (bad.is_file() and good.is_file()):
        pytest.skip('DRIMDB is not in the dataset folder')
    q = segment(imread(bad), av=False, views=1).quality
    assert q.grade == 'ungradable', q.reasons
    assert any(r.startswith('no vessels visible') for r in q.reasons)
    assert q.measures['vessel_length'] < Q.EVIDENCE['vessel_length']
    q = segment(imread(good), av=False, views=1).quality
    assert q.grade != 'ungradable', q.reasons
    assert q.measures['vessel_length'] >= Q.CLEAR_MAP['vessel_length']


def test_vessel_length_and_mesh_by_hand():
    from napari_retina_vessels._quality_measures import _length_and_mesh

    fov = np.ones((100, 100), bool)  # no aperture: the image's edge
    v = np.zeros((100, 100), bool)
    v[10, 10:50] = v[49, 10:50] = v[10:50, 10] = v[10:50, 49] = True
    # 156 pixels of outline (each on the edge of the map), 100 across,
    # one gap closed all round.
    m = _length_and_mesh(v, fov)
    assert m['vessel_length'] == pytest.approx(156 / 2 / 100)
    assert m['mesh'] == pytest.approx(1 / (156 / 2 / 100))
    v[60, :] = True  # a line across the image closes nothing
    m = _length_and_mesh(v, fov)
    assert m['mesh'] == pytest.approx(1 / m['vessel_length'])
