"""Attack 11 of issue #29, the input side: each small failure with a
test named after it (empty FOV, TIFF Orientation, ASCII 16-bit PPM,
Pillow's bomb limit, photos named like outputs, stacked folders)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels import io
from napari_retina_vessels.errors import ImageReadError, InvalidImageError


def test_attack_11_evaluate_with_an_empty_fov_mask_is_refused():
    import napari_retina_vessels as nrv
    from napari_retina_vessels.metrics import VesselAccumulator
    from napari_retina_vessels.metrics.counting import EMPTY_FOV

    truth = np.zeros((20, 20), bool)
    truth[5:8] = True
    empty = np.zeros((20, 20), bool)
    with pytest.raises(InvalidImageError, match='FOV mask is empty') as e:
        nrv.evaluate(truth, truth.astype(float), mask=empty)
    assert str(e.value) == EMPTY_FOV  # the CLI's row says the same
    with pytest.raises(InvalidImageError, match='FOV mask is empty'):
        VesselAccumulator().add(truth, truth, mask=empty)
    # no mask, or a mask with pixels: scored as before
    assert nrv.evaluate(truth, truth.astype(float))['f1'] == 1.0


@pytest.mark.parametrize('orientation', range(1, 9))
def test_attack_11_tiff_orientation_tag_is_honoured(tmp_path, orientation):
    tifffile = pytest.importorskip('tifffile')
    from PIL import Image, ImageOps

    rgb = (np.arange(3 * 5 * 3, dtype=np.uint8) * 5).reshape(3, 5, 3)
    path = tmp_path / 'o.tif'
    tifffile.imwrite(
        path, rgb, photometric='rgb', extratags=[(274, 'H', 1, orientation)]
    )
    with Image.open(path) as img:  # Pillow's reading is the reference
        seen = np.asarray(ImageOps.exif_transpose(img))
    np.testing.assert_array_equal(io.imread(path), seen)
    stack = np.stack([rgb, rgb[::-1]])
    tifffile.imwrite(
        path, stack, photometric='rgb', extratags=[(274, 'H', 1, orientation)]
    )
    got = io.read_stack(path)
    assert got.shape[1:] == seen.shape
    np.testing.assert_array_equal(got[0], seen)


def test_attack_11_ascii_16_bit_ppm_and_pgm_keep_16_bits(tmp_path):
    ppm = tmp_path / 'a.ppm'
    ppm.write_text(
        'P3\n# made by hand\n2 1\n65535\n0 1000 65535 300 400 500\n'
    )
    got = io.imread(ppm)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, [[[0, 1000, 65535], [300, 400, 500]]])
    pgm = tmp_path / 'a.pgm'
    pgm.write_text('P2\n3 1\n1023\n0 512\n# a comment\n1023\n')
    np.testing.assert_array_equal(io.imread(pgm), [[0, 512, 1023]])
    short = tmp_path / 'short.pgm'
    short.write_text('P2\n3 1\n1023\n0 512\n')
    with pytest.raises(ImageReadError, match='truncated'):
        io.imread(short)
    # binary 16-bit: the same values
    raw = tmp_path / 'b.pgm'
    raw.write_bytes(
        b'P5\n3 1\n1023\n' + np.array([0, 512, 1023], '>u2').tobytes()
    )
    np.testing.assert_array_equal(io.imread(raw), [[0, 512, 1023]])


def test_attack_11_pillows_bomb_limit_does_not_override_our_cap(
    tmp_path, monkeypatch
):
    """A 93 Mpx PNG is under our 100 Mpx cap but over Pillow's 89 Mpx:
    ours rules. Scaled down: Pillow's limit set to 1,000 pixels."""
    from PIL import Image

    from napari_retina_vessels.io import _formats

    photo = np.zeros((40, 50, 3), np.uint8)
    path = tmp_path / 'big.png'
    Image.fromarray(photo).save(path)
    # Pillow warns between its limit and twice it (where 93 Mpx is)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1000)
    assert io.imread(path).shape == (40, 50, 3)
    monkeypatch.setattr(_formats, 'MAX_PIXELS', 1500)  # ours refuses
    with pytest.raises(ImageReadError, match='1,500 pixels') as e:
        io.imread(path)
    assert 'big.png' in str(e.value)


def test_attack_11_photos_named_like_outputs_are_not_left_out_silently(
    tmp_path,
):
    """A user's ``eye_prob.tif`` is left out of a folder (it may be a map
    from another tool) but said so, with why; our own outputs are left
    out quietly."""
    from PIL import Image

    from napari_retina_vessels.batch import collect_inputs, run_batch
    from napari_retina_vessels.io._inputs import missing_rows

    photo = np.full((8, 8, 3), 90, np.uint8)
    Image.fromarray(photo).save(tmp_path / 'eye_prob.tif')  # the user's
    io.imwrite(tmp_path / 'other_prob.png', photo[..., 0])  # ours
    io.imwrite(tmp_path / 'photo.png', photo)
    for given in ([tmp_path], [str(tmp_path / '*.*')]):
        found, missing = collect_inputs(given)
        assert [p.name for p in found] == ['photo.png']
        assert missing == [str(tmp_path / 'eye_prob.tif')]
        said = []
        assert missing_rows(missing, ['name'], said.append) == []
        assert 'eye_prob.tif' in said[0] and 'rename it' in said[0]
    # the file itself is a photo, and the batch log says what was left
    found, missing = collect_inputs([tmp_path / 'eye_prob.tif'])
    assert [p.name for p in found] == ['eye_prob.tif'] and not missing
    log: list[str] = []
    pytest.importorskip('torch')
    run_batch([tmp_path], tmp_path / 'out', av=False, log=log.append)
    assert any('left out' in line and 'eye_prob' in line for line in log)


def test_attack_11_stacked_folder_has_a_cap(tmp_path, monkeypatch):
    from napari_retina_vessels._napari import reader
    from napari_retina_vessels.io import _formats

    for k in range(4):
        io.imwrite(tmp_path / f'p{k}.png', np.full((10, 12, 3), k, np.uint8))
    layer = reader.read([str(tmp_path)])[0]
    assert layer[0].shape == (4, 10, 12, 3)
    np.testing.assert_array_equal(layer[0][:, 0, 0, 0], [0, 1, 2, 3])
    monkeypatch.setattr(_formats, 'MAX_DECODED_BYTES', 3 * 360)
    read = []
    monkeypatch.setattr(
        reader,
        '_read_file',
        lambda p, f=reader._read_file: read.append(p) or f(p),
    )
    with pytest.raises(ImageReadError, match='stacking 4 files') as e:
        reader.read([str(tmp_path)])
    assert '\n' not in str(e.value)
    assert len(read) == 1  # refused after the first file, not the 4th


def test_exif_orientation_of_a_jpeg_is_still_honoured(tmp_path):
    """Turned in place (no copy of the whole photo), as Pillow's
    exif_transpose returns it."""
    from PIL import Image, ImageOps

    rgb = np.zeros((30, 50, 3), np.uint8)
    rgb[:, :10] = 255  # a bright band on the left
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    path = tmp_path / 'turned.jpg'
    img.save(path, exif=exif, quality=95)
    got = io.imread(path)
    with Image.open(path) as ref:
        seen = np.asarray(ImageOps.exif_transpose(ref))
    assert got.shape == (50, 30, 3) == seen.shape
    np.testing.assert_array_equal(got, seen)
    assert got[:10].mean() > 200  # the band is now at the top


@pytest.mark.parametrize('mode', ['L', 'RGB', 'RGBA', 'I;16'])
def test_large_photos_are_copied_in_bands_bit_identically(mode):
    """A large image leaves Pillow a band of rows at a time (a 93 Mpx
    PNG: 0.71 GB peak instead of 1.3 GB); the array is the same."""
    from PIL import Image

    from napari_retina_vessels.io import _formats

    rng = np.random.default_rng(0)
    shape = {'L': (97, 61), 'RGB': (97, 61, 3), 'RGBA': (97, 61, 4)}
    if mode == 'I;16':
        img = Image.fromarray(rng.integers(0, 65535, (97, 61), np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 255, shape[mode], np.uint8))
    got = _formats._in_blocks(img, block=1000)
    np.testing.assert_array_equal(got, np.asarray(img))
    assert got.dtype == np.asarray(img).dtype
