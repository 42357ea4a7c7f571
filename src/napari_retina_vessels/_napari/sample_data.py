"""napari sample data: a colour fundus photograph, offline."""

from __future__ import annotations

from typing import Any

__all__ = ['retina_sample']

_SOURCE = (
    'https://commons.wikimedia.org/wiki/'
    'File:Fundus_photograph_of_normal_left_eye.jpg'
)


def retina_sample() -> list[tuple[Any, dict[str, Any], str]]:
    """Return scikit-image's fundus photograph as an RGB image layer.

    The photo ships inside the scikit-image wheel, so nothing is
    downloaded. It is a normal left eye by Mikael Häggström (2014),
    dedicated to the public domain under CC0 1.0.

    Returns
    -------
    list of tuple
        One ``(data, kwargs, 'image')`` tuple; data is (1411, 1411, 3)
        uint8 RGB.
    """
    from skimage import data

    image = data.retina()
    metadata = {
        'source': 'skimage.data.retina()',
        'url': _SOURCE,
        'author': 'Mikael Häggström',
        'licence': 'CC0 1.0 Universal Public Domain Dedication',
        'citation': (
            'Häggström, Mikael (2014). "Medical gallery of Mikael '
            'Häggström 2014". WikiJournal of Medicine 1 (2). '
            'doi:10.15347/wjm/2014.008'
        ),
    }
    return [
        (
            image,
            {
                'name': 'retina (scikit-image)',
                'rgb': True,
                'metadata': metadata,
            },
            'image',
        ),
    ]
