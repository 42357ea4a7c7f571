"""The shipped int8 A/V file keeps exactly the layers its recipe names
in float32 (scripts/convert_openvino.py ``AV_KEEP_V2``): every decoder
convolution is int8, and a renamed layer cannot make the recipe
silently quantise something else."""

from __future__ import annotations

import re

import pytest
from script_modules import script

from napari_retina_vessels import _registry, engines

pytestmark = pytest.mark.skipif(
    not engines.openvino_available(), reason='openvino is not installed'
)


def _keep():
    return script('convert_openvino').AV_KEEP_V2


def _convolutions(model) -> dict[str, bool]:
    """Each convolution's name -> whether its weights are int8 (a
    dequantising Multiply in front instead of a float constant)."""
    return {
        op.get_friendly_name(): (
            op.input(1).get_source_output().get_node().get_type_name()
            == 'Multiply'
        )
        for op in model.get_ordered_ops()
        if op.get_type_name() == 'Convolution'
    }


@pytest.mark.skipif(
    'int8' not in _registry.OPENVINO.get(_registry.DEFAULTS['av'], {}),
    reason='no int8 A/V file is shipped',
)
def test_shipped_av_int8_keeps_only_its_recipes_layers_in_fp32():
    from napari_retina_vessels._weight_files import openvino_path

    entry = _registry.OPENVINO[_registry.DEFAULTS['av']]['int8']
    model = engines._read_packed(str(openvino_path(entry)), '')
    convs = _convolutions(model)
    keep = _keep()
    for pattern in keep:
        assert any(re.fullmatch(pattern, c) for c in convs), pattern
    fp32 = {c for c, int8 in convs.items() if not int8}
    named = {c for c in convs if any(re.fullmatch(p, c) for p in keep)}
    assert fp32 == named
    assert all(convs[c] for c in convs if '.decoders.' in c)
