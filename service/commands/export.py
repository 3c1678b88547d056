"""`chipao export`: area tables, village lists or household lists to CSV/XLSX/GeoJSON/GPKG.

Runs with the operator's full access to the store. ``--public`` applies the same disclosure
control as the public API (use it for anything published). Household exports are written to
the audit log as the operating-system user.
"""

from __future__ import annotations

import getpass
import logging
from pathlib import Path

import click

from service.settings import settings_from_env

log = logging.getLogger(__name__)


@click.command("export")
@click.option("--dataset", default=None, help="Dataset (default: setting default_dataset).")
@click.option("--version", "version", default=None, help="Version id (default: current).")
@click.option("--level", default=None,
              help="Area level to export (country, province, amphoe, tambon, village, h3_r6-9).")
@click.option("--province", default=None, help="Only this province (TH50).")
@click.option("--villages", "villages_of", default=None, metavar="AREA",
              help="Village list of a province/amphoe/tambon code.")
@click.option("--households", "households_of", default=None, metavar="AREA",
              help="Household list of an admin area (personal data; audited).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "geojson", "gpkg"]),
              default="csv", show_default=True)
@click.option("--public", is_flag=True, help="Apply disclosure control (suppression).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".",
              show_default=True, help="Directory to write into (file name made here).")
def command(dataset: str | None, version: str | None, level: str | None,
            province: str | None, villages_of: str | None, households_of: str | None,
            fmt: str, public: bool, out_dir: str) -> None:
    """Export a table; the file name is generated (Thai area names kept)."""
    from service.analysis.disclosure import suppress
    from service.errors import ChipaoError
    from service.export import EXPORTERS, export_frame, make_filename
    from service.export.households import household_list
    from service.store import open_store

    chosen = [x for x in (level, villages_of, households_of) if x]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --level, --villages, --households")
    settings = settings_from_env()
    store = open_store(settings)
    dataset = dataset or settings["default_dataset"]
    k = int(settings["min_cell_households"])
    try:
        v = store.version(dataset, version)
        if households_of:
            if public:
                raise click.UsageError("household lists are never public")
            area = households_of.upper()
            frame = household_list(store.read_persons(dataset, area[:4], version=v.id), area)
            from service.store.users import UserStore

            UserStore(settings["database_url"]).audit(
                username=f"cli:{getpass.getuser()}", role="national", province=None,
                action="export_households", object=f"{dataset}/{v.id}/{area}",
                detail=f"format={fmt} rows={len(frame)}")
            parts, layer = ["chipao", dataset, v.round, "ครัวเรือน", area], "households"
        else:
            lvl = "village" if villages_of else str(level)
            frame = store.read_areas(dataset, lvl, version=v.id)
            if public:
                frame = suppress(frame, min_households=k, level=lvl)
            if villages_of:
                frame = frame[frame["code"].str.startswith(villages_of.upper())]
            if province:
                frame = frame[frame["province_code"] == province.upper()]
            frame = frame.drop(columns=["cell"], errors="ignore").reset_index(drop=True)
            if EXPORTERS[fmt].spatial and lvl != "village":
                import geopandas as gpd

                geoms = store.area_geometries(lvl, list(frame["code"]), dataset=dataset,
                                              version=v.id)
                frame = gpd.GeoDataFrame(frame.merge(geoms, on="code", how="left"),
                                         geometry="geometry", crs="EPSG:4326")
            parts = ["chipao", dataset, v.round, villages_of or province or "", lvl,
                     "public" if public else "full"]
            layer = lvl
        body = export_frame(frame, fmt, layer=layer)
    except ChipaoError as exc:
        raise click.ClickException(str(exc)) from exc
    _, name = make_filename(parts, EXPORTERS[fmt].extension)
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    click.echo(f"wrote {len(frame):,} rows to {path} ({len(body) / 1024:,.1f} KiB)")
