"""Reading and writing fundus files: every format, every failure."""

from __future__ import annotations

import gzip
import io as _io
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_retina_vessels import io
from napari_retina_vessels.errors import ImageReadError, InvalidImageError
from napari_retina_vessels.io import _formats

RNG = np.random.default_rng(7)
RGB8 = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
GRAY8 = RNG.integers(0, 256, (37, 53), dtype=np.uint8)
GRAY16 = RNG.integers(0, 65536, (37, 53), dtype=np.uint16)
RGB16 = RNG.integers(0, 65536, (37, 53, 3), dtype=np.uint16)
FLOAT32 = RNG.random((37, 53)).astype(np.float32)


def _pil_bytes(array: np.ndarray, fmt: str, **kwargs) -> bytes:
    buf = _io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _png16_rgb(path: Path, array: np.ndarray) -> None:
    """Write a 16-bit RGB PNG by hand (Pillow cannot encode one)."""
    h, w, _ = array.shape
    raw = b''.join(
        b'\x00' + array[i].astype('>u2').tobytes() for i in range(h)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return (
            struct.pack('>I', len(data)) + tag + data + struct.pack('>I', crc)
        )

    header = struct.pack('>IIBBBBB', w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b'\x89PNG\r\n\x1a\n'
        + chunk(b'IHDR', header)
        + chunk(b'IDAT', zlib.compress(raw))
        + chunk(b'IEND', b'')
    )


def _few_colours() -> np.ndarray:
    """An RGB image with 6 colours, which GIF stores without loss."""
    palette = np.array(
        [
            [0, 0, 0],
            [255, 0, 0],
            [0, 0, 255],
            [0, 255, 0],
            [255, 255, 255],
            [120, 60, 30],
        ],
        np.uint8,
    )
    return palette[RNG.integers(0, len(palette), (37, 53))]


# -- round trips ----------------------------------------------------------

LOSSLESS = [
    # name, array, writer(path, array)
    ('rgb8.tif', RGB8, lambda p, a: tifffile.imwrite(p, a)),
    (
        'rgb8_zlib.tiff',
        RGB8,
        lambda p, a: tifffile.imwrite(p, a, compression='zlib'),
    ),
    ('gray16.tif', GRAY16, lambda p, a: tifffile.imwrite(p, a)),
    ('rgb16.tif', RGB16, lambda p, a: tifffile.imwrite(p, a)),
    ('float32.tif', FLOAT32, lambda p, a: tifffile.imwrite(p, a)),
    (
        'rgb8_lzw.tif',
        RGB8,  # DRIVE's photos: LZW, decoded by Pillow
        lambda p, a: Image.fromarray(a).save(p, compression='tiff_lzw'),
    ),
    ('rgb8.png', RGB8, lambda p, a: Image.fromarray(a).save(p)),
    ('gray8.png', GRAY8, lambda p, a: Image.fromarray(a).save(p)),
    ('gray16.png', GRAY16, lambda p, a: Image.fromarray(a).save(p)),
    ('rgb8.bmp', RGB8, lambda p, a: Image.fromarray(a).save(p)),
    ('gray8.bmp', GRAY8, lambda p, a: Image.fromarray(a).save(p)),
    ('rgb8.ppm', RGB8, lambda p, a: Image.fromarray(a).save(p)),
    ('gray8.pgm', GRAY8, lambda p, a: Image.fromarray(a).save(p)),
    (
        'rgb8.ppm.gz',
        RGB8,
        lambda p, a: p.write_bytes(gzip.compress(_pil_bytes(a, 'PPM'))),
    ),
    (
        'gray8.pgm.gz',
        GRAY8,
        lambda p, a: p.write_bytes(gzip.compress(_pil_bytes(a, 'PPM'))),
    ),
    (
        'rgb8.tif.gz',
        RGB8,
        lambda p, a: p.write_bytes(gzip.compress(_pil_bytes(a, 'TIFF'))),
    ),
    ('gray8.gif', GRAY8, lambda p, a: Image.fromarray(a).save(p)),
    ('palette.gif', _few_colours(), lambda p, a: Image.fromarray(a).save(p)),
]


@pytest.mark.parametrize(
    ('name', 'array', 'write'), LOSSLESS, ids=[c[0] for c in LOSSLESS]
)
def test_lossless_round_trip(tmp_path, name, array, write):
    path = tmp_path / name
    write(path, array)
    out = io.imread(path)
    assert out.shape == array.shape
    assert out.dtype == array.dtype
    np.testing.assert_array_equal(out, array)
    assert out.flags['C_CONTIGUOUS']


@pytest.mark.parametrize('suffix', ['.jpg', '.jpeg', '.JPG'])
def test_jpeg_round_trip_is_close(tmp_path, suffix):
    smooth = np.zeros((64, 80, 3), np.uint8)
    smooth[..., 0] = np.linspace(0, 255, 80, dtype=np.uint8)[None]
    smooth[..., 1] = 90
    smooth[..., 2] = np.linspace(255, 0, 64, dtype=np.uint8)[:, None]
    path = tmp_path / f'photo{suffix}'
    Image.fromarray(smooth).save(path, format='JPEG', quality=95)
    out = io.imread(path)
    assert out.shape == smooth.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - smooth).mean() < 2


def test_16bit_rgb_png_is_decoded_to_8_bits(tmp_path):
    # Pillow has no 16-bit RGB mode: it keeps the high byte.
    path = tmp_path / 'rgb16.png'
    _png16_rgb(path, RGB16)
    out = io.imread(path)
    assert out.shape == RGB16.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, (RGB16 >> 8).astype(np.uint8))


def test_alpha_is_dropped(tmp_path):
    rgba = np.dstack([RGB8, np.full(RGB8.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / 'rgba.png')
    tifffile.imwrite(tmp_path / 'rgba.tif', rgba)
    for name in ('rgba.png', 'rgba.tif'):
        np.testing.assert_array_equal(io.imread(tmp_path / name), RGB8)


def test_gray_alpha_png_keeps_the_gray(tmp_path):
    Image.fromarray(np.dstack([GRAY8, GRAY8]), mode='LA').save(
        tmp_path / 'la.png'
    )
    np.testing.assert_array_equal(io.imread(tmp_path / 'la.png'), GRAY8)


def test_planar_tiff_is_moved_to_channels_last(tmp_path):
    path = tmp_path / 'planar.tif'
    tifffile.imwrite(
        path,
        np.moveaxis(RGB8, -1, 0),
        photometric='rgb',
        planarconfig='separate',
    )
    np.testing.assert_array_equal(io.imread(path), RGB8)


def test_one_bit_tiff_reads_as_bool(tmp_path):
    mask = GRAY8 > 128
    tifffile.imwrite(tmp_path / 'mask.tif', mask)
    out = io.imread(tmp_path / 'mask.tif')
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, mask)


def test_is_image_path():
    for name in (
        'a.tif',
        'a.TIFF',
        'a.png',
        'a.JPG',
        'a.jpeg',
        'a.gif',
        'a.bmp',
        'a.ppm',
        'a.pgm',
        'im0001.ah.ppm.gz',
        'a.PGM.GZ',
        'dir/b.tif',
    ):
        assert io.is_image_path(name), name
    for name in ('a.txt', 'a.gz', 'a.npy', 'a', 'a.tif.bak', 'a.zarr'):
        assert not io.is_image_path(name), name


# -- read errors ----------------------------------------------------------


def _assert_one_line(err: pytest.ExceptionInfo, path: Path) -> None:
    message = str(err.value)
    assert '\n' not in message
    assert path.name in message
    assert isinstance(err.value, OSError)  # ImageReadError is an OSError


def test_missing_file(tmp_path):
    path = tmp_path / 'nope.tif'
    with pytest.raises(ImageReadError, match='does not exist') as err:
        io.imread(path)
    _assert_one_line(err, path)


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(
        ImageReadError, match='is a folder, not an image file'
    ) as err:
        io.imread(tmp_path)
    _assert_one_line(err, tmp_path)


@pytest.mark.parametrize('name', ['empty.tif', 'empty.png', 'e.ppm.gz'])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b'')
    with pytest.raises(ImageReadError, match='empty') as err:
        io.imread(path)
    _assert_one_line(err, path)


@pytest.mark.parametrize(
    'name', ['notes.tif', 'notes.png', 'notes.jpg', 'notes.ppm.gz']
)
def test_text_file_with_an_image_name(tmp_path, name):
    path = tmp_path / name
    text = b'these are not pixels\nsecond line\n'
    path.write_bytes(gzip.compress(text) if name.endswith('.gz') else text)
    with pytest.raises(ImageReadError) as err:
        io.imread(path)
    _assert_one_line(err, path)


def test_gzip_that_is_not_gzip(tmp_path):
    path = tmp_path / 'im0001.ppm.gz'
    path.write_bytes(_pil_bytes(RGB8, 'PPM'))  # forgot to compress
    with pytest.raises(ImageReadError) as err:
        io.imread(path)
    _assert_one_line(err, path)


TRUNCATED = {
    'cut.png': lambda a: _pil_bytes(a, 'PNG'),
    'cut.jpg': lambda a: _pil_bytes(a, 'JPEG', quality=90),
    'cut.tif': lambda a: _tiff_bytes(a),
    'cut_lzw.tif': lambda a: _pil_bytes(a, 'TIFF', compression='tiff_lzw'),
    'cut.ppm.gz': lambda a: gzip.compress(_pil_bytes(a, 'PPM')),
    'cut.gif': lambda a: _pil_bytes(a, 'GIF'),
}


def _tiff_bytes(array: np.ndarray) -> bytes:
    buf = _io.BytesIO()
    tifffile.imwrite(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize('name', sorted(TRUNCATED))
@pytest.mark.parametrize('keep', [0.3, 0.9])
def test_truncated_file(tmp_path, name, keep):
    photo = RNG.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    data = TRUNCATED[name](photo)
    path = tmp_path / name
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError) as err:
        io.imread(path)
    _assert_one_line(err, path)


def test_too_many_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    Image.fromarray(RGB8).save(tmp_path / 'big.png')
    monkeypatch.setattr(_formats, 'MAX_PIXELS', 100)
    with pytest.raises(ImageReadError, match='declares'):
        io.imread(tmp_path / 'big.png')


def test_gzip_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / 'bomb.ppm.gz'
    path.write_bytes(gzip.compress(_pil_bytes(RGB8, 'PPM')))
    monkeypatch.setattr(_formats, '_MAX_GZ_BYTES', 1000)
    with pytest.raises(ImageReadError, match='decompresses'):
        io.imread(path)


# -- masks and artery/vein labels -----------------------------------------


def test_read_mask_binary_files(tmp_path):
    mask = GRAY8 > 100
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / 'm.gif')
    Image.fromarray(mask.astype(np.uint8)).save(tmp_path / 'm01.png')
    tifffile.imwrite(tmp_path / 'm.tif', mask)
    tifffile.imwrite(tmp_path / 'mf.tif', mask.astype(np.float32))
    Image.fromarray(np.dstack([mask.astype(np.uint8) * 255] * 3)).save(
        tmp_path / 'rgb_mask.png'
    )
    for name in ('m.gif', 'm01.png', 'm.tif', 'mf.tif', 'rgb_mask.png'):
        out = io.read_mask(tmp_path / name)
        assert out.dtype == np.bool_ and out.shape == mask.shape, name
        np.testing.assert_array_equal(out, mask, err_msg=name)


def test_read_mask_survives_jpeg_noise(tmp_path):
    yy, xx = np.mgrid[:96, :128]
    disc = (yy - 48) ** 2 + (xx - 64) ** 2 < 40**2
    Image.fromarray(disc.astype(np.uint8) * 255).save(
        tmp_path / 'fov.jpg', quality=75
    )
    assert len(np.unique(io.imread(tmp_path / 'fov.jpg'))) > 2
    out = io.read_mask(tmp_path / 'fov.jpg')
    assert (out != disc).mean() < 0.005


def test_as_mask_edge_cases():
    assert not io.as_mask(np.zeros((4, 4), np.uint8)).any()
    np.testing.assert_array_equal(
        io.as_mask(np.array([[0.0, np.nan], [0.2, 0.9]])),
        [[False, False], [False, True]],
    )
    np.testing.assert_array_equal(
        io.as_mask(np.array([[0, 1], [1, 0]], np.uint16)),
        [[False, True], [True, False]],
    )


# RITE's colour code with the stray pixels its files really hold.
AV_CASES = [
    ((0, 0, 0), 0),  # background
    ((255, 0, 0), 1),  # artery
    ((0, 0, 255), 2),  # vein
    ((0, 255, 0), 3),  # crossing
    ((255, 255, 255), 3),  # uncertain
    ((221, 0, 34), 1),  # off-red (09_test)
    ((1, 0, 254), 2),  # off-blue (09_test)
    ((255, 0, 255), 3),  # magenta: as far from red as from blue
    ((0, 255, 255), 3),  # cyan (06_test, 08_test)
    ((30, 20, 40), 0),  # dark noise stays background
]


def test_read_av_rgb_drawing(tmp_path):
    colours = np.array([c for c, _ in AV_CASES], np.uint8)
    expected = np.array([k for _, k in AV_CASES], np.uint8)
    drawing = np.repeat(colours[None], 3, axis=0)  # (3, 10, 3)
    Image.fromarray(drawing).save(tmp_path / 'av.png')
    out = io.read_av(tmp_path / 'av.png')
    assert out.dtype == np.uint8 and out.shape == (3, len(AV_CASES))
    np.testing.assert_array_equal(out, np.repeat(expected[None], 3, 0))


def test_av_from_rgb_uint16():
    rgb = np.zeros((1, 3, 3), np.uint16)
    rgb[0, 0] = (4000, 0, 0)
    rgb[0, 1] = (0, 0, 4000)
    np.testing.assert_array_equal(io.av_from_rgb(rgb), [[1, 2, 0]])


def test_read_av_class_index_image(tmp_path):
    labels = RNG.integers(0, 4, (20, 30), dtype=np.uint8)
    Image.fromarray(labels).save(tmp_path / 'av.png')
    np.testing.assert_array_equal(io.read_av(tmp_path / 'av.png'), labels)


def test_read_av_rejects_a_vessel_mask(tmp_path):
    Image.fromarray((GRAY8 > 100).astype(np.uint8) * 255).save(
        tmp_path / 'vessels.png'
    )
    with pytest.raises(ImageReadError, match='0-3 or an RGB drawing'):
        io.read_av(tmp_path / 'vessels.png')


def test_av_from_rgb_rejects_gray():
    with pytest.raises(InvalidImageError, match=r'\(H, W, 3\)'):
        io.av_from_rgb(GRAY8)


# -- writing --------------------------------------------------------------


@pytest.mark.parametrize(
    ('name', 'array'),
    [
        ('out.png', RGB8),
        ('out.png', GRAY16),
        ('out.tif', RGB16),
        ('out.tiff', FLOAT32),
        ('out.npy', RGB16.astype(np.int32)),
    ],
)
def test_imwrite_round_trip(tmp_path, name, array):
    path = io.imwrite(tmp_path / 'sub' / name, array)
    assert path == tmp_path / 'sub' / name
    out = np.load(path) if name.endswith('.npy') else io.imread(path)
    np.testing.assert_array_equal(out, array)
    assert out.dtype == array.dtype
    assert _leftovers(tmp_path / 'sub') == [name]


def test_imwrite_bool_png_is_0_255(tmp_path):
    mask = GRAY8 > 100
    io.imwrite(tmp_path / 'mask.png', mask)
    out = io.imread(tmp_path / 'mask.png')
    assert set(np.unique(out)) == {0, 255}
    np.testing.assert_array_equal(io.read_mask(tmp_path / 'mask.png'), mask)


def test_imwrite_gives_normal_permissions(tmp_path):
    path = io.imwrite(tmp_path / 'out.png', RGB8)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_imwrite_unsupported_suffix_leaves_nothing(tmp_path):
    with pytest.raises(InvalidImageError, match=r'\.png, \.tif or \.npy'):
        io.imwrite(tmp_path / 'out.jpg', RGB8)
    assert _leftovers(tmp_path) == []


def test_imwrite_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / 'out.png'
    io.imwrite(path, GRAY8)
    before = path.read_bytes()
    # Pillow cannot encode 16-bit RGB: the encoder fails mid-write.
    with pytest.raises(TypeError):
        io.imwrite(path, RGB16)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == ['out.png']


def test_imwrite_interrupted_write_leaves_no_partial_file(
    tmp_path, monkeypatch
):
    def fail_after_some_bytes(file, arr, **kwargs):
        Path(file).write_bytes(b'II*\x00partial')
        raise OSError('disk full')

    monkeypatch.setattr(tifffile, 'imwrite', fail_after_some_bytes)
    with pytest.raises(OSError, match='disk full'):
        io.imwrite(tmp_path / 'out.tif', RGB8)
    assert _leftovers(tmp_path) == []


# -- pixel spacing --------------------------------------------------------


def test_pixel_spacing_from_metric_tiff(tmp_path):
    path = tmp_path / 'cm.tif'
    # 1000 pixels per cm -> 10 um; rows 500 per cm -> 20 um.
    tifffile.imwrite(
        path, GRAY8, resolution=(1000, 500), resolutionunit='CENTIMETER'
    )
    assert io.read_pixel_spacing(path) == pytest.approx((20.0, 10.0))


def test_pixel_spacing_from_imagej_tiff(tmp_path):
    path = tmp_path / 'ij.tif'
    tifffile.imwrite(
        path,
        GRAY8,
        imagej=True,
        resolution=(0.2, 0.2),
        metadata={'unit': 'micron'},
    )
    assert io.read_pixel_spacing(path) == pytest.approx((5.0, 5.0))


def test_pixel_spacing_unknown(tmp_path):
    tifffile.imwrite(
        tmp_path / 'dpi.tif', GRAY8, resolution=(72, 72), resolutionunit='INCH'
    )
    Image.fromarray(GRAY8).save(tmp_path / 'a.png', dpi=(300, 300))
    (tmp_path / 'broken.tif').write_bytes(b'II*\x00garbage')
    for name in ('dpi.tif', 'a.png', 'broken.tif', 'missing.tif'):
        assert io.read_pixel_spacing(tmp_path / name) is None, name
