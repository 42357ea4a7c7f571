"""Clinical formats: DICOM photographs (pydicom) and Topcon exports,
on files the tests write themselves.

Heidelberg ``.e2e`` (read through oct-converter) has no test: no sample
can be made without the proprietary format's full description, and the
public samples are patient scans."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import (
    FAKE_PATIENT,
    fake_fundus,
    write_dicom,
    write_topcon_fda,
)

from napari_retina_vessels import io
from napari_retina_vessels.errors import ImageReadError

pytest.importorskip('pydicom')


def test_dicom_rgb_pixels_and_spacing(tmp_path):
    from napari_retina_vessels.io.clinical import read_dicom

    rgb = fake_fundus(40, 48)
    path = tmp_path / 'photo.dcm'
    write_dicom(path, rgb, spacing_mm=(0.01, 0.0125))
    np.testing.assert_array_equal(io.imread(path), rgb)
    assert io.is_image_path(path) and io.file_stem(path) == 'photo'
    assert io.read_pixel_spacing(path) == pytest.approx((10.0, 12.5))
    image = read_dicom(path)
    assert image.pixel_spacing == pytest.approx((10.0, 12.5))
    assert image.info['modality'] == 'OP'
    assert image.info['laterality'] == 'R'
    assert image.patient is None


def test_dicom_patient_data_only_when_asked(tmp_path, capsys):
    from napari_retina_vessels.io.clinical import read_dicom

    path = tmp_path / 'photo.dcm'
    write_dicom(path, fake_fundus(32, 32))
    image = read_dicom(path)
    shown = repr(image.info) + capsys.readouterr().out
    for value in FAKE_PATIENT.values():
        assert value not in shown
    asked = read_dicom(path, patient=True)
    assert asked.patient['PatientID'] == FAKE_PATIENT['PatientID']
    assert 'Testperson' in asked.patient['PatientName']


def test_dicom_grey_monochrome1_and_no_spacing(tmp_path):
    grey = np.arange(30 * 20, dtype=np.uint8).reshape(30, 20)
    path = tmp_path / 'grey.dcm'
    write_dicom(path, grey, spacing_mm=None, photometric='MONOCHROME1')
    np.testing.assert_array_equal(io.imread(path), 255 - grey)
    assert io.read_pixel_spacing(path) is None


def test_multiframe_dicom(tmp_path):
    from napari_retina_vessels.io.clinical import read_clinical

    frames = np.stack([fake_fundus(24, 28, seed=i) for i in range(3)])
    path = tmp_path / 'series.dcm'
    write_dicom(path, frames)
    image = read_clinical(path)
    np.testing.assert_array_equal(image.pixels, frames)
    assert image.info['frames'] == 3
    with pytest.raises(ImageReadError, match='holds 3 images'):
        io.imread(path)


def test_broken_dicom_is_one_sentence(tmp_path):
    path = tmp_path / 'broken.dcm'
    path.write_bytes(b'not a dicom file at all' * 10)
    with pytest.raises(ImageReadError) as info:
        io.imread(path)
    message = str(info.value)
    assert 'broken.dcm' in message and '\n' not in message


def test_topcon_fda_fundus(tmp_path):
    rgb = fake_fundus(48, 64)
    path = tmp_path / 'scan.fda'
    write_topcon_fda(path, rgb)
    got = io.imread(path)
    assert got.shape == rgb.shape and got.dtype == np.uint8
    # JPEG inside: close, not equal; channel order must be RGB
    assert np.abs(got.astype(int) - rgb).mean() < 6
    assert got[24, 32, 0] > got[24, 32, 2]


def test_vendor_file_without_fundus_is_an_error(tmp_path):
    path = tmp_path / 'empty.fda'
    path.write_bytes(b'FOCTFDA' + bytes(8) + b'\x00')
    with pytest.raises(ImageReadError, match='no fundus photograph'):
        io.imread(path)


def test_e2e_without_oct_converter_says_what_to_install(tmp_path):
    try:
        import oct_converter  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip('oct-converter is installed')
    path = tmp_path / 'scan.e2e'
    path.write_bytes(b'CMDb' + bytes(64))
    with pytest.raises(ImageReadError, match=r'\[vendor\]'):
        io.imread(path)
