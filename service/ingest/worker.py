"""Start of an ingest worker process (service/ingest/parallel.py), before polars loads.

Each worker validates one batch at a time on one core: polars' thread pool is sized when
polars is imported, so ``POLARS_MAX_THREADS=1`` is set here, ahead of that import (unless the
environment chose a size). Several workers, each with a pool as large as the machine, beside
the importing process's reader and writer threads, would oversubscribe the cores.
"""

from __future__ import annotations

import os


def start(pads: tuple[bytes, bytes] | None, boundaries_dir: str) -> None:
    """Initializer of a worker process: ``pads`` are the HMAC key pads (never the key)."""
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    from service.ingest.parallel import _init

    _init(pads, boundaries_dir)
