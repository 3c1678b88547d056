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
import re
import threading
from collections import OrderedDict
from typing import Any

import pandas as pd
from flask import Blueprint, current_app, jsonify, request

from service.analysis.aggregate import H3_LEVELS, LEVELS
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
from service.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

bp = Blueprint("areas", __name__, url_prefix="/api/v1")

CHILD_LEVEL = {"country": "province", "province": "amphoe", "amphoe": "tambon",
               "tambon": "village", "h3_r6": "h3_r7", "h3_r7": "h3_r8", "h3_r8": "h3_r9"}
_CODE_RE = {"country": r"^TH$", "province": r"^TH\d{2}$", "amphoe": r"^TH\d{4}$",
            "tambon": r"^TH\d{6}$", "village": r"^TH\d{8}$"}
_H3_RE = re.compile(r"^[0-9a-f]{15}$")
_PROVINCE_RE = re.compile(r"^TH\d{2}$")
MAX_LIMIT = 5000
PUBLIC_CACHE_KEY = "chipao_public_views"
PUBLIC_CACHE_SIZE = 40  # masks and whole small levels: 9 levels x 2 kinds x 2 versions
#: levels too large to list for the whole country (a province or parent is required)
BIG_LEVELS = ("village", "h3_r8", "h3_r9")

#: KPI measures followed across rounds (those present in the area table)
KPI_MEASURES = ("n_households", "n_persons", "n_poor", "h", "a", "m0", "n_target_poor",
                "n_poor_households", "n_crossgen_households")


# -- parameters ----------------------------------------------------------------------------
def check_level(level: str) -> str:
    if level not in LEVELS:
        raise NotFound(f"no level {level!r}; levels are {', '.join(LEVELS)} "
                       f"/ ไม่มีระดับพื้นที่ {level!r}")
    return level


def check_code(level: str, code: str) -> str:
    if level in H3_LEVELS:
        ok = bool(_H3_RE.fullmatch(code))
        if ok:
            import h3

            ok = h3.is_valid_cell(code) and h3.get_resolution(code) == int(level[4:])
    else:
        ok = bool(re.fullmatch(_CODE_RE[level], code))
    if not ok:
        raise NotFound(f"{code!r} is not a {level} code / {code!r} ไม่ใช่รหัสระดับ {level}")
    return code


def province_arg() -> str | None:
    value = request.args.get("province")
    if value in (None, ""):
        return None
    value = value.upper()
    if not _PROVINCE_RE.fullmatch(value):
        raise InvalidInput(f"province must look like TH50, not {value!r} "
                           "/ รหัสจังหวัดต้องอยู่ในรูป TH50", column="province")
    return value


# -- views of a level as a principal may see it ----------------------------------------------
def _public_cache() -> tuple[OrderedDict, threading.Lock]:
    entry = current_app.extensions.get(PUBLIC_CACHE_KEY)
    if entry is None:
        entry = current_app.extensions.setdefault(PUBLIC_CACHE_KEY,
                                                  (OrderedDict(), threading.Lock()))
    return entry


#: level -> parent level, so a suppressed parent protects its children
PARENT_LEVEL = {child: parent for parent, child in CHILD_LEVEL.items()}


def suppress_frame(frame: pd.DataFrame, level: str,
                   parents: pd.DataFrame | None = None) -> pd.DataFrame:
    """The public (disclosure-controlled) version of an area table."""
    from service.analysis.disclosure import suppress

    k = int(current_app.config["CHIPAO"]["min_cell_households"])
    return suppress(frame, min_households=k, level=level, parents=parents)


def _cached(key: tuple, make: Any) -> Any:
    cache, lock = _public_cache()
    with lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with lock:
        cache[key] = value
        while len(cache) > PUBLIC_CACHE_SIZE:
            cache.popitem(last=False)
    return value


def public_mask(dataset: str, version_id: str, level: str) -> pd.DataFrame:
    """What the public view of ``level`` hides, decided over the whole country.

    ``suppress`` runs once per (dataset, version, level) on a narrow table: the identity
    columns, ``n_households``, the stored flags and the denominator of every rate family,
    plus a constant sentinel per family that comes back null exactly where that family's
    rates are hidden. The result (indexed by code, only rows with something hidden) holds
    ``suppressed``, ``suppression_reason`` and ``hidden:<denominator>``; applied by
    :func:`apply_mask` to any subset of rows it gives exactly the whole-country public
    rows (national H3 r9: a few hundred MB once instead of 7.6 GB per build)."""
    def make() -> pd.DataFrame:
        from service.analysis.disclosure import _families

        store = get_store()
        names = store.area_columns(dataset, level, version=version_id)
        families = [(denom, items[0]) for denom, items in
                    _families(pd.DataFrame(columns=names)) if items]
        # n_hh_present (households with any member here) decides primary suppression
        wanted = ["code", "parent_code", "n_households", "n_hh_present", "n_persons",
                  "dc_suppressed", "dc_reason"]
        columns = [c for c in wanted if c in names] + [d for d, _ in families]
        narrow = store.read_areas(dataset, level, version=version_id,
                                  columns=list(dict.fromkeys(columns)))
        for _, sentinel in families:
            narrow[sentinel] = 1.0
        # parents as integer keys: the same groups, hashed several times faster
        keys, uniques = pd.factorize(narrow.get("parent_code", pd.Series(
            None, index=narrow.index, dtype=object)))
        narrow["parent_code"] = pd.Series(keys, index=narrow.index, dtype="Int64").mask(
            keys < 0)
        parents = None
        parent_level = PARENT_LEVEL.get(level)
        if parent_level is not None:
            try:
                above = public_mask(dataset, version_id, parent_level)
            except NotFound:  # parent level not computed for this dataset
                above = None
            if above is not None:
                codes = above.index[above["suppressed"].to_numpy(dtype=bool)]
                found = pd.Index(uniques).get_indexer(codes)
                parents = pd.DataFrame({"code": pd.array(found[found >= 0], dtype="Int64"),
                                        "suppressed": True})
        public = suppress_frame(narrow, level, parents)
        sup = public["suppressed"].to_numpy(dtype=bool)
        mask = pd.DataFrame({"suppressed": sup,
                             "suppression_reason": public["suppression_reason"].to_numpy()},
                            index=pd.Index(public["code"].to_numpy(), name="code"))
        keep = sup.copy()
        for denom, sentinel in families:
            hidden = public[sentinel].isna().to_numpy()
            mask[f"hidden:{denom}"] = hidden
            keep |= hidden
        return mask[keep]

    return _cached(("mask", dataset, version_id, level), make)


def apply_mask(raw: pd.DataFrame, mask: pd.DataFrame) -> pd.DataFrame:
    """``raw`` (any rows of a level) as the public sees them, using :func:`public_mask`:
    the same nulling as ``disclosure.suppress`` with the decisions taken country-wide."""
    from service.analysis.disclosure import _KEEP, _families, _null_columns

    out = raw.copy()
    found = mask.reindex(out["code"].to_numpy())
    sup = pd.Series(found["suppressed"].eq(True).to_numpy(), index=out.index)
    out["suppressed"] = sup
    out["suppression_reason"] = pd.Series(found["suppression_reason"].to_numpy(dtype=object),
                                          index=out.index, dtype=object)
    for denom, items in _families(out):
        column = f"hidden:{denom}"
        if column in found:
            hidden = pd.Series(found[column].eq(True).to_numpy(), index=out.index)
            _null_columns(out, items, hidden & ~sup)
    _null_columns(out, [c for c in out.columns if c not in _KEEP], sup)
    from service.analysis.disclosure import PUBLIC_REASON, perturb

    out["suppression_reason"] = out["suppression_reason"].where(~sup, PUBLIC_REASON)
    return perturb(out)


def public_frame(dataset: str, version_id: str, level: str,
                 province: str | None = None) -> pd.DataFrame:
    """Public (suppressed) rows of a level: of one province (read with the filter pushed
    down to Parquet, not cached: the store caches the read) or of the whole country
    (cached; meant for the small levels)."""
    mask = public_mask(dataset, version_id, level)
    if province is not None:
        raw = get_store().read_areas(dataset, level, version=version_id, province=province)
        return apply_mask(raw[raw["province_code"] == province].reset_index(drop=True),
                          mask)
    return _cached(("whole", dataset, version_id, level), lambda: apply_mask(
        get_store().read_areas(dataset, level, version=version_id), mask))


def level_view(dataset: str, version_id: str, level: str, principal: Principal,
               province: str | None = None) -> pd.DataFrame:
    """Rows of ``level`` as ``principal`` may see them, with a ``view`` column
    (``detail`` = unsuppressed, ``public`` = disclosure-controlled).

    With ``province`` only that province's rows are returned, read with the filter pushed
    down to Parquet for every view (0.4 s instead of 8-30 s and 7.6 GB for national H3
    r9); public rows use the country-wide suppression decisions (:func:`public_mask`), so
    a row's answer never depends on the filter. Without it the whole country is returned,
    except that a non-national caller gets 422 for :data:`BIG_LEVELS` (the public table
    of national H3 r9 took 7.6 GB)."""
    store = get_store()

    def read_raw(prov: str | None) -> pd.DataFrame:
        # the cell key is an internal of the public perturbation, never shown
        return store.read_areas(dataset, level, version=version_id, province=prov).drop(
            columns=["ckey"], errors="ignore")

    if principal.role == "national":
        return read_raw(province).assign(view="detail")
    own_province = principal.province if principal.role == "provincial" else None
    if province is not None:
        if own_province != province:
            return public_frame(dataset, version_id, level, province).assign(view="public")
        raw = read_raw(province)
        own = raw[raw["province_code"] == province].assign(view="detail")
        for column in ("suppressed", "suppression_reason"):  # same shape as the mixed view
            if column not in own:
                own[column] = None
        return own.sort_values("code", kind="stable").reset_index(drop=True)
    require_scope(level, False)  # never a whole-country public table of a big level
    public = public_frame(dataset, version_id, level).assign(view="public")
    if not own_province:
        return public
    raw = read_raw(own_province)
    own = raw[raw["province_code"] == own_province].assign(view="detail")
    others = public[public["province_code"] != own_province]
    out = pd.concat([own, others], ignore_index=True, sort=False)
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def require_scope(level: str, scoped: bool) -> None:
    """422 for a whole-country listing of a big level (village, H3 r8/r9)."""
    if level in BIG_LEVELS and not scoped:
        raise InvalidInput(
            f"{level} is listed one province at a time: add province=TH50 (or parent=...) "
            f"/ ระดับ {level} แสดงได้ทีละจังหวัด กรุณาระบุ province เช่น TH50 (หรือ parent)",
            column="province")


def rows_where(dataset: str, version_id: str, level: str, principal: Principal,
               column: str, value: str) -> pd.DataFrame:
    """Rows of ``level`` whose ``column`` (``code`` or ``parent_code``) equals ``value``, as
    ``principal`` may see them, reading only the provinces holding them: an admin code's
    province is its first four characters; for H3 cells the store finds them."""
    if level in H3_LEVELS:
        provinces = get_store().area_provinces(dataset, level, version=version_id,
                                               column=column, value=value)
    else:
        head = _admin_province("province", value)
        if head is None and level in BIG_LEVELS:
            provinces = []
        elif head is None:
            frame = level_view(dataset, version_id, level, principal)
            return frame[frame[column] == value]
        else:
            provinces = [head]
    if not provinces:
        return pd.DataFrame({"code": pd.Series(dtype=object),
                             column: pd.Series(dtype=object)})
    frame = pd.concat([level_view(dataset, version_id, level, principal, p)
                       for p in provinces], ignore_index=True, sort=False)
    return frame[frame[column] == value].sort_values("code", kind="stable")


def _admin_province(level: str, code: str | None) -> str | None:
    """The province an admin area (and all its children) lies in: its code's first four
    characters; None for the country and H3 cells (a cell's children may lie elsewhere)."""
    if not code or level not in ("province", "amphoe", "tambon", "village"):
        return None
    head = code[:4]
    return head if len(head) == 4 and head[:2] == "TH" and head[2:].isdigit() else None


def _filter(frame: pd.DataFrame, *, province: str | None, parent: str | None) -> pd.DataFrame:
    if province:
        frame = frame[frame["province_code"] == province]
    if parent:
        frame = frame[frame["parent_code"] == parent]
    return frame


def _page(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    limit = int_arg("limit", 1000, lo=1, hi=MAX_LIMIT)
    offset = int_arg("offset", 0, lo=0, hi=10_000_000)
    return frame.iloc[offset:offset + limit], {"total": len(frame), "limit": limit,
                                               "offset": offset}


def _area_row(frame: pd.DataFrame, code: str, level: str) -> pd.DataFrame:
    row = frame[frame["code"] == code]
    if row.empty:
        raise NotFound(f"no {level} {code} in this dataset / ไม่พบพื้นที่ {code}")
    return row.iloc[:1]


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
        principal = current_principal()
        if province is None and parent is not None:
            frame = rows_where(dataset, v.id, level, principal, "parent_code", parent)
        else:
            frame = level_view(dataset, v.id, level, principal, province=province)
        page, meta = _page(_filter(frame, province=province, parent=parent))
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
        area = _area_row(rows_where(dataset, v.id, level, principal, "code", code), code,
                         level)
        child_level = CHILD_LEVEL.get(level)
        children: list[dict] = []
        if child_level is not None:
            try:
                children = records(rows_where(dataset, v.id, child_level, principal,
                                              "parent_code", code))
            except NotFound:  # that level was not computed for this dataset
                children = []
        return {"dataset": dataset, "version": v.id, "round": v.round, "level": level,
                "area": records(area)[0], "children_level": child_level,
                "children": children}

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


def _programmes(columns: Any) -> list[str]:
    return sorted(c[len("n_elig_"):] for c in columns if str(c).startswith("n_elig_"))


@bp.get("/areas/<level>/<code>/coverage")
def coverage(level: str, code: str):
    """Welfare programme coverage and exclusion (ตกหล่น) of one area."""
    check_level(level)
    check_code(level, code)
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)

    def build() -> dict:
        row = records(_area_row(rows_where(dataset, v.id, level, current_principal(),
                                           "code", code), code, level))[0]
        items = []
        for p in _programmes(row):
            items.append({
                "programme": p,
                "n_eligible": row.get(f"n_elig_{p}"), "n_covered": row.get(f"n_cov_{p}"),
                "n_excluded": row.get(f"n_excl_{p}"),
                "n_inclusion_error": row.get(f"n_incl_err_{p}"),
                "coverage": row.get(f"cov_{p}"),
            })
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
                       lambda: _kpi_body(dataset, level, code, versions, principal))


def _kpi_body(dataset: str, level: str, code: str, versions: list,
              principal: Principal) -> dict:
    series = []
    series_rows: list[tuple[int, pd.DataFrame]] = []
    for v in versions:
        try:
            row = rows_where(dataset, v.id, level, principal, "code", code)
        except NotFound:
            continue
        if row.empty:
            continue
        series_rows.append((int(v.round), row.iloc[:1]))
        rec = records(row.iloc[:1])[0]
        point = {"version": v.id, "round": v.round, "view": rec.get("view")}
        for m in KPI_MEASURES:
            if m in rec:
                point[m] = rec[m]
        for p in _programmes(rec):
            point[f"cov_{p}"] = rec.get(f"cov_{p}")
        series.append(point)
    if not series:
        raise NotFound(f"no {level} {code} in dataset {dataset!r} / ไม่พบพื้นที่ {code}")
    return {"dataset": dataset, "level": level, "code": code, "series": series,
            "change": _changes(series), "kpis": _master_plan_kpis(series_rows)}


def _master_plan_kpis(rows: list[tuple[int, pd.DataFrame]]) -> list[dict]:
    """Master-plan KPIs (MPI -10 %/5 years, coverage milestones) from analysis.kpi."""
    from service.analysis.kpi import kpi_table

    table = kpi_table(rows)
    return records(table)


def _changes(series: list[dict]) -> dict[str, float | None]:
    """Change of each measure from the first to the last round (null when unknown)."""
    first, last = series[0], series[-1]
    out: dict[str, float | None] = {}
    for key, value in last.items():
        if key in ("version", "round", "view"):
            continue
        before = first.get(key)
        out[key] = (value - before) if isinstance(value, int | float) and \
            isinstance(before, int | float) else None
    return out


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
