"""Robustness corpus: bad and odd inputs through every entry point.

Each input must end in a correct result or one clear, one-line error,
never a crash, a traceback in the viewer, or a partial output file.
"""

from __future__ import annotations

import gzip
import io as _io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_retina_vessels import imread, segment
from napari_retina_vessels._napari.reader import napari_get_reader
from napari_retina_vessels.cli import main
from napari_retina_vessels.errors import RetinaVesselsError


def _disc(h=96, w=96, dtype=np.uint8, value=(200, 100, 40)):
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.45 * min(h, w)) ** 2
    img = np.zeros((h, w, 3), np.float64)
    img[disc] = np.array(value) / 255
    img[disc & (np.abs(yy - xx) < 2)] *= 0.5
    if np.issubdtype(dtype, np.integer):
        return (img * np.iinfo(dtype).max).astype(dtype)
    return img.astype(dtype)


def _png_bytes(arr, mode=None):
    buf = _io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format='PNG')
    return buf.getvalue()


def _jpeg_bytes(arr, mode='RGB'):
    buf = _io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format='JPEG')
    return buf.getvalue()


def _tiff_bytes(arr):
    import tifffile

    buf = _io.BytesIO()
    tifffile.imwrite(buf, arr)
    return buf.getvalue()


def _huge_png_header():
    # A valid PNG signature and IHDR declaring 100000 x 100000 RGB pixels,
    # then one tiny IDAT: a decompression bomb in disguise.
    def chunk(kind, data):
        body = kind + data
        return (
            struct.pack('>I', len(data))
            + body
            + struct.pack('>I', zlib.crc32(body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack('>IIBBBBB', 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b'\x89PNG\r\n\x1a\n'
        + chunk(b'IHDR', ihdr)
        + chunk(b'IDAT', zlib.compress(b'\0' * 10))
        + chunk(b'IEND', b'')
    )


def _ppm_bytes(arr):
    h, w = arr.shape[:2]
    return f'P6 {w} {h} 255\n'.encode() + arr.tobytes()


# name -> file bytes (written as tmp/NAME)
FILES = {
    'truncated.tif': _tiff_bytes(_disc())[:300],
    'truncated.png': _png_bytes(_disc())[:200],
    'truncated.jpg': _jpeg_bytes(_disc())[:300],
    'empty.png': b'',
    'empty.tif': b'',
    'text.tif': b'this is not an image\n' * 10,
    'text.jpg': b'GIF89a? no, plain text\n',
    'one_pixel.png': _png_bytes(np.zeros((1, 1, 3), np.uint8)),
    'tiny_5x5.png': _png_bytes(np.full((5, 5, 3), 128, np.uint8)),
    'photo16.tif': _tiff_bytes(_disc(dtype=np.uint16)),
    'photo_float.tif': _tiff_bytes(_disc(dtype=np.float32)),
    'gray.png': _png_bytes(_disc()[..., 1]),
    'rgba.png': _png_bytes(
        np.dstack([_disc(), np.full((96, 96), 255, np.uint8)])
    ),
    'cmyk.jpg': _jpeg_bytes(_disc(), mode='CMYK'),
    'huge_header.png': _huge_png_header(),
    'all_black.png': _png_bytes(np.zeros((96, 96, 3), np.uint8)),
    'all_white.png': _png_bytes(np.full((96, 96, 3), 255, np.uint8)),
    'nan.tif': _tiff_bytes(np.full((64, 64, 3), np.nan, np.float32)),
    'inf.tif': _tiff_bytes(np.full((64, 64), np.inf, np.float32)),
    'negative_float.tif': _tiff_bytes(_disc(dtype=np.float32) - 0.5),
    'stack.tif': _tiff_bytes(np.zeros((3, 64, 64, 3), np.uint8)),
    'strip_40x4000.png': _png_bytes(np.full((40, 4000, 3), 90, np.uint8)),
    'palette.gif': None,  # written with Pillow below
    'gz_not_gzip.ppm.gz': b'not gzip at all',
    'truncated.ppm.gz': gzip.compress(_ppm_bytes(_disc()))[:60],
    'good.ppm.gz': gzip.compress(_ppm_bytes(_disc())),
    'binary_mask.png': _png_bytes((_disc()[..., 0] > 0).astype(np.uint8)),
    'bmp8.bmp': None,
    'twelve_bit.tif': _tiff_bytes(_disc(dtype=np.uint16) >> 4),
    'wide_8bit_gray.tif': _tiff_bytes(_disc()[..., 0]),
}


#: What each corpus file must give: 'read', one clear error when read
#: (reader and imread alike); 'segment', read, then one clear error from
#: segment; 'result', a probability map. Never "either".
EXPECTED = {
    'truncated.tif': 'read',
    'truncated.png': 'read',
    'truncated.jpg': 'read',
    'empty.png': 'read',
    'empty.tif': 'read',
    'text.tif': 'read',
    'text.jpg': 'read',
    'huge_header.png': 'read',
    'gz_not_gzip.ppm.gz': 'read',
    'truncated.ppm.gz': 'read',
    # Too small to hold vessels (under 32 x 32 pixels).
    'one_pixel.png': 'segment',
    'tiny_5x5.png': 'segment',
    # No usable numbers.
    'nan.tif': 'segment',
    'inf.tif': 'segment',
    # A stack is for the reader (one layer, a frame slider); imread says
    # to use read_stack, and segment takes one photo.
    'stack.tif': 'stack',
    **dict.fromkeys(
        (
            'photo16.tif',
            'photo_float.tif',
            'gray.png',
            'rgba.png',
            'cmyk.jpg',
            'all_black.png',
            'all_white.png',
            'good.ppm.gz',
            'negative_float.tif',
            'strip_40x4000.png',
            'palette.gif',
            'binary_mask.png',
            'bmp8.bmp',
            'twelve_bit.tif',
            'wide_8bit_gray.tif',
        ),
        'result',
    ),
}


def _write_corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in FILES.items():
        path = folder / name
        if name == 'palette.gif':
            Image.fromarray(_disc()).convert('P').save(path)
        elif name == 'bmp8.bmp':
            Image.fromarray(_disc()).save(path)
        else:
            path.write_bytes(data)
        paths[name] = path
    return paths


def test_corpus_is_large_enough():
    assert len(FILES) >= 30
    assert set(EXPECTED) == set(FILES)


def _one_line(err: BaseException) -> str:
    msg = str(err)
    assert msg and '\n' not in msg and 'Traceback' not in msg, msg
    return msg


@pytest.mark.parametrize('name', sorted(FILES))
def test_reader_and_segment_end_cleanly(name, tmp_path):
    expected = EXPECTED[name]
    path = _write_corpus(tmp_path)[name]
    reader = napari_get_reader(str(path))
    assert reader is not None, 'every corpus file has an image suffix'
    if expected == 'read':
        with pytest.raises(RetinaVesselsError) as info:
            reader(str(path))
        _one_line(info.value)
        with pytest.raises(RetinaVesselsError):
            imread(path)
        return
    layers = reader(str(path))
    assert layers and all(len(t) == 3 for t in layers)
    if expected == 'stack':
        assert len(layers) == 1 and layers[0][0].shape == (3, 64, 64, 3)
        with pytest.raises(RetinaVesselsError, match='read_stack'):
            imread(path)
        return
    image = imread(path)
    if name == 'one_pixel.png':
        assert image.shape == (1, 1, 3)  # one row is not dropped
    if expected == 'segment':
        with pytest.raises(RetinaVesselsError) as info:
            segment(image, av=False, vessel_views=1)
        _one_line(info.value)
        return
    assert expected == 'result'
    res = segment(image, av=False, vessel_views=1)
    assert res.probability.shape == image.shape[:2]
    assert np.isfinite(res.probability).all()
    assert res.probability.min() >= 0 and res.probability.max() <= 1


# Arrays no photo can be refused in one sentence; a bool map and signed
# integers are valid grey images (scaled by their range).
@pytest.mark.parametrize(
    'array, expected',
    [
        (np.full((64, 64, 3), np.nan), 'NaN or infinite'),
        (np.full((64, 64, 3), np.inf), 'NaN or infinite'),
        (np.zeros((0, 0, 3), np.uint8), 'at least 32 x 32'),
        (np.zeros((64, 64, 2), np.uint8), 'expected a'),
        (np.zeros((64, 64, 5), np.uint8), 'expected a'),
        (np.zeros((2, 64, 64, 3), np.uint8), 'expected a'),
        (np.array([[object()]]), 'expected a'),
        (np.zeros((64, 64), complex), 'not supported'),
        (np.zeros((64, 64), bool), 'result'),
        (-np.arange(64 * 64, dtype=np.int64).reshape(64, 64), 'result'),
    ],
    ids=[
        'nan',
        'inf',
        'empty',
        '2ch',
        '5ch',
        '4d',
        'object',
        'complex',
        'bool',
        'negative_int',
    ],
)
def test_segment_odd_arrays(array, expected):
    if expected != 'result':
        with pytest.raises(RetinaVesselsError, match=expected) as info:
            segment(array, av=False, vessel_views=1)
        _one_line(info.value)
        return
    res = segment(array, av=False, vessel_views=1)
    assert res.probability.shape == array.shape[:2]
    assert np.isfinite(res.probability).all()


def test_cli_segment_over_corpus(tmp_path, capsys):
    paths = _write_corpus(tmp_path / 'in')
    out = tmp_path / 'out'
    code = main(['segment', str(tmp_path / 'in'), '--out', str(out)])
    assert code == 0  # some photos are fine
    import csv

    with open(out / 'summary.csv', newline='') as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(paths)
    by_name = {Path(r['path']).name: r for r in rows}
    assert by_name['truncated.png']['status'] == 'failed'
    assert by_name['empty.tif']['status'] == 'failed'
    # Read and segmented; the quality gate grades the flat synthetic disc
    # (no fundus texture: the model is unsure about half of it) and the
    # blank frames ungradable, with their outputs written and marked.
    for name in ('good.ppm.gz', 'all_black.png', 'all_white.png'):
        assert by_name[name]['status'] == 'ungradable', by_name[name]
        assert by_name[name]['quality_reasons']
        assert list(out.glob(f'{by_name[name]["name"]}_prob.*'))
    for r in rows:
        if r['status'] == 'failed':
            assert r['error'] and '\n' not in r['error']
    assert not list(out.rglob('*.part'))
    segmented = {
        r['name'] for r in rows if r['status'] in ('done', 'ungradable')
    }
    for r in rows:  # failed photos leave no output files
        if r['status'] == 'failed':
            assert not list(out.glob(f'{r["name"]}_*')), r['name']
    assert segmented


def test_cli_segment_only_bad_files_exits_nonzero(tmp_path, capsys):
    (tmp_path / 'a.png').write_bytes(b'')
    (tmp_path / 'b.tif').write_bytes(b'junk')
    code = main(
        [
            'segment',
            str(tmp_path / 'a.png'),
            str(tmp_path / 'b.tif'),
            '--out',
            str(tmp_path / 'out'),
        ]
    )
    assert code == 1


def _generic(folder: Path, *, label_shape=(96, 96), label=None):
    (folder / 'images').mkdir(parents=True)
    (folder / 'vessels').mkdir()
    Image.fromarray(_disc()).save(folder / 'images' / 'a.png')
    lab = np.zeros(label_shape, np.uint8) if label is None else label
    Image.fromarray(lab).save(folder / 'vessels' / 'a.png')


@pytest.mark.parametrize(
    'layout', ['mismatch', 'empty', 'labels_only', 'not_a_folder']
)
def test_cli_evaluate_bad_datasets_fail_cleanly(layout, tmp_path, capsys):
    root = tmp_path / 'ds'
    if layout == 'mismatch':
        _generic(root, label_shape=(50, 70))
    elif layout == 'empty':
        root.mkdir()
    elif layout == 'labels_only':
        (root / 'vessels').mkdir(parents=True)
        Image.fromarray(np.zeros((9, 9), np.uint8)).save(
            root / 'vessels' / 'x.png'
        )
    else:
        root = tmp_path / 'missing'
    code = main(['evaluate', str(root), '--json', str(tmp_path / 'r.json')])
    err = capsys.readouterr().err
    assert code == 1
    # stderr also carries the progress bar; the error is one line of it.
    errors = [
        ln.strip()
        for ln in err.replace('\r', '\n').splitlines()
        if 'error' in ln
    ]
    assert len(errors) == 1
    assert errors[0].startswith('retina-vessels: error:'), errors
    assert not (tmp_path / 'r.json').exists()


def test_cli_evaluate_non_binary_labels(tmp_path, capsys):
    ramp = np.tile(np.arange(96, dtype=np.uint8) * 2, (96, 1))
    _generic(tmp_path / 'ds', label=ramp)
    code = main(
        ['evaluate', str(tmp_path / 'ds'), '--json', str(tmp_path / 'r.json')]
    )
    # Graded labels are binarised at half range: a valid, scored result.
    assert code == 0
    assert (tmp_path / 'r.json').exists()
