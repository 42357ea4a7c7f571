"""Failures found by attacking the reader, batch, evaluate, weights, train.

Each test is named after its case (issue 19) and asserts the one right
behaviour: a result where one is due, else one clear, one-line error
raised before any large allocation or long work.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from napari_retina_vessels.errors import RetinaVesselsError


def _one_line(err: BaseException) -> str:
    msg = str(err)
    assert msg and '\n' not in msg and 'Traceback' not in msg, msg
    return msg


# -- 1. train --resume loads checkpoint.pt as a full pickle ---------------

class _Payload:
    """Unpickling this object would run ``Path.touch(target)``."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_resume_checkpoint_is_not_unpickled_as_code(tmp_path):
    from napari_retina_vessels.errors import TrainingConfigError
    from napari_retina_vessels.training.loop import TrainConfig, train

    run = tmp_path / 'run'
    run.mkdir()
    flag = tmp_path / 'pwned'
    with open(run / 'checkpoint.pt', 'wb') as fh:
        pickle.dump({'model': _Payload(flag)}, fh)
    cfg = TrainConfig(datasets=[str(tmp_path / 'nowhere')], out=str(run))
    with pytest.raises(TrainingConfigError) as info:
        train(cfg, resume=True, log=lambda s: None)
    _one_line(info.value)
    assert not flag.exists()


def test_resume_checkpoint_round_trips_with_weights_only(tmp_path):
    import torch

    from napari_retina_vessels.training.loop import load_checkpoint

    rng = np.random.default_rng(3)
    ck = {'model': {'w': torch.ones(2)}, 'optimizer': {'state': {}},
          'sampler': rng.bit_generator.state,
          'torch_rng': torch.get_rng_state(), 'step': 2, 'best': 0.5,
          'elapsed': 1.0}
    torch.save(ck, tmp_path / 'checkpoint.pt')
    back = load_checkpoint(tmp_path / 'checkpoint.pt')
    assert back['sampler'] == rng.bit_generator.state
    assert back['step'] == 2


# -- 2. a tiny field of view makes the canonical scale unbounded ----------

def test_tiny_fov_scale_is_bounded(monkeypatch):
    from napari_retina_vessels import inference, segment
    from napari_retina_vessels.preprocessing import (
        CANONICAL_DIAMETER,
        MIN_FOV_FRACTION,
        canonical_scale,
    )

    one = np.zeros((584, 565), bool)
    one[300, 280] = True
    bound = CANONICAL_DIAMETER / (MIN_FOV_FRACTION * 584)
    assert canonical_scale(one) == pytest.approx(bound)
    assert canonical_scale(np.zeros((584, 565), bool)) < 1
    # A black photo with a small bright patch: the work is bounded too.
    photo = np.zeros((584, 565, 3), np.uint8)
    photo[280:300, 270:290] = (200, 90, 30)
    shapes = []
    real = inference.predict

    def spy(net, x, **kw):
        shapes.append(x.shape)
        return (yield from real(net, x, **kw))

    monkeypatch.setattr(inference, 'predict', spy)
    res = segment(photo, av=False, vessel_views=1)
    assert res.probability.shape == (584, 565)
    assert all(max(s[-2:]) <= CANONICAL_DIAMETER / MIN_FOV_FRACTION + 1
               for s in shapes), shapes
