"""Batched segmentation: same maps as one photo at a time, errors per
photo, and the out-of-memory fallback (simulated on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus


@pytest.fixture(scope='module')
def photos():
    # Two of one size (they share forward passes) and one of another.
    return [
        fake_fundus(160, 180, seed=0),
        fake_fundus(160, 180, seed=1),
        fake_fundus(120, 150, seed=2),
    ]


@pytest.fixture(scope='module')
def singles(photos):
    from napari_retina_vessels.pipeline import segment

    return [segment(p, device='cpu') for p in photos]


def _same(a, b) -> None:
    np.testing.assert_allclose(a.probability, b.probability, atol=1e-5)
    assert np.array_equal(a.vessels, b.vessels)
    assert np.array_equal(a.artery_vein, b.artery_vein)
    assert np.array_equal(a.fov, b.fov)


def test_segment_many_equals_segment(photos, singles):
    from napari_retina_vessels.batch.batching import segment_many

    many = list(segment_many(photos, device='cpu', batch_size=2))
    assert len(many) == len(photos)
    for a, b in zip(singles, many):
        _same(a, b)
        assert b.device == 'cpu'


def test_callables_are_decoded_in_the_pool(photos, singles):
    from napari_retina_vessels.batch.batching import segment_many

    many = list(
        segment_many(
            [lambda p=p: p for p in photos],
            device='cpu',
            batch_size=3,
            workers=2,
        )
    )
    for a, b in zip(singles, many):
        _same(a, b)


def test_a_bad_photo_fails_alone(photos):
    from napari_retina_vessels.batch.batching import (
        iter_segment_many,
        segment_many,
    )
    from napari_retina_vessels.errors import InvalidImageError

    items = [photos[0], np.zeros((5, 5, 3), np.uint8), photos[1]]
    got = {
        i: (seg, err)
        for i, seg, err in iter_segment_many(
            items, device='cpu', av=False, batch_size=2
        )
    }
    assert sorted(got) == [0, 1, 2]
    assert got[0][1] is None and got[2][1] is None
    assert isinstance(got[1][1], InvalidImageError)
    with pytest.raises(InvalidImageError):
        list(segment_many(items, device='cpu', av=False))


def test_bad_batch_size_is_refused(photos):
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError, match='batch size'):
        list(segment_many(photos, device='cpu', batch_size=-1))


def _oom_above(monkeypatch, limit):
    """Make every forward pass of more than *limit* photos run out of
    memory, as a GPU would."""
    import torch

    from napari_retina_vessels import inference

    real = inference._forward
    sizes = []

    def forward(model, x, device, views, dtype=None):
        sizes.append(x.shape[0])
        if x.shape[0] > limit:
            raise torch.OutOfMemoryError(
                'CUDA out of memory. Tried to allocate 2.00 GiB'
            )
        return real(model, x, device, views, dtype)

    monkeypatch.setattr(inference, '_forward', forward)
    return sizes


def test_out_of_memory_halves_the_batch(monkeypatch):
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.pipeline import segment

    photos = [fake_fundus(96, 112, seed=s) for s in range(5)]
    singles = [segment(p, device='cpu', av=False) for p in photos]
    sizes = _oom_above(monkeypatch, 2)
    messages = []
    many = list(
        segment_many(
            photos, device='cpu', av=False, batch_size=8, log=messages.append
        )
    )
    assert messages == [
        'out of memory with 5 photos per pass on cpu; retrying with 2'
    ]
    assert max(s for s in sizes if s <= 2) == 2
    for a, b in zip(singles, many):
        np.testing.assert_allclose(a.probability, b.probability, atol=1e-5)


def test_out_of_memory_for_one_photo_is_a_device_error(monkeypatch):
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.errors import DeviceError

    _oom_above(monkeypatch, 0)
    with pytest.raises(DeviceError, match='single photo'):
        list(segment_many([fake_fundus(96, 112)], device='cpu', av=False))


def test_other_runtime_errors_are_not_retried(monkeypatch):
    from napari_retina_vessels import inference
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.errors import ModelError

    def forward(model, x, device, views, dtype=None):
        raise RuntimeError('shape mismatch')

    monkeypatch.setattr(inference, '_forward', forward)
    # Named as the engine's one error for a failing network (#29 attack
    # 10), not retried with smaller batches.
    with pytest.raises(ModelError, match='shape mismatch'):
        list(
            segment_many(
                [fake_fundus(96, 112)], device='cpu', av=False, batch_size=4
            )
        )


def test_default_batch_size_per_device():
    from napari_retina_vessels.inference import default_batch_size

    assert default_batch_size('cpu') == 1
    assert default_batch_size('cuda:1') == 16


def test_run_batch_with_batches_writes_what_one_at_a_time_does(tmp_path):
    from napari_retina_vessels.batch import run_batch
    from napari_retina_vessels.io import imread, imwrite

    src = tmp_path / 'in'
    src.mkdir()
    for s in range(3):
        imwrite(src / f'p{s}.png', fake_fundus(120, 140, seed=s))
    (src / 'broken.png').write_bytes(b'not a png')
    one = run_batch([src], tmp_path / 'one', av=True, batch_size=1)
    two = run_batch([src], tmp_path / 'two', av=True, batch_size=2)
    for res in (one, two):
        assert (res['done'] + res.get('ungradable', 0), res['failed']) == (
            3,
            1,
        )
    for s in range(3):
        for end in ('_prob.png', '_vessels.png', '_av.png'):
            a = imread(tmp_path / 'one' / f'p{s}{end}')
            b = imread(tmp_path / 'two' / f'p{s}{end}')
            assert np.array_equal(a, b), (s, end)
