"""Save segmentation results as the files ``retina-vessels segment``
writes (see :mod:`napari_retina_vessels.io.outputs`).

- :func:`save_result` backs the Segment widget's *Save results* button:
  it writes the widget's last :class:`~napari_retina_vessels.pipeline.
  Segmentation`.
- :func:`write_results` is the npe2 writer (*File > Save Selected
  Layers...*, plugin "Retina Vessels"): from the selected ``NAME vessels
  prob``, ``NAME vessels`` and ``NAME A/V`` layers (and the ``NAME``
  photo, for the overlay) it writes the same files into the folder
  given as the path.

A stack of N frames is saved as N photos ``NAME-000``, ``NAME-001``...
The reader opens every one of these files back as the layer it came
from. No napari import: layer data arrives as plain tuples.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidImageError
from ..io import outputs
from ..io._outfolder import check_outputs_ours
from .layers import layer_names

__all__ = ['save_result', 'write_results', 'safe_name']

_UNSAFE = re.compile(r'[^\w.+-]+')


def safe_name(name: str) -> str:
    """A layer name as a file-name stem.

    ``01_test A/V`` becomes ``01_test_A_V``.
    """
    return _UNSAFE.sub('_', name).strip('._') or 'image'


def _settings(result, fmt: str) -> dict[str, Any]:
    return {
        'model': result.model,
        'weights_sha256': result.weights_sha256,
        'av': result.artery_vein is not None,
        'av_model': result.av_model,
        'av_weights_sha256': result.av_weights_sha256,
        'threshold': result.threshold,
        'fmt': fmt,
        'source': 'napari',
    }


def _frames(result) -> list:
    """Per-photo results of a possibly stacked Segmentation."""
    if result.vessels.ndim == 2:
        return [result]

    def pick(value, i):
        return None if value is None else value[i]

    return [
        dataclasses.replace(
            result,
            probability=result.probability[i],
            vessels=result.vessels[i],
            artery_vein=pick(result.artery_vein, i),
            fov=result.fov[i],
            artery_probability=pick(result.artery_probability, i),
        )
        for i in range(result.vessels.shape[0])
    ]


def save_result(
    folder: str | os.PathLike,
    name: str,
    result,
    *,
    photo: Any = None,
    fmt: str = 'png',
) -> list[Path]:
    """Write a Segmentation as ``retina-vessels segment`` does.

    Parameters
    ----------
    folder : str or os.PathLike
        Output folder (created if missing).
    name : str
        The photo's layer name; made safe for file names.
    result : Segmentation
        (H, W) arrays, or (N, H, W) for a stack.
    photo : array-like, optional
        The photo(s) segmented, for ``NAME_av_overlay.png``.
    fmt : {'png', 'tif', 'npy'}
        Probability map format.

    Returns
    -------
    list of Path
        Every file written, markers included.
    """
    stem = safe_name(name)
    frames = _frames(result)
    stacked = result.vessels.ndim == 3
    written: list[Path] = []
    for i, seg in enumerate(frames):
        frame_name = f'{stem}-{i:03d}' if stacked else stem
        image = None
        if photo is not None:
            image = np.asarray(photo[i] if stacked else photo)
        # The folder guard of `segment`: never replace a file we did
        # not write (a user's own NAME_vessels.png in that folder).
        check_outputs_ours(
            Path(folder) / f'{frame_name}.done.json',
            outputs.output_paths(
                folder, frame_name, fmt=fmt, av=seg.artery_vein is not None
            ).values(),
        )
        files = outputs.write_segmentation(
            folder, frame_name, seg, image=image, fmt=fmt
        )
        row = {'name': frame_name, **outputs.segmentation_row(seg)}
        marker = outputs.write_marker(
            folder, frame_name, _settings(seg, fmt), row, files
        )
        written += [*files.values(), marker]
    return written


@dataclass
class _Saved:
    """Just what ``outputs`` reads of a Segmentation, rebuilt from the
    layers of a saved result."""

    probability: np.ndarray
    vessels: np.ndarray
    artery_vein: np.ndarray | None
    fov: np.ndarray
    model: str = ''
    weights_sha256: str = ''
    device: str = ''
    precision: str = 'fp32'
    threshold: Any = ''
    av_model: str | None = None
    av_weights_sha256: str | None = None
    artery_probability: None = None

    @classmethod
    def from_layers(
        cls, probability, vessels, artery_vein, meta: dict
    ) -> _Saved:
        prob = np.asarray(probability, np.float32)
        ves = np.asarray(vessels).astype(bool)
        # The FOV is not a result layer; the probability map is zero
        # outside it, so its support stands in for the summary row.
        return cls(
            probability=prob,
            vessels=ves,
            artery_vein=(
                None
                if artery_vein is None
                else np.asarray(artery_vein, np.uint8)
            ),
            fov=(prob > 0) | ves,
            model=meta.get('model', ''),
            weights_sha256=meta.get('weights_sha256', ''),
            device=meta.get('device', ''),
            precision=meta.get('arithmetic', 'fp32'),
            threshold=meta.get('threshold', ''),
            av_model=meta.get('av_model'),
            av_weights_sha256=meta.get('av_weights_sha256'),
        )


def write_results(path: str, layer_data: list[tuple]) -> list[str]:
    """npe2 writer: save the selected result layers into folder *path*.

    Parameters
    ----------
    path : str
        The output folder (created if missing).
    layer_data : list of (data, meta, layer_type)
        The selected layers: at least one ``NAME vessels prob`` image
        with its ``NAME vessels`` labels; ``NAME A/V`` labels and the
        ``NAME`` photo are used when selected too.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    InvalidImageError
        When no probability/vessel layer pair is among the selection.
    """
    by_name = {
        meta.get('name', ''): (data, meta, kind)
        for data, meta, kind in layer_data
    }
    written: list[Path] = []
    for name, (data, meta, kind) in by_name.items():
        m = re.fullmatch(r'(?P<base>.*) vessels prob(?P<suffix>.*)', name)
        if kind != 'image' or m is None:
            continue
        names = layer_names(m['base'], m['suffix'])
        vessels = by_name.get(names['vessels'])
        if vessels is None:
            continue
        av = by_name.get(names['av'])
        photo = by_name.get(m['base'])
        saved = _Saved.from_layers(
            data,
            vessels[0],
            None if av is None else av[0],
            meta.get('metadata', {}),
        )
        written += save_result(
            path,
            m['base'] + m['suffix'],
            saved,
            photo=None if photo is None else photo[0],
        )
    if not written:
        raise InvalidImageError(
            'select a result to save: the "NAME vessels prob" and "NAME '
            'vessels" layers (and "NAME A/V" and the photo "NAME" for the '
            'A/V files)'
        )
    return [str(p) for p in written]
