"""/api/v1/exports: area tables, village target lists and (authorised) household lists.

Formats come from the EXPORTERS registry (csv with BOM, xlsx, geojson, gpkg). The server
makes every file name (Thai names via RFC 6266 ``filename*``). Area and village exports obey
the same views as the JSON API (public = suppressed). Village and household lists are the
target lists of ``/api/v1/targets/...`` (service.analysis.targets via service.export.targets):
villages ranked, with a point per village in GeoJSON/GPKG; households nearest to exit first,
CSV/XLSX only (no home locations), for the national role or the provincial role of that
province, audited and sent ``no-store``.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from flask import Blueprint, Response

from service.api.areas import (
    check_level,
    level_view,
    province_arg,
    require_scope,
    rows_where,
)
from service.api.auth import audit, current_principal, require_province
from service.api.datasets import dataset_arg, get_store, resolve_version, version_arg
from service.errors import InvalidInput, NotFound
from service.export import EXPORTERS, content_disposition, export_frame, make_filename
from service.vocabulary import H3_LEVELS, SUB_NATIONAL_LEVELS, level_of

log = logging.getLogger(__name__)

bp = Blueprint("exports", __name__, url_prefix="/api/v1/exports")

#: the largest table a single export may hold (rows); bigger requests must filter
MAX_EXPORT_ROWS = 200_000


def _exporter(fmt: str):
    if fmt not in EXPORTERS:
        raise NotFound(f"no export format {fmt!r}; use {', '.join(EXPORTERS)} "
                       f"/ ไม่รองรับรูปแบบไฟล์ {fmt!r}")
    return EXPORTERS[fmt]


def _check_size(frame: pd.DataFrame) -> None:
    if len(frame) > MAX_EXPORT_ROWS:
        raise InvalidInput(f"{len(frame):,} rows is more than one export may hold "
                           f"({MAX_EXPORT_ROWS:,}); choose a smaller area "
                           f"/ ข้อมูลมากเกินไป กรุณาเลือกพื้นที่ที่เล็กลง", column="province")


def _send(frame: pd.DataFrame, fmt: str, name_parts: list, layer: str) -> Response:
    exporter = _exporter(fmt)
    _check_size(frame)
    body = export_frame(frame, fmt, layer=layer)
    ascii_name, uni = make_filename(name_parts + [dt.date.today().isoformat()],
                                    exporter.extension)
    resp = Response(body, mimetype=exporter.media_type.split(";")[0])
    if "charset" in exporter.media_type:
        resp.headers["Content-Type"] = exporter.media_type
    resp.headers["Content-Disposition"] = content_disposition(ascii_name, uni)
    return resp


def _with_geometry(frame: pd.DataFrame, level: str, dataset: str, version: str
                   ) -> pd.DataFrame:
    import geopandas as gpd

    if level == "village":  # household-centroid points from the (possibly suppressed) lon/lat
        from service.export.targets import with_points

        if {"lon", "lat"} <= set(frame.columns):
            return with_points(frame)
        raise InvalidInput("village table has no lon/lat", column="geometry")
    if frame.empty:  # no rows (e.g. a province without cells): an empty layer
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], index=frame.index,
                                                              crs="EPSG:4326"))
    geoms = get_store().area_geometries(level, list(frame["code"]), dataset=dataset,
                                        version=version)
    merged = frame.merge(geoms[["code", "geometry"]], on="code", how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")


def _area_name(dataset: str, version: str, code: str) -> str | None:
    from service.geo.boundaries import level_of

    try:
        level = level_of(code)
    except ValueError:
        return None
    if level == "village":
        return code
    try:
        row = rows_where(dataset, version, level, current_principal(), "code", code)
    except NotFound:
        return None
    return None if row.empty else str(row["name_th"].iloc[0])


@bp.get("/areas/<level>.<fmt>")
def export_areas(level: str, fmt: str):
    """Area statistics of one level (optionally one province) as a file."""
    check_level(level)
    exporter = _exporter(fmt)
    dataset, version = dataset_arg(), version_arg()
    province = province_arg()
    require_scope(level, province is not None)
    v = resolve_version(dataset, version)
    principal = current_principal()
    frame = level_view(dataset, v.id, level, principal, province)
    if province:
        frame = frame[frame["province_code"] == province]
    if level in H3_LEVELS:
        from service.api.cells import covered, published_cells

        # no code or polygon of a suppressed cell; maps (GeoJSON, GPKG) get the published
        # coarser cells beneath instead of holes
        frame = (covered(dataset, v.id, int(level[-1]), principal, frame, province)
                 if exporter.spatial else published_cells(frame))
    frame = frame.drop(columns=[c for c in ("cell",) if c in frame.columns])
    if exporter.spatial:
        frame = _with_geometry(frame, level, dataset, v.id)
    return _send(frame.reset_index(drop=True), fmt,
                 ["chipao", dataset, v.round, province or "", level], layer=level)


def _admin_area(code: str) -> str:
    level = level_of(code)
    if level in SUB_NATIONAL_LEVELS:
        return str(level)
    raise NotFound(f"{code!r} is not a province, amphoe, tambon or village code "
                   f"/ รหัสพื้นที่ไม่ถูกต้อง")


def _names(dataset: str, version_id: str, province: str) -> dict[str, str]:
    """Province, amphoe and tambon names (public identity columns) for a village list."""
    from service.analysis.targets import names_from_areas

    names: dict[str, str] = {}
    for lvl in ("province", "amphoe", "tambon"):
        try:
            names.update(names_from_areas(get_store().read_areas(
                dataset, lvl, version=version_id, province=province)))
        except NotFound:
            continue
    return names


@bp.get("/villages/<area>.<fmt>")
def export_villages(area: str, fmt: str):
    """Village target list of a province, amphoe or tambon (ranked; public = suppressed)."""
    from service.commands.rank import previous_version
    from service.export.targets import village_targets, with_points

    exporter = _exporter(fmt)
    level = _admin_area(area)
    if level == "village":
        raise NotFound("give a province, amphoe or tambon code / ระบุรหัสจังหวัด อำเภอ หรือตำบล")
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    principal = current_principal()
    villages = level_view(dataset, v.id, "village", principal, area[:4])
    previous = None
    prev_v = previous_version(get_store(), dataset, v)
    if prev_v is not None:
        try:
            previous = level_view(dataset, prev_v.id, "village", principal, area[:4])
        except NotFound:
            previous = None
    frame = village_targets(villages, area, previous=previous,
                            names=_names(dataset, v.id, area[:4]))
    if exporter.spatial:
        frame = with_points(frame)
    name = _area_name(dataset, v.id, area)
    return _send(frame, fmt,
                 ["chipao", dataset, v.round, "หมู่บ้านเป้าหมาย", name or "", area, "villages"],
                 layer="villages")


@bp.get("/households/<area>.<fmt>")
def export_households(area: str, fmt: str):
    """Poor households of an admin area, nearest to exit first, as CSV/XLSX
    (authorised roles only; audited; no-store; no coordinates)."""
    from service.export.targets import check_household_format, household_targets

    _exporter(fmt)
    level = _admin_area(area)
    assert level in SUB_NATIONAL_LEVELS
    require_province(area[:4])
    check_household_format(fmt)
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    frame = household_targets(get_store().read_persons(dataset, area[:4], version=v.id), area)
    _check_size(frame)
    audit("export_households", f"{dataset}/{v.id}/{area}", f"format={fmt} rows={len(frame)}")
    return _send(frame, fmt, ["chipao", dataset, v.round, "ครัวเรือนเป้าหมาย", area,
                              "households"], layer="households")
