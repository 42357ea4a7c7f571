"""The fast paths of ``measure`` give the numbers the plain ones give.

Width profiles are sampled in blocks until they cross the edge, box
counts are pooled from the previous box size, and a correction measures
again only the class maps it changed (the others' segments are kept):
each must be bit for bit what sampling every offset, tiling the map
again and measuring everything afresh give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from napari_retina_vessels.measures import measure
from napari_retina_vessels.measures.fractal import box_counting_dimension
from napari_retina_vessels.measures.profiles import _STEP, _profile_widths

from .render import radial_tree


def _every_offset(soft, centres, normals, half):
    """Width at each centre sampling every offset out to *half*."""
    offsets = np.arange(0.0, half + _STEP, _STEP)
    k = len(offsets)
    sides = []
    for sign in (1.0, -1.0):
        pts = (
            centres[:, None, :]
            + sign * offsets[None, :, None] * normals[:, None, :]
        )
        vals = ndi.map_coordinates(
            soft,
            [pts[..., 0].ravel(), pts[..., 1].ravel()],
            order=1,
            mode='constant',
            cval=0.0,
        ).reshape(len(centres), k)
        below = vals < 0.5
        has = below.any(axis=1) & (vals[:, 0] >= 0.5)
        idx = np.maximum(np.argmax(below, axis=1), 1)
        rows = np.arange(len(centres))
        v0, v1 = vals[rows, idx - 1], vals[rows, idx]
        frac = np.where(v0 > v1, (v0 - 0.5) / np.maximum(v0 - v1, 1e-9), 0)
        sides.append(np.where(has, offsets[idx - 1] + frac * _STEP, np.nan))
    return sides[0] + sides[1]


@pytest.mark.parametrize('half', [3.0, 7.0, 12.25, 40.0])
def test_block_sampled_profiles_equal_every_offset(half):
    rng = np.random.default_rng(int(half * 4))
    # Blobs about as wide as the reach, soft edges, some centres off the
    # blobs and off the map.
    noise = ndi.gaussian_filter(rng.random((120, 130)), half / 3)
    blobs = (noise > np.median(noise)).astype(float)
    soft = ndi.gaussian_filter(blobs, 1.0).astype(np.float32)
    centres = rng.uniform(-5, 135, (3000, 2))
    angle = rng.uniform(0, 2 * np.pi, 3000)
    normals = np.stack([np.sin(angle), np.cos(angle)], axis=1)
    # One reach for all, and one per centre (grouped by whole pixels).
    halves = rng.uniform(2.5, half, 3000)
    for h in (half, halves):
        got = _profile_widths(soft, centres, normals, h)
        reach = np.ceil(np.broadcast_to(h, (3000,)))
        want = np.full(3000, np.nan)
        for r in np.unique(reach):
            sel = reach == r
            want[sel] = _every_offset(soft, centres[sel], normals[sel], r)
        assert np.isfinite(got).sum() > 100 and np.isnan(got).sum() > 100
        np.testing.assert_array_equal(got, want)


def _tiled_counts(m, min_box):
    """Box counts tiling the map again for each box size."""
    counts, s = [], min_box
    while s <= min(m.shape) // 4:
        h, w = -(-m.shape[0] // s) * s, -(-m.shape[1] // s) * s
        padded = np.zeros((h, w), bool)
        padded[: m.shape[0], : m.shape[1]] = m
        boxes = padded.reshape(h // s, s, w // s, s).any(axis=(1, 3))
        counts.append(int(boxes.sum()))
        s *= 2
    return counts


@pytest.mark.parametrize('min_box', [1, 2, 3, 6])
def test_pooled_box_counts_equal_tiling_again(min_box, monkeypatch):
    from napari_retina_vessels.measures import fractal

    rng = np.random.default_rng(min_box)
    for shape in ((97, 203), (256, 256), (301, 150)):
        m = rng.random(shape) < 0.03
        m[rng.integers(0, shape[0]), :] = True  # a line: a real slope
        want = _tiled_counts(m, min_box)
        seen = []
        real = np.polyfit

        def fit(x, y, deg, seen=seen, real=real):
            seen.append(list(np.exp(y).round().astype(int)))
            return real(x, y, deg)

        monkeypatch.setattr(fractal.np, 'polyfit', fit)
        value, n = box_counting_dimension(m, min_box=min_box)
        monkeypatch.setattr(fractal.np, 'polyfit', real)
        assert n == int(m.sum())
        assert seen == [want]
        assert np.isfinite(value)


def _fresh():
    """Forget every kept tracing and segment map."""
    from napari_retina_vessels.measures.correcting import forget_kept

    forget_kept()


def _same(a, b):
    pd.testing.assert_frame_equal(
        a.image.drop(columns='seconds'),
        b.image.drop(columns='seconds'),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(a.segments, b.segments, check_exact=True)
    assert a.corrections == b.corrections
    np.testing.assert_array_equal(a.segment_map(), b.segment_map())


def _corrections_in_turn(vessels, av, soft, disc):
    """Measure with no correction, then one flip, one exclusion, both,
    and none again, as a grader's widget does: each result beside the
    same measurement made afresh."""
    first = measure(vessels, artery_vein=av, probability=soft, disc=disc)
    seg = first.segments
    art = seg[seg['label'] == 'artery']['calibre_px'].idxmax()
    vein = seg[seg['label'] == 'vein']['calibre_px'].idxmax()

    def at(i):
        return [int(seg.loc[i, 'y_mid']), int(seg.loc[i, 'x_mid'])]

    flip = {'at': at(art), 'label': 'vein'}
    exclude = {'at': at(vein), 'label': 'exclude'}
    steps = [[flip], [exclude], [flip, exclude], [exclude], []]
    for segments in steps:
        corr = {'segments': segments} if segments else None
        kw = {
            'artery_vein': av,
            'probability': soft,
            'disc': disc,
            'corrections': corr,
        }
        again = measure(vessels, **kw)
        assert all(e['status'] == 'applied' for e in again.corrections)
        again.segment_map()
        _fresh()
        _same(again, measure(vessels, **kw))
    return first


def test_corrections_measured_again_equal_a_fresh_measure():
    widths = [6.0, 9.0, 5.0, 8.0, 4.5, 7.0]
    vessels, av, soft = radial_tree(
        (300, 300), (150.0, 150.0), 20.0, widths, [1, 2] * 3
    )
    # A branch on the first artery and a vein touching the second one.
    rr, cc = np.mgrid[:300, :300]
    branch = (np.abs(rr - cc - 40) < 3) & (rr > 180) & (rr < 280)
    vessels = vessels | branch
    av = np.where(branch & (av == 0), 1, av).astype(np.uint8)
    _fresh()
    first = _corrections_in_turn(vessels, av, soft, (150.0, 150.0, 20.0))
    assert (first.segments['label'] == 'artery').sum() >= 3


@pytest.mark.data
def test_corrections_of_a_drive_photo_equal_a_fresh_measure(data_root):
    from napari_retina_vessels.io import read_av

    av = read_av(data_root / 'RITE' / 'test' / 'av' / '01_test.png')
    _fresh()
    first = measure(av, artery_vein=av)
    _corrections_in_turn(av > 0, av, None, first.disc)


def test_kept_segments_are_not_changed_by_an_exclusion():
    """An exclusion labels its segment in the result, never in the kept
    tracing: measuring without it again gives the plain numbers."""
    vessels, av, soft = radial_tree(
        (240, 240), (120.0, 120.0), 15.0, [5.0, 7.0, 4.0, 6.0], [1, 2] * 2
    )
    disc = (120.0, 120.0, 15.0)
    _fresh()
    plain = measure(vessels, artery_vein=av, disc=disc)
    i = plain.segments['calibre_px'].idxmax()
    at = [
        int(plain.segments.loc[i, 'y_mid']),
        int(plain.segments.loc[i, 'x_mid']),
    ]
    cut = measure(
        vessels,
        artery_vein=av,
        disc=disc,
        corrections={'segments': [{'at': at, 'label': 'exclude'}]},
    )
    assert (cut.segments['label'] == 'excluded').sum() == 1
    _same(plain, measure(vessels, artery_vein=av, disc=disc))


def test_widths_kept_from_the_last_map_equal_profiling_again(monkeypatch):
    """A map changed in one corner: the paths far from it keep their
    widths, the others are profiled again; all equal profiling all."""
    from napari_retina_vessels.measures import profiles

    _fresh()
    rng = np.random.default_rng(7)
    noise = ndi.gaussian_filter(rng.random((200, 200)), 3)
    soft = ndi.gaussian_filter((noise > np.median(noise)) * 1.0, 1.0)
    soft = soft.astype(np.float32)
    paths = [
        np.stack([np.full(40, y), np.arange(40) + x], axis=1)
        for y, x in rng.integers(5, 150, (30, 2))
    ]
    centres = np.concatenate(paths).astype(float)
    normals = np.tile([[1.0, 0.0]], (len(centres), 1))
    half = rng.choice([3.0, 5.0, 8.0], len(centres))
    key = (1, soft.shape)
    profiles._path_widths(key, soft, paths, centres, normals, half)
    changed = soft.copy()
    changed[:60, :60] = 1.0 - changed[:60, :60]
    seen = []
    real = profiles._profile_widths

    def count(s, c, *a):
        seen.append(len(c))
        return real(s, c, *a)

    monkeypatch.setattr(profiles, '_profile_widths', count)
    got = profiles._path_widths(key, changed, paths, centres, normals, half)
    monkeypatch.setattr(profiles, '_profile_widths', real)
    np.testing.assert_array_equal(got, real(changed, centres, normals, half))
    assert 0 < sum(seen) < len(centres)
    _fresh()


def test_centrelines_of_traced_maps_are_not_skeletonised_again(monkeypatch):
    """A grader's first correction snaps to the centrelines of the maps
    just measured: the tracing's paths, not a second thinning."""
    from napari_retina_vessels.measures import graph

    vessels, av, soft = radial_tree(
        (200, 200), (100.0, 100.0), 12.0, [5.0, 7.0, 4.0, 6.0], [1, 2] * 2
    )
    _fresh()
    traced = graph.trace_segments(vessels, soft=soft, labels=av)
    calls = []
    real = graph._skeleton
    monkeypatch.setattr(
        graph, '_skeleton', lambda *a: calls.append(1) or real(*a)
    )
    paths = graph.centrelines(vessels, av)
    assert not calls
    assert len(paths) == len(traced.paths)
    assert all(np.array_equal(a, b) for a, b in zip(paths, traced.paths))
    _fresh()
    assert all(
        np.array_equal(a, b)
        for a, b in zip(graph.centrelines(vessels, av), traced.paths)
    )
    assert calls


def test_radii_kept_from_the_last_map_equal_reading_them_again():
    """A map changed in one place: points far from it keep their radius,
    the others are read again; all equal the k-d tree over the map."""
    from napari_retina_vessels.measures import profiles

    rng = np.random.default_rng(3)
    for _ in range(30):
        h, w = rng.integers(30, 160, 2)
        blobs = ndi.gaussian_filter(rng.random((h, w)), 2)
        before = blobs > np.quantile(blobs, 0.4)
        after = before.copy()
        y, x = rng.integers(0, h), rng.integers(0, w)
        patch = after[max(0, y - 6) : y + 6, max(0, x - 6) : x + 6]
        patch[...] = rng.random(patch.shape) < 0.6
        _fresh()
        key = (1, before.shape)
        profiles._kept_radius(key, before, np.argwhere(before))
        pts = np.argwhere(after)
        got = profiles._kept_radius(key, after, pts)
        np.testing.assert_array_equal(got, profiles._radius_on(after, pts))
    _fresh()
