"""The optic disc finder against hand-placed centres on public photos."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from napari_retina_vessels.fov import fov_mask
from napari_retina_vessels.io import imread, read_av, read_mask
from napari_retina_vessels.measures.disc import _DISC_PER_FOV, find_disc

CENTRES = Path(__file__).resolve().parents[1] / 'data' / 'disc_centres.csv'


def _centres() -> list[dict]:
    with open(CENTRES, encoding='utf-8') as f:
        return list(csv.DictReader(ln for ln in f if not ln.startswith('#')))


def test_centre_table_is_complete():
    rows = _centres()
    counts = {}
    for r in rows:
        counts[r['dataset']] = counts.get(r['dataset'], 0) + 1
        assert r['x'] or r['note'], r
    assert counts == {'DRIVE': 40, 'CHASE_DB1': 28, 'STARE': 20, 'HRF-AV': 24}


@pytest.mark.data
@pytest.mark.slow
def test_disc_found_within_one_radius_on_drive_and_hrf(data_root):
    rows = [
        r
        for r in _centres()
        if r['x']
        and (r['image'].startswith('test/') or r['dataset'] == 'HRF-AV')
    ]
    errors = []
    for r in rows[:30]:
        path = data_root / r['dataset'] / r['image']
        if not path.is_file():
            pytest.skip(f'{path} is missing')
        img = imread(path)
        if r['dataset'] == 'DRIVE':
            num = Path(r['image']).name.split('_')[0]
            vessels = read_mask(
                data_root
                / 'DRIVE'
                / 'test'
                / '1st_manual'
                / f'{num}_manual1.gif'
            )
        else:
            vessels = (
                read_av(
                    data_root
                    / 'HRF-AV'
                    / 'training'
                    / 'av'
                    / f'{Path(r["image"]).stem}_AVmanual.png'
                )
                > 0
            )
        fov = fov_mask(img)
        ys, xs = np.nonzero(fov)
        r_ref = 0.5 * _DISC_PER_FOV * max(np.ptp(xs) + 1, np.ptp(ys) + 1)
        d = find_disc(img, vessels, fov=fov)
        errors.append(
            np.hypot(d.x - float(r['x']), d.y - float(r['y'])) / r_ref
        )
    errors = np.array(errors)
    assert np.mean(errors <= 1) >= 0.9, errors
    assert errors.mean() < 0.6, errors
