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

import click


def _digest(version_dir: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(version_dir.rglob("*.parquet")):
        h.update(str(p.relative_to(version_dir)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


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
    from service.demo.generate import generate
    from service.distributed import DaskProvinces
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator
    from service.pipeline import ProcessProvinces, build_version
    from service.settings import load_settings

    codes = (None if provinces.strip().lower() == "all"
             else [c.strip().upper() for c in provinces.split(",") if c.strip()])
    with tempfile.TemporaryDirectory(prefix="chipao-bench-build-") as tmp:
        root = Path(data_dir) if data_dir else Path(tmp)
        src = root / "persons-src"
        if not (src / "manifest.json").exists():
            generate(codes, seed=seed, out=src)
        cache = root / "cache"
        base = load_settings({"data_dir": str(root / "base")}, environ={})
        locator = TambonLocator(load_level(base.boundaries_dir, "tambon"), cache_dir=cache)
        tif = None
        if raster:
            from service.demo.raster import ensure_population_raster

            tif = ensure_population_raster(root, base.boundaries_dir, seed=seed)
        rows = []
        reference = None
        runs = [("single", 0), *(("dask", n) for n in worker_counts),
                *(("pool", n) for n in pool_counts)]
        for kind, workers in runs:
            out = root / f"build-{kind}-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            settings = load_settings({"data_dir": str(out)}, environ={})
            stages: dict[str, float] = {}
            started = time.perf_counter()
            if kind != "dask":
                pool = (ProcessProvinces(base.boundaries_dir, cache, workers)
                        if kind == "pool" else None)
                version = build_version(settings, dataset="bench", round=2561, persons_dir=src,
                                        progress=False, locator=locator, executor=pool,
                                        population_raster=tif, on_stage=stages.__setitem__)
                elapsed = time.perf_counter() - started
            else:
                with DaskProvinces.connect(settings, workers=workers) as executor:
                    executor.locator_cache_dir = cache
                    started = time.perf_counter()  # cluster start-up is not the build
                    version = build_version(settings, dataset="bench", round=2561,
                                            persons_dir=src, progress=False, locator=locator,
                                            executor=executor, population_raster=tif,
                                            on_stage=stages.__setitem__)
                    elapsed = time.perf_counter() - started
            digest = _digest(Path(version.path))
            reference = reference or digest
            rows.append((kind, workers, elapsed, int(version.n_persons or 0), stages,
                         digest == reference))
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
