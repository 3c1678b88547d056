"""Ingest of survey (BMN/จปฐ.) and welfare-registry files: readers, schema, validation,
pseudonymisation. Entry point: :func:`ingest_files` (docs/ingest.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ingest_files(settings: Mapping[str, Any], files: Any, **kwargs: Any) -> Any:
    """See :func:`service.ingest.run.ingest_files` (imported lazily: polars, pyarrow)."""
    from service.ingest.run import ingest_files as _ingest_files

    return _ingest_files(settings, files, **kwargs)
