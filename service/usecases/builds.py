"""Build a dataset version from person files (locate, score, aggregate, store), here or on
a dask cluster, or re-aggregate the current version's persons (``chipao aggregate``).
Plain values in, plain values out; no click."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Build:
    """The version built (or the existing one: ``unchanged``), stage times and seconds."""

    version: Any
    stages: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def unchanged(self) -> bool:
        """The same source files were already stored: no stage ran."""
        return not self.stages


def build(settings: Any, dataset: str, *, persons_dir: Path | None, round: int | None,
          spec: str = "tpmap", programmes: Path | None = None, raster: Path | None = None,
          scheduler: str | None = None, workers: int | None = None,
          progress: bool = True) -> Build:
    """Build ``dataset`` from ``persons_dir`` (default: the current version's persons) for
    ``round`` (default: the current version's); the per-province stages run on a dask
    cluster with ``scheduler`` (tcp://...) or ``workers`` local processes."""
    from service.pipeline import build_version
    from service.store import open_store

    store = open_store(settings)
    if persons_dir is None or round is None:
        current = store.current(dataset)
        persons_dir = persons_dir or Path(current.path)
        round = current.round if round is None else round
    started = time.perf_counter()
    out = Build(None)
    with contextlib.ExitStack() as stack:
        executor = None
        if scheduler or workers:
            from service.distributed import DaskProvinces

            executor = stack.enter_context(DaskProvinces.connect(
                settings, scheduler=scheduler, workers=workers))
        out.version = build_version(settings, dataset=dataset, round=round,
                                    persons_dir=persons_dir, progress=progress, spec=spec,
                                    programmes=programmes, population_raster=raster,
                                    store=store, executor=executor,
                                    on_stage=out.stages.__setitem__)
    out.seconds = time.perf_counter() - started
    return out
