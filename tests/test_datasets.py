"""Dataset folder layouts -> paired samples, on synthetic and real data."""

from __future__ import annotations

import gzip
import io as _io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_retina_vessels.errors import DatasetError
from napari_retina_vessels.io import datasets

H, W = 12, 10


def _photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _mask(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((H, W)) > 0.5).astype(np.uint8) * 255


def _save(path: Path, array: np.ndarray) -> Path:
    """Write *array* in the format its name says (incl. .ppm.gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith('.gz'):
        buf = _io.BytesIO()
        Image.fromarray(array).save(buf, format='PPM')
        path.write_bytes(gzip.compress(buf.getvalue()))
    else:
        Image.fromarray(array).save(path)
    return path


def make_drive_split(folder: Path, numbers, split: str) -> Path:
    for n in numbers:
        _save(folder / 'images' / f'{n:02d}_{split}.tif', _photo(n))
        _save(folder / '1st_manual' / f'{n:02d}_manual1.gif', _mask(n))
        _save(folder / 'mask' / f'{n:02d}_{split}_mask.gif', _mask(n + 99))
    return folder


def make_rite_split(folder: Path, numbers, split: str) -> Path:
    for n in numbers:
        _save(folder / 'images' / f'{n:02d}_{split}.tif', _photo(n))
        _save(folder / 'mask' / f'{n:02d}_{split}_mask.gif', _mask(n))
        drawing = np.zeros((H, W, 3), np.uint8)
        drawing[0, :3] = (255, 0, 0)
        drawing[1, :3] = (0, 0, 255)
        drawing[2, :3] = (255, 255, 255)
        _save(folder / 'av' / f'{n:02d}_{split}.png', drawing)
    return folder


CHASE_NAMES = [f'Image_{i:02d}{eye}' for i in range(1, 15) for eye in 'LR']


def make_chase(folder: Path) -> Path:
    for i, name in enumerate(CHASE_NAMES):
        _save(folder / f'{name}.jpg', _photo(i))
        _save(folder / f'{name}_1stHO.png', _mask(i))
        _save(folder / f'{name}_2ndHO.png', _mask(i + 50))
        _save(folder / 'masks' / f'{name}.png', _mask(i + 100))
    return folder


STARE_NAMES = [
    f'im{n:04d}'
    for n in (
        1,
        2,
        3,
        4,
        5,
        44,
        77,
        81,
        82,
        139,
        162,
        163,
        235,
        236,
        239,
        240,
        255,
        291,
        319,
        324,
    )
]


def make_stare(folder: Path, *, mask_names=None) -> Path:
    for i, name in enumerate(STARE_NAMES):
        _save(folder / 'stare-images' / f'{name}.ppm.gz', _photo(i))
        _save(folder / 'labels-ah' / f'{name}.ah.ppm.gz', _mask(i))
        _save(folder / 'labels-vk' / f'{name}.vk.ppm.gz', _mask(i + 7))
        mask = mask_names[i] if mask_names else f'{name}.png'
        _save(folder / 'masks' / mask, _mask(i + 100))
    return folder


def make_hrf(folder: Path) -> Path:
    for name in ('01_dr', '01_g', '01_h', '02_dr'):
        _save(folder / 'images' / f'{name}.JPG', _photo(len(name)))
        _save(folder / 'manual1' / f'{name}.tif', _mask(1))
        _save(folder / 'mask' / f'{name}_mask.tif', _mask(2))
    return folder


def make_hrf_av(folder: Path) -> Path:
    """HRF-AV's layout: upper-case ``.JPG`` for ``_dr``, ``_AVmanual``
    RGB drawings (red artery, blue vein, green crossing)."""
    for name in ('01_dr', '01_g', '01_h', '02_dr'):
        ext = 'JPG' if name.endswith('dr') else 'jpg'
        _save(folder / 'images' / f'{name}.{ext}', _photo(len(name)))
        _save(folder / 'mask' / f'{name}_mask.tif', _mask(2))
        drawing = np.zeros((H, W, 3), np.uint8)
        drawing[0, :4] = (255, 0, 0)
        drawing[1, :3] = (0, 0, 255)
        drawing[2, :2] = (0, 255, 0)
        _save(folder / 'av' / f'{name}_AVmanual.png', drawing)
    return folder


def make_generic(folder: Path) -> Path:
    _save(folder / 'images' / 'a.png', _photo(1))
    _save(folder / 'images' / 'b.tif', _photo(2))
    _save(folder / 'images' / 'c.jpg', _photo(3))
    _save(folder / 'vessels' / 'a.png', _mask(1))
    _save(folder / 'vessels' / 'b.png', _mask(2))
    _save(folder / 'masks' / 'a.png', _mask(3))
    av = np.zeros((H, W), np.uint8)
    av[:2] = 1
    av[2:4] = 2
    _save(folder / 'av' / 'a.png', av)
    return folder


# -- synthetic layouts ----------------------------------------------------


def test_drive_split_folder(tmp_path):
    folder = make_drive_split(tmp_path / 'test', [1, 2, 3], 'test')
    assert datasets.detect_layout(folder) == 'drive'
    samples = datasets.discover(folder)
    assert [s.name for s in samples] == ['01_test', '02_test', '03_test']
    s = samples[1]
    assert s.layout == 'drive'
    assert s.image == folder / 'images' / '02_test.tif'
    assert s.vessels == folder / '1st_manual' / '02_manual1.gif'
    assert s.fov == folder / 'mask' / '02_test_mask.gif'
    assert s.av is None
    data = datasets.load_sample(s)
    np.testing.assert_array_equal(data['image'], _photo(2))
    np.testing.assert_array_equal(data['vessels'], _mask(2) > 0)
    np.testing.assert_array_equal(data['fov'], _mask(101) > 0)
    assert data['vessels'].dtype == np.bool_ and data['av'] is None


def test_drive_root_with_training_and_test(tmp_path):
    make_drive_split(tmp_path / 'training', [21, 22], 'training')
    make_drive_split(tmp_path / 'test', [1, 2, 3], 'test')
    assert datasets.detect_layout(tmp_path) == 'drive'
    names = [s.name for s in datasets.discover(tmp_path)]
    assert names == [
        '21_training',
        '22_training',
        '01_test',
        '02_test',
        '03_test',
    ]
    assert len(datasets.discover(tmp_path, split='train')) == 2
    test = datasets.discover(tmp_path, split='test')
    assert [s.name for s in test] == ['01_test', '02_test', '03_test']
    assert all(s.vessels is not None and s.fov is not None for s in test)


def test_rite_split_and_root(tmp_path):
    make_rite_split(tmp_path / 'training', [21], 'training')
    split = make_rite_split(tmp_path / 'test', [1, 2], 'test')
    assert datasets.detect_layout(split) == 'rite'
    assert datasets.detect_layout(tmp_path) == 'rite'
    samples = datasets.discover(split)
    assert [s.layout for s in samples] == ['rite', 'rite']
    assert samples[0].av == split / 'av' / '01_test.png'
    assert samples[0].vessels is None
    av = datasets.load_sample(samples[0])['av']
    assert av.dtype == np.uint8
    np.testing.assert_array_equal(av[:3, :3], [[1] * 3, [2] * 3, [3] * 3])
    assert not av[3:].any()
    assert [s.name for s in datasets.discover(tmp_path, split='train')] == [
        '21_training'
    ]
    assert len(datasets.discover(tmp_path)) == 3


def test_chase_flat_folder_and_split(tmp_path):
    folder = make_chase(tmp_path)
    assert datasets.detect_layout(folder) == 'chase'
    samples = datasets.discover(folder)
    assert [s.name for s in samples] == CHASE_NAMES
    train = datasets.discover(folder, split='train')
    test = datasets.discover(folder, split='test')
    assert len(train) == 20 and len(test) == 8
    assert train[-1].name == 'Image_10R' and test[0].name == 'Image_11L'
    s = test[0]
    # The first observer is the reference, never the second.
    assert s.vessels == folder / 'Image_11L_1stHO.png'
    assert s.fov == folder / 'masks' / 'Image_11L.png'
    data = datasets.load_sample(s)
    assert data['image'].shape == (H, W, 3)
    np.testing.assert_array_equal(data['vessels'], _mask(20) > 0)


def test_stare_layout_and_split(tmp_path):
    folder = make_stare(tmp_path)
    assert datasets.detect_layout(folder) == 'stare'
    train = datasets.discover(folder, split='train')
    test = datasets.discover(folder, split='test')
    assert [s.name for s in train] == STARE_NAMES[:10]
    assert [s.name for s in test] == STARE_NAMES[10:]
    s = test[0]
    # Hoover's labels (ah) are the reference, not Kouznetsova's (vk).
    assert s.vessels == folder / 'labels-ah' / 'im0162.ah.ppm.gz'
    assert s.fov == folder / 'masks' / 'im0162.png'
    data = datasets.load_sample(s)
    np.testing.assert_array_equal(data['image'], _photo(10))
    np.testing.assert_array_equal(data['vessels'], _mask(10) > 0)


def test_stare_masks_pair_by_position_when_names_differ(tmp_path):
    names = [f'mask_{i:02d}.png' for i in range(len(STARE_NAMES))]
    folder = make_stare(tmp_path, mask_names=names)
    samples = datasets.discover(folder)
    assert [s.fov.name for s in samples] == names


def test_hrf_layout(tmp_path):
    folder = make_hrf(tmp_path)
    assert datasets.detect_layout(folder) == 'hrf'
    samples = datasets.discover(folder)
    assert [s.name for s in samples] == ['01_dr', '01_g', '01_h', '02_dr']
    s = samples[0]
    assert s.vessels == folder / 'manual1' / '01_dr.tif'
    assert s.fov == folder / 'mask' / '01_dr_mask.tif'
    assert datasets.load_sample(s)['fov'].shape == (H, W)


def test_hrf_av_layout_pairs_by_name_and_derives_the_vessel_tree(tmp_path):
    folder = make_hrf_av(tmp_path / 'training')
    # Not RITE: its numbers would pair 01_dr, 01_g and 01_h with one label.
    assert datasets.detect_layout(folder) == 'hrf'
    assert datasets.detect_layout(tmp_path) == 'hrf'
    samples = datasets.discover(tmp_path, split='train')
    assert [s.name for s in samples] == ['01_dr', '01_g', '01_h', '02_dr']
    for s in samples:
        assert s.av.name == f'{s.name}_AVmanual.png'
        assert s.fov.name == f'{s.name}_mask.tif'
        assert s.vessels is None
    data = datasets.load_sample(samples[1])
    assert np.bincount(data['av'].ravel(), minlength=4).tolist() == [
        H * W - 9,
        4,
        3,
        2,
    ]
    # Vessel tree = every labelled pixel, crossings included.
    np.testing.assert_array_equal(data['vessels'], data['av'] > 0)
    with pytest.raises(DatasetError, match='no photos'):
        datasets.discover(tmp_path, split='test')


def test_generic_layout_pairs_by_stem_and_allows_missing_labels(tmp_path):
    folder = make_generic(tmp_path)
    assert datasets.detect_layout(folder) == 'generic'
    a, b, c = datasets.discover(folder)
    assert (a.name, b.name, c.name) == ('a', 'b', 'c')
    assert a.vessels and a.fov and a.av
    assert b.vessels == folder / 'vessels' / 'b.png'
    assert b.fov is None and b.av is None
    assert c.vessels is None and c.fov is None and c.av is None
    data = datasets.load_sample(a)
    np.testing.assert_array_equal(data['av'][:4, 0], [1, 1, 2, 2])
    data = datasets.load_sample(c)
    assert data['vessels'] is None and data['fov'] is None
    assert data['image'].shape == (H, W, 3)


# -- errors ---------------------------------------------------------------


def test_detect_layout_of_non_datasets(tmp_path):
    assert datasets.detect_layout(tmp_path / 'missing') is None
    assert datasets.detect_layout(tmp_path) is None
    _save(tmp_path / 'photo.png', _photo(0))
    assert datasets.detect_layout(tmp_path / 'photo.png') is None
    assert datasets.detect_layout(tmp_path) is None


def test_discover_errors(tmp_path):
    with pytest.raises(DatasetError, match='is not a folder'):
        datasets.discover(tmp_path / 'missing')
    with pytest.raises(DatasetError, match='not a dataset folder'):
        datasets.discover(tmp_path)
    (tmp_path / 'images').mkdir()
    with pytest.raises(DatasetError, match='holds no photos'):
        datasets.discover(tmp_path)
    with pytest.raises(DatasetError, match="unknown split 'val'"):
        datasets.discover(tmp_path, split='val')


def test_label_of_the_wrong_size(tmp_path):
    folder = make_generic(tmp_path)
    _save(folder / 'vessels' / 'b.png', np.zeros((5, 5), np.uint8))
    sample = datasets.discover(folder)[1]
    with pytest.raises(DatasetError, match='vessels label of b is 5 x 5'):
        datasets.load_sample(sample)


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv('RETINA_VESSELS_DATA', str(tmp_path))
    assert datasets.data_root() == tmp_path
    monkeypatch.delenv('RETINA_VESSELS_DATA')
    assert datasets.data_root() == Path('../shared/datasets')


# -- the real datasets ----------------------------------------------------

REAL = [
    # folder, split, count, photo shape, has vessels, has av
    ('DRIVE', 'train', 20, (584, 565, 3), True, False),
    ('DRIVE', 'test', 20, (584, 565, 3), True, False),
    ('RITE', 'train', 20, (584, 565, 3), False, True),
    ('RITE', 'test', 20, (584, 565, 3), False, True),
    ('CHASE_DB1', 'train', 20, (960, 999, 3), True, False),
    ('CHASE_DB1', 'test', 8, (960, 999, 3), True, False),
    ('STARE', 'train', 10, (605, 700, 3), True, False),
    ('STARE', 'test', 10, (605, 700, 3), True, False),
    ('HRF-AV', 'train', 24, (2336, 3504, 3), True, True),
]


@pytest.mark.data
@pytest.mark.parametrize(
    ('name', 'split', 'count', 'shape', 'has_vessels', 'has_av'),
    REAL,
    ids=[f'{r[0]}-{r[1]}' for r in REAL],
)
def test_real_dataset(
    data_root, name, split, count, shape, has_vessels, has_av
):
    folder = data_root / name
    if not folder.is_dir():
        pytest.skip(f'{folder} is missing')
    samples = datasets.discover(folder, split=split)
    assert len(samples) == count
    assert len({s.name for s in samples}) == count
    for s in samples:
        assert s.fov is not None, s.name
        assert (s.av is not None) == has_av, s.name
        data = datasets.load_sample(s)  # raises if a label does not fit
        # HRF-AV's vessel tree is derived from its A/V labels on loading.
        assert (data['vessels'] is not None) == has_vessels, s.name
        assert data['image'].shape == shape, s.name
        assert data['image'].dtype == np.uint8
        fov = data['fov']
        assert fov.shape == shape[:2] and fov.dtype == np.bool_
        assert 0.5 < fov.mean() < 0.95, s.name
        if has_vessels:
            vessels = data['vessels']
            assert vessels.shape == shape[:2] and vessels.dtype == np.bool_
            # Vessels cover roughly 8-15 % of the field of view.
            assert 0.04 < vessels[fov].mean() < 0.25, s.name
        if has_av:
            av = data['av']
            assert av.dtype == np.uint8 and av.shape == shape[:2]
            counts = np.bincount(av.ravel(), minlength=4)
            assert counts.size == 4 and counts[1] > 0 and counts[2] > 0


@pytest.mark.data
def test_real_drive_test_pairs_by_number(data_root):
    folder = data_root / 'DRIVE' / 'test'
    if not folder.is_dir():
        pytest.skip(f'{folder} is missing')
    samples = datasets.discover(folder)
    assert datasets.detect_layout(data_root / 'DRIVE') == 'drive'
    for s in samples:
        number = s.name.split('_')[0]
        assert s.vessels.name == f'{number}_manual1.gif'
        assert s.fov.name == f'{number}_test_mask.gif'
