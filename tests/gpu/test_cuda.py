"""The CUDA path against the CPU path, autocast, device strings, memory.

Tolerances (the GPU runs the networks in bf16 autocast, or fp16 where
bf16 is missing; the CPU in float32), calibrated with bf16 autocast on a
CPU over DRIVE test photos (largest probability difference 0.22, mean
0.0014, 0.13 % of FOV pixels change vessel label, 98.2 % A/V agreement):
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gpu

#: Largest probability difference of any pixel (a few pixels sit on a
#: knife edge of a vessel wall).
PROB_MAX_ABS = 0.35
#: Mean probability difference inside the FOV.
PROB_MEAN_ABS = 0.004
#: Share of FOV pixels whose vessel label differs.
VESSEL_DISAGREE = 0.005
#: Share of vessel pixels (vessel in both maps) with the same A/V label.
AV_AGREE = 0.97


def _compare(cpu, gpu) -> None:
    fov = cpu.fov
    assert np.array_equal(fov, gpu.fov)
    diff = np.abs(cpu.probability - gpu.probability)
    assert gpu.probability.dtype == np.float32
    assert np.isfinite(gpu.probability).all()
    assert diff.max() <= PROB_MAX_ABS, diff.max()
    assert diff[fov].mean() <= PROB_MEAN_ABS, diff[fov].mean()
    disagree = (cpu.vessels != gpu.vessels)[fov].mean()
    assert disagree <= VESSEL_DISAGREE, disagree
    if cpu.artery_vein is not None:
        both = cpu.vessels & gpu.vessels
        agree = (cpu.artery_vein[both] == gpu.artery_vein[both]).mean()
        assert agree >= AV_AGREE, agree


@pytest.mark.data
def test_cuda_matches_cpu(drive_photos):
    from napari_retina_vessels.pipeline import segment

    for image in drive_photos:
        cpu = segment(image, device='cpu', precision='fp32')
        gpu = segment(image, device='cuda')
        assert gpu.device.startswith('cuda')
        _compare(cpu, gpu)


@pytest.mark.data
def test_batched_cuda_matches_cpu(drive_photos):
    from napari_retina_vessels.batch.batching import segment_many
    from napari_retina_vessels.pipeline import segment

    many = list(segment_many(drive_photos, device='cuda', batch_size=3))
    assert len(many) == len(drive_photos)
    for image, gpu in zip(drive_photos, many):
        _compare(segment(image, device='cpu', precision='fp32'), gpu)


@pytest.mark.data
@pytest.mark.parametrize('dtype', ['bf16', 'fp16'])
def test_autocast_dtypes(drive_photos, monkeypatch, dtype):
    """bf16 where the GPU has it, fp16 otherwise: both within tolerance."""
    import torch

    from napari_retina_vessels.pipeline import segment

    if dtype == 'bf16' and not torch.cuda.is_bf16_supported():
        pytest.skip('this GPU has no bf16')
    if dtype == 'fp16':
        monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: False)
    image = drive_photos[0]
    _compare(
        segment(image, device='cpu', precision='fp32'),
        segment(image, device='cuda'),
    )


def test_cuda_device_strings():
    import torch

    from napari_retina_vessels.errors import DeviceError
    from napari_retina_vessels.inference import choose_device
    from napari_retina_vessels.pipeline import segment

    n = torch.cuda.device_count()
    assert choose_device('cuda:0') == torch.device('cuda', 0)
    assert choose_device('auto').type == 'cuda'
    with pytest.raises(DeviceError, match=f'{n} CUDA device'):
        choose_device(f'cuda:{n}')
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (96, 128, 3), np.uint8)
    res = segment(image, device=f'cuda:{n - 1}', av=False)
    assert res.device == f'cuda:{n - 1}'


def test_out_of_memory_falls_back_to_smaller_batches():
    """A batch too large for the memory allowed is halved, with a
    message, and gives the same maps as one photo per pass."""
    import torch

    from napari_retina_vessels.batch.batching import segment_many

    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (700, 700, 3), np.uint8) for _ in range(16)]
    one = list(segment_many(images[:2], device='cuda', batch_size=1, av=False))
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    # About 1.5 GB allowed: one 700 x 700 photo fits, sixteen do not.
    torch.cuda.set_per_process_memory_fraction(1.5e9 / total, 0)
    messages: list[str] = []
    try:
        many = list(
            segment_many(
                images,
                device='cuda',
                batch_size=16,
                av=False,
                log=messages.append,
            )
        )
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, 0)
        torch.cuda.empty_cache()
    assert messages and 'out of memory' in messages[0], messages
    assert len(many) == len(images)
    for a, b in zip(one, many):
        assert np.abs(a.probability - b.probability).max() < 0.05


def test_dask_one_worker_per_gpu():
    """Worker i of a local cluster takes GPU i % count."""
    pytest.importorskip('distributed')
    import torch
    from distributed import Client, LocalCluster

    from napari_retina_vessels.batch.cluster import worker_device

    n = torch.cuda.device_count()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host='127.0.0.1',
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        names = {
            addr: info['name']
            for addr, info in client.scheduler_info()['workers'].items()
        }
        got = {
            addr: client.submit(
                worker_device, 'auto', workers=[addr], pure=False
            ).result()
            for addr in names
        }
    for addr, device in got.items():
        want = f'cuda:{names[addr] % n}' if n > 1 else 'auto'
        assert device == want
