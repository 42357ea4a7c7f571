"""The Measure widget's per-image table shows CRAE, CRVE and AVR per
hemifield, each with its own count or reason."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_per_side_rows_carry_their_own_counts_and_reasons():
    from measures.render import radial_tree

    from napari_retina_vessels._napari.widgets._measure_tables import (
        image_table_value,
    )
    from napari_retina_vessels.measures import measure

    # Three arterioles and three venules below the disc, none above.
    widths = [6.0, 9.0, 5.5, 8.0, 5.0, 7.5]
    vessels, av, _ = radial_tree(
        (400, 400), (200.0, 200.0), 25.0, widths + widths, [1, 2] * 6
    )
    vessels[:198] = False
    av[:198] = 0
    row = measure(
        vessels,
        artery_vein=av,
        disc=(200.0, 200.0, 25.0),
        fovea=(200.0, 325.0),
        pixel_size_um=5.0,
    ).image.iloc[0]
    table = image_table_value(row)
    rows = dict(zip(table['index'], table['data']))
    assert rows['CRAE inferior (µm)'][1] == '3 vessels'
    assert rows['CRAE inferior (µm)'][0] != 'n/a'
    assert rows['CRAE superior (µm)'][0] == 'n/a'
    assert rows['CRAE superior (µm)'][1].startswith('0 arterioles')
    assert 'needs both' in rows['AVR superior'][1]
    assert rows['hemifields split by'][0] == 'disc-fovea'
    # The whole-image rows keep their own notes.
    assert rows['CRAE (µm)'][1] == '3 vessels'
