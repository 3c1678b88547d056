"""`chipao export`: area tables, village target lists or household target lists to files.

Runs with the operator's full access to the store. ``--public`` applies the same disclosure
control as the public API (use it for anything published). Village and household lists are
the target lists of service.analysis.targets (via service.export.targets), the same rows as
``/api/v1/targets/...`` and ``/api/v1/exports/...``. Household lists are CSV/XLSX only (no
home locations), never public, and written to the audit log as the operating-system user.
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
              help="Village target list (ranked) of a province/amphoe/tambon code.")
@click.option("--households", "households_of", default=None, metavar="AREA",
              help="Poor households of an admin area, nearest to exit first (personal data; "
                   "audited; csv/xlsx only).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "geojson", "gpkg"]),
              default="csv", show_default=True)
@click.option("--public", is_flag=True, help="Apply disclosure control (suppression).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".",
              show_default=True, help="Directory to write into (file name made here).")
def command(dataset: str | None, version: str | None, level: str | None,
            province: str | None, villages_of: str | None, households_of: str | None,
            fmt: str, public: bool, out_dir: str) -> None:
    """Export a table; the file name is generated (Thai area names kept)."""
    from service.access.views import public_view
    from service.errors import ChipaoError
    from service.export import EXPORTERS, export_frame, make_filename
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
            frame, parts, layer = _households(store, settings, dataset, v,
                                              households_of.upper(), fmt, public)
        elif villages_of:
            frame, parts, layer = _villages(store, dataset, v, villages_of.upper(), fmt,
                                            public, k)
        else:
            lvl = str(level)
            prov = province.upper() if province else None
            if public:  # THE public view (service.access.views), as the API serves it
                frame = public_view(store, dataset, lvl, version=v.id, province=prov,
                                    min_households=k, whole_country=True
                                    ).drop(columns=["view"])
            else:
                frame = store.read_areas(dataset, lvl, version=v.id)
                if prov:
                    frame = frame[frame["province_code"] == prov]
            frame = frame.drop(columns=["cell"], errors="ignore").reset_index(drop=True)
            if EXPORTERS[fmt].spatial:
                if lvl == "village":
                    from service.export.targets import with_points

                    frame = with_points(frame)
                else:
                    import geopandas as gpd

                    geoms = store.area_geometries(lvl, list(frame["code"]), dataset=dataset,
                                                  version=v.id)
                    frame = gpd.GeoDataFrame(frame.merge(geoms, on="code", how="left"),
                                             geometry="geometry", crs="EPSG:4326")
            parts = ["chipao", dataset, v.round, province or "", lvl,
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


def _households(store, settings, dataset: str, v, area: str, fmt: str, public: bool):
    """Poor households nearest to exit first (service.analysis.targets); audited."""
    from service.errors import InvalidInput
    from service.export.targets import check_area, check_household_format, household_targets
    from service.store.users import UserStore

    if public:
        raise click.UsageError("household lists are never public "
                               "/ รายชื่อครัวเรือนไม่เผยแพร่ต่อสาธารณะ")
    try:
        check_household_format(fmt)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from exc
    check_area(area)
    frame = household_targets(store.read_persons(dataset, area[:4], version=v.id), area)
    UserStore(settings["database_url"]).audit(
        username=f"cli:{getpass.getuser()}", role="national", province=None,
        action="export_households", object=f"{dataset}/{v.id}/{area}",
        detail=f"format={fmt} rows={len(frame)}")
    return frame, ["chipao", dataset, v.round, "ครัวเรือนเป้าหมาย", area], "households"


def _villages(store, dataset: str, v, area: str, fmt: str, public: bool, k: int):
    """Village target list (service.analysis.targets.village_list), ranked; --public
    suppresses first, exactly as the public API does."""
    from service.access.views import public_view
    from service.analysis.targets import names_from_areas
    from service.commands.rank import previous_version
    from service.errors import NotFound
    from service.export import EXPORTERS
    from service.export.targets import village_targets, with_points

    province = area[:4]

    def view(version_id: str):
        if public:
            return public_view(store, dataset, "village", version=version_id,
                               province=province, min_households=k).drop(columns=["view"])
        return store.read_areas(dataset, "village", version=version_id, province=province)

    previous = None
    prev_v = previous_version(store, dataset, v)
    if prev_v is not None:
        try:
            previous = view(prev_v.id)
        except NotFound:
            previous = None
    names: dict[str, str] = {}
    for lvl in ("province", "amphoe", "tambon"):
        try:
            names.update(names_from_areas(store.read_areas(dataset, lvl, version=v.id,
                                                           province=province)))
        except NotFound:
            continue
    frame = village_targets(view(v.id), area, previous=previous, names=names)
    if EXPORTERS[fmt].spatial:
        frame = with_points(frame)
    parts = ["chipao", dataset, v.round, "หมู่บ้านเป้าหมาย", names.get(area, ""), area,
             "public" if public else "full"]
    return frame, parts, "villages"
