"""Map artefacts of a dataset version, kept on disk so that a restarted server reuses them.

What the public maps of a version need is computed once (``chipao maps warm``, the end of
``chipao build``, or the server's start-up in the background: service.usecases.map_warmup)
and written here, under ``<data_dir>/cache/artefacts/<format>/<dataset>/<version>/``:

* ``mask-<level>-k<min>.parquet``: the public suppression decisions of a level, taken over
  the whole country (service.access.views.public_mask: 40-60 s for national H3 r9);
* ``values-<level>-<scope>.json.gz``: the public values payload of a map as it first opens
  (default measure, classes and classifier), the exact bytes the values route sends.

Versions never change, so an artefact never goes stale for its data; ``<format>`` is a
digest of the code and the measure catalogue that make them (:func:`code_format`), so a
deployment of other code never serves artefacts built by the old one (the old directories
are removed by :meth:`Artefacts.prune`). Writes are atomic (a temporary file renamed), so a
reader never sees half a file and two processes building the same artefact agree.

Pure: no Flask. Only the public view is written (never detail rows of a province).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import threading
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


#: sources that cannot change an artefact's content (routes, commands, benchmarks, data
#: building: a new version gets new artefacts anyway); every other source of the service is
#: in the digest, so a change anywhere else (disclosure, payloads, legends, stores) rebuilds
NOT_IN_FORMAT = ("api/", "commands/", "bench/", "demo/", "export/", "ingest/", "followup/",
                 "store/migrations/", "cli.py", "jobs.py", "distributed.py", "pipeline.py",
                 "usecases/map_warmup.py")


@functools.lru_cache(maxsize=1)
def code_format() -> str:
    """Digest of the Python sources that shape the artefacts (all but :data:`NOT_IN_FORMAT`)
    and of the measure catalogue: artefacts built by other code are never read."""
    from service.render.catalogue import MAPS_DIR

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).as_posix().startswith(NOT_IN_FORMAT):
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    catalogue = MAPS_DIR / "measures.json"
    if catalogue.exists():
        digest.update(catalogue.read_bytes())
    return digest.hexdigest()[:16]


def _safe(part: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(part))


class Artefacts:
    """Artefact files of dataset versions under one directory (one per data directory)."""

    def __init__(self, directory: str | Path, *, fmt: str | None = None):
        self.root = Path(directory)
        self.format = fmt or code_format()
        self.directory = self.root / self.format

    def path(self, dataset: str, version: str, name: str) -> Path:
        return self.directory / _safe(dataset) / _safe(version) / _safe(name)

    # -- bytes -----------------------------------------------------------------------------
    def read_bytes(self, dataset: str, version: str, name: str) -> bytes | None:
        try:
            return self.path(dataset, version, name).read_bytes()
        except FileNotFoundError:
            return None

    def write_bytes(self, dataset: str, version: str, name: str, data: bytes) -> None:
        """Write atomically; a read-only or full disk only logs (the maps still work)."""
        path = self.path(dataset, version, name)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            tmp.replace(path)  # atomic
        except OSError:
            log.warning("map artefact %s not written", path, exc_info=True)
            tmp.unlink(missing_ok=True)

    # -- tables ----------------------------------------------------------------------------
    def read_frame(self, dataset: str, version: str, name: str) -> pd.DataFrame | None:
        path = self.path(dataset, version, name)
        if not path.exists():
            return None
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError):  # damaged (disk full): built again
            log.warning("map artefact %s is unreadable: built again", path, exc_info=True)
            return None

    def write_frame(self, dataset: str, version: str, name: str, frame: pd.DataFrame
                    ) -> None:
        path = self.path(dataset, version, name)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(tmp, compression="zstd")
            tmp.replace(path)
        except OSError:
            log.warning("map artefact %s not written", path, exc_info=True)
            tmp.unlink(missing_ok=True)

    def exists(self, dataset: str, version: str, name: str) -> bool:
        return self.path(dataset, version, name).exists()

    def names(self, dataset: str, version: str) -> list[str]:
        folder = self.directory / _safe(dataset) / _safe(version)
        return sorted(p.name for p in folder.glob("*") if not p.name.startswith("."))

    def prune(self, keep: dict[str, set[str]] | None = None) -> list[Path]:
        """Remove artefacts of other code formats and (with ``keep``: dataset -> version
        ids still stored) of versions no longer stored; returns what was removed."""
        removed: list[Path] = []
        if self.root.exists():
            for other in self.root.iterdir():
                if other.is_dir() and other.name != self.format:
                    shutil.rmtree(other, ignore_errors=True)
                    removed.append(other)
        if keep is not None and self.directory.exists():
            for folder in self.directory.iterdir():
                versions = keep.get(folder.name)
                for vdir in folder.iterdir() if folder.is_dir() else ():
                    if versions is None or vdir.name not in {_safe(v) for v in versions}:
                        shutil.rmtree(vdir, ignore_errors=True)
                        removed.append(vdir)
        return removed


def mask_name(level: str, min_households: int) -> str:
    return f"mask-{level}-k{int(min_households)}.parquet"


def values_name(level: str, scope: str | None, context: str = "") -> str:
    """File of a first-open values payload; ``context`` = what else it depends on (the
    disclosure threshold, the boundary files' versions)."""
    digest = hashlib.sha256(context.encode()).hexdigest()[:8]
    return f"values-{level}-{scope or 'all'}-{digest}.json.gz"
