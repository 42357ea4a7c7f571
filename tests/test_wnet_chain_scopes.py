"""scripts/wnet_chain_int8.py: every candidate's ignored scope names
convolutions that exist in the converted W-Net (a renamed layer would
otherwise make a candidate silently quantise everything)."""

from __future__ import annotations

import re

import pytest
from script_modules import script

from napari_retina_vessels import engines

pytest.importorskip('nncf')
pytestmark = pytest.mark.skipif(
    not engines.openvino_available(), reason='openvino is not installed'
)


def test_every_scope_pattern_names_a_convolution():
    SCOPES = script('wnet_chain_int8').SCOPES
    from napari_retina_vessels.weights import load_model, resolve

    net, _ = load_model(resolve('default', 'vessels'))
    model = engines._convert(net, 3)
    convs = [
        op.get_friendly_name()
        for op in model.get_ordered_ops()
        if op.get_type_name() == 'Convolution'
    ]
    assert len(convs) == 30
    kept = {}
    for name, patterns in SCOPES.items():
        for pattern in patterns:
            hits = [c for c in convs if re.fullmatch(pattern, c)]
            assert hits, f'{name}: {pattern} names no convolution'
        kept[name] = {
            c for c in convs if any(re.fullmatch(p, c) for p in patterns)
        }
    # Each stage's first convolution, and more the larger the scope.
    assert len(kept['first']) == 2 and not kept['none']
    assert kept['first'] < kept['s2head'] < kept['s2dec2'] < kept['s2dec']
    # stage 1's first convolution and all 15 of stage 2
    assert kept['s2dec'] < kept['s2'] and len(kept['s2']) == 16
