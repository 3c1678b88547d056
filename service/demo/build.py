"""The demo main job (``chipao demo``): generate the demo panel and build one dataset version
per round, oldest first, so the later rounds carry the panel measures.

Both cores for the generation: the provinces of round 2561 are generated, and then the
later rounds derived from them (service.demo.panel), one province per process; the rounds
are then built oldest first, and the population raster's zonal sums are computed once
(pipeline cache). Everything on disk is reused: a second run finds every round's manifest
and every version (same SHA-256) and returns at once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
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


def _sha(request: dict, chain: list[int], code: str) -> str:
    """A round's source: what its files are made from (seed, areas, chain of rounds,
    generator versions; the files are deterministic in these) and the build's code."""
    from service.demo.generate import GENERATOR_VERSION
    from service.demo.panel import PANEL_VERSION

    what = json.dumps({"request": request, "chain": chain, "generator": GENERATOR_VERSION,
                       "panel": PANEL_VERSION}, sort_keys=True)
    return hashlib.sha256(f"{what}|build code {code}".encode()).hexdigest()


class _WhenWritten:
    """The per-province stages in this process, each province as soon as the generating
    process has written its file (service.pipeline.ProvinceExecutor)."""

    locator_cache_dir = None

    def __init__(self, written: dict[str, Future], locator: Any) -> None:
        self.written, self.locator = written, locator

    def provinces(self, files: list[Path], outputs: list[Path], *, spec_obj: Any, prog: Any,
                  previous: Any) -> Iterator[Any]:
        from service import pipeline

        for path, out in zip(files, outputs, strict=True):
            self.written[path.stem].result()  # raises what the generation raised
            yield pipeline.process_province(path, out, spec_obj=spec_obj, prog=prog,
                                            locator=self.locator, previous=previous)


def build_demo(settings: SettingsLike, *, provinces: list[str] | None, seed: int,
               dataset: str, rounds: str | list[int],
               echo: Callable[[str], None] = print, map_artefacts: bool = True,
               workers: int | None = None) -> list[Any]:
    """Generate (or reuse) the demo panel and build its rounds, then the current version's
    map artefacts (``map_artefacts``); returns the versions. ``workers`` > 1 runs the
    per-province stages of the builds in that many processes (the same versions, byte for
    byte: service.pipeline.ProcessProvinces).

    From a fresh data dir (one process for the stages): a second process generates round
    2561 province by province while this one builds each province as soon as its file is
    written, then derives the later rounds while 2561's areas are finished and 2562 is
    built the same way, so both cores stay busy; the files are the same bytes as
    ``chipao demo-data --rounds`` writes."""
    settings = as_settings(settings)
    from service.demo.panel import panel_request
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator
    from service.pipeline import ProcessProvinces, build_version
    from service.store.store import open_store

    wanted = parse_rounds(rounds)
    data_dir = Path(settings.data_dir)
    src = source_dir(data_dir, seed, provinces)
    t0 = time.perf_counter()
    chain = parse_rounds([BASE_ROUND, *wanted])
    request = panel_request(seed, provinces)
    fresh = not _base_on_disk(src, request)
    if not all((round_dir(src, r) / "manifest.json").exists() for r in chain):
        echo(f"generating demo data rounds {', '.join(map(str, chain))} into {src} …")
    stream = fresh and not (workers is not None and workers > 1)
    if not stream:
        # every round's files first, provinces side by side on every core (checked for
        # seed, areas and chain when on disk already)
        generate_panel(wanted, seed=seed, out=src, provinces=provinces)
        echo(f"  rounds {', '.join(map(str, chain))} ready ({time.perf_counter() - t0:,.1f} s)")
    raster: str | Path | None = settings.population_raster or None
    if raster is None:
        # the demo's stand-in for a WorldPop grid: survey-gap flags need a population raster
        from service.demo.raster import ensure_population_raster

        raster = ensure_population_raster(data_dir, settings.boundaries_dir, seed=seed)
    store = open_store(settings)
    locator = TambonLocator(load_level(settings.boundaries_dir, "tambon"),
                            cache_dir=data_dir / "cache")
    executor: Any = (ProcessProvinces(settings.boundaries_dir, data_dir / "cache", workers)
                     if workers is not None and workers > 1 else None)
    code = build_code_digest(str(settings.boundaries_dir))
    versions = []
    with _Generating(src, chain, request, provinces, t0, echo) if stream \
            else contextlib.nullcontext() as gen:
        for k, rnd in enumerate(chain):
            files = None
            if gen is not None:
                executor, files = gen.executor(rnd, locator), gen.files(rnd)
            t1 = time.perf_counter()
            version = build_version(settings, dataset=dataset, round=rnd,
                                    persons_dir=round_dir(src, rnd),
                                    source_sha256=_sha(request, chain[:k + 1], code),
                                    progress=True, population_raster=raster, store=store,
                                    executor=executor, locator=locator, files=files)
            info = gen.manifest(rnd) if gen is not None else json.loads(
                (round_dir(src, rnd) / "manifest.json").read_text(encoding="utf-8"))
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


def _base_on_disk(src: Path, request: dict) -> bool:
    path = round_dir(src, BASE_ROUND) / "manifest.json"
    return path.exists() and json.loads(path.read_text(encoding="utf-8")).get(
        "panel_request") == request


class _Generating:
    """The panel's files written by a second process while this one builds: round 2561
    province by province (code order, as the build reads them), then every later round
    of each province in turn (service.demo.panel.derive_province_rounds). Each round's
    manifest is written once all its provinces are done, as ``generate_panel`` writes it."""

    def __init__(self, src: Path, chain: list[int], request: dict,
                 provinces: list[str] | None, t0: float, echo: Callable[[str], None]) -> None:
        from service.demo.generate import province_jobs

        self.src, self.chain, self.request, self.t0, self.echo = src, chain, request, t0, echo
        self.bdir, self.jobs, self.areas = province_jobs(provinces)
        self.codes = [c for c, _ in self.jobs]
        self.manifests: dict[int, dict] = {}

    def __enter__(self) -> _Generating:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        from service.demo.generate import write_province
        from service.demo.panel import derive_province_rounds

        for rnd in self.chain:  # an interrupted run is never taken for a complete one
            (round_dir(self.src, rnd) / "manifest.json").unlink(missing_ok=True)
            (round_dir(self.src, rnd) / "persons").mkdir(parents=True, exist_ok=True)
        (self.src / "manifest.json").unlink(missing_ok=True)
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        out = str(round_dir(self.src, BASE_ROUND))
        self.generated = {code: self.pool.submit(
            _timed, write_province, job, seed=self.request["seed"], boundaries_dir=self.bdir,
            out=out, with_identifiers=False) for code, job in zip(self.codes, self.jobs,
                                                                    strict=True)}
        self.derived = {code: self.pool.submit(
            _timed, derive_province_rounds, code, out=str(self.src),
            seed=self.request["seed"], chain=self.chain) for code in self.codes} \
            if len(self.chain) > 1 else {}
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)

    def files(self, rnd: int) -> list[Path]:
        return [round_dir(self.src, rnd) / "persons" / f"{c}.parquet" for c in self.codes]

    def executor(self, rnd: int, locator: Any) -> _WhenWritten:
        return _WhenWritten(self.generated if rnd == BASE_ROUND else self.derived, locator)

    def manifest(self, rnd: int) -> dict:
        """The round's manifest (written when first asked: all its provinces are done)."""
        from service.demo.generate import write_manifest
        from service.demo.panel import base_manifest, derived_manifest, write_summary

        if rnd in self.manifests:
            return self.manifests[rnd]
        if rnd == BASE_ROUND:
            done = {c: f.result() for c, f in self.generated.items()}
            generated = write_manifest(
                round_dir(self.src, BASE_ROUND), {c: r[1] for c, (r, _) in done.items()},
                seed=self.request["seed"], request=self.areas, with_identifiers=False,
                boundaries_dir=self.bdir)
            self.manifests[rnd] = base_manifest(self.src, generated, {
                c: r[2] for c, (r, _) in done.items()}, self.request)
        else:
            base = self.manifest(BASE_ROUND)
            derived = {c: f.result() for c, f in self.derived.items()}
            seconds = sum(s for _, s in derived.values())
            for k, r in enumerate(self.chain[1:], start=1):
                self.manifests[r] = derived_manifest(
                    self.src, {c: res[1][r] for c, (res, _) in derived.items()},
                    seed=self.request["seed"], from_round=self.chain[k - 1], to_round=r,
                    base=base, chain=self.chain[:k + 1], request=self.request,
                    seconds=seconds)
        if len(self.manifests) == len(self.chain):
            write_summary(self.src, seed=self.request["seed"], chain=self.chain,
                          rounds=self.chain, request=self.request, manifests=self.manifests,
                          seconds=time.perf_counter() - self.t0)
            self.echo(f"  rounds {', '.join(map(str, self.chain))} ready, generated beside "
                      f"the builds ({time.perf_counter() - self.t0:,.1f} s)")
        return self.manifests[rnd]


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    return fn(*args, **kwargs), time.perf_counter() - t
