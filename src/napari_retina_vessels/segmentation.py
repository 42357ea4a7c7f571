"""What segmenting a photo returns: :class:`Segmentation`.

The maps, their provenance and the quality grade, and what is needed to
redo the threshold-dependent parts without running a model again. Made
by :mod:`.pipeline` (which re-exports these names) and
:mod:`.batch.batching`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .metrics.counting import check_threshold
from .preprocessing import resize
from .quality import Quality

__all__ = ['Segmentation', 'stack_segmentations', 'threshold_vessels']


@dataclass(frozen=True)
class Segmentation:
    """Result of :func:`segment`.

    Attributes
    ----------
    probability : (H, W) float32 in [0, 1], zero outside the FOV
    vessels : (H, W) bool, ``probability >= threshold``
    artery_vein : (H, W) uint8 or None
        0 background, 1 artery, 2 vein, 3 uncertain; None when ``av`` was
        off.
    fov : (H, W) bool
    model, av_model : str
        Names (registry names or file stems) of the models used.
    weights_sha256, av_weights_sha256 : str
    device : str
    threshold : float
    seconds : float
        Wall-clock time of the whole call.
    artery_probability : (H, W) float32 or None
        Probability that a pixel is artery rather than vein, inside the
        FOV (0 outside), after the per-segment vote at ``threshold``;
        meaningful on vessel pixels.
    quality : Quality or None
        Image-quality grade (``quality.grade`` is ``'good'``,
        ``'usable'`` or ``'ungradable'``, with ``score`` and
        ``reasons``); an ungradable photo's maps are not a result.
    precision : str
        The arithmetic the networks ran in: ``'fp32'``, ``'bf16'``,
        ``'fp16'`` or ``'int8'`` (the resolved value of the ``precision``
        option; int8 with the OpenVINO engine's quantised files).
    engine : str
        The inference engine that ran them: ``'torch'`` or
        ``'openvino'`` (the resolved ``engine`` option, ``engines.py``).

    Use :meth:`with_threshold` for another threshold: it redoes the
    vessel map and the artery/vein vote without running a model.
    """

    probability: npt.NDArray[np.float32]
    vessels: npt.NDArray[np.bool_]
    artery_vein: npt.NDArray[np.uint8] | None
    fov: npt.NDArray[np.bool_]
    model: str
    weights_sha256: str
    device: str
    seconds: float
    threshold: float
    av_model: str | None = None
    av_weights_sha256: str | None = None
    artery_probability: npt.NDArray[np.float32] | None = None
    #: The quality gate's grade (:class:`~.quality.Quality`): whether
    #: this vessel map is a result; None for stacks.
    quality: Quality | None = None
    precision: str = 'fp32'
    engine: str = 'torch'  # [#33 engine]
    # What with_threshold needs to redo the A/V vote as a fresh run
    # would: one _Canonical per photo (several for a stack).
    _canonical: tuple[_Canonical, ...] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )

    def with_threshold(self, threshold: float) -> Segmentation:
        """The same result at another vessel threshold, without a rerun.

        Everything that depends on the threshold is redone: the vessel
        map and, when artery/vein labels were made with the per-segment
        vote, the vote itself (the segments are cut from the thresholded
        map), so the result equals a fresh ``segment(..., threshold=t)``
        with the same options.

        Raises
        ------
        InvalidOptionError
            When *threshold* is not between 0 and 1.
        """
        thr = check_threshold(threshold)
        vessels = threshold_vessels(self.probability, thr, self.fov)
        p_art, labels = self.artery_probability, self.artery_vein
        if labels is not None:
            from .av import label_av

            if self._canonical is not None:
                fovs = self.fov if vessels.ndim == 3 else [self.fov]
                p_art = [
                    c.artery_probability(thr, f)
                    for c, f in zip(self._canonical, fovs, strict=True)
                ]
                p_art = p_art[0] if vessels.ndim == 2 else np.stack(p_art)
            labels = label_av(vessels, p_art)
        return dataclasses.replace(
            self,
            vessels=vessels,
            threshold=thr,
            artery_vein=labels,
            artery_probability=p_art,
        )

    def metadata(self) -> dict[str, Any]:
        """Provenance as a plain dict (for layer metadata, CSV rows)."""
        return {
            'model': self.model,
            'weights_sha256': self.weights_sha256,
            'av_model': self.av_model,
            'av_weights_sha256': self.av_weights_sha256,
            'device': self.device,
            'arithmetic': self.precision,
            'threshold': self.threshold,
            'seconds': round(self.seconds, 3),
            **(self.quality.row() if self.quality is not None else {}),
        }


@dataclass(frozen=True)
class _Canonical:
    """The maps of one photo at the canonical scale, before any
    threshold: what the A/V vote needs to be redone."""

    probability: np.ndarray  # vessel probability, canonical scale
    artery: np.ndarray  # artery probability before the vote
    consistency: str  # one of av.VOTES

    def artery_probability(
        self, threshold: float, fov: np.ndarray, graph=None
    ) -> np.ndarray:
        """Full-size artery probability at *threshold* after the vote
        ``consistency`` (*graph*, when given, is ``av.vessel_graph`` of
        the map at *threshold*), 0 outside *fov*."""
        p_s = self.artery
        if self.consistency != 'none':
            from .av import vote

            p_s = vote(
                self.probability >= threshold, p_s, self.consistency, graph
            )
        p_art = np.clip(resize(p_s, fov.shape), 0, 1).astype(np.float32)
        p_art *= fov
        return p_art


def threshold_vessels(
    probability: np.ndarray, threshold: float, fov: np.ndarray | None = None
) -> np.ndarray:
    """Binary vessel map ``probability >= threshold`` inside the FOV.

    Raises
    ------
    InvalidOptionError
        When *threshold* is not between 0 and 1.
    """
    out = np.asarray(probability) >= check_threshold(threshold)
    if fov is not None:
        out &= np.asarray(fov, bool)
    return out


def stack_segmentations(results: list[Segmentation]) -> Segmentation:
    """One :class:`Segmentation` whose arrays are (N, H, W) stacks.

    Provenance comes from the first result; ``seconds`` is the total.
    Thresholding and A/V labelling work pixel by pixel, so the stacked
    result re-thresholds like a single one.
    """
    first = results[0]

    def stack(name: str):
        arrays = [getattr(r, name) for r in results]
        return None if arrays[0] is None else np.stack(arrays)

    return Segmentation(
        probability=stack('probability'),
        vessels=stack('vessels'),
        artery_vein=stack('artery_vein'),
        fov=stack('fov'),
        model=first.model,
        weights_sha256=first.weights_sha256,
        device=first.device,
        seconds=sum(r.seconds for r in results),
        threshold=first.threshold,
        av_model=first.av_model,
        av_weights_sha256=first.av_weights_sha256,
        artery_probability=stack('artery_probability'),
        precision=first.precision,
        engine=first.engine,
        _canonical=(
            sum((r._canonical for r in results), ())
            if all(r._canonical for r in results)
            else None
        ),
    )


def unsegmented(fov, quality, refs, dev, threshold, t0) -> Segmentation:
    """The result of a photo the quality gate's cheap verdict ended
    before any network ran: empty maps, the grade, and the provenance of
    the models (*refs*: task -> ``weights.ModelRef``) that were not
    run."""
    h, w = fov.shape
    av = refs.get('av')
    zeros = np.zeros((h, w), np.float32)
    return Segmentation(
        probability=zeros,
        vessels=np.zeros((h, w), bool),
        artery_vein=np.zeros((h, w), np.uint8) if av else None,
        fov=fov,
        model=refs['vessels'].name,
        weights_sha256=refs['vessels'].sha256,
        device=str(dev),
        seconds=time.perf_counter() - t0,
        threshold=float(
            refs['vessels'].info.get('threshold', 0.5)
            if threshold is None
            else threshold
        ),
        av_model=av.name if av else None,
        av_weights_sha256=av.sha256 if av else None,
        artery_probability=zeros.copy() if av else None,
        quality=quality,
    )
