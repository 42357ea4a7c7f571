"""Stacks through the pipeline and the files a result is saved as."""

from __future__ import annotations

import json

import numpy as np
from synthetic import fake_fundus

from napari_retina_vessels import pipeline
from napari_retina_vessels.io import imread, outputs
from napari_retina_vessels.progress import Progress


def _drain(gen):
    records = []
    while True:
        try:
            records.append(next(gen))
        except StopIteration as stop:
            return records, stop.value


def test_stack_is_segmented_frame_by_frame():
    frames = np.stack([fake_fundus(64, 72, seed=i) for i in range(3)])
    records, seg = _drain(
        pipeline.iter_segment_stack(frames, av=False, device='cpu', tta=1)
    )
    assert seg.probability.shape == seg.vessels.shape == (3, 64, 72)
    assert seg.artery_vein is None and seg.fov.shape == (3, 64, 72)
    marks = [r for r in records if r.stage == 'frames']
    assert marks == [Progress('frames', i, 3) for i in range(4)]
    one = pipeline.segment(frames[1], av=False, device='cpu', tta=1)
    np.testing.assert_allclose(seg.probability[1], one.probability, atol=1e-5)
    # re-thresholding works pixel by pixel on the stack
    again = pipeline.threshold_vessels(seg.probability, seg.threshold, seg.fov)
    np.testing.assert_array_equal(again, seg.vessels)


def test_write_segmentation_files_and_marker(tmp_path):
    photo = fake_fundus(48, 56)
    seg = pipeline.segment(photo, device='cpu', tta=1)
    files = outputs.write_segmentation(tmp_path, 'p', seg, image=photo)
    assert sorted(f.name for f in files.values()) == [
        'p_av.png',
        'p_av_overlay.png',
        'p_prob.png',
        'p_vessels.png',
    ]
    prob = imread(files['prob'])
    assert prob.dtype == np.uint8
    np.testing.assert_array_equal(
        prob, np.rint(seg.probability * 255).astype(np.uint8)
    )
    np.testing.assert_array_equal(imread(files['av']), seg.artery_vein)
    row = outputs.segmentation_row(seg)
    marker = outputs.write_marker(tmp_path, 'p', {'fmt': 'png'}, row, files)
    data = json.loads(marker.read_text())
    assert data['row']['model'] == seg.model
    assert 'p_prob.png' in data['outputs']
