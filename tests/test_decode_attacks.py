"""Attack 2 through every decoder: hostile files that pass the pixel
check are refused by the one decode guard (``io._formats.check_declared``)
before their pixels are decoded. Rule: any input of 10 MB or less stays
under 1 GB of peak memory. The files are made here, in ``tmp_path``."""

from __future__ import annotations

import io as _io
import json
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from memory import PEAK_MB_SOURCE, need_peak_counter, peak_mb, reset_peak
from synthetic import fake_fundus, write_topcon_fda

from napari_retina_vessels import io
from napari_retina_vessels.errors import ImageReadError

PEAK_LIMIT_MB = 1024


def _dicom(
    path, rows, cols, data, *, frames=1, samples=1, deflate=True, spacing=None
):
    """A minimal 8-bit DICOM file, deflated (the attack) or not."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        DeflatedExplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        generate_uid,
    )

    sop = '1.2.840.10008.5.1.4.1.1.77.1.5.1'
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = (
        DeflatedExplicitVRLittleEndian if deflate else ExplicitVRLittleEndian
    )
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'OP'
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, samples
    ds.PhotometricInterpretation = 'RGB' if samples == 3 else 'MONOCHROME2'
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if spacing is not None:
        ds.PixelSpacing = [str(v) for v in spacing]
    ds.PixelData = data
    ds.save_as(path, enforce_file_format=True)
    return path


def _zeros_deflated(n: int, head: bytes = b'') -> bytes:
    """Raw deflate of *head* then *n* zero bytes, fast: one 4 MB block
    is deflated once and repeated (a full flush makes each copy stand
    alone), as a bomb maker would."""
    import zlib

    def part(data: bytes, final: bool) -> bytes:
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        end = zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH
        return z.compress(data) + z.flush(end)

    size = 1 << 22
    whole, rest = divmod(n, size)
    block = part(bytes(size), False)
    return part(head, False) + block * whole + part(bytes(rest), True)


def _deflated_zeros(path, rows, cols, nbytes, *, samples=1):
    """A deflated DICOM whose pixel data is *nbytes* zeros."""
    import zlib

    _dicom(path, rows, cols, b'', samples=samples)
    raw = path.read_bytes()
    start = 132 + 12 + struct.unpack('<I', raw[140:144])[0]
    body = zlib.decompress(raw[start:], -15)
    empty = b'\xe0\x7f\x10\x00OB\x00\x00' + struct.pack('<I', 0)
    assert body.endswith(empty)
    head = body[: -len(empty)] + empty[:8] + struct.pack('<I', nbytes)
    path.write_bytes(raw[:start] + _zeros_deflated(nbytes, head))
    return path


def _tiled_zeros_tiff(path, h, w, samples, dtype, pages=1, tile=256):
    """A zlib-tiled TIFF of zeros, its tiles compressed once here."""
    import zlib

    tifffile = pytest.importorskip('tifffile')
    itemsize = np.dtype(dtype).itemsize
    one = zlib.compress(bytes(tile * tile * samples * itemsize), 9)
    n = pages * -(-h // tile) * -(-w // tile)
    shape = (pages, h, w, samples) if pages > 1 else (h, w, samples)
    tifffile.imwrite(
        path,
        (one for _ in range(n)),
        shape=shape,
        dtype=dtype,
        tile=(tile, tile),
        compression='zlib',
        planarconfig='contig',
        photometric='rgb' if samples == 3 else 'minisblack',
    )
    return path


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose SOF header is patched to declare another size
    (what a 13000 x 13000 JPEG looks like to a header reader)."""
    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(fake_fundus(16, 16)).save(buf, format='JPEG')
    data = bytearray(buf.getvalue())
    sof = data.find(b'\xff\xc0')
    data[sof + 5 : sof + 9] = struct.pack('>HH', height, width)
    return bytes(data)


@pytest.fixture(scope='module')
def hostile(tmp_path_factory):
    """Every hostile file, read in ONE child process: {name: (error or
    shape)} plus the child's peak memory in MB."""
    pytest.importorskip('pydicom')
    need_peak_counter()
    folder = tmp_path_factory.mktemp('hostile')
    files = {
        # 1.4 MB -> 4.4 GB in the report: 4.4 GB declared
        'deflated': _deflated_zeros(
            folder / 'deflated.dcm',
            8000,
            8000,
            4_200_000_000,
            samples=3,
        ),
        # 195 KB -> a (200000000, 1) array: one declared pixel
        'excess_deflated': _deflated_zeros(
            folder / 'excess.dcm', 1, 1, 200_000_000
        ),
        # under the inflate limit: the frame count must refuse it
        'excess_small': _deflated_zeros(
            folder / 'excess_small.dcm', 1, 1, 2_000_000
        ),
        'excess_plain': _dicom(
            folder / 'excess_plain.dcm', 4, 4, bytes(16 * 50), deflate=False
        ),
        # 2000 x 2000 x 64 float64 (2 GB) in 2 MB
        'tiled_tiff': _tiled_zeros_tiff(
            folder / 'tiled.tif', 2000, 2000, 64, 'float64'
        ),
        # four float64 RGB pages: 384 MB from a few hundred kB
        'stack_tiff_pages': _tiled_zeros_tiff(
            folder / 'pages.tif', 2000, 2000, 3, 'float64', pages=4
        ),
    }
    import gzip

    gz = folder / 'tiled.tif.gz'
    gz.write_bytes(gzip.compress(files['tiled_tiff'].read_bytes()))
    files['tiled_tiff_gz'] = gz
    fda = folder / 'huge.fda'
    write_topcon_fda(fda, fake_fundus(16, 16))
    raw = fda.read_bytes()
    start = raw.index(b'\xff\xd8')
    jpeg = _jpeg_declaring(13000, 13000)
    head = bytearray(raw[:start])
    head[-4:] = struct.pack('<I', len(jpeg))  # the fundus header's size
    chunk = head.rindex(b'@IMG_FUNDUS') + len(b'@IMG_FUNDUS')
    head[chunk : chunk + 4] = struct.pack('<I', 24 + len(jpeg))
    fda.write_bytes(bytes(head) + jpeg + b'\x00')
    files['topcon_jpeg'] = fda
    for name, path in files.items():
        assert path.stat().st_size < 10_000_000, name
    script = textwrap.dedent(
        """
        import json, sys
        from napari_retina_vessels import io
        out = {}
        for name, path in json.loads(sys.argv[1]).items():
            try:
                read = io.read_stack if 'stack' in name else io.imread
                out[name] = list(read(path).shape)
            except Exception as err:
                out[name] = type(err).__name__ + ': ' + str(err)
        print(json.dumps({'results': out, 'peak_mb': peak_mb()}))
        """
    )
    script = PEAK_MB_SOURCE + script
    done = subprocess.run(
        [
            sys.executable,
            '-c',
            script,
            json.dumps({k: str(v) for k, v in files.items()}),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _refused(hostile, name, words):
    got = hostile['results'][name]
    assert isinstance(got, str) and got.startswith('ImageReadError'), got
    assert words in got and '\n' not in got, got
    assert hostile['peak_mb'] < PEAK_LIMIT_MB, hostile['peak_mb']


@pytest.mark.slow  # one child process reads every file
def test_attack_2_dicom_deflated_explicit_vr_bomb(hostile):
    _refused(
        hostile, 'deflated', 'deflated.dcm: the image declares 8000 x 8000'
    )


@pytest.mark.slow  # one child process reads every file
def test_attack_2_dicom_excess_frames(hostile):
    _refused(hostile, 'excess_deflated', 'than its header declares')
    _refused(hostile, 'excess_small', 'than its header declares')
    _refused(hostile, 'excess_plain', '50 frames of 4 x 4')


@pytest.mark.slow  # one child process reads every file
def test_attack_2_tiled_zlib_tiff_64_samples_float64(hostile):
    _refused(hostile, 'tiled_tiff', '64 samples per pixel')
    _refused(hostile, 'tiled_tiff_gz', '64 samples per pixel')


@pytest.mark.slow  # one child process reads every file
def test_attack_2_tiff_pages_past_the_compression_ratio(hostile):
    _refused(hostile, 'stack_tiff_pages', 'compression')


@pytest.mark.slow  # one child process reads every file
def test_attack_2_topcon_fda_with_a_13000px_jpeg(hostile):
    _refused(hostile, 'topcon_jpeg', '13000 x 13000')


def test_attack_2_dicom_jpeg_frame_larger_than_its_header(tmp_path):
    pydicom = pytest.importorskip('pydicom')
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    path = _dicom(tmp_path / 'j.dcm', 16, 16, b'', deflate=False)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([_jpeg_declaring(13000, 9000)])
    ds['PixelData'].VR = 'OB'
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ImageReadError, match='13000 x 9000') as info:
        io.imread(path)
    assert '\n' not in str(info.value)


def test_well_formed_deflated_and_multiframe_dicoms_still_read(tmp_path):
    pytest.importorskip('pydicom')
    from napari_retina_vessels.io.clinical import read_clinical

    rgb = fake_fundus(40, 48)
    path = _dicom(tmp_path / 'ok.dcm', 40, 48, rgb.tobytes(), samples=3)
    np.testing.assert_array_equal(io.imread(path), rgb)
    grey = np.stack([rgb[..., c] for c in range(3)])
    path = _dicom(tmp_path / 'ok3.dcm', 40, 48, grey.tobytes(), frames=3)
    np.testing.assert_array_equal(read_clinical(path).pixels, grey)


def test_well_formed_tiled_zlib_tiff_still_reads(tmp_path):
    tifffile = pytest.importorskip('tifffile')
    rgb = fake_fundus(300, 260)
    path = tmp_path / 'tiled.tif'
    tifffile.imwrite(
        path, rgb, tile=(64, 64), compression='zlib', photometric='rgb'
    )
    np.testing.assert_array_equal(io.imread(path), rgb)


def test_attack_2_dicom_header_readers_do_not_inflate_the_pixels(tmp_path):
    """The pixel spacing (reader, measure's calibration) comes from the
    header: pydicom's stop_before_pixels still inflated a deflated file
    whole (2 MB -> 4 GB, 35 s)."""
    pytest.importorskip('pydicom')
    from napari_retina_vessels.measures.calibration import file_calibration

    bomb = _deflated_zeros(tmp_path / 'bomb.dcm', 1, 1, 2_000_000_000)
    assert bomb.stat().st_size < 3_000_000
    before = reset_peak()
    assert io.read_pixel_spacing(bomb) is None
    assert file_calibration(bomb).pixel_size_um is None
    assert peak_mb() - before < 200
    rgb = fake_fundus(40, 48)
    path = _dicom(
        tmp_path / 'ok.dcm',
        40,
        48,
        rgb.tobytes(),
        samples=3,
        spacing=(0.01, 0.0125),
    )
    assert io.read_pixel_spacing(path) == pytest.approx((10.0, 12.5))
    assert file_calibration(path).pixel_size_um == pytest.approx(
        (10.0 * 12.5) ** 0.5
    )


@pytest.mark.parametrize('deflate', [False, True])
def test_attack_2_dicom_declaring_a_huge_number_of_frames(tmp_path, deflate):
    pytest.importorskip('pydicom')
    from napari_retina_vessels.io.clinical import read_clinical

    path = _dicom(
        tmp_path / 'frames.dcm',
        100,
        100,
        bytes(100 * 100 * 2),
        frames=1_000_000,
        deflate=deflate,
    )
    with pytest.raises(ImageReadError, match='1000000 frames') as info:
        read_clinical(path)
    assert '\n' not in str(info.value) and 'frames.dcm' in str(info.value)
