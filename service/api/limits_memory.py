"""The in-memory rate-limit store of one server process (``CHIPAO_RATE_LIMIT_STORAGE_URI``
``memory://``): limits' ``MemoryStorage`` without its timer thread.

``limits.storage.MemoryStorage`` starts a ``threading.Timer`` (0.01 s) to sweep expired
counters whenever the previous one has ended: under load, a new thread every few requests
(a profile of the mixed-traffic benchmark: ~0.5 ms of a 2.5 ms cached answer). Expired
counters are already dropped when read (``MemoryStorage.get``); here the sweep of the
others runs inline, at most once a second. Several processes use Redis (README).
"""

from __future__ import annotations

import time

from limits.storage import MemoryStorage

#: seconds between two sweeps of expired counters
SWEEP_SECONDS = 1.0
SCHEME = "chipao-memory"


class SweepingMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 (limits reads this class attribute)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._last_sweep = time.monotonic()

    # overrides MemoryStorage.__schedule_expiry (its name-mangled attribute)
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_SECONDS:
            self._last_sweep = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def storage_uri(uri: str) -> str:
    """The URI Flask-Limiter gets: ``memory://`` becomes this store, others are kept."""
    return f"{SCHEME}://" if uri.startswith("memory://") else uri
