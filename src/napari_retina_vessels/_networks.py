"""The networks of one engine run (:mod:`.engine`): resolved and fetched
before the first photo, built only when the first photo reaches them,
run stage by stage, and any failure of theirs named once
(:class:`~.errors.ModelError`: every photo would fail alike)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from .errors import ModelError, RetinaVesselsError
from .options import SegmentOptions
from .progress import Progress


class _Networks:
    """The loaded networks of one run and what they were asked."""

    def __init__(self, options: SegmentOptions) -> None:
        from .weights import resolve

        self.options = options
        self.refs = {'vessels': resolve(options.model, 'vessels')}
        if options.av:
            self.refs['av'] = resolve(options.av_model, 'av')

    def load(self) -> Generator[Progress, None, None]:
        """Choose the device, fetch (with progress) and load."""
        from ._allocator import tune_allocator
        from .engines import resolve_engine
        from .inference import choose_device, default_batch_size
        from .weights import iter_fetch, model_header

        # Opt-in here (RETINA_VESSELS_TUNE_MALLOC=1): this may be napari's
        # or a user's process; the CLI and Dask workers tune by default.
        tune_allocator(default=False)
        opts = self.options
        self.device = choose_device(opts.device)
        # 'auto' resolved once: both stages run, and the result records,
        # the same arithmetic.
        self.engine, self.precision = resolve_engine(
            opts.engine, opts.precision, self.device, self.refs
        )
        self.batch_size = opts.batch_size or default_batch_size(self.device)
        yield Progress('weights', 0, 1)
        for ref in self.refs.values():
            if ref.registered:
                yield from iter_fetch(ref.name)  # download progress
        # What the photos need before a network runs comes from the
        # files' headers; the networks are built (compiled) only for the
        # first photo that reaches them (_built): a blank frame or a tiny
        # field of view, which the quality gate ends early, loads none.
        self.net = self.av_net = self.av_info = None
        self.info = {
            **model_header(self.refs['vessels'], task='vessels'),
            'engine': self.engine,
        }
        if opts.av:
            self.av_info = {
                **model_header(self.refs['av'], task='av'),
                'engine': self.engine,
            }
        yield Progress('weights', 1, 1)
        self.threshold = float(
            self.info['threshold']
            if opts.threshold is None
            else opts.threshold
        )

    def predict(
        self,
        stage: str,
        xs: list[np.ndarray],
        log: Any,
        views: int | None = None,
    ) -> Generator[Progress, None, list[np.ndarray]]:
        """Logits of *xs* through one stage ('vessels', 'artery/vein'),
        with the stage's flip views unless *views* is given."""
        from .inference import predict, predict_many

        self._built()
        vessels = stage == 'vessels'
        net = self.net if vessels else self.av_net
        opts = self.options
        if views is None:
            views = opts.vessel_views if vessels else opts.av_views
        try:
            if len(xs) == 1:
                # One photo: tile by tile, with progress.
                out = yield from predict(
                    net,
                    xs[0],
                    device=self.device,
                    views=views,
                    tile=opts.tile,
                    stage=stage,
                    precision=self.precision,
                )
                return [out]
            outs, self.batch_size = predict_many(
                net,
                xs,
                device=self.device,
                views=views,
                tile=opts.tile,
                batch_size=self.batch_size,
                log=log,
                precision=self.precision,
            )
            return outs
        except RetinaVesselsError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure of the net
            _raise_if_out_of_memory(err, self.device)
            raise self.failed(stage, err) from err

    def _built(self) -> None:
        """Load the networks, once, when the first photo needs them."""
        if self.net is not None:
            return
        from .engines import load_net

        run = {
            'device': self.device,
            'engine': self.engine,
            'precision': self.precision,
            'with_av': bool(self.options.av),
        }
        self.net, self.info = load_net(
            self.refs['vessels'], task='vessels', **run
        )
        if self.options.av:
            self.av_net, self.av_info = load_net(
                self.refs['av'], task='av', **run
            )

    def failed(self, stage: str, err: BaseException) -> ModelError:
        """The one error for a network that fails: a batch stops once
        (it would fail every photo), the widget shows one line."""
        ref = self.refs['vessels' if stage == 'vessels' else 'av']
        reason = str(err).splitlines()[0] if str(err) else ''
        return ModelError(
            f'the {stage} network of model {ref.name!r} failed on '
            f'{self.device} ({type(err).__name__}: {reason[:200]}); every '
            'photo would fail alike: check the weights file, or try '
            'another device (--device cpu)'
        )


def _raise_if_out_of_memory(err: BaseException, device: Any) -> None:
    """A DeviceError, in the words ``predict_many`` uses, when *err*
    says that *device* ran out of memory for a single photo."""
    from .errors import DeviceError
    from .inference import is_out_of_memory

    if isinstance(err, MemoryError) or is_out_of_memory(err):
        if getattr(device, 'type', '') == 'cuda':
            import torch

            torch.cuda.empty_cache()
        raise DeviceError(
            f'{device} ran out of memory for a single photo; use a smaller '
            'tile or another device (--device cpu)'
        ) from err
