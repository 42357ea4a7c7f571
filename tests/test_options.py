"""SegmentOptions: one check per option, one spelling, and one engine
that every driver runs (identical maps whichever drives it)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels.cli._options import add_arguments
from napari_retina_vessels.errors import InvalidOptionError
from napari_retina_vessels.options import (
    PRECISIONS,
    SegmentOptions,
    choices,
)


def test_defaults_are_checked_and_normalised():
    o = SegmentOptions()
    assert o.views == (2, 2) and o.vessel_views == 2 and o.av_views == 2
    assert SegmentOptions(views=4).views == (4, 4)
    assert SegmentOptions(views=(1, 4)).views == (1, 4)
    assert SegmentOptions(views='2,4').views == (2, 4)
    assert SegmentOptions(precision='FP32').precision == 'fp32'
    assert SegmentOptions(consistency=False).consistency == 'none'
    assert SegmentOptions(threshold=np.float32(0.25)).threshold == 0.25
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.threshold = 0.3


@pytest.mark.parametrize(
    'bad',
    [
        {'threshold': 0},
        {'threshold': 1.0},
        {'threshold': float('nan')},
        {'threshold': 'x'},
        {'views': 3},
        {'views': True},
        {'views': (2, 3)},
        {'views': (1, 2, 4)},
        {'precision': 'int4'},
        {'batch_size': 0},
        {'batch_size': 2.5},
        {'batch_size': True},
        {'tile': 64},
        {'tile': 300.0},
        {'consistency': 'vote'},
        {'model': ''},
        {'device': 'cuda 0'},
    ],
)
def test_every_bad_value_is_one_sentence(bad):
    with pytest.raises(InvalidOptionError) as info:
        SegmentOptions(**bad)
    assert '\n' not in str(info.value)


def test_old_spellings_warn_and_mean_what_they_meant():
    with pytest.warns(DeprecationWarning, match='tta'):
        assert SegmentOptions.from_kwargs(tta=True).views == (4, 4)
    with pytest.warns(DeprecationWarning, match='vessel_views'):
        o = SegmentOptions.from_kwargs(views=1, vessel_views=4)
    assert o.views == (4, 1)
    with pytest.warns(DeprecationWarning):
        assert SegmentOptions.from_kwargs(av_views=4).views == (2, 4)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        SegmentOptions.from_kwargs(views=2)  # no warning
    with pytest.raises(InvalidOptionError, match="unknown option 'thresh'"):
        SegmentOptions.from_kwargs(thresh=0.5)


def test_record_holds_the_weights_sha256_and_matches_old_markers():
    rec = SegmentOptions(av=True, threshold=0.4, views=4).record()
    assert len(rec['weights_sha256']) == 64
    assert len(rec['av_weights_sha256']) == 64
    # The keys earlier releases wrote, so their markers still match.
    assert rec['tta'] is True and rec['vessel_views'] == 4
    assert 'consistency' not in rec and 'tile' not in rec
    assert SegmentOptions(tile=512).record()['tile'] == 512
    assert SegmentOptions(av=False).record()['av_views'] is None
    json.dumps(rec)


def test_cli_flags_come_from_the_options_and_check_while_parsing(capsys):
    p = argparse.ArgumentParser()
    add_arguments(p, ('views', 'threshold', 'precision', 'batch_size'))
    args = p.parse_args(['--views', '4', '--batch-size', '3'])
    assert args.views == (4, 4) and args.batch_size == 3
    assert p.parse_args(['--tta']).views == (4, 4)
    for bad in (
        ['--batch-size', '0'],
        ['--threshold', '1.5'],
        ['--views', '3'],
        ['--precision', 'int4'],
    ):
        with pytest.raises(SystemExit):
            p.parse_args(bad)
    err = capsys.readouterr().err
    assert 'batch size must be' in err and 'threshold must be' in err


def test_widget_and_cli_offer_the_same_precisions():
    # fp16 was offered by the CLI and not by the widget.
    from napari_retina_vessels.cli import build_parser

    p = build_parser()
    sub = next(
        a for a in p._actions if isinstance(a, argparse._SubParsersAction)
    )
    for name in ('segment', 'measure', 'evaluate'):
        flag = next(
            a
            for a in sub.choices[name]._actions
            if '--precision' in a.option_strings
        )
        assert tuple(flag.choices) == PRECISIONS == choices('precision')


def test_options_module_loads_neither_torch_nor_qt():
    code = (
        'import sys, napari_retina_vessels.options as o; o.SegmentOptions(); '
        'print(any(m in sys.modules for m in ("torch", "qtpy", "napari")))'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True
    )
    assert out.stdout.strip() == 'False', out.stderr


# -- one engine ---------------------------------------------------------------


def test_every_driver_gives_the_same_maps():
    """segment, iter_segment, segment_with and segment_many (batched)
    all run engine.run: the maps are bit-identical."""
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.pipeline import (
        iter_segment,
        segment,
        segment_with,
    )

    photos = [fake_fundus(150, 170, seed=s) for s in (3, 4)]
    one = [segment(p, device='cpu', views=1) for p in photos]
    gen = iter_segment(photos[0], device='cpu', views=1)
    stages = []
    while True:
        try:
            stages.append(next(gen).stage)
        except StopIteration as stop:
            it = stop.value
            break
    assert stages[0] == 'fov' and stages[-1] == 'done'
    assert 'vessels' in stages and 'artery/vein' in stages
    opts = SegmentOptions(device='cpu', views=1)
    with_ = segment_with(photos[1], opts)
    many = list(segment_many(photos, options=opts.replace(batch_size=2)))
    for a, b in [(one[0], it), (one[1], with_), *zip(one, many)]:
        assert np.array_equal(a.probability, b.probability)
        assert np.array_equal(a.vessels, b.vessels)
        assert np.array_equal(a.artery_vein, b.artery_vein)
        assert a.quality.grade == b.quality.grade


def test_no_private_helper_of_the_pipeline_is_imported_elsewhere():
    import pathlib
    import re

    import napari_retina_vessels as pkg

    root = pathlib.Path(pkg.__file__).parent
    bad = []
    for path in root.rglob('*.py'):
        text = path.read_text(encoding='utf-8')
        for m in re.finditer(
            r'from \.+(pipeline|batching|engine) import \(?([^)]*?)\)?\n',
            text,
        ):
            names = [n.strip().split(' ')[0] for n in m.group(2).split(',')]
            if path.name != 'pipeline.py':
                bad += [(path.name, n) for n in names if n.startswith('_')]
    assert not bad
    # A Segmentation is made from a photo in one place, the engine
    # (segmentation.py stacks finished ones).
    builders = {
        p.name
        for p in root.rglob('*.py')
        if 'Segmentation(\n' in p.read_text(encoding='utf-8')
    }
    assert builders == {'engine.py', 'segmentation.py'}
