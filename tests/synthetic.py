"""Synthetic test images shared by the test modules."""

from __future__ import annotations

import functools

import numpy as np


def fake_fundus(h: int = 300, w: int = 320, seed: int = 0) -> np.ndarray:
    """A small colour fundus photo: scikit-image's sample retina
    (``skimage.data.retina()``, public, shipped with scikit-image),
    resized to (h, w), mirrored and rotated by *seed*, with a little
    noise.

    It used to be a drawing (an orange disc crossed by straight dark
    lines); the quality gate rightly calls that "not a fundus
    photograph", and the tests that run the whole pipeline need a photo
    it grades.

    Returns
    -------
    numpy.ndarray
        (h, w, 3) uint8 RGB.
    """
    rng = np.random.default_rng(seed)
    img = np.rot90(_retina(), seed % 4)
    if (seed // 4) % 2:
        img = img[:, ::-1]
    from napari_retina_vessels.preprocessing import resize

    out = resize(img, (h, w)) + rng.normal(0, 0.01, (h, w, 3))
    return (np.clip(out, 0, 1) * 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _retina() -> np.ndarray:
    from skimage import data

    return np.asarray(data.retina(), np.float32) / 255


#: The patient data written into test DICOM files; a test asserts none of
#: it reaches layer metadata, printed output or messages.
FAKE_PATIENT = {
    'PatientName': 'Testperson^Secret',
    'PatientID': 'ID-4711',
    'PatientBirthDate': '19700101',
}


def write_dicom(
    path,
    pixels: np.ndarray,
    *,
    spacing_mm: tuple[float, float] | None = (0.01, 0.0125),
    photometric: str | None = None,
) -> None:
    """Write an uncompressed Ophthalmic Photography DICOM file.

    *pixels* is (H, W) or (H, W, 3) uint8, or (N, H, W[, 3]) for a
    multi-frame file. Carries :data:`FAKE_PATIENT`.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.ascontiguousarray(pixels, np.uint8)
    colour = pixels.shape[-1] == 3 and pixels.ndim in (3, 4)
    frames = pixels.shape[0] if pixels.ndim == (4 if colour else 3) else 1
    sop_class = '1.2.840.10008.5.1.4.1.1.77.1.5.1'  # OP 8 bit image
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'OP'
    ds.ImageLaterality = 'R'
    ds.Manufacturer = 'Synthetic'
    for key, value in FAKE_PATIENT.items():
        setattr(ds, key, value)
    ds.Rows, ds.Columns = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric or (
        'RGB' if colour else 'MONOCHROME2'
    )
    if colour:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if spacing_mm is not None:
        ds.PixelSpacing = [str(v) for v in spacing_mm]
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)


def write_topcon_fda(path, rgb: np.ndarray) -> None:
    """Write a minimal Topcon ``.fda`` file holding *rgb* as its fundus
    photograph (the ``@IMG_FUNDUS`` chunk: a 24-byte header, then a JPEG
    stored in BGR order, as oct-converter reads it)."""
    import io
    import struct

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[..., ::-1])).save(
        buf, format='JPEG', quality=95
    )
    jpeg = buf.getvalue()
    h, w = rgb.shape[:2]
    fundus = struct.pack('<IIII4sI', w, h, 24, 1, b'JPEG', len(jpeg)) + jpeg
    name = b'@IMG_FUNDUS'
    with open(path, 'wb') as fh:
        fh.write(b'FOCT' + b'FDA' + struct.pack('<II', 1, 0))
        fh.write(bytes([len(name)]) + name + struct.pack('<I', len(fundus)))
        fh.write(fundus)
        fh.write(b'\x00')


def write_training_set(folder, n: int = 3, av: bool = False) -> str:
    """*n* small synthetic photos with vessel (and A/V) labels in the
    ``images`` / ``vessels`` / ``av`` layout; returns ``'folder:all'``,
    a dataset spec for ``train``. Arteries are the left half's vessels."""
    from napari_retina_vessels.io import imwrite

    for i in range(n):
        img = fake_fundus(120, 128, seed=i)
        vessels = (img[..., 1] < 60) & (img.sum(-1) > 30)
        imwrite(folder / 'images' / f'p{i}.png', img)
        imwrite(folder / 'vessels' / f'p{i}.png', vessels)
        if av:
            rgb = np.zeros(img.shape, np.uint8)
            half = np.arange(img.shape[1]) < img.shape[1] // 2
            rgb[vessels & half[None, :]] = (255, 0, 0)
            rgb[vessels & ~half[None, :]] = (0, 0, 255)
            imwrite(folder / 'av' / f'p{i}.png', rgb)
    return f'{folder}:all'


def tiny_config(tmp_path, data, name: str = 'run', **kw):
    """A TrainConfig of a few steps of a 4-8 channel W-Net on *data*."""
    from napari_retina_vessels.training.loop import TrainConfig

    settings = {
        'datasets': [data],
        'out': str(tmp_path / name),
        'arch': 'wnet',
        'arch_kwargs': {'channels': [4, 8]},
        'steps': 4,
        'batch': 2,
        'patch': 48,
        'lr': 1e-3,
        'val_every': 2,
        'val_per_dataset': 1,
        'seed': 0,
        'threads': 1,
    }
    return TrainConfig(**{**settings, **kw})


#: ``retina-vessels train`` options for a two-step run of 48 px crops.
TINY_TRAIN_ARGS = [
    '--steps', '2', '--batch', '2', '--patch', '48',
    '--val-every', '2', '--threads', '1',
]  # fmt: skip
