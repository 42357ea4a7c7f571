"""The A/V stage's test-time contrast view (#28): the option, the
equalisation, and what the engine does with it."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import fake_fundus

from napari_retina_vessels import segment
from napari_retina_vessels.contrast_views import (
    CONTRAST_VIEWS,
    check_contrast_view,
    clahe_luminance,
)
from napari_retina_vessels.errors import InvalidOptionError
from napari_retina_vessels.options import SegmentOptions, choices


@pytest.fixture(scope='module')
def photo():
    return fake_fundus()


def test_check_contrast_view_accepts_names_and_refuses_others():
    assert check_contrast_view(None) == 'none'
    assert check_contrast_view('CLAHE') == 'clahe'
    assert choices('contrast_view') == CONTRAST_VIEWS
    with pytest.raises(InvalidOptionError, match='contrast_view must be'):
        check_contrast_view('gamma')
    with pytest.raises(InvalidOptionError):
        SegmentOptions(contrast_view='sharpen')
    assert check_contrast_view('Auto') == 'auto'
    assert SegmentOptions().contrast_view == 'auto'


def test_record_names_the_view_only_when_it_changes_the_maps():
    base = SegmentOptions(contrast_view='none').record()
    assert 'contrast_view' not in base
    on = SegmentOptions(contrast_view='clahe').record()
    assert on['contrast_view'] == 'clahe'
    # Without the A/V stage the view changes nothing.
    assert 'contrast_view' not in SegmentOptions(
        av=False, contrast_view='clahe'
    ).record()


def test_clahe_raises_local_contrast_and_keeps_colour():
    rng = np.random.default_rng(0)
    h = w = 256
    yy, xx = np.mgrid[:h, :w]
    fov = (yy - 128) ** 2 + (xx - 128) ** 2 < 120**2
    # A faint stripe pattern on a flat orange background.
    base = np.array([0.55, 0.4, 0.3], np.float32)
    stripes = 0.02 * np.sin(xx / 3.0)[..., None].astype(np.float32)
    rgb = (base + stripes + rng.normal(0, 0.002, (h, w, 3))).astype(
        np.float32
    )
    out = clahe_luminance(rgb, fov)
    assert out.shape == rgb.shape and out.dtype == np.float32
    assert not out[~fov].any()
    assert out.min() >= 0 and out.max() <= 1
    inside = fov & (np.abs(xx - 128) < 60) & (np.abs(yy - 128) < 60)
    assert out[inside, 1].std() > 2 * rgb[inside, 1].std()
    # Only the lightness changes: Lab a and b are kept (where nothing
    # was clipped at 0 or 1).
    from skimage.color import rgb2lab

    kept = inside & (out.min(-1) > 0.01) & (out.max(-1) < 0.99)
    assert kept.sum() > 0.3 * inside.sum()
    ab_in = rgb2lab(rgb)[kept][:, 1:]
    ab_out = rgb2lab(out)[kept][:, 1:]
    assert np.abs(ab_in - ab_out).max() < 0.5


def test_segment_with_contrast_view(photo):
    plain = segment(
        photo, precision='fp32', device='cpu', contrast_view='none'
    )
    seen = segment(
        photo, precision='fp32', device='cpu', contrast_view='clahe'
    )
    # The vessel stage is untouched; only the A/V stage looks again.
    assert np.array_equal(plain.probability, seen.probability)
    assert seen.artery_vein.shape == plain.artery_vein.shape
    assert set(np.unique(seen.artery_vein)) <= {0, 1, 2, 3}
    assert ((seen.artery_vein > 0) == (plain.artery_vein > 0)).all()
    assert not np.array_equal(
        plain.artery_probability, seen.artery_probability
    )


def test_contrast_view_costs_no_more_network_passes(photo, monkeypatch):
    """With two A/V flip views, the contrast view replaces the mirror
    view: the networks make as many passes as without it."""
    import napari_retina_vessels.inference as inference

    real = inference._forward
    passes = []

    def counting(model, x, device, views, *args, **kwargs):
        passes.append(views * x.shape[0])
        return real(model, x, device, views, *args, **kwargs)

    monkeypatch.setattr(inference, '_forward', counting)
    segment(photo, precision='fp32', device='cpu', contrast_view='none')
    default = sum(passes)
    passes.clear()
    segment(photo, precision='fp32', device='cpu', contrast_view='clahe')
    assert default > 0 and sum(passes) == default
