"""The per-province stages of a build as dask.distributed tasks.

:func:`service.pipeline.process_province` (read, locate + H3, score, panel partials, write the
scored persons, partial sums) runs on the workers of a dask cluster, one task per province
file; the partial sums come back to the build process, which merges them in file order,
protects and publishes exactly as a single-process build does (same bytes).

Workers read the person files and write the scored persons into the version being built, so
on a real cluster every worker sees the same paths: the data directory and the input files on
shared storage (NFS), mounted at the same place on every machine. Each worker loads the tambon
locator once, from the locator cache of that shared directory (built by the build process).

No Flask or click here: the command (``chipao aggregate --scheduler / --workers``) opens a
:class:`DaskProvinces` and hands it to :func:`service.pipeline.build_version`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
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


class DaskProvinces:
    """Runs the province stages on a dask.distributed ``Client``."""

    def __init__(self, client: Any, *, boundaries_dir: str | Path, locator_cache_dir: str | Path
                 ) -> None:
        self.client = client
        self.boundaries_dir = str(boundaries_dir)
        self.locator_cache_dir: Path | None = Path(locator_cache_dir)

    def provinces(self, files: list[Path], outputs: list[Path], *, spec_obj: Any, prog: Any,
                  previous: Version | None) -> Iterator[ProvinceResult]:
        """Submit every province, then hand the results back in file order (each released
        from the cluster as soon as it is taken)."""
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

    @classmethod
    @contextlib.contextmanager
    def connect(cls, settings: SettingsLike, *, scheduler: str | None = None,
                workers: int | None = None) -> Iterator[DaskProvinces]:
        """A running cluster's scheduler (``tcp://host:8786``) or a local cluster of
        ``workers`` processes (one thread each: the stages use their own threads)."""
        settings = as_settings(settings)
        from distributed import Client, LocalCluster

        cache = Path(settings.data_dir) / "cache"
        if scheduler:
            with Client(scheduler) as client:
                log.info("dask scheduler %s: %d workers", scheduler,
                         len(client.scheduler_info().get("workers", {})))
                yield cls(client, boundaries_dir=settings.boundaries_dir,
                          locator_cache_dir=cache)
            return
        n = int(workers or 2)
        # polars' thread pool per worker: the machine's cores shared out, not each worker all
        threads = max(1, (os.cpu_count() or 1) // n)
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.WARNING,
                          env={"POLARS_MAX_THREADS": str(threads)}) as cluster, \
                Client(cluster) as client:
            yield cls(client, boundaries_dir=settings.boundaries_dir, locator_cache_dir=cache)
