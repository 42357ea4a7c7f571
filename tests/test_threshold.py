"""One threshold rule, and a new threshold redoes what depends on it."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels import segment
from napari_retina_vessels.errors import InvalidOptionError
from napari_retina_vessels.metrics import vessel_metrics
from napari_retina_vessels.pipeline import (
    iter_segment,
    stack_segmentations,
    threshold_vessels,
)

OPTIONS = {'device': 'cpu', 'vessel_views': 1, 'av_views': 1}


@pytest.fixture(scope='module')
def photo():
    return fake_fundus()


@pytest.fixture(scope='module')
def result(photo):
    return segment(photo, threshold=0.5, **OPTIONS)


def _same(a, b):
    assert a.threshold == b.threshold
    np.testing.assert_array_equal(a.probability, b.probability)
    np.testing.assert_array_equal(a.vessels, b.vessels)
    if b.artery_vein is None:
        assert a.artery_vein is None
        return
    np.testing.assert_array_equal(a.artery_probability, b.artery_probability)
    np.testing.assert_array_equal(a.artery_vein, b.artery_vein)


@pytest.mark.parametrize('threshold', [0.3, 0.7])
def test_with_threshold_equals_a_fresh_run(photo, result, threshold):
    fresh = segment(photo, threshold=threshold, **OPTIONS)
    _same(result.with_threshold(threshold), fresh)
    # And back: nothing of the first threshold is left behind.
    _same(fresh.with_threshold(0.5), result)


@pytest.mark.parametrize('vote', [False, 'segment', 'graph'])
def test_with_threshold_keeps_the_vote(photo, vote):
    plain = segment(photo, threshold=0.5, consistency=vote, **OPTIONS)
    fresh = segment(photo, threshold=0.3, consistency=vote, **OPTIONS)
    _same(plain.with_threshold(0.3), fresh)


def test_an_unknown_vote_is_refused_before_any_work(photo):
    with pytest.raises(InvalidOptionError, match='graph, segment, none'):
        segment(photo, consistency='majority', **OPTIONS)


def test_with_threshold_of_a_stack(photo, result):
    stacked = stack_segmentations([result, result])
    moved = stacked.with_threshold(0.3)
    single = result.with_threshold(0.3)
    for name in ('vessels', 'artery_vein', 'artery_probability'):
        a, b = getattr(moved, name), getattr(single, name)
        if b is not None:
            np.testing.assert_array_equal(a, np.stack([b, b]))


@pytest.mark.parametrize(
    'bad', [0, 1, 0.0, 1.0, -0.1, 1.5, float('nan'), 'x', None]
)
def test_one_rule_refuses_bad_thresholds(result, bad):
    with pytest.raises(InvalidOptionError, match='between 0 and 1'):
        result.with_threshold(bad)
    with pytest.raises(InvalidOptionError, match='between 0 and 1'):
        threshold_vessels(result.probability, bad)
    with pytest.raises(InvalidOptionError, match='between 0 and 1'):
        vessel_metrics(result.vessels, result.probability, threshold=bad)


@pytest.mark.parametrize('bad', [0, 1, 2.0])
def test_segment_refuses_a_bad_threshold_before_any_work(photo, bad):
    gen = iter_segment(photo, threshold=bad, device='cpu')
    with pytest.raises(InvalidOptionError):
        next(gen)  # the first record comes after the FOV, weights...


def test_cli_evaluate_refuses_threshold_zero_before_any_model(
    tmp_path, monkeypatch, capsys
):
    from napari_retina_vessels import cli, pipeline

    def no_model(*args, **kwargs):
        raise AssertionError('the model ran')

    monkeypatch.setattr(pipeline, 'segment', no_model)
    monkeypatch.setattr(pipeline, 'iter_segment', no_model)
    # Checked while parsing (cli._options.add_arguments): a usage error.
    with pytest.raises(SystemExit) as stop:
        cli.main(['evaluate', str(tmp_path), '--threshold', '0'])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert 'threshold must be between 0 and 1' in err
    assert 'Traceback' not in err
