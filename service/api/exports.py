"""/api/v1/exports: area tables, village lists and (authorised) household lists as files.

Formats come from the EXPORTERS registry (csv with BOM, xlsx, geojson, gpkg). The server
makes every file name (Thai names via RFC 6266 ``filename*``). Area and village exports obey
the same views as the JSON API (public = suppressed); household exports need the national
role or the provincial role of that province, are audited and sent ``no-store``.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from flask import Blueprint, Response

from service.api.areas import _CODE_RE, check_code, check_level, level_view, province_arg
from service.api.auth import audit, current_principal, require_province
from service.api.datasets import dataset_arg, get_store, resolve_version, version_arg
from service.errors import InvalidInput, NotFound
from service.export import EXPORTERS, content_disposition, export_frame, make_filename

log = logging.getLogger(__name__)

bp = Blueprint("exports", __name__, url_prefix="/api/v1/exports")

#: the largest table a single export may hold (rows); bigger requests must filter
MAX_EXPORT_ROWS = 200_000


def _exporter(fmt: str):
    if fmt not in EXPORTERS:
        raise NotFound(f"no export format {fmt!r}; use {', '.join(EXPORTERS)} "
                       f"/ ไม่รองรับรูปแบบไฟล์ {fmt!r}")
    return EXPORTERS[fmt]


def _send(frame: pd.DataFrame, fmt: str, name_parts: list, layer: str) -> Response:
    exporter = _exporter(fmt)
    if len(frame) > MAX_EXPORT_ROWS:
        raise InvalidInput(f"{len(frame):,} rows is more than one export may hold "
                           f"({MAX_EXPORT_ROWS:,}); filter by province "
                           f"/ ข้อมูลมากเกินไป กรุณาเลือกจังหวัด", column="province")
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

    if level == "village":  # centroid points from the (possibly suppressed) lon/lat
        if {"lon", "lat"} <= set(frame.columns):
            return frame
        raise InvalidInput("village table has no lon/lat", column="geometry")
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
        frame = level_view(dataset, version, level, current_principal())
    except NotFound:
        return None
    row = frame[frame["code"] == code]
    return None if row.empty else str(row["name_th"].iloc[0])


@bp.get("/areas/<level>.<fmt>")
def export_areas(level: str, fmt: str):
    """Area statistics of one level (optionally one province) as a file."""
    check_level(level)
    exporter = _exporter(fmt)
    dataset, version = dataset_arg(), version_arg()
    province = province_arg()
    v = resolve_version(dataset, version)
    frame = level_view(dataset, v.id, level, current_principal())
    if province:
        frame = frame[frame["province_code"] == province]
    frame = frame.drop(columns=[c for c in ("cell",) if c in frame.columns])
    if exporter.spatial:
        frame = _with_geometry(frame, level, dataset, v.id)
    return _send(frame.reset_index(drop=True), fmt,
                 ["chipao", dataset, v.round, province or "", level], layer=level)


def _admin_area(code: str) -> str:
    for level in ("province", "amphoe", "tambon", "village"):
        try:
            check_code(level, code)
            return level
        except NotFound:
            continue
    raise NotFound(f"{code!r} is not a province, amphoe, tambon or village code "
                   f"/ รหัสพื้นที่ไม่ถูกต้อง")


@bp.get("/villages/<area>.<fmt>")
def export_villages(area: str, fmt: str):
    """Village list (village statistics) of a province, amphoe or tambon."""
    exporter = _exporter(fmt)
    level = _admin_area(area)
    if level == "village":
        raise NotFound("give a province, amphoe or tambon code / ระบุรหัสจังหวัด อำเภอ หรือตำบล")
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    frame = level_view(dataset, v.id, "village", current_principal())
    frame = frame[frame["code"].str.startswith(area)].drop(columns=["cell"], errors="ignore")
    if exporter.spatial:
        frame = _with_geometry(frame, "village", dataset, v.id)
    name = _area_name(dataset, v.id, area)
    return _send(frame.reset_index(drop=True), fmt,
                 ["chipao", dataset, v.round, "หมู่บ้าน", name or "", area, "villages"],
                 layer="villages")


@bp.get("/households/<area>.<fmt>")
def export_households(area: str, fmt: str):
    """Household list of an admin area (authorised roles only; audited; no-store)."""
    from service.export.households import household_list

    exporter = _exporter(fmt)
    level = _admin_area(area)
    assert level in _CODE_RE
    require_province(area[:4])
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    frame = household_list(get_store().read_persons(dataset, area[:4], version=v.id), area)
    if exporter.spatial:
        frame = frame.dropna(subset=[c for c in ("lon", "lat") if c in frame.columns])
    audit("export_households", f"{dataset}/{v.id}/{area}", f"format={fmt} rows={len(frame)}")
    return _send(frame, fmt, ["chipao", dataset, v.round, "ครัวเรือน", area, "households"],
                 layer="households")
