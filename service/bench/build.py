"""`chipao bench build`: one round's build of a few provinces (or all: ``--provinces all``) in
one process vs on a dask LocalCluster of worker processes (service.distributed) vs in a pool
of local processes (``--pool N``: service.pipeline.ProcessProvinces, what ``chipao demo
--workers N`` uses), same inputs, same run, with the demo population raster (its zonal sums
computed by each build: the raster stage as a fresh ``chipao demo`` pays it).

Demo persons of ``--provinces`` are generated once into the data directory; each build goes
to a fresh data directory (the tambon locator grid is built once and shared through
``--data-dir``/cache). Reported per build: wall seconds, the pipeline's stage seconds (summed
over provinces: on a cluster they run side by side) and whether the area tables and scored
persons are byte-identical to the single-process build's.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click


def _digest(version_dir: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(version_dir.rglob("*.parquet")):
        h.update(str(p.relative_to(version_dir)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def build_once(kind: str, workers: int, *, persons_dir: Path, out: Path, cache: Path,
               boundaries_dir: str, raster: Path | None, locator: object | None = None
               ) -> dict:
    """One build of round 2561 from ``persons_dir`` into a fresh data directory ``out``:
    ``kind`` "single" (one process), "dask" (a LocalCluster of ``workers`` processes, its
    start-up not timed) or "pool" (``workers`` local processes). Returns the wall seconds,
    persons, the pipeline's stage seconds and the digest of the version's Parquet files."""
    from service.distributed import DaskProvinces
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator
    from service.pipeline import ProcessProvinces, build_version
    from service.settings import load_settings

    if locator is None:
        locator = TambonLocator(load_level(boundaries_dir, "tambon"), cache_dir=cache)
    shutil.rmtree(out, ignore_errors=True)
    settings = load_settings({"data_dir": str(out)}, environ={})
    stages: dict[str, float] = {}

    def build(executor: object) -> object:
        return build_version(settings, dataset="bench", round=2561, persons_dir=persons_dir,
                             progress=False, locator=locator,  # type: ignore[arg-type]
                             executor=executor,  # type: ignore[arg-type]
                             population_raster=raster, on_stage=stages.__setitem__)

    started = time.perf_counter()
    if kind != "dask":
        version: Any = build(ProcessProvinces(boundaries_dir, cache, workers)
                             if kind == "pool" else None)
        elapsed = time.perf_counter() - started
    else:
        with DaskProvinces.connect(settings, workers=workers) as executor:
            executor.locator_cache_dir = cache
            started = time.perf_counter()  # cluster start-up is not the build
            version = build(executor)
            elapsed = time.perf_counter() - started
    return {"kind": kind, "workers": workers, "seconds": elapsed,
            "n_persons": int(version.n_persons or 0), "stages": stages,
            "digest": _digest(Path(version.path))}


def prepare_inputs(root: Path, codes: list[str] | None, seed: int, raster: bool,
                   src: Path | None = None) -> tuple[Path, Path, str, Path | None]:
    """(persons directory, locator cache, boundaries directory, raster) of the builds:
    demo persons of ``codes`` generated into ``root/persons-src`` unless ``src`` is given
    (or already there)."""
    from service.demo.generate import generate
    from service.settings import load_settings

    if src is None:
        src = root / "persons-src"
        if not (src / "manifest.json").exists():
            generate(codes, seed=seed, out=src)
    base = load_settings({"data_dir": str(root / "base")}, environ={})
    tif = None
    if raster:
        from service.demo.raster import ensure_population_raster

        tif = ensure_population_raster(root, base.boundaries_dir, seed=seed)
    return src, root / "cache", str(base.boundaries_dir), tif


@click.command("build")
@click.option("--provinces", default="TH75,TH58,TH22,TH54", show_default=True,
              help="Comma-separated province codes of the demo persons to build.")
@click.option("--workers", "worker_counts", multiple=True, type=int, default=(2,),
              show_default=True, help="dask worker processes (repeatable).")
@click.option("--pool", "pool_counts", multiple=True, type=int, default=(),
              help="Local worker processes (repeatable; service.pipeline.ProcessProvinces).")
@click.option("--raster/--no-raster", default=True, show_default=True,
              help="Add the demo population raster's columns (pop_raster, survey_gap).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Keep the generated persons and the locator cache here.")
@click.option("--seed", default=2561, show_default=True)
def command(provinces: str, worker_counts: tuple[int, ...], pool_counts: tuple[int, ...],
            raster: bool, data_dir: str | None, seed: int) -> None:
    """Build time: single process vs dask workers vs local processes (identical output
    checked)."""
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    codes = (None if provinces.strip().lower() == "all"
             else [c.strip().upper() for c in provinces.split(",") if c.strip()])
    with tempfile.TemporaryDirectory(prefix="chipao-bench-build-") as tmp:
        root = Path(data_dir) if data_dir else Path(tmp)
        src, cache, boundaries_dir, tif = prepare_inputs(root, codes, seed, raster)
        locator = TambonLocator(load_level(boundaries_dir, "tambon"), cache_dir=cache)
        rows = []
        reference = None
        runs = [("single", 0), *(("dask", n) for n in worker_counts),
                *(("pool", n) for n in pool_counts)]
        for kind, workers in runs:
            r = build_once(kind, workers, persons_dir=src, out=root / f"build-{kind}-{workers}",
                           cache=cache, boundaries_dir=boundaries_dir, raster=tif,
                           locator=locator)
            reference = reference or r["digest"]
            rows.append((kind, workers, r["seconds"], r["n_persons"], r["stages"],
                         r["digest"] == reference))
        click.echo(f"build of {', '.join(codes) if codes else 'all provinces'}: "
                   f"{rows[0][3]:,} persons")
        click.echo("| build | wall s | persons/s | identical to single | stages (s, summed) |")
        click.echo("|---|---|---|---|---|")
        for kind, workers, elapsed, n, stages, same in rows:
            name = {"single": "single process", "dask": f"dask, {workers} worker processes",
                    "pool": f"local pool, {workers} processes"}[kind]
            detail = ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
            click.echo(f"| {name} | {elapsed:.1f} | {n / elapsed:,.0f} | "
                       f"{'yes' if same else 'NO'} | {detail} |")
