"""Attack 7: when a Dask worker dies after a photo's outputs and marker
are complete, that photo is done, not ``failed: KilledWorker``; and an
error's text is one line in the table and the log."""

from __future__ import annotations

import numpy as np

from napari_retina_vessels.io import imwrite

_CRASH = (
    'Attempted to run task on 3 different workers, but all those '
    'workers died\nTraceback (most recent call last):\n  File "x"'
)


def test_attack_7_a_complete_photo_is_not_failed_when_its_worker_dies(
    tmp_path, monkeypatch
):
    from napari_retina_vessels import batch

    src = tmp_path / 'in'
    src.mkdir()
    for k in range(2):
        imwrite(src / f'p{k}.png', np.full((48, 56, 3), 90 + k, np.uint8))

    def dying_cluster(func, items, **kwargs):
        for i, item in enumerate(items):
            if i == 0:
                func(item)  # outputs and marker written, then the crash
            yield i, None, RuntimeError(_CRASH)

    monkeypatch.setattr(batch, 'iter_map', dying_cluster)
    said = []
    res = batch.run_batch(
        [src], tmp_path / 'out', device='cpu', workers=1, log=said.append
    )
    # Flat test photos are graded ungradable: segmented all the same.
    assert (res['done'] + res['ungradable'], res['failed']) == (1, 1)
    import csv

    with open(res['summary_csv'], newline='') as fh:
        rows = {r['name']: r for r in csv.DictReader(fh)}
    assert rows['p0']['status'] in ('done', 'ungradable')
    assert rows['p1']['status'] == 'failed'
    assert '\n' not in rows['p1']['error']
    assert 'Traceback' not in ' '.join(said)


def test_attack_7_sibling_measure_recovers_the_same_way(tmp_path, monkeypatch):
    from measures.render import radial_tree

    from napari_retina_vessels.batch import measures as mbatch

    seg = tmp_path / 'seg'
    seg.mkdir()
    vessels, av, soft = radial_tree(
        (200, 200), (100, 100), 14, [5, 6, 5, 6], [1, 2, 1, 2]
    )
    imwrite(seg / 'a_vessels.png', vessels)
    imwrite(seg / 'a_av.png', av)

    def dying_cluster(func, items, **kwargs):
        for i, item in enumerate(items):
            func(item)
            yield i, None, RuntimeError(_CRASH)

    from napari_retina_vessels.batch import cluster

    monkeypatch.setattr(cluster, 'iter_map', dying_cluster)
    res = mbatch.run_measures([seg], tmp_path / 'out', workers=1)
    assert (res['done'], res['failed']) == (1, 0)


def test_attack_9_disk_full_during_segment_is_one_line_and_lists_all(
    tmp_path, monkeypatch
):
    import csv
    import errno

    import pytest

    from napari_retina_vessels import batch
    from napari_retina_vessels.errors import OutputError

    src = tmp_path / 'in'
    src.mkdir()
    for k in range(3):
        imwrite(src / f'p{k}.png', np.full((40, 48, 3), 90 + k, np.uint8))
    real = batch.write_segmentation
    calls = []

    def full_disk(out, name, *args, **kwargs):
        calls.append(name)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real(out, name, *args, **kwargs)

    monkeypatch.setattr(batch, 'write_segmentation', full_disk)
    with pytest.raises(OutputError, match='No space left') as info:
        batch.run_batch([src], tmp_path / 'out', device='cpu')
    assert '\n' not in str(info.value)
    with open(tmp_path / 'out' / 'summary.csv', newline='') as fh:
        rows = list(csv.DictReader(fh))
    assert [r['name'] for r in rows] == ['p0', 'p1', 'p2']
    assert rows[0]['status'] in ('done', 'ungradable')
    assert {r['status'] for r in rows[1:]} == {'failed'}
