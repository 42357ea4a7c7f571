"""The engine builds its networks only for the first photo that needs
them (#29): a blank frame or a tiny field of view, which the quality
gate ends early, loads no network at all; a run that reaches the
networks builds each once."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus

pytest.importorskip('torch')


def _count_loads(monkeypatch, *, refuse: bool) -> list:
    from napari_retina_vessels import engines, weights

    loads = []
    real = engines.load_net

    def load_net(ref, **kwargs):
        loads.append(kwargs.get('task', ref))
        if refuse:
            raise AssertionError('a network was loaded')
        return real(ref, **kwargs)

    monkeypatch.setattr(engines, 'load_net', load_net)
    if refuse:
        # nor built through any other path
        def no_build(*a, **k):
            raise AssertionError('a network was built')

        monkeypatch.setattr(weights, '_cached_model', no_build)
    return loads


@pytest.mark.parametrize(
    'image',
    [
        np.zeros((300, 300, 3), np.uint8),
        np.full((300, 300, 3), 200, np.uint8),
    ],
)
def test_blank_frames_load_no_network(image, monkeypatch):
    from napari_retina_vessels import segment

    _count_loads(monkeypatch, refuse=True)
    seg = segment(image, av=True, views=1)
    assert seg.quality.grade == 'ungradable'
    assert not seg.vessels.any() and seg.artery_vein is not None
    # what the result records of its models comes from the files
    meta = seg.metadata()
    assert meta['weights_sha256'] and meta['av_weights_sha256']


def test_a_tiny_field_of_view_loads_no_network(monkeypatch):
    from napari_retina_vessels import segment

    _count_loads(monkeypatch, refuse=True)
    img = np.zeros((600, 600, 3), np.uint8)
    img[280:320, 280:320] = fake_fundus(40, 40)
    seg = segment(img, av=False, views=1)
    assert seg.quality.grade == 'ungradable'
    assert 'field of view' in seg.quality.reason


def test_a_batch_builds_each_network_once_when_a_photo_needs_it(
    monkeypatch,
):
    from napari_retina_vessels.batch.batching import segment_many

    loads = _count_loads(monkeypatch, refuse=False)
    photos = [
        np.zeros((300, 300, 3), np.uint8),  # ends early: loads nothing
        fake_fundus(160, 176, seed=1),
        fake_fundus(160, 176, seed=2),
    ]
    segs = list(segment_many(photos, device='cpu', av=True, views=1))
    assert len(segs) == 3
    assert sorted(loads) == ['av', 'vessels']


def test_a_wrong_task_is_still_refused_before_any_photo(
    monkeypatch, tmp_path
):
    """Reading the headers keeps the up-front checks of the options."""
    import torch

    from napari_retina_vessels import segment, weights
    from napari_retina_vessels.errors import WeightsError

    _count_loads(monkeypatch, refuse=True)
    vessels = weights.resolve('default', 'vessels')
    data = weights.load_weights_file(vessels.local_path())
    data['task'] = 'av'  # a file claiming the other stage
    path = tmp_path / 'wrong.pt'
    torch.save(data, path)
    with pytest.raises(WeightsError, match='is a av model, not a vessels'):
        segment(np.zeros((300, 300, 3), np.uint8), model=str(path))
