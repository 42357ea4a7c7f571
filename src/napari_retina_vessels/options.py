"""The options of a segmentation, checked once: :class:`SegmentOptions`.

Every driver of the engine (the Segment widget, the console helper,
``segment()``, ``retina-vessels segment``/``measure``, Dask workers)
builds one frozen :class:`SegmentOptions`; its checks are the only
place where a threshold, a number of flip views, a precision or a batch
size is judged. The CLI flags (``cli._options.add_arguments``) and the
widget's choices (:func:`choices`) come from here, and
:meth:`SegmentOptions.record` is what every marker (``NAME.done.json``,
``NAME.measures.json``) stores, with the weights' sha256.

Fields, one spelling each (see :data:`FIELDS`): ``model``, ``av``,
``av_model``, ``views``, ``threshold``, ``precision``, ``device``,
``batch_size``, ``consistency``, ``tile``. A new option is one field
here (its default, its check in ``__post_init__``, its line in
:data:`FIELDS`, and, when it changes the maps, its key in ``record``);
the place for the engine choice of the int8 CPU work ('auto', 'torch',
'openvino') is marked below.

Old spellings still accepted by :meth:`SegmentOptions.from_kwargs`,
with a ``DeprecationWarning``: ``tta`` (True: 4 views in both stages),
``vessel_views`` and ``av_views`` (one stage's views: now
``views=(vessel, av)``).

Torch-free: importing this module loads neither torch nor Qt.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

from ._choices import one_of
from .contrast_views import (
    CONTRAST_VIEWS,
    DEFAULT_VIEW,
    check_contrast_view,
)
from .engines import ENGINES, check_engine
from .errors import InvalidOptionError

__all__ = [
    'AV_VIEWS',
    'FIELDS',
    'PRECISIONS',
    'SegmentOptions',
    'TILE_RANGE',
    'VESSEL_VIEWS',
    'VIEWS',
    'VOTES',
    'check_batch_size',
    'check_precision',
    'check_threshold',
    'check_views',
    'choices',
]

#: Numbers of flip views a stage may average: the photo; it and its
#: left-right mirror; those and their up-down mirrors.
VIEWS = (1, 2, 4)
#: Flip views each stage averages by default (the photo and its
#: left-right mirror): the vessel map gains 0.0004 validation AUC (0.0008
#: on the DRIVE test split) and A/V decisions gain too, each at the cost
#: of one more pass of that stage's network. See docs/results.md.
VESSEL_VIEWS = 2
AV_VIEWS = 2
#: Arithmetic the networks may run in: ``auto`` (the fastest faithful
#: one for the device: bfloat16 on CUDA, float16 on CUDA without
#: bfloat16, bfloat16 on CPUs that compute it natively, float32
#: elsewhere), or one of them forced. The widget and the CLI offer all.
PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')
#: How the A/V labels are made to agree along the vessels (``av.VOTES``).
VOTES = ('graph', 'segment', 'none')
#: Smallest and largest tile side: tiles overlap by 64 pixels, and one
#: side of 8192 already needs gigabytes.
TILE_RANGE = (128, 8192)
#: Largest batch size accepted (photos per forward pass).
MAX_BATCH_SIZE = 1024

#: The fields of :class:`SegmentOptions`, with one line of help each
#: (the CLI's and the widget's tooltips). Reserved: ``engine`` ('auto',
#: 'torch', 'openvino'), added with the int8 CPU engine.
FIELDS = {
    'model': 'vessel model: registry name or weights file',
    'av': 'also classify arteries and veins',
    'av_model': 'artery/vein model: registry name or weights file',
    'views': 'flip views both stages average: 1 is fastest, 2 the photo '
    'and its mirror image (default), 4 adds the up-down mirrors (2x '
    'slower, slightly better); "V,A" sets each stage',
    'threshold': "vessel probability cut-off (default: the model's)",
    'precision': 'arithmetic of the networks: auto (default) is bf16 on '
    'CUDA and on CPUs that compute it natively (1.7x faster there, same '
    'accuracy figures), fp32 elsewhere; fp32 forces float32',
    'device': 'auto, cpu, cuda, cuda:N or mps (default: auto)',
    'batch_size': 'photos per forward pass (default 1 on a CPU, 16 on a GPU)',
    'consistency': 'how A/V labels agree along vessels: graph, segment '
    'or none',
    'tile': 'tile side in pixels for large photos',
    'engine': 'inference engine: auto (default) is OpenVINO on the CPU '
    'when installed (int8 under precision auto), torch elsewhere',
    'force': 'run the networks even on a photo the quality gate ends '
    'early (a blank frame, an empty or tiny field of view)',
    'contrast_view': 'A/V stage: auto (default) adds a CLAHE-equalised '
    'mirror view only for a photo unlike the training photos (contrast, '
    'detail or haze far from theirs: other cameras, hazy or low-contrast '
    'photos); clahe adds it for every photo (a little worse on clean '
    'photos of the training cameras); none averages the photo and its '
    'mirror image. The equalisation adds about 0.1 s per DRIVE-sized '
    'photo that gets it on a CPU core',
}

#: Old keyword spellings still accepted, with a DeprecationWarning.
OLD_NAMES = ('tta', 'vessel_views', 'av_views')


def check_threshold(threshold: Any) -> float:
    """*threshold* as a float, refused unless ``0 < threshold < 1``.

    The one rule for a probability cut-off, used by segmentation, the
    metrics, batches and the CLI: 0 would call every pixel vessel and 1
    none.

    Raises
    ------
    InvalidOptionError
    """
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise InvalidOptionError(
            f'the threshold must be between 0 and 1 (both excluded), got '
            f'{threshold!r}; pass a value such as 0.5'
        )
    return value


def check_views(views: Any) -> int:
    """*views* as an int, refused unless it is 1, 2 or 4.

    Raises
    ------
    InvalidOptionError
    """
    if isinstance(views, bool) or views not in VIEWS:
        raise InvalidOptionError(
            f'the number of flip views must be 1, 2 or 4, got {views!r}'
        )
    return int(views)


def check_precision(precision: Any) -> str:
    """*precision* checked against :data:`PRECISIONS` (any case).

    Raises
    ------
    InvalidOptionError
    """
    return one_of('precision', precision, PRECISIONS)


def check_batch_size(size: Any) -> int | None:
    """*size* as an int from 1 to :data:`MAX_BATCH_SIZE`, or None.

    Raises
    ------
    InvalidOptionError
    """
    if size is None:
        return None
    try:
        ok = int(size) == size and 1 <= size <= MAX_BATCH_SIZE
    except (TypeError, ValueError):
        ok = False
    if isinstance(size, bool) or not ok:
        raise InvalidOptionError(
            f'the batch size must be a whole number from 1 to '
            f'{MAX_BATCH_SIZE}, got {size!r}'
        )
    return int(size)


def _check_tile(tile: Any) -> int:
    lo, hi = TILE_RANGE
    try:
        ok = int(tile) == tile and lo <= tile <= hi
    except (TypeError, ValueError):
        ok = False
    if isinstance(tile, (bool, float)) or not ok:
        raise InvalidOptionError(
            f'tile must be a whole number of pixels from {lo} to {hi}, got '
            f'{tile!r}'
        )
    return int(tile)


def _check_vote(consistency: Any) -> str:
    if consistency is True:
        return 'graph'
    if consistency is False or consistency is None:
        return 'none'
    if isinstance(consistency, str) and consistency in VOTES:
        return consistency
    raise InvalidOptionError(
        f'consistency must be one of {", ".join(VOTES)} (or True/False), '
        f'got {consistency!r}'
    )


def _check_views_pair(views: Any) -> tuple[int, int]:
    """``(vessel, av)`` views from None, an int or a pair."""
    if views is None:
        return VESSEL_VIEWS, AV_VIEWS
    if isinstance(views, str):
        parts = views.replace(' ', '').split(',')
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            nums = None
        if nums is None or len(nums) not in (1, 2):
            raise InvalidOptionError(
                f'views must be 1, 2 or 4, or two of them as "V,A", got '
                f'{views!r}'
            )
        views = nums[0] if len(nums) == 1 else tuple(nums)
    if isinstance(views, (tuple, list)):
        if len(views) != 2:
            raise InvalidOptionError(
                f'views must be one number or a (vessel, av) pair, got '
                f'{views!r}'
            )
        return check_views(views[0]), check_views(views[1])
    n = check_views(views)
    return n, n


def _check_name(value: Any, what: str) -> str:
    import os

    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if value is None:
        value = 'default'
    if not isinstance(value, str) or not value:
        raise InvalidOptionError(
            f'{what} must be a registry name or a weights file, got {value!r}'
        )
    return value


def _check_device(device: Any) -> str:
    text = str(device) if device is not None else 'auto'
    if not text or any(c.isspace() for c in text):
        raise InvalidOptionError(
            f'device must be auto, cpu, cuda, cuda:N or mps, got {device!r}'
        )
    return text


@dataclass(frozen=True)
class SegmentOptions:
    """What a segmentation is asked to do, checked when made.

    Parameters
    ----------
    model, av_model : str
        Registry name, ``'default'``, or the path of a weights file.
    av : bool
        Also classify arteries and veins.
    views : int or (int, int)
        Flip views: one number for both stages, or ``(vessel, av)``;
        stored as the pair. None: the defaults (:data:`VESSEL_VIEWS`,
        :data:`AV_VIEWS`).
    threshold : float, optional
        Vessel probability cut-off, ``0 < t < 1``; the model's own when
        None.
    precision : str
        One of :data:`PRECISIONS`.
    device : str
        ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'``;
        whether it exists is checked when the engine starts.
    batch_size : int, optional
        Photos per forward pass; per device when None.
    consistency : str or bool
        One of :data:`VOTES` (True: ``'graph'``, False: ``'none'``).
    tile : int
        Tile side for large photos, in :data:`TILE_RANGE`.
    contrast_view : str
        One of :data:`~.contrast_views.CONTRAST_VIEWS` (A/V stage only).

    Raises
    ------
    InvalidOptionError
        For any value out of its range, in one sentence.
    """

    model: str = 'default'
    av: bool = True
    av_model: str = 'default'
    views: tuple[int, int] | int | None = None
    threshold: float | None = None
    precision: str = 'auto'
    device: str = 'auto'
    batch_size: int | None = None
    consistency: str = 'graph'
    tile: int = 768
    force: bool = False
    engine: str = 'auto'
    contrast_view: str = DEFAULT_VIEW

    def __post_init__(self) -> None:
        fix = {
            'model': _check_name(self.model, 'model'),
            'av': bool(self.av),
            'av_model': _check_name(self.av_model, 'av_model'),
            'views': _check_views_pair(self.views),
            'threshold': (
                None
                if self.threshold is None
                else check_threshold(self.threshold)
            ),
            'precision': check_precision(self.precision),
            'device': _check_device(self.device),
            'batch_size': check_batch_size(self.batch_size),
            'consistency': _check_vote(self.consistency),
            'tile': _check_tile(self.tile),
            'force': bool(self.force),
            'engine': check_engine(self.engine),
            'contrast_view': check_contrast_view(self.contrast_view),
        }
        for key, value in fix.items():
            object.__setattr__(self, key, value)

    # -- making -----------------------------------------------------------
    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SegmentOptions:
        """Options from keyword arguments, old spellings included.

        ``tta``, ``vessel_views`` and ``av_views`` are accepted with a
        ``DeprecationWarning`` (``vessel_views``/``av_views`` win over
        ``views`` for their stage, as they did). Any other unknown key is
        refused.

        Raises
        ------
        InvalidOptionError
        """
        old = {k: kwargs.pop(k) for k in OLD_NAMES if k in kwargs}
        unknown = sorted(set(kwargs) - set(FIELDS))
        if unknown:
            raise InvalidOptionError(
                f'unknown option {unknown[0]!r}; the options are '
                f'{", ".join(FIELDS)}'
            )
        given = {k: v for k, v in old.items() if v is not None}
        if given:
            warnings.warn(
                f'{", ".join(sorted(given))}: old option name(s); use '
                'views=N or views=(vessel, av)',
                DeprecationWarning,
                stacklevel=3,
            )
            kwargs['views'] = _old_views(kwargs.get('views'), **old)
        return cls(**kwargs)

    def replace(self, **changes: Any) -> SegmentOptions:
        """A copy with *changes* (checked again)."""
        return dataclasses.replace(self, **changes)

    # -- reading ----------------------------------------------------------
    @property
    def vessel_views(self) -> int:
        """Flip views of the vessel stage."""
        return self.views[0]

    @property
    def av_views(self) -> int:
        """Flip views of the A/V stage."""
        return self.views[1]

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain values (views as a list)."""
        out = dataclasses.asdict(self)
        out['views'] = list(self.views)
        return out

    def record(self) -> dict[str, Any]:
        """What a marker stores: the options that decide the maps.

        The model names resolved, with the weights' sha256 (a changed
        weights file then redoes finished photos); the flip views and
        precision as asked. ``consistency`` and ``tile`` are stored only
        when not at their defaults, so markers of earlier releases still
        match. Nothing is downloaded.

        Raises
        ------
        WeightsError
            For an unknown model.
        """
        from .weights import resolve

        ref = resolve(self.model, 'vessels')
        out: dict[str, Any] = {
            'model': ref.key,
            'weights_sha256': ref.sha256,
            'av': self.av,
            'av_model': None,
            'av_weights_sha256': None,
            # 'tta' stays in the record so earlier markers still match.
            'tta': self.views == (4, 4),
            'vessel_views': self.vessel_views,
            'av_views': self.av_views if self.av else None,
            'threshold': self.threshold,
            'precision': self.precision,
        }
        if self.av:
            av_ref = resolve(self.av_model, 'av')
            out['av_model'], out['av_weights_sha256'] = (
                av_ref.key,
                av_ref.sha256,
            )
        if self.consistency != 'graph':
            out['consistency'] = self.consistency
        if self.tile != 768:
            out['tile'] = self.tile
        if self.force:
            out['force'] = True
        if self.engine != 'auto':
            # Recorded when forced: markers of earlier runs, which knew
            # no engine, still match the default.
            out['engine'] = self.engine
        if self.av and self.contrast_view != 'none':
            out['contrast_view'] = self.contrast_view
        return out


def _old_views(
    views: Any,
    *,
    tta: Any = None,
    vessel_views: Any = None,
    av_views: Any = None,
) -> tuple[int, int]:
    """``(vessel, av)`` from *views* and the old spellings."""
    if views is not None:
        vessel, artery_vein = _check_views_pair(views)
    elif tta is not None and tta is not False:
        vessel = check_views(4 if tta is True else tta)
        artery_vein = 4 if vessel == 4 else AV_VIEWS
    else:
        vessel, artery_vein = VESSEL_VIEWS, AV_VIEWS
    if vessel_views is not None:
        vessel = check_views(vessel_views)
    if av_views is not None:
        artery_vein = check_views(av_views)
    return vessel, artery_vein


# -- the widget (the CLI's flags: cli/_options.py) ---------------------------


def choices(name: str) -> tuple:
    """The values a widget offers for option *name* (``views``,
    ``precision``, ``consistency``)."""
    table = {
        'views': VIEWS,
        'precision': PRECISIONS,
        'consistency': VOTES,
        'engine': ENGINES,
        'contrast_view': CONTRAST_VIEWS,
    }
    try:
        return table[name]
    except KeyError:
        raise InvalidOptionError(
            f'option {name!r} has no fixed choices; those with choices are '
            f'{", ".join(table)}'
        ) from None
