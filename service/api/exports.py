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

from flask import Blueprint, Response

from service.api.areas import check_level, province_arg, require_scope
from service.api.auth import audit, current_principal
from service.api.datasets import dataset_arg, resolve_version, version_arg
from service.api.services import services
from service.errors import NotFound
from service.export import EXPORTERS, content_disposition, export_frame, make_filename
from service.usecases import exports
from service.usecases.exports import Export

log = logging.getLogger(__name__)

bp = Blueprint("exports", __name__, url_prefix="/api/v1/exports")


def _exporter(fmt: str):
    if fmt not in EXPORTERS:
        raise NotFound(f"no export format {fmt!r}; use {', '.join(EXPORTERS)} "
                       f"/ ไม่รองรับรูปแบบไฟล์ {fmt!r}")
    return EXPORTERS[fmt]


def _send(export: Export, fmt: str) -> Response:
    exporter = _exporter(fmt)
    exports.check_size(export.frame)
    body = export_frame(export.frame, fmt, layer=export.layer)
    ascii_name, uni = make_filename(export.name_parts + [dt.date.today().isoformat()],
                                    exporter.extension)
    resp = Response(body, mimetype=exporter.media_type.split(";")[0])
    if "charset" in exporter.media_type:
        resp.headers["Content-Type"] = exporter.media_type
    resp.headers["Content-Disposition"] = content_disposition(ascii_name, uni)
    return resp


@bp.get("/areas/<level>.<fmt>")
def export_areas(level: str, fmt: str):
    """Area statistics of one level (optionally one province) as a file."""
    check_level(level)
    exporter = _exporter(fmt)
    dataset, version, province = dataset_arg(), version_arg(), province_arg()
    require_scope(level, province is not None)
    s = services()
    v = resolve_version(dataset, version)
    return _send(exports.area_table(s.store, current_principal(), dataset, v, level,
                                    province=province, spatial=exporter.spatial,
                                    min_households=s.min_households, cache=s.views), fmt)


@bp.get("/villages/<area>.<fmt>")
def export_villages(area: str, fmt: str):
    """Village target list of a province, amphoe or tambon (ranked; public = suppressed)."""
    exporter = _exporter(fmt)
    exports.admin_level(area)
    s, dataset = services(), dataset_arg()
    v = resolve_version(dataset, version_arg())
    return _send(exports.village_list(s.store, current_principal(), dataset, v, area,
                                      spatial=exporter.spatial,
                                      min_households=s.min_households, cache=s.views), fmt)


@bp.get("/households/<area>.<fmt>")
def export_households(area: str, fmt: str):
    """Poor households of an admin area, nearest to exit first, as CSV/XLSX
    (authorised roles only; audited; no-store; no coordinates)."""
    _exporter(fmt)
    dataset = dataset_arg()
    export = exports.household_list(services().store, current_principal(), dataset,
                                    version_arg(), area, fmt=fmt)
    audit("export_households", f"{dataset}/{export.version}/{area}",
          f"format={fmt} rows={len(export.frame)}")
    return _send(export, fmt)
