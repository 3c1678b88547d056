"""`chipao aggregate`: build a dataset version from person files (locate, score, aggregate,
store), or re-aggregate the current version's persons, with a progress bar."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import click

from service.settings import settings_from_env

log = logging.getLogger(__name__)


@click.command("aggregate")
@click.option("--dataset", required=True, help="Dataset name (e.g. demo).")
@click.option("--persons", "persons_dir", type=click.Path(exists=True, file_okay=False,
                                                          path_type=Path),
              default=None,
              help="Directory of canonical persons (persons/<province>.parquet). Default: "
                   "re-aggregate the persons of the dataset's current version.")
@click.option("--round", "round_", type=int, default=None,
              help="Survey round (e.g. Buddhist year 2567). Default: the current version's.")
@click.option("--spec", default="tpmap", show_default=True,
              help="Indicator specification: preset name or JSON/YAML file.")
@click.option("--programmes", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Programme rules file (default: the shipped preset).")
@click.option("--raster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Population GeoTIFF (default: setting population_raster).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786",
              help="Run the per-province stages on this dask cluster (shared data dir).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Run the per-province stages on a local dask cluster of N processes.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def command(dataset: str, persons_dir: Path | None, round_: int | None, spec: str,
            programmes: Path | None, raster: Path | None, scheduler: str | None,
            workers: int | None, progress: bool) -> None:
    """Aggregate persons to country, province, amphoe, tambon, village and H3 r6-r9, with
    disclosure flags, and store the result as a new version (atomic; the same source files
    give back the existing version).

    รวมข้อมูลรายบุคคลเป็นสถิติรายพื้นที่ทุกระดับ แล้วบันทึกเป็นรุ่นข้อมูลใหม่
    """
    from service.pipeline import build_version
    from service.store import open_store

    settings = settings_from_env()
    store = open_store(settings)
    if persons_dir is None or round_ is None:
        current = store.current(dataset)
        persons_dir = persons_dir or Path(current.path)
        round_ = current.round if round_ is None else round_
    started = time.perf_counter()
    stages: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        executor = None
        if scheduler or workers:
            from service.distributed import DaskProvinces

            executor = stack.enter_context(DaskProvinces.connect(
                settings, scheduler=scheduler, workers=workers))
        version = build_version(settings, dataset=dataset, round=round_,
                                persons_dir=persons_dir, progress=progress, spec=spec,
                                programmes=programmes, population_raster=raster,
                                store=store, executor=executor,
                                on_stage=stages.__setitem__)
    elapsed = time.perf_counter() - started
    if not stages:
        click.echo(f"unchanged / ไม่มีการเปลี่ยนแปลง: {dataset} {version.id} already holds "
                   "these files")
        return
    click.echo(f"dataset {dataset} version {version.id} (round {version.round}): "
               f"{version.n_persons:,} persons, {version.n_households:,} households "
               f"in {elapsed:,.1f} s")
    levels = version.meta.get("levels", {})
    hidden = version.meta.get("dc_suppressed", {})
    click.echo(f"{'level':<10} {'areas':>10} {'suppressed (public)':>20}")
    for level, n in levels.items():
        click.echo(f"{level:<10} {n:>10,} {hidden.get(level, 0):>20,}")
    click.echo("stages: " + ", ".join(f"{k} {v:,.1f} s" for k, v in stages.items()))
