"""The one cache policy of the app: a thread-safe LRU bounded in items or in bytes.

Every cache of the web layer (response bodies, public views, home figures, map values) is
one of these, owned by :class:`service.api.services.Services`. Values must never change
once stored (keys hold the resolved version id, never "current").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """``max_items`` entries, or ``max_bytes`` with ``sizeof(value)`` the size of each."""

    def __init__(self, *, max_items: int | None = None, max_bytes: int | None = None,
                 sizeof: Callable[[V], int] | None = None) -> None:
        if (max_items is None) == (max_bytes is None):
            raise ValueError("give exactly one of max_items and max_bytes")
        if max_bytes is not None and sizeof is None:
            raise ValueError("a cache bounded in bytes needs sizeof")
        self.max_items, self.max_bytes, self.sizeof = max_items, max_bytes, sizeof
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            self._items.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V) -> V:
        """Store ``value`` (the first value stored under a key wins) and return the stored
        value."""
        size = self.sizeof(value) if self.sizeof is not None else 1
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            self._items[key] = (value, size)
            self._bytes += size
            self._evict()
        return value

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """The cached value, or ``build()`` stored (built outside the lock: two threads may
        build the same key; the first stored wins)."""
        found = self.get(key)
        if found is not None:
            return found
        return self.put(key, build())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _evict(self) -> None:
        while len(self._items) > 1 and self._over():
            _, (_, size) = self._items.popitem(last=False)
            self._bytes -= size
        if self._over() and self._items:  # one value larger than the whole cache
            _, (_, size) = self._items.popitem(last=False)
            self._bytes -= size

    def _over(self) -> bool:
        if self.max_items is not None:
            return len(self._items) > self.max_items
        return self._bytes > (self.max_bytes or 0)


def any_size(value: Any) -> int:
    """Size in bytes of a cached response body: bytes, or a tuple of bytes/None."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, tuple):
        return sum(any_size(v) for v in value)
    return 0
