"""The sample fundus photograph: offline, RGB, with its licence."""

from __future__ import annotations

import numpy as np
import pytest

from napari_retina_vessels._napari.sample_data import retina_sample


def test_retina_sample_layer_data():
    [(data, kwargs, kind)] = retina_sample()
    assert kind == 'image'
    assert data.shape == (1411, 1411, 3) and data.dtype == np.uint8
    assert kwargs['name'] == 'retina (scikit-image)'
    assert kwargs['rgb'] is True
    meta = kwargs['metadata']
    assert 'CC0' in meta['licence']
    assert meta['source'] == 'skimage.data.retina()'
    assert meta['url'].startswith('https://commons.wikimedia.org/')
    # A fundus photo: dark corners, a bright reddish disc.
    assert data[:20, :20].mean() < 30
    centre = data[600:800, 600:800].reshape(-1, 3).mean(axis=0)
    assert centre[0] > centre[2] and centre[0] > 100


def test_retina_sample_needs_no_network(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise OSError('network disabled in this test')

    monkeypatch.setattr(socket, 'create_connection', no_network)
    monkeypatch.setattr(socket.socket, 'connect', no_network)
    [(data, _, _)] = retina_sample()
    assert data.shape == (1411, 1411, 3)


@pytest.mark.gui
def test_open_sample_in_the_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample('napari-retina-vessels', 'retina')
    assert [ly.name for ly in layers] == ['retina (scikit-image)']
    layer = viewer.layers['retina (scikit-image)']
    assert layer._type_string == 'image' and layer.rgb
    assert layer.data.shape == (1411, 1411, 3)
    assert 'CC0' in layer.metadata['licence']
