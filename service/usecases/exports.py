"""Files for people: area tables, village target lists and household target lists, as the
caller may see them (the API's /api/v1/exports and ``chipao export`` share these).

Each use case returns an :class:`Export` (the frame to write, the parts of its file name and
the layer name); writing the bytes is service.export. Plain values in and out; no Flask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from service.access import views
from service.access.principal import Principal
from service.errors import InvalidInput, NotFound
from service.usecases import targets
from service.usecases.datasets import area_names
from service.vocabulary import SUB_NATIONAL_LEVELS, level_of

#: the largest table a single export may hold (rows); bigger requests must filter
MAX_EXPORT_ROWS = 200_000


@dataclass
class Export:
    frame: pd.DataFrame
    name_parts: list[Any]
    layer: str
    version: str = ""


def admin_level(code: str) -> str:
    """Level of a province, amphoe, tambon or village code (404 otherwise)."""
    level = level_of(code)
    if level in SUB_NATIONAL_LEVELS:
        return str(level)
    raise NotFound(f"{code!r} is not a province, amphoe, tambon or village code "
                   f"/ รหัสพื้นที่ไม่ถูกต้อง")


def check_size(frame: pd.DataFrame) -> None:
    if len(frame) > MAX_EXPORT_ROWS:
        raise InvalidInput(f"{len(frame):,} rows is more than one export may hold "
                           f"({MAX_EXPORT_ROWS:,}); choose a smaller area "
                           f"/ ข้อมูลมากเกินไป กรุณาเลือกพื้นที่ที่เล็กลง", column="province")


def with_geometry(store: Any, frame: pd.DataFrame, level: str, dataset: str, version: str
                  ) -> pd.DataFrame:
    """Polygons of admin areas and H3 cells; household-centroid points of villages (from
    the possibly suppressed lon/lat)."""
    import geopandas as gpd

    if level == "village":
        from service.export.targets import with_points

        if {"lon", "lat"} <= set(frame.columns):
            return with_points(frame)
        raise InvalidInput("village table has no lon/lat", column="geometry")
    if frame.empty:  # no rows (e.g. a province without cells): an empty layer
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], index=frame.index,
                                                              crs="EPSG:4326"))
    geoms = store.area_geometries(level, list(frame["code"]), dataset=dataset, version=version)
    merged = frame.merge(geoms[["code", "geometry"]], on="code", how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")


def area_table(store: Any, p: Principal, dataset: str, v: Any, level: str, *,
               province: str | None, spatial: bool, min_households: int, cache: Any = None,
               whole_country: bool = False, tag: str | None = None) -> Export:
    """Area statistics of one level (optionally one province) as ``p`` may see them."""
    frame = views.area_view(store, dataset, level, p, version=v.id, province=province,
                            min_households=min_households, cache=cache,
                            whole_country=whole_country)
    frame = views.listed_rows(frame, level)  # no code or polygon of a suppressed cell
    frame = frame.drop(columns=[c for c in ("cell",) if c in frame.columns])
    if spatial:
        frame = with_geometry(store, frame, level, dataset, v.id)
    parts = ["chipao", dataset, v.round, province or "", level] + ([tag] if tag else [])
    return Export(frame.reset_index(drop=True), parts, level)


def village_list(store: Any, p: Principal, dataset: str, v: Any, area: str, *,
                 spatial: bool, min_households: int, cache: Any = None,
                 tag: str = "villages") -> Export:
    """Village target list of a province, amphoe or tambon (ranked)."""
    if admin_level(area) == "village":
        raise NotFound("give a province, amphoe or tambon code / ระบุรหัสจังหวัด อำเภอ หรือตำบล")
    frame = targets.village_targets(store, p, dataset, v, area, min_households=min_households,
                                    cache=cache, spatial=spatial)
    name = area_names(store, dataset, v.id, area[:4]).get(area, "")
    return Export(frame, ["chipao", dataset, v.round, "หมู่บ้านเป้าหมาย", name, area, tag],
                  "villages")


def household_list(store: Any, p: Principal, dataset: str, version: str | None, area: str,
                   *, fmt: str) -> Export:
    """Poor households of an admin area, nearest to exit first (CSV/XLSX only: no home
    locations; 401/403 unless ``p`` may see the province's detail, checked before anything
    is read). Callers audit it."""
    from service.export.targets import check_household_format
    from service.usecases.datasets import resolve_version

    admin_level(area)
    targets.require_detail(p, area[:4])
    check_household_format(fmt)
    v = resolve_version(store, dataset, version)
    frame = targets.household_targets(store, p, dataset, v.id, area)
    check_size(frame)
    return Export(frame, ["chipao", dataset, v.round, "ครัวเรือนเป้าหมาย", area, "households"],
                  "households", v.id)


def operator_export(s: Any, dataset: str, version: str | None, *, level: str | None,
                    province: str | None, villages_of: str | None, households_of: str | None,
                    fmt: str, public: bool, username: str) -> Export:
    """One of the three exports with an operator's full access (``chipao export``), or as
    the public sees it (``public``: disclosure control as the public API). A household list
    (never public) is written to the audit log as ``username``."""
    from service.access.principal import PUBLIC
    from service.export import EXPORTERS

    operator = Principal("national", username=username)
    who, tag = (PUBLIC, "public") if public else (operator, "full")
    spatial, k = EXPORTERS[fmt].spatial, s.min_households
    if households_of:
        export = household_list(s.store, operator, dataset, version, households_of.upper(),
                                fmt=fmt)
        s.users.audit(username=username, role="national", province=None,
                      action="export_households",
                      object=f"{dataset}/{export.version}/{households_of.upper()}",
                      detail=f"format={fmt} rows={len(export.frame)}")
        return export
    v = s.store.version(dataset, version)
    if villages_of:
        return village_list(s.store, who, dataset, v, villages_of.upper(), spatial=spatial,
                            min_households=k, tag=tag)
    return area_table(s.store, who, dataset, v, str(level),
                      province=province.upper() if province else None, spatial=spatial,
                      min_households=k, whole_country=True, tag=tag)


def export_file(export: Export, fmt: str) -> tuple[bytes, str]:
    """(the file's bytes, its generated name: Thai area names kept)."""
    from service.export import EXPORTERS, export_frame, make_filename

    body = export_frame(export.frame.drop(columns=["view"], errors="ignore"), fmt,
                        layer=export.layer)
    _, name = make_filename(export.name_parts, EXPORTERS[fmt].extension)
    return body, name
