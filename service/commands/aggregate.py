"""`chipao aggregate`: build a dataset version from person files (locate, score, aggregate,
store), or re-aggregate the current version's persons, with a progress bar."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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
              help="Run the per-province stages on this dask cluster (a shared data dir, "
              "or none with CHIPAO_DATASETS_URL).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Run the per-province stages on a local dask cluster of N processes.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--map-artefacts/--no-map-artefacts", default=True, show_default=True,
              help="Then build the version's public map artefacts (suppression decisions, "
                   "first-open maps; `chipao maps warm`), so the first map after a restart "
                   "is fast.")
def command(dataset: str, persons_dir: Path | None, round_: int | None, spec: str,
            programmes: Path | None, raster: Path | None, scheduler: str | None,
            workers: int | None, progress: bool, map_artefacts: bool) -> None:
    """Aggregate persons to country, province, amphoe, tambon, village and H3 r6-r9, with
    disclosure flags, and store the result as a new version (atomic; the same source files
    give back the existing version).

    รวมข้อมูลรายบุคคลเป็นสถิติรายพื้นที่ทุกระดับ แล้วบันทึกเป็นรุ่นข้อมูลใหม่
    """
    from service.usecases.builds import build

    done = build(settings_from_env(), dataset, persons_dir=persons_dir, round=round_,
                 spec=spec, programmes=programmes, raster=raster, scheduler=scheduler,
                 workers=workers, progress=progress)
    report(dataset, done)
    if map_artefacts and not done.unchanged:
        from service.usecases.map_warmup import build_version_artefacts

        took = build_version_artefacts(settings_from_env(), dataset, done.version.id)
        click.echo(f"map artefacts / ข้อมูลแผนที่: {len(took)} in {sum(took.values()):,.1f} s")


def report(dataset: str, done: Any) -> None:
    """What was built: areas and publicly suppressed areas per level, stage times."""
    version = done.version
    if done.unchanged:
        click.echo(f"unchanged / ไม่มีการเปลี่ยนแปลง: {dataset} {version.id} already holds "
                   "these files")
        return
    click.echo(f"dataset {dataset} version {version.id} (round {version.round}): "
               f"{version.n_persons:,} persons, {version.n_households:,} households "
               f"in {done.seconds:,.1f} s")
    levels = version.meta.get("levels", {})
    hidden = version.meta.get("dc_suppressed", {})
    click.echo(f"{'level':<10} {'areas':>10} {'suppressed (public)':>20}")
    for level, n in levels.items():
        click.echo(f"{level:<10} {n:>10,} {hidden.get(level, 0):>20,}")
    click.echo("stages: " + ", ".join(f"{k} {v:,.1f} s" for k, v in done.stages.items()))
