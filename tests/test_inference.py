"""Flip test-time augmentation in the inference engine and pipeline."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from synthetic import fake_fundus

from napari_retina_vessels import pipeline
from napari_retina_vessels.errors import InvalidOptionError
from napari_retina_vessels.inference import predict, tta_views


class Net(torch.nn.Module):
    """A deliberately non-symmetric network returning [logits]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 2, 5, padding=2)

    def forward(self, x):
        return [self.conv(x)]


def _run(x, **kw):
    gen = predict(Net().eval(), x, device=torch.device('cpu'), **kw)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(3, 40, 48)).astype(np.float32)


def _mirror(a, axes):
    return np.flip(a, axes).copy()


def test_views_average_mirrored_predictions(x):
    one = _run(x)
    lr = _mirror(_run(_mirror(x, -1)), -1)
    ud = _mirror(_run(_mirror(x, -2)), -2)
    both = _mirror(_run(_mirror(x, (-2, -1))), (-2, -1))
    np.testing.assert_allclose(_run(x, tta=2), (one + lr) / 2, atol=1e-5)
    np.testing.assert_allclose(
        _run(x, tta=True), (one + lr + ud + both) / 4, atol=1e-5
    )
    np.testing.assert_allclose(_run(x, tta=False), one)
    assert not np.allclose(one, lr)  # the test net is not symmetric


def test_four_views_make_the_output_flip_equivariant(x):
    out = _run(x, tta=4)
    flipped = _run(_mirror(x, -2), tta=4)
    np.testing.assert_allclose(_mirror(flipped, -2), out, atol=1e-5)


@pytest.mark.parametrize('bad', [0, 3, 8, 'yes'])
def test_bad_tta_is_refused(x, bad):
    with pytest.raises(ValueError):
        tta_views(bad)
    with pytest.raises(ValueError):
        _run(x, tta=bad)
    with pytest.raises(InvalidOptionError, match='1, 2 or 4'):
        _run(x, views=bad)


def test_both_stages_average_two_views_by_default(monkeypatch):
    import napari_retina_vessels.inference as inf

    seen = []
    orig = inf.predict

    def spy(model, x, **kw):
        seen.append((kw['stage'], kw['views']))
        return (yield from orig(model, x, **kw))

    monkeypatch.setattr(inf, 'predict', spy)
    img = fake_fundus()
    pipeline.segment(img)
    pipeline.segment(img, tta=True)
    pipeline.segment(img, av_views=1)
    pipeline.segment(img, tta=1)
    pipeline.segment(img, vessel_views=4)
    pipeline.segment(img, tta=True, vessel_views=1, av=False)
    pipeline.segment(img, views=1)
    pipeline.segment(img, views=4, av_views=2)
    assert pipeline.VESSEL_VIEWS == pipeline.AV_VIEWS == 2
    assert seen == [
        ('vessels', 2),
        ('artery/vein', 2),
        ('vessels', 4),
        ('artery/vein', 4),
        ('vessels', 2),
        ('artery/vein', 1),
        ('vessels', 1),
        ('artery/vein', 2),
        ('vessels', 4),
        ('artery/vein', 2),
        ('vessels', 1),
        ('vessels', 1),
        ('artery/vein', 1),
        ('vessels', 4),
        ('artery/vein', 2),
    ]
    for bad in (
        {'av_views': 3},
        {'vessel_views': 3},
        {'vessel_views': 0},
        {'views': 3},
        {'views': True},
    ):
        with pytest.raises(ValueError):
            pipeline.segment(img, **bad)


def test_evaluate_cli_passes_av_views(monkeypatch, tmp_path):
    import napari_retina_vessels.evaluation as ev
    from napari_retina_vessels.cli import main

    got = {}

    def fake(folder, **kw):
        got.update(kw)
        return {}

    monkeypatch.setattr(ev, 'evaluate_dataset', fake)
    assert main(['evaluate', str(tmp_path), '--av', '--av-views', '1']) == 0
    assert got['av_views'] == 1 and got['av']
    assert got['vessel_views'] is None and got['views'] is None
    assert main(['evaluate', str(tmp_path), '--tta']) == 0
    # The flags give the (vessel, av) pair SegmentOptions stores.
    assert got['views'] == (4, 4)
    assert main(['evaluate', str(tmp_path), '--views', '1']) == 0
    assert got['views'] == (1, 1)
    assert main(['evaluate', str(tmp_path), '--vessel-views', '4']) == 0
    assert got['vessel_views'] == 4


def test_allocator_tuning_only_where_the_process_is_ours(monkeypatch):
    import os
    import sys

    from napari_retina_vessels import _allocator

    glibc = sys.platform.startswith('linux') and os.confstr(
        'CS_GNU_LIBC_VERSION'
    ).startswith('glibc')
    monkeypatch.setattr(_allocator, '_state', None)
    monkeypatch.setenv('RETINA_VESSELS_TUNE_MALLOC', '0')
    assert _allocator.tune_allocator() is False
    # napari: opt-in, so nothing without the variable
    monkeypatch.delenv('RETINA_VESSELS_TUNE_MALLOC')
    assert _allocator.tune_allocator(default=False) is False
    assert _allocator._state is None
    # segmenting (what the widget, console and scripts run) leaves it
    # alone unless asked
    seg = pipeline.segment(fake_fundus(), av=False)
    assert np.isfinite(seg.probability).all()
    assert _allocator._state is None
    monkeypatch.setattr(sys, 'platform', 'darwin')
    assert _allocator.tune_allocator() is False
    monkeypatch.undo()
    monkeypatch.setattr(_allocator, '_state', None)
    monkeypatch.setenv('RETINA_VESSELS_TUNE_MALLOC', '1')
    assert _allocator.tune_allocator(default=False) is glibc
    # once set, it stays set for the process
    monkeypatch.setenv('RETINA_VESSELS_TUNE_MALLOC', '0')
    assert _allocator.tune_allocator() is glibc


def test_cli_tunes_the_allocator(monkeypatch):
    from napari_retina_vessels import _allocator
    from napari_retina_vessels.cli import main

    calls = []
    monkeypatch.setattr(
        _allocator, 'tune_allocator', lambda **kw: calls.append(kw) or False
    )
    assert main(['weights', 'list']) == 0
    assert calls == [{}]


# -- flip views side by side on a multi-core CPU ---------------------------


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _views_on(threads, views, *, spy=None):
    """``_forward`` of the default W-Net over a DRIVE-sized input with
    *threads* PyTorch threads; *spy* collects the threads views ran on."""
    import threading

    from napari_retina_vessels import inference
    from napari_retina_vessels.models import build_model

    torch.manual_seed(1)
    net = build_model('wnet').eval()
    if spy is not None:
        net.register_forward_pre_hook(
            lambda *_: spy.append(threading.current_thread().name)
        )
    x = torch.randn(1, 3, 96, 120)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            return inference._forward(net, x, torch.device('cpu'), views)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize('views', [2, 4])
def test_views_side_by_side_equal_views_one_after_the_other(views):
    from napari_retina_vessels._view_threads import _openmp

    if not _openmp():
        pytest.skip('views run side by side only with OpenMP threads')
    ran: list[str] = []
    side_by_side = _views_on(2, views, spy=ran)
    # Each view ran on a thread of its own with one PyTorch thread: the
    # same arithmetic as views one after the other on one thread.
    assert len(ran) == views and all(n.startswith('retina-view') for n in ran)
    ran.clear()
    one_by_one = _views_on(1, views, spy=ran)
    assert ran == ['MainThread'] * views
    assert torch.equal(side_by_side, one_by_one)


def test_view_threads_only_for_cpu_inference_with_threads_to_share(
    two_threads,
):
    from napari_retina_vessels._view_threads import _openmp, view_threads

    cpu = torch.device('cpu')
    assert view_threads(cpu, 2) == 1  # gradients on: not inference
    with torch.inference_mode():
        assert view_threads(cpu, 1) == 1
        assert view_threads(torch.device('cuda'), 2) == 1
        assert view_threads(cpu, 4) == (2 if _openmp() else 1)
        torch.set_num_threads(1)
        assert view_threads(cpu, 2) == 1


def test_view_threads_leave_the_callers_thread_count(two_threads):
    from napari_retina_vessels._view_threads import map_views

    seen = map_views(lambda _: torch.get_num_threads(), [0, 1], 2)
    assert seen == [1, 1]
    assert torch.get_num_threads() == 2
    with pytest.raises(ZeroDivisionError):
        map_views(lambda i: 1 / i, [1, 0], 2)
    assert torch.get_num_threads() == 2


def test_a_fresh_view_thread_keeps_its_share(two_threads, monkeypatch):
    """A new thread takes the process-wide thread count at its first
    parallel operation; a view that finishes first and hands the count
    back must not give a view still starting the caller's full count."""
    from napari_retina_vessels import _view_threads

    if not _view_threads._openmp():
        pytest.skip('per-thread counts need OpenMP threads')
    monkeypatch.setattr(_view_threads, '_POOLS', {})  # fresh threads
    both_started = threading.Barrier(2, timeout=5)  # two threads
    first_done = threading.Event()

    def view(i: int) -> int:
        both_started.wait()
        if i == 1:
            first_done.wait(5)
            time.sleep(0.05)  # let the first view's thread hand back
        n = torch.get_num_threads()
        if i == 0:
            first_done.set()
        return n

    try:
        assert _view_threads.map_views(view, [0, 1], 2) == [1, 1]
    finally:
        for pool in _view_threads._POOLS.values():
            pool.shutdown()
    assert torch.get_num_threads() == 2
