"""Versioned dataset store (docs/CONTRACT.md §4): SQL catalog + Parquet files.

``open_store``, ``Store``, ``compare_versions`` and ``Version`` are imported lazily so that
``service.store.users`` stays light to import.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "open_store": "service.store.store",
    "Store": "service.store.store",
    "compare_versions": "service.store.store",
    "Version": "service.store.catalog",
    "Catalog": "service.store.catalog",
}

__all__ = ["Catalog", "Store", "Version", "compare_versions", "open_store"]  # = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'service.store' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
