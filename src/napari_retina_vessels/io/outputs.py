"""The files a segmentation is saved as, in one place.

``retina-vessels segment``, the napari writer and the Segment widget's
*Save results* button all write, per photo ``NAME``:

- ``NAME_prob.png`` (probability x 255, 8-bit; or ``.tif``/``.npy``
  float32 in [0, 1]),
- ``NAME_vessels.png`` (0/255),
- with artery/vein: ``NAME_av.png`` (0 background, 1 artery, 2 vein,
  3 uncertain) and ``NAME_av_overlay.png`` (the photo, arteries red,
  veins blue),
- last, ``NAME.done.json``: the options, the summary row (model, weights
  sha256, threshold, vessel density...) and the list of outputs.

Every file is written atomically. The napari reader opens these files
back as the layers the widget made. Qt- and torch-free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import imwrite, write_text_atomic

__all__ = [
    'AV_COLOURS',
    'OUTPUT_ENDINGS',
    'PROBABILITY_FORMATS',
    'output_paths',
    'overlay',
    'segmentation_row',
    'write_segmentation',
    'write_marker',
]

#: Probability map formats.
PROBABILITY_FORMATS = ('png', 'tif', 'npy')
#: File name endings of the outputs (before the suffix), by kind.
OUTPUT_ENDINGS = {
    'prob': '_prob',
    'vessels': '_vessels',
    'av': '_av',
    'overlay': '_av_overlay',
}
#: Overlay colours of the A/V labels 1 artery, 2 vein, 3 uncertain.
AV_COLOURS = {1: (255, 0, 0), 2: (0, 0, 255), 3: (255, 255, 0)}


def output_paths(
    folder: str | os.PathLike, name: str, *, fmt: str = 'png', av: bool = True
) -> dict[str, Path]:
    """Paths of the outputs of photo *name*: ``prob``, ``vessels`` and,
    with *av*, ``av`` and ``overlay``."""
    folder = Path(folder)
    files = {
        'prob': folder / f'{name}_prob.{fmt}',
        'vessels': folder / f'{name}_vessels.png',
    }
    if av:
        files['av'] = folder / f'{name}_av.png'
        files['overlay'] = folder / f'{name}_av_overlay.png'
    return files


def overlay(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 photo with arteries red, veins blue (alpha 0.8)."""
    from ..preprocessing import as_rgb_float

    rgb = as_rgb_float(image) * 255.0
    for value, colour in AV_COLOURS.items():
        on = labels == value
        rgb[on] = 0.2 * rgb[on] + 0.8 * np.asarray(colour, np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def segmentation_row(seg) -> dict[str, Any]:
    """Summary fields of one :class:`~..pipeline.Segmentation`: size, FOV
    area, vessel density, artery/vein fractions and provenance."""
    h, w = seg.vessels.shape
    fov_px = int(seg.fov.sum())
    n_vessel = int(seg.vessels.sum())
    row: dict[str, Any] = {
        'width': w,
        'height': h,
        'fov_area_px': fov_px,
        'vessel_density': round(n_vessel / fov_px, 6) if fov_px else '',
        'model': seg.model,
        'weights_sha256': seg.weights_sha256,
        'device': seg.device,
        'arithmetic': seg.precision,
        'threshold': seg.threshold,
    }
    if seg.artery_vein is not None:
        if n_vessel:
            row['artery_fraction'] = round(
                int((seg.artery_vein == 1).sum()) / n_vessel, 6
            )
            row['vein_fraction'] = round(
                int((seg.artery_vein == 2).sum()) / n_vessel, 6
            )
        row.update(
            av_model=seg.av_model, av_weights_sha256=seg.av_weights_sha256
        )
    return row


def write_segmentation(
    folder: str | os.PathLike,
    name: str,
    seg,
    *,
    image: np.ndarray | None = None,
    fmt: str = 'png',
) -> dict[str, Path]:
    """Write the probability, vessel and A/V files of one photo.

    Parameters
    ----------
    folder : str or os.PathLike
        Output folder (created if missing).
    name : str
        The photo's name: files are ``NAME_prob.<fmt>`` and so on.
    seg : Segmentation
        A single photo's result ((H, W) arrays).
    image : numpy.ndarray, optional
        The photo, for ``NAME_av_overlay.png``; without it no overlay.
    fmt : {'png', 'tif', 'npy'}
        Probability map format.

    Returns
    -------
    dict of str to Path
        The files written, by kind (``prob``, ``vessels``, ``av``,
        ``overlay``).
    """
    av = seg.artery_vein is not None
    files = output_paths(folder, name, fmt=fmt, av=av)
    prob = seg.probability
    if fmt == 'png':
        prob = np.rint(prob * 255).astype(np.uint8)
    imwrite(files['prob'], prob)
    imwrite(files['vessels'], seg.vessels)
    if av:
        imwrite(files['av'], seg.artery_vein)
        if image is not None:
            imwrite(files['overlay'], overlay(image, seg.artery_vein))
        else:
            del files['overlay']
    return files


def write_marker(
    folder: str | os.PathLike,
    name: str,
    settings: dict[str, Any],
    row: dict[str, Any],
    files: dict[str, Path],
) -> Path:
    """Write ``NAME.done.json`` (options, summary row, output names);
    written last, it says the photo's outputs are complete."""
    marker = {
        'settings': settings,
        'row': row,
        'outputs': sorted(Path(p).name for p in files.values()),
    }
    return write_text_atomic(
        Path(folder) / f'{name}.done.json', json.dumps(marker, indent=1)
    )
