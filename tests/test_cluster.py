"""Segmenting on a local Dask cluster: same maps, and a worker may die."""

from __future__ import annotations

import csv
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from napari_retina_vessels.batch import map_images, run_batch
from napari_retina_vessels.io import imread

distributed = pytest.importorskip('distributed')

pytestmark = [pytest.mark.slow, pytest.mark.data]

N_PHOTOS = 4


@pytest.fixture(scope='module')
def photo_folder(data_root, tmp_path_factory) -> Path:
    """A folder of links to four DRIVE test photos."""
    photos = sorted((data_root / 'DRIVE' / 'test' / 'images').glob('*.tif'))[
        :N_PHOTOS
    ]
    assert len(photos) == N_PHOTOS
    folder = tmp_path_factory.mktemp('drive') / 'photos'
    folder.mkdir()
    for p in photos:
        (folder / p.name).symlink_to(p)
    return folder


@pytest.fixture(scope='module')
def reference(photo_folder, tmp_path_factory) -> Path:
    """The same photos segmented in this process, without Dask."""
    out = tmp_path_factory.mktemp('reference')
    res = run_batch([photo_folder], out, fmt='npy', **EXACT)
    assert res['done'] == N_PHOTOS
    return out


#: Float32 on the CPU: bfloat16 (precision='auto' on CPUs with native
#: bfloat16) rounds differently with other thread counts, and the point
#: here is that a cluster gives the single process's maps.
EXACT = {'device': 'cpu', 'precision': 'fp32'}


def stems(folder: Path) -> list[str]:
    return sorted(p.name.removesuffix('.tif') for p in folder.iterdir())


def read_summary(out: Path) -> list[dict]:
    with open(out / 'summary.csv', newline='') as fh:
        return list(csv.DictReader(fh))


def assert_same_maps(out: Path, ref: Path, names: list[str]) -> None:
    for n in names:
        prob = np.load(out / f'{n}_prob.npy')
        ref_prob = np.load(ref / f'{n}_prob.npy')
        # Another thread count may change float sums in the last bits.
        np.testing.assert_allclose(prob, ref_prob, atol=1e-4)
        vessels = imread(out / f'{n}_vessels.png') > 0
        ref_vessels = imread(ref / f'{n}_vessels.png') > 0
        differ = vessels != ref_vessels
        assert (np.abs(ref_prob[differ] - 0.5) < 1e-3).all()


def test_local_cluster_matches_single_process(
    photo_folder, reference, tmp_path
):
    bad = tmp_path / 'broken.tif'
    bad.write_bytes(b'II*\x00' + b'\x00' * 20)
    out = tmp_path / 'out'
    res = run_batch([photo_folder, bad], out, fmt='npy', workers=2, **EXACT)
    assert (res['done'], res['skipped'], res['failed']) == (N_PHOTOS, 0, 1)
    names = stems(photo_folder)
    assert_same_maps(out, reference, names)
    rows = {r['name']: r for r in read_summary(out)}
    assert rows['broken']['status'] == 'failed'
    assert 'cannot read' in rows['broken']['error']
    ref_rows = {r['name']: r for r in read_summary(reference)}
    for n in names:
        assert rows[n]['status'] == 'done'
        assert rows[n]['fov_area_px'] == ref_rows[n]['fov_area_px']
        assert float(rows[n]['vessel_density']) == pytest.approx(
            float(ref_rows[n]['vessel_density']), abs=1e-4
        )
    # A re-run finds everything done and needs no cluster at all.
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    res = run_batch([photo_folder], out, fmt='npy', workers=2, **EXACT)
    assert (res['done'], res['skipped']) == (0, N_PHOTOS)
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert {k: v for k, v in after.items() if k != 'summary.csv'} == {
        k: v for k, v in before.items() if k != 'summary.csv'
    }


def _probe(item: int) -> tuple[int, int, int]:
    import torch

    return item, os.getpid(), torch.get_num_threads()


def test_map_images_on_a_cluster_keeps_order_and_one_thread():
    got = map_images(_probe, range(6), workers=2)
    assert [g[0] for g in got] == list(range(6))
    assert all(pid != os.getpid() for _, pid, _ in got)
    assert {threads for _, _, threads in got} == {1}


def test_killed_worker_images_end_complete_and_once(
    photo_folder, reference, tmp_path
):
    from distributed import Client, LocalCluster

    out = tmp_path / 'out'
    killed: dict = {}
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host='127.0.0.1',
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        stop = threading.Event()

        def kill_a_busy_worker() -> None:
            seen: dict[str, float] = {}
            while not stop.is_set() and not killed:
                for addr, keys in client.processing().items():
                    if any(str(k).startswith('retina-segment') for k in keys):
                        first = seen.setdefault(addr, time.monotonic())
                        # Well inside the task: torch import, model load.
                        if time.monotonic() - first > 0.5:
                            os.kill(pids[addr], signal.SIGKILL)
                            killed.update(addr=addr, keys=list(keys))
                            return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        try:
            res = run_batch(
                [photo_folder],
                out,
                fmt='npy',
                scheduler=cluster.scheduler_address,
                **EXACT,
            )
        finally:
            stop.set()
            killer.join(10)
    assert killed, 'no worker was killed while it had tasks'
    assert (res['done'], res['failed']) == (N_PHOTOS, 0)
    names = stems(photo_folder)
    rows = read_summary(out)
    assert sorted(r['name'] for r in rows) == names
    assert {r['status'] for r in rows} == {'done'}
    # Exactly one complete set of files per image and nothing else.
    expected = {
        f'{n}{end}'
        for n in names
        for end in ('_prob.npy', '_vessels.png', '.done.json')
    }
    assert {p.name for p in out.iterdir()} == expected | {'summary.csv'}
    assert_same_maps(out, reference, names)
