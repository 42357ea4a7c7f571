"""Pixel size from what the photo says: given, DICOM, field of view,
disc; ``pixel_size_source`` names which."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from synthetic import write_dicom

from napari_retina_vessels import measure
from napari_retina_vessels.cli import main
from napari_retina_vessels.io import imwrite
from napari_retina_vessels.measures.calibration import (
    UM_PER_DEGREE,
    file_calibration,
)

from .render import radial_tree

pytest.importorskip('pydicom')

SHAPE = (300, 300)


def _maps():
    vessels, av, soft = radial_tree(
        SHAPE, (150, 150), 20, [6, 8, 5, 7, 4.5, 6.5], [1, 2, 1, 2, 1, 2]
    )
    return vessels, av


def _photo():
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    photo = np.zeros((*SHAPE, 3), np.uint8)
    photo[np.hypot(yy - 150, xx - 150) < 140] = (170, 90, 30)
    photo[np.hypot(yy - 150, xx - 150) < 20] = (250, 220, 150)
    return photo


def _dicom(tmp_path, spacing_mm=(0.0125, 0.0125), fov_deg=None):
    path = tmp_path / 'x.dcm'
    write_dicom(path, _photo(), spacing_mm=spacing_mm)
    if fov_deg is not None:
        import pydicom

        ds = pydicom.dcmread(path)
        ds.HorizontalFieldOfView = fov_deg
        ds.save_as(path)
    return path


def _row(m):
    return m.image.iloc[0]


def test_dicom_pixel_spacing_is_used_through_measure(tmp_path):
    vessels, av = _maps()
    row = _row(measure(av, _dicom(tmp_path)))
    assert row['pixel_size_um'] == pytest.approx(12.5)
    assert row['pixel_size_source'] == 'DICOM PixelSpacing'
    m = measure(av, _dicom(tmp_path))
    assert m.segments['calibre_um'].dropna().to_numpy() == pytest.approx(
        12.5 * m.segments['calibre_px'].dropna().to_numpy(), rel=1e-3
    )


def test_an_explicit_pixel_size_wins_over_the_file(tmp_path):
    _, av = _maps()
    row = _row(measure(av, _dicom(tmp_path), pixel_size_um=7.0))
    assert row['pixel_size_um'] == 7.0
    assert row['pixel_size_source'] == 'given'
    row = _row(
        measure(av, pixel_size_um=9.0, pixel_size_source='napari layer scale')
    )
    assert row['pixel_size_source'] == 'napari layer scale'


def test_camera_field_of_view_before_the_disc(tmp_path):
    _, av = _maps()
    path = _dicom(tmp_path, spacing_mm=None, fov_deg=45)
    assert file_calibration(path).field_of_view_deg == 45
    row = _row(measure(av, path))
    width = 2 * 140 - 1  # the photo's round field of view
    assert row['pixel_size_um'] == pytest.approx(
        45 * UM_PER_DEGREE / width, rel=0.02
    )
    assert row['pixel_size_source'].startswith('camera field of view 45')
    # Given as an argument for a photo without metadata.
    row = _row(measure(av, _photo(), field_of_view_deg=30))
    assert row['pixel_size_source'].startswith('camera field of view 30')


def test_the_disc_assumption_comes_last(tmp_path):
    _, av = _maps()
    row = _row(measure(av, _dicom(tmp_path, spacing_mm=None)))
    assert row['pixel_size_source'] == 'disc diameter assumed 1.8 mm'


def test_cli_measure_uses_the_dicom_spacing(tmp_path):
    seg = tmp_path / 'seg'
    seg.mkdir()
    vessels, av = _maps()
    imwrite(seg / 'x_vessels.png', vessels)
    imwrite(seg / 'x_av.png', av)
    photo = _dicom(tmp_path)
    row = {
        'name': 'x',
        'path': str(photo),
        'status': 'done',
        'quality_grade': 'good',
        'quality_score': 0.9,
        'quality_reasons': '',
    }
    (seg / 'x.done.json').write_text(json.dumps({'row': row}))
    out = tmp_path / 'out'
    assert main(['measure', str(seg), '--out', str(out)]) == 0
    with open(out / 'measures.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert rows[0]['status'] == 'done', rows[0]
    assert float(rows[0]['pixel_size_um']) == pytest.approx(12.5)
    assert rows[0]['pixel_size_source'] == 'DICOM PixelSpacing'
