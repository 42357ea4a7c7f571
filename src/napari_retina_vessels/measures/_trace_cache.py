"""The last class maps traced, kept for the next measurement.

A grader's correction measures the photo again: excluding a segment
leaves every class map as it was, flipping one moves pixels between the
artery and vein maps only (the unlabelled vessels' map is unchanged).
``graph.trace_segments`` keeps each class map's measured segments here,
keyed by what they are computed from, and measures again only the class
maps that changed: the same numbers as tracing everything again, since
the segments of one class map depend on nothing else.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

__all__ = ['_PATHS', '_TRACED', '_class_key', '_maps_key']


def _digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        if a is None:
            h.update(b'none')
            continue
        a = np.ascontiguousarray(a)
        if a.dtype == bool:
            # Eight times fewer bytes to hash.
            a = np.packbits(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.data)
    return h.hexdigest()


def _maps_key(vessels, soft, label_map) -> tuple:
    """What every class map's segments depend on besides its own pixels:
    the vessel map, the probability map and whether there are classes
    (a class map's pixels of other classes are background to it)."""
    return (vessels.shape, label_map is None, _digest(vessels, soft))


def _class_key(cls, own, label_map) -> str:
    """A class map's own pixels and which of them are uncertain (3):
    what its segments' labels come from."""
    if label_map is None or cls in (None, 0):
        return _digest(own)
    return _digest(own, own & (label_map == 3))


class _Kept:
    """A few (key, value) pairs, the last used kept (thread-safe)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: list = []
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            for i, (k, v) in enumerate(self._items):
                if k == key:
                    self._items.append(self._items.pop(i))
                    return v
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items = [(k, v) for k, v in self._items if k != key][
                -(self._size - 1) :
            ] + [(key, value)]

    def clear(self) -> None:
        with self._lock:
            self._items = []


#: Measured segments of the last class maps: three classes of two photos.
_TRACED = _Kept(6)
#: Kept paths of the last class maps (what corrections snap to: the maps
#: as given, then as corrected), three classes of two photos.
_PATHS = _Kept(6)
