"""The npe2 reader: what it claims, the layers it makes, how it fails."""

from __future__ import annotations

import gzip
import io as _io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_retina_vessels._napari import reader as _reader
from napari_retina_vessels._napari.reader import napari_get_reader
from napari_retina_vessels.errors import DatasetError, ImageReadError

PLUGIN = 'napari-retina-vessels'
RNG = np.random.default_rng(11)
H, W = 24, 30
PHOTO = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
MASK = RNG.random((H, W)) > 0.6


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith('.gz'):
        buf = _io.BytesIO()
        Image.fromarray(array).save(buf, format='PPM')
        path.write_bytes(gzip.compress(buf.getvalue()))
    elif path.suffix in ('.tif', '.tiff'):
        tifffile.imwrite(path, array)
    else:
        Image.fromarray(array).save(path)
    return path


def av_drawing() -> np.ndarray:
    drawing = np.zeros((H, W, 3), np.uint8)
    drawing[2, :] = (255, 0, 0)
    drawing[4, :] = (0, 0, 255)
    drawing[6, :] = (255, 255, 255)
    drawing[8, :5] = (255, 0, 255)  # RITE's stray magenta
    return drawing


def make_generic(folder: Path) -> Path:
    save(folder / 'images' / 'a.png', PHOTO)
    save(folder / 'images' / 'b.png', PHOTO[::-1])
    save(folder / 'images' / 'c.jpg', PHOTO)
    save(folder / 'vessels' / 'a.png', MASK.astype(np.uint8) * 255)
    save(folder / 'masks' / 'a.png', np.ones((H, W), np.uint8) * 255)
    save(folder / 'av' / 'a.png', av_drawing())
    return folder


def read(path) -> list[tuple]:
    reader = napari_get_reader(path if isinstance(path, list) else str(path))
    assert callable(reader), path
    return reader(path if isinstance(path, list) else str(path))


def by_name(layers: list[tuple]) -> dict[str, tuple]:
    return {
        kwargs['name']: (data, kwargs, kind) for data, kwargs, kind in layers
    }


# -- what the get-reader claims -------------------------------------------


@pytest.mark.parametrize(
    'name', ['a.txt', 'a.npy', 'a.zarr', 'a', 'a.gz', 'a.tif.bak']
)
def test_refuses_other_files(tmp_path, name):
    (tmp_path / name).write_bytes(b'x')
    assert napari_get_reader(str(tmp_path / name)) is None


def test_refuses_folders_without_images(tmp_path):
    assert napari_get_reader(str(tmp_path)) is None
    (tmp_path / 'notes.txt').write_text('hi')
    (tmp_path / 'sub').mkdir()
    save(tmp_path / 'sub' / 'deep.png', PHOTO)  # not directly inside
    assert napari_get_reader(str(tmp_path)) is None
    assert napari_get_reader(str(tmp_path / 'missing')) is None


def test_refuses_odd_input_without_raising(tmp_path):
    assert napari_get_reader([]) is None
    assert (
        napari_get_reader([str(tmp_path / 'a.png'), str(tmp_path / 'b.txt')])
        is None
    )
    assert napari_get_reader(12) is None
    # An impossible file name is claimed by its suffix; reading fails.
    reader = napari_get_reader('bad\x00name.png')
    with pytest.raises(ImageReadError, match='does not exist'):
        reader('bad\x00name.png')


@pytest.mark.parametrize(
    'name',
    [
        'a.png',
        'a.tif',
        'a.TIFF',
        'a.JPG',
        'a.jpeg',
        'a.gif',
        'a.bmp',
        'a.ppm',
        'a.pgm',
        'im0001.ppm.gz',
        'a.pgm.gz',
    ],
)
def test_claims_image_files_from_the_name(tmp_path, name):
    # The decision looks at the path only: even a missing file is claimed
    # (and reading it then fails with a clear message).
    assert napari_get_reader(str(tmp_path / name)) is _reader.read


def test_claims_dataset_and_image_folders_and_lists(tmp_path):
    make_generic(tmp_path / 'ds')
    assert napari_get_reader(str(tmp_path / 'ds')) is _reader.read
    save(tmp_path / 'plain' / 'x.png', PHOTO)
    assert napari_get_reader(str(tmp_path / 'plain')) is _reader.read
    files = [str(tmp_path / 'ds' / 'images' / n) for n in ('a.png', 'b.png')]
    assert napari_get_reader(files) is _reader.read


# -- single files ---------------------------------------------------------


def test_photo(tmp_path):
    [(data, kwargs, kind)] = read(save(tmp_path / '01_test.png', PHOTO))
    assert kind == 'image'
    np.testing.assert_array_equal(data, PHOTO)
    assert kwargs['name'] == '01_test' and kwargs['rgb'] is True
    assert kwargs['metadata'] == {'path': str(tmp_path / '01_test.png')}


def test_gzipped_ppm_name(tmp_path):
    [(data, kwargs, kind)] = read(save(tmp_path / 'im0001.ppm.gz', PHOTO))
    assert kind == 'image' and kwargs['name'] == 'im0001'
    np.testing.assert_array_equal(data, PHOTO)


@pytest.mark.parametrize(
    ('array', 'rgb'),
    [
        (RNG.integers(0, 65536, (H, W), dtype=np.uint16), False),
        (RNG.integers(0, 65536, (H, W, 3), dtype=np.uint16), True),
        (RNG.random((H, W)).astype(np.float32), False),
        (RNG.integers(0, 256, (H, W), dtype=np.uint8), False),
    ],
)
def test_16bit_float_and_gray_are_images(tmp_path, array, rgb):
    [(data, kwargs, kind)] = read(save(tmp_path / 'photo.tif', array))
    assert kind == 'image' and kwargs['rgb'] is rgb
    assert data.dtype == array.dtype
    np.testing.assert_array_equal(data, array)
    if not rgb:
        assert kwargs['colormap'] == 'gray'


def test_rgba_drops_alpha(tmp_path):
    rgba = np.dstack([PHOTO, np.full((H, W), 200, np.uint8)])
    [(data, kwargs, _)] = read(save(tmp_path / 'rgba.png', rgba))
    assert data.shape == (H, W, 3) and kwargs['rgb'] is True


def test_pixel_spacing_goes_into_metadata(tmp_path):
    path = tmp_path / 'scaled.tif'
    tifffile.imwrite(
        path, PHOTO, resolution=(1000, 1000), resolutionunit='CENTIMETER'
    )
    [(_, kwargs, _)] = read(path)
    assert kwargs['metadata']['pixel_spacing'] == pytest.approx((10, 10))
    assert kwargs['metadata']['pixel_spacing_unit'] == 'micrometre'


@pytest.mark.parametrize(
    'relpath',
    [
        '1st_manual/01_manual1.gif',
        'Image_01L_1stHO.png',
        'labels-ah/im0001.ah.ppm.gz',
        'vessels/a.png',
        'seg.png',
        'x/mask_like.tif',
    ],
)
def test_binary_files_become_labels(tmp_path, relpath):
    array = MASK.astype(np.uint8) * 255
    if relpath.endswith('.tif'):
        array = MASK  # a 1-bit TIFF
    [(data, kwargs, kind)] = read(save(tmp_path / relpath, array))
    assert kind == 'labels' and data.dtype == np.uint8
    np.testing.assert_array_equal(data, MASK.astype(np.uint8))
    assert 0.5 <= kwargs['opacity'] <= 0.7
    assert kwargs['colormap'][1] == 'lime'


@pytest.mark.parametrize(
    'relpath', ['mask/01_test_mask.gif', 'masks/Image_01L.png']
)
def test_fov_masks_become_labels(tmp_path, relpath):
    noisy = np.where(MASK, 250, 3).astype(np.uint8)  # 2 grey levels
    [(data, kwargs, kind)] = read(save(tmp_path / relpath, noisy))
    assert kind == 'labels'
    np.testing.assert_array_equal(data, MASK.astype(np.uint8))
    assert kwargs['colormap'][1] == 'cyan'


def test_label_named_file_saved_as_rgb_or_jpeg(tmp_path):
    rgb_mask = np.dstack([MASK.astype(np.uint8) * 255] * 3)
    [(data, _, kind)] = read(save(tmp_path / '01_manual1.png', rgb_mask))
    assert kind == 'labels' and data.ndim == 2
    yy, xx = np.mgrid[:64, :64]
    disc = ((yy - 32) ** 2 + (xx - 32) ** 2 < 24**2).astype(np.uint8) * 255
    [(data, _, kind)] = read(save(tmp_path / 'fov_mask.jpg', disc))
    assert kind == 'labels'
    assert (data != (disc > 0)).mean() < 0.01


def test_rite_av_drawing(tmp_path):
    [(data, kwargs, kind)] = read(
        save(tmp_path / 'av' / '01_test.png', av_drawing())
    )
    assert kind == 'labels' and data.dtype == np.uint8
    assert kwargs['name'] == '01_test'
    assert (data[2] == 1).all() and (data[4] == 2).all()
    assert (data[6] == 3).all() and (data[8, :5] == 3).all()
    assert not data[[0, 1, 3, 5, 7]].any()
    colormap = kwargs['colormap']
    assert {k: colormap[k] for k in range(4)} == {
        0: 'transparent',
        1: 'red',
        2: 'blue',
        3: 'yellow',
    }
    assert kwargs['features'] == {
        'index': [0, 1, 2, 3],
        'class': ['background', 'artery', 'vein', 'uncertain'],
    }


def test_av_class_index_file(tmp_path):
    labels = RNG.integers(0, 4, (H, W), dtype=np.uint8)
    [(data, _, kind)] = read(save(tmp_path / 'av' / 'x.png', labels))
    assert kind == 'labels'
    np.testing.assert_array_equal(data, labels)


def test_gray_photo_with_many_levels_stays_an_image(tmp_path):
    gray = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    [(_, kwargs, kind)] = read(save(tmp_path / 'red_free.png', gray))
    assert kind == 'image' and kwargs['rgb'] is False


# -- broken files: one-line ImageReadError --------------------------------


def _empty(folder: Path) -> Path:
    (folder / 'empty.png').write_bytes(b'')
    return folder / 'empty.png'


def _text(folder: Path) -> Path:
    (folder / 'text.tif').write_text('not an image')
    return folder / 'text.tif'


def _truncated_jpeg(folder: Path) -> Path:
    buf = _io.BytesIO()
    Image.fromarray(PHOTO).save(buf, format='JPEG')
    (folder / 'cut.jpg').write_bytes(buf.getvalue()[: buf.tell() // 2])
    return folder / 'cut.jpg'


def _missing(folder: Path) -> Path:
    return folder / 'missing.png'


def _vessel_mask_as_av(folder: Path) -> Path:
    return save(folder / 'av' / 'bad.png', MASK.astype(np.uint8) * 255)


BROKEN = {
    'empty': _empty,
    'text': _text,
    'truncated': _truncated_jpeg,
    'missing': _missing,
    'not-av-labels': _vessel_mask_as_av,
}


@pytest.mark.parametrize('kind', sorted(BROKEN))
def test_broken_claimed_files_raise_one_line(tmp_path, kind):
    path = BROKEN[kind](tmp_path)
    reader = napari_get_reader(str(path))
    assert reader is not None
    with pytest.raises(ImageReadError) as err:
        reader(str(path))
    assert '\n' not in str(err.value) and path.name in str(err.value)


# -- folders and stacks ---------------------------------------------------


def test_generic_dataset_folder(tmp_path):
    folder = make_generic(tmp_path / 'ds')
    layers = read(folder)
    assert [k['name'] for _, k, _ in layers] == [
        'a',
        'a FOV (dataset)',
        'a vessels (reference)',
        'a A/V (reference)',
    ]
    named = by_name(layers)
    data, kwargs, kind = named['a']
    assert kind == 'image' and kwargs['rgb'] is True
    meta = kwargs['metadata']
    assert meta['path'] == str(folder / 'images' / 'a.png')
    assert meta['samples'] == ['a', 'b', 'c']
    assert meta['layout'] == 'generic' and meta['sample'] == 'a'
    for name in (
        'a FOV (dataset)',
        'a vessels (reference)',
        'a A/V (reference)',
    ):
        data, kwargs, kind = named[name]
        assert kind == 'labels' and data.dtype == np.uint8
        assert data.shape == (H, W)
        assert 0.5 <= kwargs['opacity'] <= 0.7
    np.testing.assert_array_equal(named['a vessels (reference)'][0], MASK)
    assert named['a FOV (dataset)'][0].all()
    assert named['a A/V (reference)'][1]['metadata']['path'] == str(
        folder / 'av' / 'a.png'
    )


def test_drive_split_folder_names(tmp_path):
    for n in (1, 2):
        save(tmp_path / 'images' / f'{n:02d}_test.tif', PHOTO)
        save(
            tmp_path / '1st_manual' / f'{n:02d}_manual1.gif',
            MASK.astype(np.uint8) * 255,
        )
        save(
            tmp_path / 'mask' / f'{n:02d}_test_mask.gif',
            np.full((H, W), 255, np.uint8),
        )
    names = [k['name'] for _, k, _ in read(tmp_path)]
    assert names == [
        '01_test',
        '01_test FOV (dataset)',
        '01_test vessels (1st observer)',
    ]


def test_dataset_with_missing_labels_opens_the_photo(tmp_path):
    save(tmp_path / 'images' / 'only.png', PHOTO)
    (tmp_path / 'vessels').mkdir()
    [(data, kwargs, kind)] = read(tmp_path)
    assert kind == 'image' and kwargs['name'] == 'only'


def test_dataset_with_a_broken_label_raises(tmp_path):
    folder = make_generic(tmp_path)
    (folder / 'vessels' / 'a.png').write_bytes(b'\x89PNG\r\n\x1a\n')
    with pytest.raises(ImageReadError, match='a.png'):
        read(folder)


def test_dataset_with_a_misfit_label_raises(tmp_path):
    folder = make_generic(tmp_path)
    save(folder / 'vessels' / 'a.png', np.zeros((5, 5), np.uint8))
    with pytest.raises(DatasetError, match='5 x 5'):
        read(folder)


def test_empty_dataset_folder_raises(tmp_path):
    (tmp_path / 'images').mkdir()
    reader = napari_get_reader(str(tmp_path))
    assert reader is not None
    with pytest.raises(DatasetError, match='holds no photos'):
        reader(str(tmp_path))


def test_plain_folder_opens_each_image(tmp_path):
    save(tmp_path / 'p1.png', PHOTO)
    save(tmp_path / 'p2.jpg', PHOTO)
    save(tmp_path / 'p3_mask.gif', MASK.astype(np.uint8) * 255)
    (tmp_path / 'readme.txt').write_text('x')
    layers = read(tmp_path)
    assert [(k['name'], t) for _, k, t in layers] == [
        ('p1', 'image'),
        ('p2', 'image'),
        ('p3_mask', 'labels'),
    ]


def test_plain_folder_with_too_many_images_warns(tmp_path, monkeypatch):
    monkeypatch.setattr(_reader, 'MAX_FOLDER_FILES', 2)
    for i in range(4):
        save(tmp_path / f'p{i}.png', PHOTO)
    with pytest.warns(UserWarning, match='holds 4 images; opened the first'):
        layers = read(tmp_path)
    assert [k['name'] for _, k, _ in layers] == ['p0', 'p1']


def test_stack_of_files(tmp_path):
    paths = [str(save(tmp_path / f'{i}.png', PHOTO)) for i in range(3)]
    [(data, kwargs, kind)] = read(paths)
    assert kind == 'image' and data.shape == (3, H, W, 3)
    assert kwargs['rgb'] is True
    assert kwargs['metadata']['paths'] == paths


def test_stack_of_different_shapes_raises(tmp_path):
    paths = [
        str(save(tmp_path / 'a.png', PHOTO)),
        str(save(tmp_path / 'b.png', PHOTO[:10])),
    ]
    with pytest.raises(ImageReadError, match='cannot stack b.png'):
        read(paths)


# -- the real datasets ----------------------------------------------------


@pytest.mark.data
@pytest.mark.parametrize(
    ('folder', 'names'),
    [
        (
            'DRIVE/test',
            [
                '01_test',
                '01_test FOV (dataset)',
                '01_test vessels (1st observer)',
            ],
        ),
        (
            'DRIVE',
            [
                '21_training',
                '21_training FOV (dataset)',
                '21_training vessels (1st observer)',
            ],
        ),
        (
            'RITE/test',
            ['01_test', '01_test FOV (dataset)', '01_test A/V (reference)'],
        ),
        (
            'CHASE_DB1',
            [
                'Image_01L',
                'Image_01L FOV (dataset)',
                'Image_01L vessels (1st observer)',
            ],
        ),
        (
            'STARE',
            [
                'im0001',
                'im0001 FOV (dataset)',
                'im0001 vessels (1st observer)',
            ],
        ),
    ],
)
def test_real_dataset_folders(data_root, folder, names):
    path = data_root / folder
    if not path.is_dir():
        pytest.skip(f'{path} is missing')
    layers = read(path)
    assert [k['name'] for _, k, _ in layers] == names
    photo = layers[0][0]
    for data, _, kind in layers[1:]:
        assert kind == 'labels' and data.shape == photo.shape[:2]
    if folder == 'RITE/test':
        av = layers[-1][0]
        assert set(np.unique(av)) == {0, 1, 2, 3}


# -- in the viewer --------------------------------------------------------


@pytest.mark.gui
def test_viewer_opens_a_photo(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    path = save(tmp_path / '01_test.png', PHOTO)
    layers = viewer.open(path, plugin=PLUGIN)
    assert [ly.name for ly in layers] == ['01_test']
    layer = viewer.layers['01_test']
    assert layer._type_string == 'image' and layer.rgb
    assert layer.metadata['path'] == str(path)
    np.testing.assert_array_equal(layer.data, PHOTO)


@pytest.mark.gui
def test_viewer_opens_a_dataset_folder(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    folder = make_generic(tmp_path / 'ds')
    viewer.open(folder, plugin=PLUGIN)
    assert [ly.name for ly in viewer.layers] == [
        'a',
        'a FOV (dataset)',
        'a vessels (reference)',
        'a A/V (reference)',
    ]
    assert viewer.layers['a'].rgb
    av = viewer.layers['a A/V (reference)']
    assert av._type_string == 'labels'
    np.testing.assert_allclose(av.colormap.map(1), [1, 0, 0, 1])
    np.testing.assert_allclose(av.colormap.map(2), [0, 0, 1, 1])
    assert av.colormap.map(0)[3] == 0
    assert list(av.features['class']) == [
        'background',
        'artery',
        'vein',
        'uncertain',
    ]
    vessels = viewer.layers['a vessels (reference)']
    assert vessels._type_string == 'labels' and 0.5 <= vessels.opacity <= 0.7


@pytest.mark.gui
@pytest.mark.data
def test_viewer_opens_drive_test(make_napari_viewer, data_root):
    folder = data_root / 'DRIVE' / 'test'
    if not folder.is_dir():
        pytest.skip(f'{folder} is missing')
    viewer = make_napari_viewer()
    viewer.open(folder, plugin=PLUGIN)
    assert [ly.name for ly in viewer.layers] == [
        '01_test',
        '01_test FOV (dataset)',
        '01_test vessels (1st observer)',
    ]
    photo = viewer.layers['01_test']
    assert photo.rgb and photo.data.shape == (584, 565, 3)
    assert len(photo.metadata['samples']) == 20
    assert viewer.layers['01_test vessels (1st observer)'].data.max() == 1


@pytest.mark.gui
def test_viewer_survives_a_broken_file(make_napari_viewer, tmp_path):
    from napari.errors import ReaderPluginError

    viewer = make_napari_viewer()
    bad = tmp_path / 'broken.tif'
    bad.write_text('definitely not a TIFF')
    # Naming the plugin: napari passes the reader's error through.
    with pytest.raises(ImageReadError, match='broken.tif'):
        viewer.open(bad, plugin=PLUGIN)
    # Letting napari choose (only this plugin reads .ppm.gz): it wraps
    # the error in a ReaderPluginError that carries the message.
    cut = tmp_path / 'im0001.ppm.gz'
    cut.write_bytes(b'\x1f\x8b\x08\x00')
    with pytest.raises(ReaderPluginError) as err:
        viewer.open(cut, plugin=None)
    assert isinstance(err.value.original_error, ImageReadError)
    assert 'im0001.ppm.gz' in str(err.value.original_error)
    assert len(viewer.layers) == 0
    # The viewer still works.
    viewer.open(save(tmp_path / 'good.png', PHOTO), plugin=PLUGIN)
    assert [ly.name for ly in viewer.layers] == ['good']


@pytest.mark.gui
def test_file_open_dialog_choice_is_remembered(
    make_napari_viewer, tmp_path, monkeypatch
):
    # File > Open with two readers for .png pops napari's reader dialog;
    # choosing this plugin with "remember" makes it the .png default.
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog
    from napari.settings import get_settings

    viewer = make_napari_viewer()
    shown = []

    def choose(dialog):
        shown.append(dialog)
        return 'Retina Vessels', True

    monkeypatch.setattr(QtReaderDialog, 'get_user_choices', choose)
    first = save(tmp_path / 'first.png', PHOTO)
    viewer.window._qt_viewer._qt_open([str(first)], stack=False)
    assert len(shown) == 1
    assert viewer.layers['first'].metadata['path'] == str(first)
    assert get_settings().plugins.extension2reader['*.png'] == PLUGIN
    # Next time no dialog: the remembered reader opens it.
    second = save(tmp_path / 'second.png', PHOTO)
    viewer.window._qt_viewer._qt_open([str(second)], stack=False)
    assert len(shown) == 1
    assert viewer.layers['second'].metadata['path'] == str(second)


@pytest.mark.gui
def test_viewer_opens_stare_files_without_naming_the_plugin(
    make_napari_viewer, tmp_path
):
    # Only this plugin reads .ppm.gz: napari picks it when asked to.
    viewer = make_napari_viewer()
    viewer.open(save(tmp_path / 'im0001.ppm.gz', PHOTO), plugin=None)
    assert viewer.layers['im0001'].rgb
