"""The per-province stages of a build as dask.distributed tasks.

:func:`service.pipeline.process_province` (read, locate + H3, score, panel partials, write the
scored persons, partial sums) runs on the workers of a dask cluster, one task per province
file; the partial sums come back to the build process, which merges them in file order,
protects and publishes exactly as a single-process build does (same bytes).

Workers read the person files and write the scored persons into the version being built, so
on a real cluster every worker sees the same paths: the data directory and the input files on
shared storage (NFS), mounted at the same place on every machine. Each worker loads the tambon
locator once, from the locator cache of that shared directory (built by the build process).

Without shared storage (``ship=True``; the default for a ``--scheduler`` build whose versions
go to object storage, ``CHIPAO_DATASETS_URL``) each province's input file and previous-round
persons are sent to the worker (``client.scatter``) and its scored persons come back as bytes,
which the build process writes into the version: workers need only the package (boundaries
included) and a local temporary directory, where each keeps its own locator cache. The same
``process_province`` runs on the same inputs, so the version is the same, byte for byte.

No Flask or click here: the command (``chipao aggregate --scheduler / --workers``) opens a
:class:`DaskProvinces` and hands it to :func:`service.pipeline.build_version`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from service.pipeline import ProvinceResult, process_province
from service.settings import SettingsLike, as_settings
from service.store.catalog import Version

log = logging.getLogger(__name__)


@functools.cache
def _worker_locator(boundaries_dir: str, cache_dir: str) -> Any:
    # once per worker process: loading from the cache is memory-mapped and takes ~0.1 s
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    return TambonLocator(load_level(boundaries_dir, "tambon"), cache_dir=cache_dir)


def province_task(path: str, out: str, spec_obj: Any, prog: Any, previous: Version | None,
                  boundaries_dir: str, cache_dir: str) -> ProvinceResult:
    """One province on a worker (a plain function: dask pickles it by reference)."""
    locator = _worker_locator(boundaries_dir, cache_dir)
    return process_province(Path(path), Path(out), spec_obj=spec_obj, prog=prog,
                            locator=locator, previous=previous)


def shipped_province_task(name: str, data: bytes, before: bytes | None, spec_obj: Any,
                          prog: Any, previous: Version | None, boundaries_dir: str
                          ) -> tuple[ProvinceResult, bytes]:
    """One province whose files travel with the task (no shared directory): the input file
    ``data`` (``<name>.parquet``) and the previous round's persons ``before`` are written to a
    private temporary directory of the worker; the scored persons come back as bytes."""
    locator = _worker_locator(boundaries_dir,
                              str(Path(tempfile.gettempdir()) / "chipao-worker-cache"))
    with tempfile.TemporaryDirectory(prefix="chipao-province-") as tmp:
        src = Path(tmp, "in", f"{name}.parquet")
        src.parent.mkdir()
        src.write_bytes(data)
        if previous is not None:
            previous = dataclasses.replace(previous, path=str(Path(tmp, "previous")))
            if before is not None:
                old = Path(previous.path, "persons", f"{name}.parquet")
                old.parent.mkdir(parents=True)
                old.write_bytes(before)
        out = Path(tmp, "out.parquet")
        result = process_province(src, out, spec_obj=spec_obj, prog=prog, locator=locator,
                                  previous=previous)
        return result, out.read_bytes()


class DaskProvinces:
    """Runs the province stages on a dask.distributed ``Client``."""

    def __init__(self, client: Any, *, boundaries_dir: str | Path, locator_cache_dir: str | Path,
                 ship: bool = False) -> None:
        self.client = client
        self.boundaries_dir = str(boundaries_dir)
        self.locator_cache_dir: Path | None = Path(locator_cache_dir)
        self.ship = ship

    def provinces(self, files: list[Path], outputs: list[Path], *, spec_obj: Any, prog: Any,
                  previous: Version | None) -> Iterator[ProvinceResult]:
        """Submit every province, then hand the results back in file order (each released
        from the cluster as soon as it is taken)."""
        if self.ship:
            yield from self._shipped(files, outputs, spec_obj=spec_obj, prog=prog,
                                     previous=previous)
            return
        futures = [self.client.submit(province_task, str(path), str(out), spec_obj, prog,
                                      previous, self.boundaries_dir, str(self.locator_cache_dir),
                                      key=f"province-{path.stem}-{i}", pure=False)
                   for i, (path, out) in enumerate(zip(files, outputs, strict=True))]
        try:
            for future in futures:
                result = future.result()
                future.release()
                yield result
        finally:
            for future in futures:
                future.cancel()

    def _shipped(self, files: list[Path], outputs: list[Path], *, spec_obj: Any, prog: Any,
                 previous: Version | None) -> Iterator[ProvinceResult]:
        """Provinces with their files sent along, a few ahead of the one being taken (the
        build process holds a bounded number of provinces' bytes, not the whole country)."""
        ahead = 2 * max(1, len(self.client.scheduler_info().get("workers", {})))
        pending: collections.deque = collections.deque()
        todo = iter(zip(files, outputs, strict=True))

        def submit() -> None:
            item = next(todo, None)
            if item is None:
                return
            path, out = item
            old = None if previous is None else Path(previous.path, "persons", path.name)
            before = old.read_bytes() if old is not None and old.exists() else None
            data, = self.client.scatter([path.read_bytes()], hash=False)
            sent = self.client.scatter([before], hash=False)[0] if before is not None else None
            future = self.client.submit(shipped_province_task, path.stem, data, sent, spec_obj,
                                        prog, previous, self.boundaries_dir,
                                        key=f"province-{path.stem}-{len(pending)}-"
                                            f"{os.urandom(4).hex()}", pure=False)
            pending.append((future, out, [data, sent]))

        for _ in range(ahead):
            submit()
        try:
            while pending:
                future, out, inputs = pending.popleft()
                result, scored = future.result()
                future.release()
                for f in inputs:
                    if f is not None:
                        f.release()
                out.write_bytes(scored)
                del scored
                submit()
                yield result
        finally:
            for future, _, inputs in pending:
                future.cancel()
                for f in inputs:
                    if f is not None:
                        f.cancel()

    @classmethod
    @contextlib.contextmanager
    def connect(cls, settings: SettingsLike, *, scheduler: str | None = None,
                workers: int | None = None, ship: bool | None = None
                ) -> Iterator[DaskProvinces]:
        """A running cluster's scheduler (``tcp://host:8786``) or a local cluster of
        ``workers`` processes (one thread each: the stages use their own threads).
        ``ship``: send the files with the tasks (no shared directory); default: for a
        scheduler when versions are kept in object storage (``CHIPAO_DATASETS_URL``)."""
        settings = as_settings(settings)
        from distributed import Client, LocalCluster

        cache = Path(settings.data_dir) / "cache"
        if ship is None:
            ship = bool(scheduler and settings.datasets_url)
        if scheduler:
            with Client(scheduler) as client:
                log.info("dask scheduler %s: %d workers%s", scheduler,
                         len(client.scheduler_info().get("workers", {})),
                         " (files sent with the tasks)" if ship else "")
                yield cls(client, boundaries_dir=settings.boundaries_dir,
                          locator_cache_dir=cache, ship=ship)
            return
        n = int(workers or 2)
        # polars' thread pool per worker: the machine's cores shared out, not each worker all
        threads = max(1, (os.cpu_count() or 1) // n)
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.WARNING,
                          env={"POLARS_MAX_THREADS": str(threads)}) as cluster, \
                Client(cluster) as client:
            yield cls(client, boundaries_dir=settings.boundaries_dir, locator_cache_dir=cache,
                      ship=ship)
