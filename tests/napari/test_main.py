"""``python -m napari_retina_vessels`` opens the sample and docks widgets."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_main_opens_sample_and_widgets(monkeypatch, qtbot):
    import napari

    import napari_retina_vessels._napari.launch as entry

    seen = {}

    def fake_run(*args, **kwargs):
        viewer = napari.current_viewer()
        seen['layers'] = [ly.name for ly in viewer.layers]
        seen['docks'] = list(viewer.window.dock_widgets)
        viewer.close()

    monkeypatch.setattr(napari, 'run', fake_run)
    assert entry.main([]) == 0
    assert any('retina' in name for name in seen['layers'])
    assert any('Segment vessels' in d for d in seen['docks'])
    assert any('Vessel metrics' in d for d in seen['docks'])
    assert any('Measure' in d for d in seen['docks'])
