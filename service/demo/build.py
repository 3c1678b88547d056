"""The demo main job (``chipao demo``): generate the demo panel and build one dataset version
per round, oldest first, so the later rounds carry the panel measures.

Both cores for the generation: the provinces of round 2561 are generated, and then the
later rounds derived from them (service.demo.panel), one province per process; the rounds
are then built oldest first, and the population raster's zonal sums are computed once
(pipeline cache). Everything on disk is reused: a second run finds every round's manifest
and every version (same SHA-256) and returns at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.demo.panel import BASE_ROUND, generate_panel, parse_rounds, round_dir
from service.settings import SettingsLike, as_settings

log = logging.getLogger(__name__)


def source_dir(data_dir: str | Path, seed: int, provinces: list[str] | None) -> Path:
    name = "all" if provinces is None else "-".join(provinces)
    return Path(data_dir) / "demo-source" / f"seed{seed}-{name}-panel"


#: sources (under service/) whose code shapes a stored version: another code builds again
BUILD_SOURCES = ("pipeline.py", "vocabulary.py", "analysis", "geo", "store/store.py")


@functools.lru_cache(maxsize=4)
def build_code_digest(boundaries_dir: str) -> str:
    """Digest of the code (:data:`BUILD_SOURCES`, .py and .json) and of the boundary files
    that make a version from the demo's persons."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    files = [(root, root / name) for name in BUILD_SOURCES]
    files.append((Path(boundaries_dir), Path(boundaries_dir)))
    for base, path in files:
        for f in sorted([path] if path.is_file() else path.rglob("*")):
            if f.is_file() and f.suffix in (".py", ".json", ".parquet", ".csv"):
                digest.update(f.relative_to(base).as_posix().encode())
                digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def _sha(manifest: Path, code: str) -> str:
    """A round's source: its manifest (seed, areas, chain, counts) and the build's code."""
    return hashlib.sha256(manifest.read_bytes() + f"|build code {code}".encode()).hexdigest()


def build_demo(settings: SettingsLike, *, provinces: list[str] | None, seed: int,
               dataset: str, rounds: str | list[int],
               echo: Callable[[str], None] = print, map_artefacts: bool = True,
               workers: int | None = None) -> list[Any]:
    """Generate (or reuse) the demo panel and build its rounds, then the current version's
    map artefacts (``map_artefacts``); returns the versions. ``workers`` > 1 runs the
    per-province stages of the builds in that many processes (the same versions, byte for
    byte: service.pipeline.ProcessProvinces)."""
    settings = as_settings(settings)
    from service.pipeline import ProcessProvinces, build_version
    from service.store.store import open_store

    wanted = parse_rounds(rounds)
    data_dir = Path(settings.data_dir)
    src = source_dir(data_dir, seed, provinces)
    t0 = time.perf_counter()
    chain = parse_rounds([BASE_ROUND, *wanted])
    if not all((round_dir(src, r) / "manifest.json").exists() for r in chain):
        echo(f"generating demo data rounds {', '.join(map(str, chain))} into {src} …")
    # every round's files first, provinces side by side on every core (checked for seed,
    # areas and chain when on disk already)
    generate_panel(wanted, seed=seed, out=src, provinces=provinces)
    echo(f"  rounds {', '.join(map(str, chain))} ready ({time.perf_counter() - t0:,.1f} s)")
    raster: str | Path | None = settings.population_raster or None
    if raster is None:
        # the demo's stand-in for a WorldPop grid: survey-gap flags need a population raster
        from service.demo.raster import ensure_population_raster

        raster = ensure_population_raster(data_dir, settings.boundaries_dir, seed=seed)
    store = open_store(settings)
    executor = (ProcessProvinces(settings.boundaries_dir, data_dir / "cache", workers)
                if workers is not None and workers > 1 else None)
    code = build_code_digest(str(settings.boundaries_dir))
    versions = []
    for rnd in chain:
        manifest = round_dir(src, rnd) / "manifest.json"
        info = json.loads(manifest.read_text(encoding="utf-8"))
        t1 = time.perf_counter()
        version = build_version(settings, dataset=dataset, round=rnd,
                                persons_dir=round_dir(src, rnd),
                                source_sha256=_sha(manifest, code),
                                progress=True, population_raster=raster, store=store,
                                executor=executor)
        versions.append(version)
        echo(f"  round {rnd}: {info['n_households']:,} households, "
             f"{info['n_persons']:,} people -> version {version.id} "
             f"({time.perf_counter() - t1:,.1f} s)")
    echo(f"demo dataset {dataset!r}: rounds {', '.join(map(str, chain))} "
         f"({time.perf_counter() - t0:,.1f} s)")
    if versions and map_artefacts:  # the last step: the current version's map artefacts
        from service.usecases.map_warmup import build_version_artefacts

        t1 = time.perf_counter()
        took = build_version_artefacts(settings, dataset, versions[-1].id)
        echo(f"  map artefacts of {versions[-1].id}: {len(took)} "
             f"({time.perf_counter() - t1:,.1f} s)")
    return versions
