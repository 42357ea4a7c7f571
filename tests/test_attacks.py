"""Failures found by attacking the reader, batch, evaluate, weights, train.

Each test is named after its case (issue 19) and asserts the one right
behaviour: a result where one is due, else one clear, one-line error
raised before any large allocation or long work.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from napari_retina_vessels.errors import RetinaVesselsError


def _one_line(err: BaseException) -> str:
    msg = str(err)
    assert msg and '\n' not in msg and 'Traceback' not in msg, msg
    return msg


# -- 1. train --resume loads checkpoint.pt as a full pickle ---------------


class _Payload:
    """Unpickling this object would run ``Path.touch(target)``."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_resume_checkpoint_is_not_unpickled_as_code(tmp_path):
    from napari_retina_vessels.errors import TrainingConfigError
    from napari_retina_vessels.training.loop import TrainConfig, train

    run = tmp_path / 'run'
    run.mkdir()
    flag = tmp_path / 'pwned'
    with open(run / 'checkpoint.pt', 'wb') as fh:
        pickle.dump({'model': _Payload(flag)}, fh)
    cfg = TrainConfig(datasets=[str(tmp_path / 'nowhere')], out=str(run))
    with pytest.raises(TrainingConfigError) as info:
        train(cfg, resume=True, log=lambda s: None)
    _one_line(info.value)
    assert not flag.exists()


def test_resume_checkpoint_round_trips_with_weights_only(tmp_path):
    import torch

    from napari_retina_vessels.training.loop import load_checkpoint

    rng = np.random.default_rng(3)
    ck = {
        'model': {'w': torch.ones(2)},
        'optimizer': {'state': {}},
        'sampler': rng.bit_generator.state,
        'torch_rng': torch.get_rng_state(),
        'step': 2,
        'best': 0.5,
        'elapsed': 1.0,
    }
    torch.save(ck, tmp_path / 'checkpoint.pt')
    back = load_checkpoint(tmp_path / 'checkpoint.pt')
    assert back['sampler'] == rng.bit_generator.state
    assert back['step'] == 2


# -- 2. a tiny field of view makes the canonical scale unbounded ----------


def test_tiny_fov_scale_is_bounded(monkeypatch):
    from napari_retina_vessels import inference, segment
    from napari_retina_vessels.preprocessing import (
        CANONICAL_DIAMETER,
        MIN_FOV_FRACTION,
        canonical_scale,
    )

    one = np.zeros((584, 565), bool)
    one[300, 280] = True
    bound = CANONICAL_DIAMETER / (MIN_FOV_FRACTION * 584)
    assert canonical_scale(one) == pytest.approx(bound)
    assert canonical_scale(np.zeros((584, 565), bool)) < 1
    # A black photo with a small bright patch: the work is bounded too.
    photo = np.zeros((584, 565, 3), np.uint8)
    photo[280:300, 270:290] = (200, 90, 30)
    shapes = []
    real = inference.predict

    def spy(net, x, **kw):
        shapes.append(x.shape)
        return (yield from real(net, x, **kw))

    monkeypatch.setattr(inference, 'predict', spy)
    res = segment(photo, av=False, vessel_views=1)
    assert res.probability.shape == (584, 565)
    assert all(
        max(s[-2:]) <= CANONICAL_DIAMETER / MIN_FOV_FRACTION + 1
        for s in shapes
    ), shapes


# -- 3. TIFF and gzip decompression bombs ---------------------------------


def _tiff_header(w, h, *, tile=None, payload=b'\0' * 64):
    """A little-endian TIFF declaring a w x h 8-bit gray image, with one
    strip (or one tile of *tile* x *tile*), followed by *payload*."""
    import struct

    tags = [
        (256, 4, w),
        (257, 4, h),
        (258, 3, 8),
        (259, 3, 8 if tile else 1),
        (262, 3, 1),
        (277, 3, 1),
    ]
    n_tags = len(tags) + 3
    data_at = 8 + 2 + 12 * n_tags + 4
    if tile:
        tags += [
            (322, 4, tile),
            (323, 4, tile),
            (324, 4, data_at),
            (325, 4, len(payload)),
        ]
    else:
        tags += [(273, 4, data_at), (278, 4, h), (279, 4, w * h)]
    tags.sort()
    ifd = (
        struct.pack('<H', len(tags))
        + b''.join(
            struct.pack('<HHII', t, typ, 1, v)
            if typ == 4
            else struct.pack('<HHIHH', t, typ, 1, v, 0)
            for t, typ, v in tags
        )
        + struct.pack('<I', 0)
    )
    return b'II*\0' + struct.pack('<I', 8) + ifd + payload


def test_gzipped_tiff_declaring_30000_squared_is_refused(tmp_path):
    import gzip

    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.io import imread

    path = tmp_path / 'bomb.tif.gz'
    path.write_bytes(gzip.compress(_tiff_header(30000, 30000)))
    assert path.stat().st_size < 2048
    with pytest.raises(ImageReadError, match='30000 x 30000') as info:
        imread(path)
    _one_line(info.value)


def test_tiled_tiff_with_a_tile_larger_than_its_image_is_refused(tmp_path):
    import zlib

    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.io import imread

    path = tmp_path / 'tile_bomb.tif'
    path.write_bytes(
        _tiff_header(
            16, 16, tile=16384, payload=zlib.compress(b'\0' * (1 << 20))
        )
    )
    assert path.stat().st_size < 4096
    with pytest.raises(ImageReadError, match='tiles of 16384') as info:
        imread(path)
    _one_line(info.value)


def test_tiff_declaring_34000_squared_8bit_is_refused(tmp_path):
    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.io import imread

    path = tmp_path / 'big.tif'
    path.write_bytes(_tiff_header(34000, 34000))
    with pytest.raises(ImageReadError, match='34000 x 34000') as info:
        imread(path)
    _one_line(info.value)


def test_gzip_stream_longer_than_its_header_stops_early(tmp_path):
    import tracemalloc
    import zlib

    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.io import imread

    # A 16 x 16 PPM header followed by 256 MB of zeros (about 250 KB
    # compressed): reading must stop a few kilobytes in.
    path = tmp_path / 'bomb.ppm.gz'
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b'\0' * (1 << 20)
    with open(path, 'wb') as fh:
        fh.write(comp.compress(b'P6 16 16 255\n'))
        for _ in range(256):
            fh.write(comp.compress(block))
        fh.write(comp.flush())
    tracemalloc.start()
    try:
        with pytest.raises(ImageReadError, match='decompresses') as info:
            imread(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _one_line(info.value)
    assert peak < 16 << 20, peak


def test_gzip_tiff_and_ppm_within_their_declared_size_are_read(tmp_path):
    import gzip
    import io as _io

    import tifffile

    from napari_retina_vessels.io import imread

    img = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    buf = _io.BytesIO()
    tifffile.imwrite(buf, img)
    (tmp_path / 'a.tif.gz').write_bytes(gzip.compress(buf.getvalue()))
    ppm = b'P6\n# a comment\n50 40\n255\n' + img.tobytes()
    (tmp_path / 'a.ppm.gz').write_bytes(gzip.compress(ppm))
    assert np.array_equal(imread(tmp_path / 'a.tif.gz'), img)
    assert np.array_equal(imread(tmp_path / 'a.ppm.gz'), img)


# -- multi-page and n-D files ---------------------------------------------


def test_multipage_tiff_is_a_stack_never_its_first_plane(tmp_path):
    import tifffile

    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.io import imread, read_stack

    frames = np.arange(3 * 40 * 50 * 3, dtype=np.uint8).reshape(3, 40, 50, 3)
    tifffile.imwrite(tmp_path / 's.tif', frames)
    with pytest.raises(ImageReadError, match='stack of 3 images') as info:
        imread(tmp_path / 's.tif')
    _one_line(info.value)
    assert np.array_equal(read_stack(tmp_path / 's.tif'), frames)
    gray = np.concatenate([frames[..., 0], frames[:2, ..., 1]])
    tifffile.imwrite(tmp_path / 'g.tif', gray, photometric='minisblack')
    assert np.array_equal(read_stack(tmp_path / 'g.tif'), gray)
    # One page, or planar RGB, is one image.
    tifffile.imwrite(
        tmp_path / 'p.tif',
        np.moveaxis(frames[0], -1, 0),
        photometric='rgb',
        planarconfig='separate',
    )
    assert np.array_equal(imread(tmp_path / 'p.tif'), frames[0])
    assert read_stack(tmp_path / 'p.tif').shape == (1, 40, 50, 3)


def test_five_dimensional_tiff_is_an_error(tmp_path):
    import tifffile

    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.io import imread, read_stack

    tifffile.imwrite(
        tmp_path / 'z.tif', np.zeros((2, 3, 4, 32, 32), np.uint8), imagej=True
    )
    for read in (imread, read_stack):
        with pytest.raises(ImageReadError, match='5-D') as info:
            read(tmp_path / 'z.tif')
        _one_line(info.value)


# -- 11. downloads: no size cap, no overall timeout -----------------------


@pytest.fixture
def hostile_server(tmp_path, monkeypatch):
    """A server whose /endless.pt never ends and /trickle.pt sends one
    byte every 0.2 s; registers both names as downloadable models."""
    import http.server
    import threading
    import time

    from napari_retina_vessels import _registry, _weight_files, weights

    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            try:
                while not stop.is_set():
                    if 'endless' in self.path:
                        self.wfile.write(b'\0' * (1 << 16))
                    else:
                        self.wfile.write(b'x')
                        self.wfile.flush()
                        time.sleep(0.2)
            except OSError:
                pass

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    for name in ('endless', 'trickle'):
        monkeypatch.setitem(
            _registry.REGISTRY,
            name,
            {
                'file': f'{name}.pt',
                'sha256': '0' * 64,
                'arch': 'wnet',
                'task': 'vessels',
                'shipped': False,
                'description': 'test',
            },
        )
    monkeypatch.setenv(
        'RETINA_VESSELS_BASE_URL', f'http://127.0.0.1:{httpd.server_port}/'
    )
    monkeypatch.setenv('RETINA_VESSELS_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setattr(_weight_files, 'MAX_DOWNLOAD_BYTES', 4 << 20)
    yield weights
    stop.set()
    httpd.shutdown()
    httpd.server_close()


def test_download_of_an_endless_stream_is_capped(hostile_server):
    from napari_retina_vessels.errors import WeightsError

    weights = hostile_server
    with pytest.raises(WeightsError, match='without ending') as info:
        weights.weights_path('endless')
    _one_line(info.value)
    assert not [p for p in weights.cache_dir().rglob('*') if p.is_file()]


def test_download_that_trickles_hits_the_overall_timeout(
    hostile_server, monkeypatch
):
    import time

    from napari_retina_vessels.errors import WeightsError

    weights = hostile_server
    monkeypatch.setenv('RETINA_VESSELS_DOWNLOAD_TIMEOUT', '1.5')
    t0 = time.monotonic()
    with pytest.raises(WeightsError, match='took more than') as info:
        weights.weights_path('trickle')
    assert time.monotonic() - t0 < 10
    _one_line(info.value)


def test_read_only_cache_says_so_not_connect_to_the_internet(
    tmp_path, monkeypatch
):
    from napari_retina_vessels import _registry, weights
    from napari_retina_vessels.cli import main
    from napari_retina_vessels.errors import WeightsError

    # A cache path that cannot be a folder (root ignores permissions).
    blocked = tmp_path / 'cache'
    blocked.write_text('a file, not a folder')
    monkeypatch.setenv('RETINA_VESSELS_CACHE_DIR', str(blocked / 'sub'))
    monkeypatch.setenv('RETINA_VESSELS_BASE_URL', 'http://127.0.0.1:9/')
    with pytest.raises(WeightsError, match='not writable') as info:
        weights.weights_path('unet-drive')
    assert 'internet' not in _one_line(info.value)
    # weights import: one line, no traceback.
    shipped = (
        weights.SHIPPED_DIR
        / _registry.REGISTRY[_registry.DEFAULTS['vessels']]['file']
    )
    assert main(['weights', 'import', str(shipped)]) == 1


# -- 7. a float photo with huge values gives an all-NaN map ----------------


def _fundus(h=96, w=96, seed=0):
    from synthetic import fake_fundus

    return fake_fundus(h, w, seed=seed)


def test_huge_float_values_give_the_same_map_not_nan(tmp_path):
    import tifffile

    from napari_retina_vessels import imread, segment
    from napari_retina_vessels.cli import main
    from napari_retina_vessels.preprocessing import as_rgb_float

    photo = _fundus().astype(np.float32)
    huge = photo / 255 * np.float32(3e38)
    assert np.allclose(as_rgb_float(huge), as_rgb_float(photo), atol=1e-6)
    assert np.allclose(
        as_rgb_float(huge.astype(np.float64) * 1e260),
        as_rgb_float(photo),
        atol=1e-6,
    )
    # float32: bfloat16 would magnify the 1e-6 input rounding.
    exact = {'av': False, 'vessel_views': 1, 'precision': 'fp32'}
    ref = segment(photo, **exact).probability
    got = segment(huge, **exact).probability
    assert np.isfinite(got).all() and np.allclose(got, ref, atol=1e-4)
    tifffile.imwrite(tmp_path / 'huge.tif', huge)
    assert (
        main(
            [
                'segment',
                str(tmp_path / 'huge.tif'),
                '--out',
                str(tmp_path / 'out'),
            ]
        )
        == 0
    )
    saved = imread(tmp_path / 'out' / 'huge_prob.png')
    assert saved.max() > 0


# -- batch: cases 4, 5, 6, 8, 9 and 10 -------------------------------------


def _photos(folder: Path, names=('p1', 'p2')) -> list[Path]:
    from napari_retina_vessels.io import imwrite

    folder.mkdir(parents=True, exist_ok=True)
    return [
        imwrite(folder / f'{n}.png', _fundus(seed=i))
        for i, n in enumerate(names)
    ]


def _summary(out: Path) -> list[dict]:
    import csv

    with open(out / 'summary.csv', newline='', encoding='utf-8') as fh:
        return list(csv.DictReader(fh))


def test_non_utf8_file_name_still_gets_a_summary(tmp_path):
    import os

    from napari_retina_vessels.batch import run_batch

    (src,) = _photos(tmp_path / 'in', ['p'])
    odd = os.fsdecode(os.fsencode(tmp_path / 'in') + b'/caf\xe9.png')
    os.rename(src, odd)
    for _ in range(2):  # and on every rerun
        res = run_batch([tmp_path / 'in'], tmp_path / 'out', av=False)
        rows = _summary(tmp_path / 'out')
        assert len(rows) == 1 and rows[0]['name'] == 'caf\\xe9'
    assert res['skipped'] == 1


def test_two_runs_keep_each_others_temporary_files(tmp_path):
    import os
    import time

    from napari_retina_vessels.batch import run_batch

    _photos(tmp_path / 'in', ['p1'])
    out = tmp_path / 'out'
    out.mkdir()
    # Another run is writing p1's map right now; a killed one left an old
    # temporary file behind.
    fresh = out / '.p1_prob.png.abc123xy.part'
    stale = out / '.p1_vessels.png.zz99yy88.part'
    fresh.write_bytes(b'being written')
    stale.write_bytes(b'left by a killed writer')
    old = time.time() - 7200
    os.utime(stale, (old, old))
    run_batch([tmp_path / 'in'], out, av=False)
    assert fresh.exists() and not stale.exists()


def test_rerun_over_thousands_of_done_images_is_linear(tmp_path):
    import json
    import time

    from napari_retina_vessels import batch
    from napari_retina_vessels.batch._settings import batch_settings

    n = 3000
    src = tmp_path / 'in'
    src.mkdir()
    out = tmp_path / 'out'
    out.mkdir()
    settings = batch_settings('default', False, 'default', False, None, 'png')
    for i in range(n):
        (src / f'p{i}.png').write_bytes(b'')
        for end in ('_prob.png', '_vessels.png'):
            (out / f'p{i}{end}').write_bytes(b'')
        (out / f'p{i}.done.json').write_text(
            json.dumps(
                {
                    'settings': settings,
                    'row': {'name': f'p{i}'},
                    'outputs': [f'p{i}_prob.png', f'p{i}_vessels.png'],
                }
            )
        )
    t0 = time.perf_counter()
    res = batch.run_batch([src], out, av=False)
    assert res['skipped'] == n
    assert time.perf_counter() - t0 < 20


def test_glob_over_a_symlink_loop_ends(tmp_path):
    import os

    from napari_retina_vessels.batch import collect_inputs

    _photos(tmp_path / 'in' / 'a', ['p1'])
    os.symlink(tmp_path / 'in', tmp_path / 'in' / 'a' / 'loop')
    os.symlink(tmp_path / 'in' / 'a', tmp_path / 'in' / 'a' / 'self')
    found, missing = collect_inputs([str(tmp_path / 'in' / '**' / '*.png')])
    assert [p.name for p in found] == ['p1.png'] and not missing


def test_input_folder_as_output_never_overwrites_user_files(tmp_path):
    from napari_retina_vessels.batch import run_batch

    folder = tmp_path / 'photos'
    _photos(folder, ['p1', 'p2'])
    mine = folder / 'p1_vessels.png'
    mine.write_bytes(b'my own manual tracing')
    res = run_batch([folder], folder, av=False)
    assert mine.read_bytes() == b'my own manual tracing'
    rows = {r['name']: r for r in _summary(folder)}
    assert rows['p1']['status'] == 'failed'
    assert 'not written by retina-vessels' in rows['p1']['error']
    assert rows['p2']['status'] in ('done', 'ungradable')
    assert res['failed'] == 1
    # Our own outputs are ours to redo.
    again = run_batch([folder], folder, av=False, overwrite=True)
    assert again['failed'] == 1
    assert (folder / 'p2_prob.png').is_file()
    # A summary.csv that is not ours is not replaced either.
    other = tmp_path / 'other'
    _photos(other, ['p3'])
    (other / 'summary.csv').write_text('my,own,table\n')
    with pytest.raises(RetinaVesselsError, match='not written by'):
        run_batch([other], other, av=False)
    assert (other / 'summary.csv').read_text() == 'my,own,table\n'


@pytest.mark.parametrize('case', ['file', 'dev_null'])
def test_out_that_is_a_file_is_one_line_before_work(case, tmp_path, capsys):
    from napari_retina_vessels.cli import main

    _photos(tmp_path / 'in', ['p1'])
    out = tmp_path / 'out.txt' if case == 'file' else Path('/dev/null')
    if case == 'file':
        out.write_text('x')
    assert main(['segment', str(tmp_path / 'in'), '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert 'error: the output folder' in err and 'Traceback' not in err


def test_broken_model_fails_the_batch_once(tmp_path, monkeypatch):
    from napari_retina_vessels import _weight_files, weights
    from napari_retina_vessels.batch import run_batch
    from napari_retina_vessels.errors import WeightsError

    _photos(tmp_path / 'in', ['p1', 'p2', 'p3'])
    bad = tmp_path / 'broken.pt'
    bad.write_bytes(b'not a torch file at all')
    calls = []
    real = weights.load_weights_file
    monkeypatch.setattr(
        weights, 'load_weights_file', lambda p: (calls.append(p), real(p))[1]
    )
    with pytest.raises(WeightsError) as info:
        run_batch(
            [tmp_path / 'in'], tmp_path / 'out', model=str(bad), av=False
        )
    _one_line(info.value)
    assert len(calls) == 1
    # A failing download: tried once, not once per photo.
    tries = []

    def dead(*a, **k):
        tries.append(a)
        raise WeightsError('cannot download x (test)')

    monkeypatch.setattr(_weight_files, 'download', dead)
    monkeypatch.setenv('RETINA_VESSELS_CACHE_DIR', str(tmp_path / 'cache'))
    with pytest.raises(WeightsError):
        run_batch(
            [tmp_path / 'in'], tmp_path / 'out2', model='unet-drive', av=False
        )
    assert len(tries) == 1


# -- 9. one-line errors, checked before work -------------------------------


def test_evaluate_json_pointing_at_a_folder_fails_before_work(
    tmp_path, capsys, monkeypatch
):
    from napari_retina_vessels import evaluation
    from napari_retina_vessels.cli import main

    ran = []
    monkeypatch.setattr(
        evaluation, 'evaluate_dataset', lambda *a, **k: ran.append(1)
    )
    (tmp_path / 'report').mkdir()
    assert (
        main(['evaluate', str(tmp_path), '--json', str(tmp_path / 'report')])
        == 1
    )
    assert not ran
    err = capsys.readouterr().err
    assert 'is a folder' in err and 'Traceback' not in err


def test_npy_declaring_2e6_squared_is_refused_without_allocating(tmp_path):
    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.evaluation import read_prediction

    header = (
        "{'descr': '<f4', 'fortran_order': False, "
        "'shape': (2000000, 2000000), }"
    )
    header += ' ' * (117 - len(header)) + '\n'
    path = tmp_path / 'bomb.npy'
    path.write_bytes(
        b'\x93NUMPY\x01\x00'
        + len(header).to_bytes(2, 'little')
        + header.encode()
        + b'\0' * 64
    )
    assert path.stat().st_size == 192
    with pytest.raises(ImageReadError, match='declares') as info:
        read_prediction(path)
    _one_line(info.value)


def test_safe_weights_asking_for_huge_layers_fail_before_allocating(tmp_path):
    import tracemalloc

    import torch

    from napari_retina_vessels.errors import WeightsError
    from napari_retina_vessels.models import build_model
    from napari_retina_vessels.weights import load_model

    small = build_model('wnet', channels=[4, 8])
    path = tmp_path / 'huge.pt'
    torch.save(
        {
            'arch': 'wnet',
            'arch_kwargs': {'channels': [4096, 16384]},
            'task': 'vessels',
            'state_dict': small.state_dict(),
        },
        path,
    )
    tracemalloc.start()
    try:
        with pytest.raises(WeightsError, match='does not match') as info:
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _one_line(info.value)
    assert peak < 64 << 20


@pytest.mark.parametrize('tile', [0, -5, 10**9, 2.5, True])
def test_invalid_tile_is_one_line_before_work(tile, monkeypatch):
    from napari_retina_vessels import segment, weights
    from napari_retina_vessels.errors import InvalidOptionError

    monkeypatch.setattr(weights, 'load_model', None)  # never reached
    with pytest.raises(InvalidOptionError, match='tile') as info:
        segment(_fundus(), av=False, tile=tile)
    _one_line(info.value)


# -- 12. smaller ones ------------------------------------------------------


def test_formula_like_file_name_is_not_a_formula_in_the_csv(tmp_path):
    from napari_retina_vessels.batch import run_batch

    (src,) = _photos(tmp_path / 'in', ['p'])
    evil = src.with_name('=HYPERLINK(1).png')
    src.rename(evil)
    run_batch([evil], tmp_path / 'out', av=False)
    text = (tmp_path / 'out' / 'summary.csv').read_text()
    assert "'=HYPERLINK(1)" in text
    assert '\n=' not in text and ',=' not in text


def test_jpeg_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    from napari_retina_vessels.io import imread

    img = np.zeros((40, 60, 3), np.uint8)
    img[:10, :20] = 255  # a bright corner, top left as stored
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    pil.save(tmp_path / 'r.jpg', exif=exif, quality=95)
    got = imread(tmp_path / 'r.jpg')
    assert got.shape == (60, 40, 3)
    assert got[:10, -10:].mean() > 200  # the corner is now top right


def test_16_bit_ppm_keeps_16_bits(tmp_path):
    import gzip

    from napari_retina_vessels.io import imread

    img = (np.arange(30 * 20 * 3, dtype=np.uint16) * 37).reshape(30, 20, 3)
    data = b'P6\n20 30\n65535\n' + img.astype('>u2').tobytes()
    (tmp_path / 'a.ppm').write_bytes(data)
    (tmp_path / 'a.ppm.gz').write_bytes(gzip.compress(data))
    for name in ('a.ppm', 'a.ppm.gz'):
        got = imread(tmp_path / name)
        assert got.dtype == np.uint16 and np.array_equal(got, img)


def test_empty_fov_mask_is_not_a_perfect_score(tmp_path):
    from napari_retina_vessels.evaluation import evaluate_dataset
    from napari_retina_vessels.io import imwrite

    root = tmp_path / 'ds'
    for name, empty in (('a', False), ('b', True)):
        photo = _fundus(seed=ord(name))
        imwrite(root / 'images' / f'{name}.png', photo)
        imwrite(root / 'vessels' / f'{name}.png', photo[..., 1] < 60)
        fov = np.zeros(photo.shape[:2], bool) if empty else photo.sum(-1) > 30
        imwrite(root / 'masks' / f'{name}.png', fov)
        imwrite(
            tmp_path / 'pred' / f'{name}.png',
            (photo[..., 1] < 60).astype(np.uint8) * 255,
        )
    report = evaluate_dataset(root, predictions=tmp_path / 'pred')
    rows = {r['name']: r for r in report['images']}
    assert 'empty' in rows['b']['error']
    assert rows['b'].get('f1') is None
    assert report['per_image_mean']['f1'] == pytest.approx(rows['a']['f1'])


def test_messages_say_the_right_thing():
    from napari_retina_vessels.errors import ImageReadError
    from napari_retina_vessels.io import imread

    with pytest.raises(ImageReadError) as info:
        imread('/dev/zero')
    assert 'does not exist' not in str(info.value)
    assert 'device' in str(info.value)
    with pytest.raises(ImageReadError, match='does not exist'):
        imread('/nonexistent/photo.png')
