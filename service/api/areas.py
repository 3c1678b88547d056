"""/api/v1/areas: area statistics by level and code (with children), the measures catalogue,
programme coverage, KPI tracking across rounds and household lists.

Who sees what (docs/CONTRACT.md §5): national callers see every area unsuppressed; a
provincial caller sees its own province unsuppressed and every other area exactly as the
public does; the public sees the level table passed through
``service.analysis.disclosure.suppress`` (computed once per dataset version and level, then
filtered, so two requests can never be combined into a finer view). Only precomputed
geographies are addressable: a level name and a code, never a polygon.
"""

from __future__ import annotations

import logging

import pandas as pd
from flask import Blueprint, jsonify, request

from service import vocabulary
from service.access import views
from service.access.views import require_scope
from service.api import params
from service.api.auth import Principal, audit, current_principal, require_province
from service.api.datasets import (
    cached_json,
    dataset_arg,
    get_store,
    int_arg,
    records,
    request_key,
    resolve_version,
    version_arg,
)
from service.api.services import services
from service.errors import InvalidInput, NotFound
from service.usecases import areas as areas_uc
from service.vocabulary import LEVELS

log = logging.getLogger(__name__)

bp = Blueprint("areas", __name__, url_prefix="/api/v1")

MAX_LIMIT = 5000



# -- parameters ----------------------------------------------------------------------------
def check_level(level: str) -> str:
    """A level in a URL path: 404 when it is not one (:func:`params.in_path`)."""
    return params.in_path(vocabulary.check_level, level)


def check_code(level: str, code: str) -> str:
    """An area code in a URL path: 404 when it is not a code of ``level``."""
    return params.in_path(vocabulary.check_code, level, code)


def province_arg() -> str | None:
    value = request.args.get("province")
    if value in (None, ""):
        return None
    value = value.upper()
    if not vocabulary.is_code("province", value):
        raise InvalidInput(f"province must look like TH50, not {value!r} "
                           "/ รหัสจังหวัดต้องอยู่ในรูป TH50", column="province")
    return value


# -- views of a level as a principal may see it (service.access.views) ----------------------
def level_view(dataset: str, version_id: str, level: str, principal: Principal,
               province: str | None = None) -> pd.DataFrame:
    """Rows of ``level`` as ``principal`` may see them (:func:`views.area_view`)."""
    s = services()
    return views.area_view(s.store, dataset, level, principal, version=version_id,
                           province=province, min_households=s.min_households,
                           cache=s.views)


def public_frame(dataset: str, version_id: str, level: str,
                 province: str | None = None) -> pd.DataFrame:
    """Public rows of a level (:func:`views.public_view`, without the ``view`` column)."""
    s = services()
    return views.public_view(s.store, dataset, level, version=version_id, province=province,
                             min_households=s.min_households, cache=s.views,
                             whole_country=True).drop(columns=["view"])


def rows_where(dataset: str, version_id: str, level: str, principal: Principal,
               column: str, value: str) -> pd.DataFrame:
    """:func:`service.usecases.areas.rows_where` for this app."""
    return areas_uc.rows_where(services(), principal, dataset, version_id, level, column, value)


def _page(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    limit = int_arg("limit", 1000, lo=1, hi=MAX_LIMIT)
    offset = int_arg("offset", 0, lo=0, hi=10_000_000)
    return frame.iloc[offset:offset + limit], {"total": len(frame), "limit": limit,
                                               "offset": offset}


# -- endpoints -------------------------------------------------------------------------------
@bp.get("/areas/<level>")
def list_areas(level: str):
    """Areas of one level, optionally of one province or one parent."""
    check_level(level)
    dataset, version = dataset_arg(), version_arg()
    province = province_arg()
    parent = request.args.get("parent") or None
    if parent is not None and len(parent) > 32:
        raise InvalidInput("parent code too long / รหัสพื้นที่แม่ยาวเกินไป", column="parent")
    require_scope(level, bool(province or parent))
    v = resolve_version(dataset, version)

    def build() -> dict:
        page, meta = _page(areas_uc.level_rows(services(), current_principal(), dataset, v.id,
                                               level, province=province, parent=parent))
        return {"dataset": dataset, "version": v.id, "round": v.round, "level": level,
                **meta, "items": records(page)}

    return cached_json(request_key(dataset, v.id), build)


@bp.get("/areas/<level>/<code>")
def get_area(level: str, code: str):
    """One area and its children one level down."""
    check_level(level)
    check_code(level, code)
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    principal = current_principal()

    def build() -> dict:
        area, child_level, children = areas_uc.area_with_children(
            services(), principal, dataset, v.id, level, code)
        return {"dataset": dataset, "version": v.id, "round": v.round, "level": level,
                "area": records(area)[0], "children_level": child_level,
                "children": records(children)}

    return cached_json(request_key(dataset, v.id), build)


@bp.get("/measures")
def measures():
    """The measure catalogue (Thai/English labels, units, formats, columns used)."""
    from service.render.catalogue import load_catalogue

    cat = load_catalogue()
    items = []
    for m in cat.measures.values():
        d = m.to_json()
        d.update({"column": m.column, "num": m.num, "den": m.den})
        items.append(d)
    groups = [{"id": k, "th": th, "en": en} for k, (th, en) in cat.groups.items()]
    return jsonify({"default": cat.default, "items": items, "groups": groups,
                    "levels": list(LEVELS)})


@bp.get("/areas/<level>/<code>/coverage")
def coverage(level: str, code: str):
    """Welfare programme coverage and exclusion (ตกหล่น) of one area."""
    check_level(level)
    check_code(level, code)
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)

    def build() -> dict:
        row = records(areas_uc.one_row(rows_where(dataset, v.id, level, current_principal(),
                                                  "code", code), code, level))[0]
        items = areas_uc.coverage(row)
        return {"dataset": dataset, "version": v.id, "level": level, "code": code,
                "name_th": row.get("name_th"), "name_en": row.get("name_en"),
                "view": row.get("view"), "programmes": items}

    return cached_json(request_key(dataset, v.id), build)


@bp.get("/areas/<level>/<code>/kpi")
def kpi(level: str, code: str):
    """KPI tracking: the area's headline measures in every round (version), oldest first."""
    check_level(level)
    check_code(level, code)
    dataset = dataset_arg()
    store = get_store()
    principal = current_principal()
    versions = sorted(store.versions(dataset), key=lambda v: (v.round, v.created_at))
    if not versions:
        raise NotFound(f"dataset {dataset!r} has no ready version / ไม่พบชุดข้อมูล {dataset!r}")
    return cached_json(request_key(dataset, tuple(v.id for v in versions)),
                       lambda: areas_uc.kpi_series(services(), principal, dataset, level, code,
                                                   versions, records))


@bp.get("/areas/<level>/<code>/households")
def households(level: str, code: str):
    """Household list of an admin area (personal data: authorised and audited)."""
    from service.export.households import household_list

    check_level(level)
    if level not in ("province", "amphoe", "tambon", "village"):
        raise NotFound("household lists exist for province, amphoe, tambon and village "
                       "/ มีรายชื่อครัวเรือนเฉพาะระดับจังหวัด อำเภอ ตำบล หมู่บ้าน")
    check_code(level, code)
    require_province(code[:4])
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    persons = get_store().read_persons(dataset, code[:4], version=v.id)
    frame = household_list(persons, code)
    page, meta = _page(frame)
    audit("read_households", f"{dataset}/{v.id}/{code}",
          f"rows={len(page)} offset={meta['offset']}")
    return jsonify({"dataset": dataset, "version": v.id, "level": level, "code": code,
                    **meta, "items": records(page)})
