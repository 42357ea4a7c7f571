"""napari reader: fundus photographs, label images and dataset folders.

What it opens
-------------
- **A file** (TIFF, PNG, JPEG, GIF, BMP, PPM/PGM, gzipped PPM/PGM): a
  photograph becomes an Image layer (``rgb=True`` for colour, a gray
  colormap for grayscale; 16-bit and float data keep their dtype; alpha
  is dropped). A 2-D file that is a mask (two grey levels, or named or
  filed like one: ``_manual``, ``_1stHO``, ``_mask``, ``.ah.``, a
  ``1st_manual/`` or ``mask/`` folder, ...) becomes a 0/1 Labels layer.
  A file in an ``av/`` folder (RITE) becomes an artery/vein Labels layer:
  1 artery (red), 2 vein (blue), 3 crossing or uncertain (yellow).
- **A dataset folder** (DRIVE, RITE, CHASE_DB1, STARE, HRF or the
  generic ``images/ vessels/ masks/ av/`` layout, see
  :mod:`napari_retina_vessels.io.datasets`): its **first** sample, sorted by
  name, as a photo plus whatever ground truth it has, e.g. ``01_test``,
  ``01_test vessels (1st observer)``, ``01_test FOV (dataset)`` and
  ``01_test A/V (reference)``. One sample, not all of them: forty photos
  with three label layers each would bury the viewer. The photo layer's
  metadata lists every sample of the folder under ``samples``; open
  another one by opening its files. The reference layers are named
  apart from the ``<image> vessels``, ``<image> FOV`` and ``<image> A/V``
  layers the Segment widget writes, so segmenting never overwrites them.
- **A plain folder of images**: each image, as above, up to
  :data:`MAX_FOLDER_FILES` of them (a warning says when more were left).
- **Several files with stack=True**, or **a folder with stack=True**
  (``viewer.open(folder, stack=True)``): one layer stacking them (in
  name order), when they have the same shape and kind; the Segment
  widget segments such a stack frame by frame.
- **DICOM** (``.dcm``, single- or multi-frame; pydicom) and the fundus
  photo of **Topcon** ``.fda``/``.fds`` and **Heidelberg** ``.e2e``
  exports: an Image layer (a stack for several frames) whose ``scale``
  is the DICOM pixel spacing in micrometres. Layer metadata carries
  non-identifying facts only (modality, laterality, maker); patient
  data is never read into it (see :mod:`napari_retina_vessels.io.clinical`
  to read it on purpose).
- **Saved results** (``NAME_prob.png``, ``NAME_vessels.png``,
  ``NAME_av.png``, ``NAME_av_overlay.png``, as ``retina-vessels segment``
  and the *Save results* button write them): the layers they were saved
  from, ``NAME vessels prob`` (float probability), ``NAME vessels``,
  ``NAME A/V`` and ``NAME A/V overlay``, with the provenance and the
  quality grade recorded in ``NAME.done.json`` as metadata.

Every layer's metadata holds the file ``path``, and ``pixel_spacing``
(micrometres, rows then columns) when the file records a metric one.

napari's own reader also claims ``.tif``, ``.png`` and ``.jpg``. From
Python, choose this one explicitly::

    viewer.open('01_test.tif', plugin='napari-retina-vessels')
    viewer.open('DRIVE/test', plugin='napari-retina-vessels')

In File > Open, napari asks which reader to use when several claim a
file; pick "Retina Vessels" and tick "Remember this choice" to make it
the default for that extension (Preferences > Plugins lists it).
Folders behave alike (File > Open Folder).

The get-reader decides from the path and never raises; it returns None
for what it does not claim. Reading a claimed file that cannot be
decoded raises :class:`~napari_retina_vessels.errors.ImageReadError`
(a folder with no usable sample: ``DatasetError``) with a one-sentence
message, which napari shows as a notification. Decoding itself lives in
the Qt-free :mod:`~napari_retina_vessels.io` and
:mod:`~napari_retina_vessels.io.datasets` modules.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from ..errors import ImageReadError
from ..io import datasets
from .layers import AV_COLORS, AV_FEATURES, VESSEL_COLORS, VESSEL_FEATURES

__all__ = ['MAX_FOLDER_FILES', 'napari_get_reader', 'read']

LayerData = tuple[Any, dict[str, Any], str]
PathOrPaths = str | os.PathLike | Sequence[str | os.PathLike]
ReaderFunction = Callable[[PathOrPaths], list[LayerData]]

#: Most images opened from a plain folder (one layer each).
MAX_FOLDER_FILES = 20

_VESSEL_COLORS = VESSEL_COLORS
_VESSEL_FEATURES = VESSEL_FEATURES
_FOV_COLORS = {0: 'transparent', 1: 'cyan', None: 'transparent'}
_FOV_FEATURES = {
    'index': [0, 1],
    'class': ['outside field of view', 'field of view'],
}

# Folders and name parts that mark a file as a mask or label image.
_LABEL_FOLDERS = frozenset(
    {
        '1st_manual',
        '2nd_manual',
        'manual',
        'manual1',
        'manual2',
        'mask',
        'masks',
        'fov',
        'labels',
        'labels-ah',
        'labels-vk',
        'vessels',
    }
)
_LABEL_MARKERS = ('_manual', '_1stho', '_2ndho', '_mask', '.ah.', '.vk.')
_AV_FOLDERS = frozenset({'av', 'artery_vein'})
_FOV_FOLDERS = frozenset({'mask', 'masks', 'fov'})

# Who drew each layout's vessel reference, for the layer name.
_OBSERVER = {
    'drive': '1st observer',
    'chase': '1st observer',
    'stare': '1st observer',
    'hrf': 'manual',
    'generic': 'reference',
}


def napari_get_reader(path: PathOrPaths) -> ReaderFunction | None:
    """Return :func:`read` if this plugin opens *path*, else None.

    Claims image files this package decodes, dataset folders in a known
    layout, folders that directly hold image files, and lists of image
    files. Never raises.

    Parameters
    ----------
    path : str, os.PathLike or list of them
        What napari was asked to open.

    Returns
    -------
    callable or None
        The reader function, or None when this plugin does not claim
        *path*.
    """
    try:
        if isinstance(path, (list, tuple)):
            if path and all(_is_image_file(p) for p in path):
                return read
            if (
                len(path) == 1
                and Path(path[0]).is_dir()
                and _folder_images(Path(path[0]))
            ):
                return read  # a folder opened with stack=True
            return None
        p = Path(path)
        if p.is_dir():
            if datasets.detect_layout(p) is not None or _folder_images(p):
                return read
            return None
        return read if io.is_image_path(p) else None
    except (OSError, TypeError, ValueError):
        # Unreadable folders, odd path objects, NUL bytes: not ours.
        return None


def read(path: PathOrPaths) -> list[LayerData]:
    """Read a file, a folder or a list of files to stack into layer data.

    Parameters
    ----------
    path : str, os.PathLike or list of them
        A path :func:`napari_get_reader` claimed.

    Returns
    -------
    list of tuple
        ``(data, kwargs, layer_type)`` tuples, ``layer_type`` being
        ``'image'`` or ``'labels'``.

    Raises
    ------
    ImageReadError
        When a file is missing, empty, truncated or not an image, or
        files to stack differ in shape.
    DatasetError
        When a dataset folder has no photo or a label that does not fit
        its photo.
    """
    if isinstance(path, (list, tuple)):
        paths = [Path(p) for p in path]
        if len(paths) == 1 and paths[0].is_dir():
            paths = _folder_images(paths[0])
            if not paths:
                raise ImageReadError(f'{path[0]} holds no image files')
        return [_stack(paths)]
    p = Path(path)
    if p.is_dir():
        layout = datasets.detect_layout(p)
        if layout is not None:
            return _read_dataset(p)
        return _read_plain_folder(p)
    return [_read_file(p)]


def _is_image_file(path: str | os.PathLike) -> bool:
    return io.is_image_path(path) and not Path(path).is_dir()


def _folder_images(folder: Path) -> list[Path]:
    return sorted(
        f
        for f in folder.iterdir()
        if not f.name.startswith('.') and io.is_image_path(f) and f.is_file()
    )


def _metadata(path: Path) -> dict[str, Any]:
    meta: dict[str, Any] = {'path': str(path)}
    spacing = io.read_pixel_spacing(path)
    if spacing is not None:
        meta['pixel_spacing'] = spacing
        meta['pixel_spacing_unit'] = 'micrometre'
    return meta


def _is_av_file(path: Path) -> bool:
    return path.parent.name.lower() in _AV_FOLDERS


def _named_like_label(path: Path) -> bool:
    name = path.name.lower()
    return path.parent.name.lower() in _LABEL_FOLDERS or any(
        m in name for m in _LABEL_MARKERS
    )


def _is_fov_file(path: Path) -> bool:
    return (
        path.parent.name.lower() in _FOV_FOLDERS
        or '_mask' in path.name.lower()
    )


def _is_binary(arr: np.ndarray) -> bool:
    """True when *arr* holds exactly two distinct values (no sorting)."""
    if arr.dtype == np.bool_:
        return True
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        return False
    return not bool(np.any((arr != lo) & (arr != hi)))


def _gray_copy(arr: np.ndarray) -> np.ndarray | None:
    """The single channel of an RGB image whose channels are equal."""
    if arr.ndim == 2:
        return arr
    first = arr[..., 0]
    if np.array_equal(first, arr[..., 1]) and np.array_equal(
        first, arr[..., 2]
    ):
        return first
    return None


def _read_photo(path: Path) -> tuple[np.ndarray, bool]:
    """``(image, False)`` from :func:`io.imread`, or ``(stack, True)``
    with every frame of a multi-page TIFF, which ``imread`` refuses:
    (N, H, W[, 3]) for a stacked layer."""
    try:
        return io.imread(path), False
    except ImageReadError as err:
        first = err
    try:
        stack = io.read_stack(path)
    except ImageReadError:
        stack = None
    if stack is None or stack.ndim < 3 or len(stack) < 2:
        raise first
    return stack, True


def _image_layer(
    arr: np.ndarray, name: str, meta: dict, *, frames: bool = False
) -> LayerData:
    """An Image layer; *frames*: the first axis is a stack of photos."""
    kwargs: dict[str, Any] = {
        'name': name,
        'rgb': arr.ndim == (4 if frames else 3),
        'metadata': meta,
    }
    if arr.ndim == (3 if frames else 2):
        kwargs['colormap'] = 'gray'
    return (arr, kwargs, 'image')


def _mask_layer(
    mask: np.ndarray, name: str, meta: dict, *, fov: bool = False
) -> LayerData:
    kwargs = {
        'name': name,
        'colormap': _FOV_COLORS if fov else _VESSEL_COLORS,
        'features': _FOV_FEATURES if fov else _VESSEL_FEATURES,
        'opacity': 0.5 if fov else 0.7,
        'metadata': meta,
    }
    return (np.asarray(mask, np.uint8), kwargs, 'labels')


def _av_layer(av: np.ndarray, name: str, meta: dict) -> LayerData:
    kwargs = {
        'name': name,
        'colormap': AV_COLORS,
        'features': AV_FEATURES,
        'opacity': 0.7,
        'metadata': meta,
    }
    return (np.asarray(av, np.uint8), kwargs, 'labels')


def _read_clinical(path: Path) -> LayerData:
    """A DICOM or vendor file: the photo (or stack), scaled in um."""
    from ..io.clinical import read_clinical

    image = read_clinical(path)  # patient data stays out (not asked)
    arr = image.pixels
    meta: dict[str, Any] = {
        'path': str(path),
        image.info['format']: {
            k: v for k, v in image.info.items() if k != 'format'
        },
    }
    rgb = arr.shape[-1] == 3 and arr.ndim in (3, 4)
    frames = arr.ndim == (4 if rgb else 3)
    kwargs: dict[str, Any] = {
        'name': io.file_stem(path),
        'rgb': rgb,
        'metadata': meta,
    }
    if not rgb:
        kwargs['colormap'] = 'gray'
    if image.pixel_spacing is not None:
        meta['pixel_spacing'] = image.pixel_spacing
        meta['pixel_spacing_unit'] = 'micrometre'
        kwargs['scale'] = ((1.0,) if frames else ()) + tuple(
            image.pixel_spacing
        )
    return (arr, kwargs, 'image')


#: File-name endings of saved results -> layer_names() key.
def _read_file(path: Path) -> LayerData:
    """One file -> one layer: photo, mask, artery/vein labels or a saved
    result."""
    name = io.file_stem(path)
    if path.suffix.lower() in ('.dcm', '.dicom', '.fda', '.fds', '.e2e'):
        return _read_clinical(path)
    from .saved_results import result_kind

    result = result_kind(name)
    if result is not None and not _is_av_file(path):
        from .saved_results import read_result

        return read_result(path, *result)
    if _is_av_file(path):
        return _av_layer(io.read_av(path), name, _metadata(path))
    arr, frames = _read_photo(path)
    meta = _metadata(path)
    if frames:  # a multi-page TIFF: one layer with a frame slider
        return _image_layer(arr, name, meta, frames=True)
    if _named_like_label(path):
        gray = _gray_copy(arr)
        if gray is not None:
            return _mask_layer(
                io.as_mask(gray), name, meta, fov=_is_fov_file(path)
            )
    if arr.ndim == 2 and _is_binary(arr):
        return _mask_layer(io.as_mask(arr), name, meta)
    return _image_layer(arr, name, meta)


def _read_plain_folder(folder: Path) -> list[LayerData]:
    files = _folder_images(folder)
    if not files:
        raise ImageReadError(f'{folder} holds no image files')
    if len(files) > MAX_FOLDER_FILES:
        warnings.warn(
            f'{folder} holds {len(files)} images; opened the first '
            f'{MAX_FOLDER_FILES} (open the others as files)',
            stacklevel=2,
        )
        files = files[:MAX_FOLDER_FILES]
    return [_read_file(f) for f in files]


def _read_dataset(folder: Path) -> list[LayerData]:
    """The first sample of a dataset folder with its ground truth."""
    samples = datasets.discover(folder)
    sample = samples[0]
    data = datasets.load_sample(sample)
    common = {
        'dataset': str(folder),
        'layout': sample.layout,
        'sample': sample.name,
    }
    name = sample.name
    meta = {
        **_metadata(sample.image),
        **common,
        'samples': [s.name for s in samples],
    }
    layers = [_image_layer(data['image'], name, meta)]
    if data['fov'] is not None:
        fov = _mask_layer(
            data['fov'],
            f'{name} FOV (dataset)',
            {'path': str(sample.fov), **common},
            fov=True,
        )
        # Shown, even at half opacity, it tints the whole photo.
        fov[1]['visible'] = False
        layers.append(fov)
    if data['vessels'] is not None:
        observer = _OBSERVER.get(sample.layout, 'reference')
        layers.append(
            _mask_layer(
                data['vessels'],
                f'{name} vessels ({observer})',
                {'path': str(sample.vessels), **common},
            )
        )
    if data['av'] is not None:
        layers.append(
            _av_layer(
                data['av'],
                f'{name} A/V (reference)',
                {'path': str(sample.av), **common},
            )
        )
    return layers


def _stack(paths: list[Path]) -> LayerData:
    """Several files of one shape and kind -> one stacked layer.

    The stack is sized from the first file and refused before the others
    are read when it would exceed the decoders' byte cap (400 photos
    made 829 MB); each file is copied into it as it is read.
    """
    from ..io._formats import MAX_DECODED_BYTES

    first_data, first_kwargs, first_type = _read_file(paths[0])
    need = len(paths) * first_data.nbytes
    if need > MAX_DECODED_BYTES:
        raise ImageReadError(
            f'stacking {len(paths)} files of shape {first_data.shape} '
            f'needs {need / 2**20:,.0f} MB, more than the '
            f'{MAX_DECODED_BYTES / 2**20:,.0f} MB one stack may take; '
            'open them without stacking or fewer at a time'
        )
    stack = np.empty((len(paths), *first_data.shape), first_data.dtype)
    stack[0] = first_data
    for k, p in enumerate(paths[1:], 1):
        data, _, kind = _read_file(p)
        if kind != first_type or data.shape != first_data.shape:
            raise ImageReadError(
                f'cannot stack {p.name} ({kind}, shape {data.shape}) on '
                f'{paths[0].name} ({first_type}, shape '
                f'{first_data.shape}); open the files without stacking'
            )
        if not np.can_cast(data.dtype, stack.dtype):  # as np.stack would
            stack = stack.astype(np.result_type(stack, data))
        stack[k] = data
    kwargs = dict(first_kwargs)
    kwargs['metadata'] = {'paths': [str(p) for p in paths]}
    return (stack, kwargs, first_type)
