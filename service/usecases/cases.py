"""Follow-up use cases: what a district officer, a provincial centre and the public do with
household cases. Plain values in and out; raises service.errors; no Flask.

Access (docs/CONTRACT.md §5): provincial users act on their own province's cases only,
national users on every province, the public on none (only disclosure-controlled progress
aggregates, :func:`public_progress`). Every read and write of a case appends an audit row
(object = ``case:<id>`` or ``cases:<dataset>/<area>``: never a household id or a note).

``services`` is the app's :class:`service.api.services.Services` (or any object with
``settings``, ``store`` and ``users``); the case store is created once per services object.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from service.access.principal import Principal, visible_provinces
from service.access.views import suppressed_mask
from service.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from service.followup.catalogue import HORIZONS
from service.followup.households import household_frame, target_rule
from service.followup.imports import AssistImport, import_assistance
from service.followup.store import AREA_COLUMNS, CaseStore, Filters
from service.vocabulary import INDICATORS, PROGRAMMES

log = logging.getLogger(__name__)

PAGE_SIZE = 50


# -- plumbing -----------------------------------------------------------------------------------
def case_store(services: Any) -> CaseStore:
    """The services object's :class:`CaseStore` (created on first use)."""
    store = getattr(services, "followup", None)
    if store is None:
        store = CaseStore(services.settings.database_url)
        services.followup = store
    return store


def visible(principal: Principal) -> set[str] | None:
    """Provinces whose cases ``principal`` may see: None = all (service.access rules)."""
    return visible_provinces(principal)


def require_cases(principal: Any, province: str | None = None) -> set[str] | None:
    """Refuse the public (401) and other provinces (403); returns :func:`visible`."""
    if not principal.is_authenticated:
        raise Unauthorized("ต้องเข้าสู่ระบบเพื่อดูข้อมูลการติดตามครัวเรือน / sign in to see "
                           "household follow-up")
    provinces = visible(principal)
    if province is not None and provinces is not None and province[:4] not in provinces:
        raise Forbidden(f"บัญชีของคุณไม่มีสิทธิ์ดูข้อมูลครัวเรือนของ {province} / your account "
                        f"may not see household cases of {province}")
    return provinces


def _audit(services: Any, principal: Any, action: str, obj: str, detail: str = "") -> None:
    services.users.audit(username=principal.username, role=principal.role,
                         province=principal.province, action=action, object=obj,
                         detail=detail)


def _case_for(services: Any, principal: Any, case_id: int) -> CaseStore:
    """The store, after checking the case exists and is visible (others' cases: 404, so
    ids of another province cannot be probed)."""
    require_cases(principal)
    cases = case_store(services)
    provinces = visible(principal)
    prov = cases.case_province(case_id)
    if provinces is not None and prov not in provinces:
        raise NotFound(f"ไม่พบกรณี {case_id} / no case {case_id}")
    return cases


@functools.lru_cache(maxsize=2)
def _names(boundaries_dir: str) -> dict[str, tuple[str, str]]:
    from service.analysis.aggregate import admin_names
    from service.geo import boundaries

    return admin_names(boundaries.hierarchy(boundaries_dir))


def area_name(services: Any, code: str | None) -> str:
    """Thai name of an admin code (village: หมู่ N of its tambon)."""
    if not code:
        return ""
    names = _names(str(services.settings.boundaries_dir))
    if len(code) == 10:
        return f"หมู่ {int(code[8:])} {names.get(code[:8], ('', ''))[0]}".strip()
    return names.get(code, (code, code))[0]


def _dataset(services: Any, dataset: str | None) -> str:
    return dataset or str(services.settings.default_dataset)


def current_round(services: Any, dataset: str) -> Any:
    """The dataset's current version (its round is the round of the case list)."""
    return services.store.current(dataset)


# -- opening cases --------------------------------------------------------------------------
def open_cases(services: Any, principal: Any, *, dataset: str | None,
               province: str | None = None) -> dict[str, int]:
    """Open the follow-up of the current round: a case for every target household of
    ``province`` (provincial users: their own; national users: one or every province of
    the version). A write (POST / command line), never done by a page view."""
    dataset = _dataset(services, dataset)
    if province is None and principal.role == "provincial":
        province = principal.province
    if province is None:
        require_cases(principal)
        if principal.role != "national":
            raise Forbidden("เฉพาะผู้ใช้ระดับประเทศเปิดได้ทุกจังหวัด / only national users open "
                            "every province")
        version = current_round(services, dataset)
        provinces = sorted(p.stem for p in (Path(version.path) / "persons").glob("*.parquet"))
    else:
        provinces = [province.upper()]
    return {p: ensure_cases(services, principal, dataset=dataset, province=p)
            for p in provinces}


def ensure_cases(services: Any, principal: Any, *, dataset: str, province: str) -> int:
    """Open the cases of ``province`` for the current version once (new households of a
    re-imported round are added; nothing is ever closed by this)."""
    require_cases(principal, province)
    if not province or len(province) != 4:
        raise InvalidInput("ระบุจังหวัด เช่น TH58 / give a province code such as TH58",
                           column="province")
    version = current_round(services, dataset)
    cases = case_store(services)
    if cases.synced(dataset, version.id, province):
        return 0
    try:
        persons = services.store.read_persons(dataset, province, version=version.id)
    except NotFound:
        return 0
    frame = household_frame(persons)
    n = cases.sync_cases(dataset, version_id=version.id, round=version.round,
                         province=province, households=frame.filter(target_rule()),
                         surveyed=frame["hh_id"])
    _audit(services, principal, "case.open", f"cases:{dataset}/{province}", f"new={n}")
    return n


# -- lists and pages ------------------------------------------------------------------------
@dataclass
class CaseList:
    dataset: str
    round: int
    province: str
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    filters: Filters
    amphoes: list[tuple[str, str]] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    #: the cases of the current version have been opened (else the page offers to)
    opened: bool = False
    version_id: str = ""


def parse_filters(args: dict[str, Any]) -> Filters:
    """Filters from query arguments (area, status (repeatable or comma list), source,
    overdue=1, helped=0|1)."""
    status = args.get("status") or ()
    if isinstance(status, str):
        status = tuple(s for s in status.split(",") if s)
    helped = args.get("helped")
    source = args.get("source") or None
    if source not in (None, "survey", "missed"):
        raise InvalidInput("source ต้องเป็น survey หรือ missed / source must be survey or missed",
                           column="source")
    return Filters(area=(args.get("area") or None), status=tuple(status), source=source,
                   overdue=str(args.get("overdue", "")) in ("1", "true", "on"),
                   helped=None if helped in (None, "") else str(helped) in ("1", "true"))


def list_cases(services: Any, principal: Any, *, dataset: str | None, province: str | None,
               filters: Filters | None = None, page: int = 1, page_size: int = PAGE_SIZE,
               today: dt.date | None = None) -> CaseList:
    """One page of a province's cases (provincial users: their province by default)."""
    dataset = _dataset(services, dataset)
    filters = filters or Filters()
    require_cases(principal)
    province = province or (principal.province if principal.role == "provincial" else None)
    if not province:
        raise InvalidInput("ระบุจังหวัด เช่น ?province=TH58 / give ?province=TH58",
                           column="province")
    province = province.upper()
    require_cases(principal, province)
    if filters.area and not filters.area.upper().startswith(province):
        raise InvalidInput(f"พื้นที่ {filters.area} ไม่อยู่ในจังหวัด {province} / area "
                           f"{filters.area} is not in {province}", column="area")
    version = current_round(services, dataset)
    cases = case_store(services)
    opened = cases.synced(dataset, version.id, province)
    wf = cases.workflow
    for s in filters.status:
        if s not in wf.statuses:
            raise InvalidInput(f"ไม่รู้จักสถานะ {s!r} / unknown status {s!r}", column="status")
    page = max(1, int(page))
    f = Filters(area=filters.area.upper() if filters.area else province,
                status=filters.status, source=filters.source, overdue=filters.overdue,
                helped=filters.helped)
    rows, total = cases.list_cases(dataset, version.round, provinces={province}, filters=f,
                                   offset=(page - 1) * page_size, limit=page_size,
                                   today=today)
    for r in rows:
        r["area_th"] = area_name(services, r["village_id"] or r["tambon_code"])
        r["amphoe_th"] = area_name(services, r["amphoe_code"])
    counts = cases.status_counts(dataset, version.round, province)
    _audit(services, principal, "case.list", f"cases:{dataset}/{f.area}",
           f"page={page} n={len(rows)}")
    return CaseList(dataset, version.round, province, rows, total, page,
                    max(1, -(-total // page_size)), filters,
                    [(c, area_name(services, c)) for c in
                     cases.amphoes(dataset, version.round, province)],
                    counts, opened, version.id)


def get_case(services: Any, principal: Any, case_id: int) -> dict[str, Any]:
    """A case with plan, history, assistance, the allowed next statuses and the plan
    actions suggested by its failing indicators and missed programmes."""
    cases = _case_for(services, principal, case_id)
    case = cases.case(case_id)
    wf = cases.workflow
    case["area_th"] = area_name(services, case["village_id"] or case["tambon_code"])
    case["amphoe_th"] = area_name(services, case["amphoe_code"])
    case["province_th"] = area_name(services, case["province_code"])
    case["next_statuses"] = [wf.statuses[s] for s in wf.allowed(case["status"])]
    case["failing_labels"] = [(i, *INDICATORS.get(i, (i, i))) for i in
                              sorted(case["failing_list"], key=lambda x: int(x[3:]))]
    case["excluded_labels"] = [(p, *PROGRAMMES.get(p, (p, p))) for p in case["excluded_list"]]
    case["household_type_th"] = household_type_label(case["household_type"])
    for h in case["history"]:
        for k in ("from_status", "to_status"):
            st = wf.statuses.get(h[k] or "")
            h[f"{k}_th"] = st.label_th if st else (h[k] or "–")
    case["suggested"] = cases.suggested_plan(case)
    _audit(services, principal, "case.read", f"case:{case_id}")
    return case


HOUSEHOLD_TYPES = {"child": "มีเด็ก · child", "elderly": "มีผู้สูงอายุ · elderly",
                   "disabled": "มีคนพิการ · disabled", "other": "ไม่มีเด็ก ผู้สูงอายุ หรือคนพิการ · "
                   "no child, elderly or disabled member"}


def household_type_label(code: str) -> str:
    return ", ".join(HOUSEHOLD_TYPES.get(t, t) for t in (code or "other").split("+"))


def change_status(services: Any, principal: Any, case_id: int, status: str, *,
                  note: str = "", expected: str | None = None) -> dict[str, Any]:
    cases = _case_for(services, principal, case_id)
    out = cases.change_status(case_id, status, actor=principal, note=note, expected=expected)
    _audit(services, principal, "case.status", f"case:{case_id}",
           f"{out['from']}->{out['to']}")
    return out


def add_plan_item(services: Any, principal: Any, case_id: int, *, action: str, agency: str,
                  horizon: str | None = None, due_date: Any = None,
                  indicator: str | None = None, note: str = "") -> int:
    cases = _case_for(services, principal, case_id)
    item = cases.add_plan_item(case_id, action=action, agency=agency, actor=principal,
                               horizon=horizon or None, due_date=due_date,
                               indicator=indicator or None, note=note)
    _audit(services, principal, "case.plan", f"case:{case_id}", f"item={item}")
    return item


def cancel_plan_item(services: Any, principal: Any, case_id: int, item_id: int) -> None:
    cases = _case_for(services, principal, case_id)
    cases.cancel_plan_item(case_id, item_id)
    _audit(services, principal, "case.plan_cancel", f"case:{case_id}", f"item={item_id}")


def log_assistance(services: Any, principal: Any, case_id: int, *, given_on: Any,
                   agency: str, action: str, amount_thb: Any = 0, horizon: str | None = None,
                   note: str = "") -> dict[str, Any]:
    cases = _case_for(services, principal, case_id)
    out = cases.add_assistance(case_id, given_on=given_on, agency=agency, action=action,
                               actor=principal, amount_thb=amount_thb or 0,
                               horizon=horizon or None, note=note)
    _audit(services, principal, "case.assistance", f"case:{case_id}",
           f"record={out['id']}" + (" possible_duplicate" if out["duplicate_of"] else ""))
    return out


def register_missed(services: Any, principal: Any, *, dataset: str | None, village_id: str,
                    n_members: Any, reason: str, n_children: Any = 0, n_elderly: Any = 0,
                    n_disabled: Any = 0, lon: Any = None, lat: Any = None,
                    house_id: str | None = None) -> int:
    """Register a household found in the field but absent from the survey (ตกหล่น/ใหม่).
    ``house_id`` (house registration number) is pseudonymised at once so the household is
    recognised when a later round surveys it; it is never stored as typed."""
    import re

    from service.vocabulary import level_of

    dataset = _dataset(services, dataset)
    code = (village_id or "").strip().upper()
    if level_of(code) not in ("tambon", "village"):
        raise InvalidInput("รหัสหมู่บ้าน (TH + 8 หลัก) หรือตำบล (TH + 6 หลัก) ไม่ถูกต้อง / give a "
                           "village (TH + 8 digits) or tambon (TH + 6 digits) code",
                           column="village_id")
    if code[:8] not in _names(str(services.settings.boundaries_dir)):
        raise InvalidInput(f"ไม่พบตำบล {code[:8]} / unknown tambon {code[:8]}",
                           column="village_id")
    require_cases(principal, code[:4])
    key = None
    if house_id and house_id.strip():
        digits = re.sub(r"[\s\-]", "", house_id)
        if not re.fullmatch(r"\d{11}", digits):
            raise InvalidInput("รหัสประจำบ้านต้องมี 11 หลัก / the house number has 11 digits",
                               column="house_id")
        from service.ingest.pseudonym import household_pseudonym

        key = household_pseudonym(services.settings.pseudonym_key or _no_key(), digits)
    point = _point(lon, lat)
    version = current_round(services, dataset)
    try:
        case_id = case_store(services).register_missed(
            dataset, version.round, village_id=code if len(code) == 10 else None,
            tambon_code=code[:8], n_members=_int(n_members, "n_members"), reason=reason,
            actor=principal, n_children=_int(n_children, "n_children"),
            n_elderly=_int(n_elderly, "n_elderly"), n_disabled=_int(n_disabled, "n_disabled"),
            lon=point[0], lat=point[1], house_key=key)
    except Exception:
        _audit(services, principal, "case.missed_refused", f"cases:{dataset}/{code[:8]}")
        raise
    _audit(services, principal, "case.missed", f"case:{case_id}")
    return case_id


def _no_key() -> str:
    raise InvalidInput("ไม่ได้ตั้งค่า CHIPAO_PSEUDONYM_KEY จึงรับรหัสประจำบ้านไม่ได้ / "
                       "CHIPAO_PSEUDONYM_KEY is not set: house numbers cannot be pseudonymised")


def _int(value: Any, column: str) -> int:
    try:
        return int(str(value if value not in (None, "") else 0).strip())
    except ValueError:
        raise InvalidInput(f"{column} ต้องเป็นจำนวนเต็ม / {column} must be a whole number",
                           column=column) from None


def _point(lon: Any, lat: Any) -> tuple[float | None, float | None]:
    if lon in (None, "") and lat in (None, ""):
        return None, None
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InvalidInput("พิกัดต้องมีทั้งลองจิจูดและละติจูดเป็นตัวเลข / give both lon and "
                           "lat as numbers", column="lon") from None
    if not (97.0 <= x <= 106.0 and 5.0 <= y <= 21.0):
        raise InvalidInput("พิกัดอยู่นอกประเทศไทย / the point is outside Thailand", column="lon")
    return x, y


def import_file(services: Any, principal: Any, path: str | Path, *, name: str,
                dataset: str | None, policy: str = "reject") -> AssistImport:
    """Import an agency's assistance file (national users: any province; provincial users:
    their province only, a row of another province refuses the file)."""
    require_cases(principal)
    if principal.role not in ("national", "provincial"):
        raise Forbidden("ไม่มีสิทธิ์นำเข้า / may not import")
    dataset = _dataset(services, dataset)
    province = principal.province if principal.role == "provincial" else None
    if province:
        ensure_cases(services, principal, dataset=dataset, province=province)

    def person_households(ids: list[str]) -> pl.DataFrame:
        return _person_households(services, dataset, province, ids)

    report = import_assistance(case_store(services), services.settings, path, dataset=dataset,
                               actor=principal, name=name, allowed_province=province,
                               policy=policy, person_households=person_households)
    _audit(services, principal, "case.import", f"cases:{dataset}/{province or 'all'}",
           f"{report.status} records={report.n_records} accepted={report.n_accepted} "
           f"flagged={report.n_flagged}")
    return report


def _person_households(services: Any, dataset: str, province: str | None,
                       ids: list[str]) -> pl.DataFrame:
    version = current_round(services, dataset)
    base = Path(version.path) / "persons"
    files = [base / f"{province}.parquet"] if province else sorted(base.glob("*.parquet"))
    files = [f for f in files if f.exists()]
    empty = pl.DataFrame(schema={"person_id": pl.String, "hh_id": pl.String})
    if not files or not ids:
        return empty
    return (pl.scan_parquet(files).select("person_id", "hh_id")
            .filter(pl.col("person_id").is_in(ids)).unique("person_id").collect())


# -- progress ---------------------------------------------------------------------------------
SHARES = {"visited": "n_visited", "with_plan": "n_with_plan", "helped": "n_helped",
          "resolved": "n_resolved"}


def _with_shares(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    n = out["n_cases"].where(out["n_cases"] > 0)
    for name, col in SHARES.items():
        out[f"share_{name}"] = (out[col] / n).round(4)
    return out


def check_agency(agency: str | None) -> str | None:
    """``agency`` (an id of the agency catalogue) or None; another value is refused."""
    from service.followup.catalogue import load_actions

    if agency is not None and agency not in load_actions().agencies:
        raise InvalidInput(f"unknown agency {agency!r} / ไม่มีหน่วยงาน {agency!r}",
                           column="agency")
    return agency


def progress(services: Any, principal: Any, *, dataset: str | None, level: str,
             area: str | None = None, today: dt.date | None = None,
             agency: str | None = None) -> pd.DataFrame:
    """Progress per area for signed-in users of the areas they may see: counts and shares
    visited / with a plan / helped / resolved, open cases past due, missed households, help
    delivered (records, THB); ``agency``: the help columns of that agency's records only.
    The public gets :func:`public_progress` instead."""
    agency = check_agency(agency)
    dataset = _dataset(services, dataset)
    provinces = require_cases(principal, area[:4] if area else None)
    if area is None and provinces is not None:
        area = next(iter(provinces)) if provinces else None
    version = current_round(services, dataset)
    frame = case_store(services).progress(dataset, version.round, level=level,
                                          provinces=provinces, area=area, today=today,
                                          agency=agency)
    frame.insert(1, "name_th", [area_name(services, c) for c in frame["code"]])
    return _with_shares(frame)


#: public progress rounds counts to this base and shares to 5 points
PUBLIC_COUNT_BASE = 5
PUBLIC_LEVELS = ("province", "amphoe")


def public_progress(services: Any, *, dataset: str | None, level: str,
                    area: str | None = None, round: int | None = None,
                    agency: str | None = None) -> pd.DataFrame:
    """Disclosure-controlled progress for everyone: province or amphoe only, areas with
    fewer target households than the minimum suppressed (primary and complementary, through
    service.analysis.disclosure), counts rounded to 5 and shares to 5 percentage points,
    help in THB rounded to thousands. Only cases already opened count. ``agency``: the help
    figures (share helped, help records, THB) of that agency's help only, under the same
    rules (suppression is decided on the target households, whatever the agency)."""
    from service.analysis.disclosure import suppress

    agency = check_agency(agency)
    if level not in PUBLIC_LEVELS:
        raise InvalidInput(f"ระดับสาธารณะ: {', '.join(PUBLIC_LEVELS)} / public levels are "
                           f"{', '.join(PUBLIC_LEVELS)}", column="level")
    dataset = _dataset(services, dataset)
    if round is None:
        round = current_round(services, dataset).round
    cases = case_store(services)
    frame = cases.progress(dataset, round, level=level, provinces=None, area=area,
                           agency=agency)
    frame = frame.drop(columns=["n_missed", "n_overdue", "n_closed"])
    frame["parent_code"] = frame["code"].str[:4] if level == "amphoe" else "TH"
    frame["n_households"] = frame["n_cases"]
    out = suppress(frame, min_households=int(services.settings.min_cell_households),
                   level=level)
    out.insert(1, "name_th", [area_name(services, c) for c in out["code"]])
    counts = ["n_cases", *SHARES.values(), "n_assist"]
    values = out[counts].astype("float64")          # suppressed rows are NaN already
    n = values["n_cases"].where(values["n_cases"] > 0)
    for name, col in SHARES.items():
        out[f"share_{name}"] = ((values[col] / n) * 20).round() / 20
    for col in counts:
        out[col] = (values[col] / PUBLIC_COUNT_BASE).round() * PUBLIC_COUNT_BASE
    out["assist_thb"] = (out["assist_thb"].astype("float64") / 1000).round() * 1000
    keep = ["code", "name_th", "parent_code", "n_cases", "share_visited", "share_with_plan",
            "share_helped", "share_resolved", "n_assist", "assist_thb", "suppressed"]
    return out[keep].reset_index(drop=True)


#: map measures of the follow-up family (maps/measures.json ``fu_*``) <- progress columns
MAP_COLUMNS = {"n_cases": "fu_n_cases", "n_overdue": "fu_n_overdue", "n_missed": "fu_n_missed",
               "n_assist": "fu_n_assist", "assist_thb": "fu_assist_thb",
               **{f"share_{k}": f"fu_share_{k}" for k in SHARES}}
MAP_FAMILY = "followup"
#: follow-up measures that one agency's help can be shown for (map control หน่วยงาน · Agency)
AGENCY_MEASURES = ("fu_helped", "fu_assist", "fu_assist_thb")


def map_progress(services: Any, principal: Any, *, dataset: str | None, level: str,
                 scope: str | None = None, round: int | None = None,
                 today: dt.date | None = None, agency: str | None = None) -> pd.DataFrame:
    """Follow-up progress of the areas of a map (service.usecases.map_values): one row per
    area of ``level`` inside ``scope`` (None = the country) that has cases of ``round``
    (default: the current round), columns :data:`MAP_COLUMNS` values, ``name_th``,
    ``name_en``, ``province_code``, ``suppressed``.

    Provinces ``principal`` may see get exact figures; every other area the figures of
    :func:`public_progress` (province and amphoe only, disclosure control decided over the
    whole country, then filtered to the scope), so a provincial user sees another province
    exactly as the public does; tambons and villages of such provinces get no row (a map
    of them only: no measure column, "not available"). H3 levels: no follow-up figures
    (cases carry no cell), no measure column either. ``agency``: the help columns count
    that agency's help only (exact or public by the same rule)."""
    seen = visible(principal) if principal.is_authenticated else set()
    if scope and seen is not None and scope[:4] not in seen:
        seen = set()
    if level not in AREA_COLUMNS or (seen == set() and level not in PUBLIC_LEVELS):
        # no measure column: the map says "not available" (never 0)
        return pd.DataFrame({"code": pd.Series(dtype=object)})
    dataset = _dataset(services, dataset)
    if round is None:
        round = current_round(services, dataset).round
    cases = case_store(services)
    parts = []
    if seen is None or seen:
        detail = cases.progress(dataset, int(round), level=level, provinces=seen,
                                area=scope or None, today=today, agency=agency)
        parts.append(_with_shares(detail).assign(suppressed=False))
    if (seen is not None) and level in PUBLIC_LEVELS:
        key = ("public", dataset, int(round), level, services.min_households,
               cases.generation(dataset), agency)
        public = cases.public_cache.get_or_build(key, lambda: public_progress(
            services, dataset=dataset, level=level, round=int(round), agency=agency))
        inside = public["code"].astype(str).str.startswith(scope or "")
        others = ~public["code"].astype(str).str[:4].isin(seen)
        parts.append(public[inside & others])
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame({"code": pd.Series(dtype=object), "suppressed": False,
                             **{c: pd.Series(dtype="float64") for c in MAP_COLUMNS.values()}})
    frame = pd.concat(parts, ignore_index=True, sort=False)
    frame = frame[frame["code"].notna()]  # missed households known by their tambon only
    out = pd.DataFrame({"code": frame["code"].astype(str),
                        "suppressed": suppressed_mask(frame)})
    for src, dst in MAP_COLUMNS.items():
        out[dst] = (pd.to_numeric(frame[src], errors="coerce").astype("float64")
                    if src in frame else float("nan"))
    names = _names(str(services.settings.boundaries_dir))
    out["name_th"] = [area_name(services, c) for c in out["code"]]
    out["name_en"] = [names.get(c, ("", c))[1] if len(c) < 10 else
                      f"Village {int(c[8:])}, {names.get(c[:8], ('', ''))[1]}".strip(", ")
                      for c in out["code"]]
    out["province_code"] = out["code"].str[:4]
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def assistance_summary(services: Any, principal: Any, *, dataset: str | None,
                       by: tuple[str, ...] = ("agency",), area: str | None = None
                       ) -> pd.DataFrame:
    """Help delivered per agency / action / area (records, households, THB, flagged)."""
    dataset = _dataset(services, dataset)
    provinces = require_cases(principal, area[:4] if area else None)
    frame = case_store(services).assistance_by(dataset, by=list(by), provinces=provinces,
                                               area=area)
    acts = case_store(services).actions
    if "agency" in frame:
        frame.insert(frame.columns.get_loc("agency") + 1, "agency_th",
                     [acts.agencies[a].label_th if a in acts.agencies else a
                      for a in frame["agency"]])
    if "action" in frame:
        frame.insert(frame.columns.get_loc("action") + 1, "action_th",
                     [acts.actions[a].label_th if a in acts.actions else a
                      for a in frame["action"]])
    return frame


def horizon_label(h: str) -> str:
    th, en = HORIZONS.get(h, (h, h))
    return f"{th} · {en}"


def area_columns() -> dict[str, str]:
    return dict(AREA_COLUMNS)


# -- did it work ------------------------------------------------------------------------------
@dataclass
class Evaluation:
    dataset: str
    baseline: Any              # Version of the baseline round
    follow: Any                # Version of the next round
    outcome: str
    by: str
    results: pd.DataFrame      # service.followup.evaluate.evaluate columns (+ label_th)
    persistent: pd.DataFrame   # per amphoe: n_persistent, n_persistent_never_helped
    n_panel: int               # households present in both rounds


def _previous_round(services: Any, dataset: str, current: Any) -> Any:
    older = [v for v in services.store.versions(dataset) if v.round < current.round]
    if not older:
        raise NotFound("ยังไม่มีข้อมูลรอบก่อนหน้าของชุดข้อมูลนี้ จึงประเมินผลไม่ได้ / this dataset "
                       "has no earlier round: the evaluation needs two rounds")
    return max(older, key=lambda v: (v.round, v.created_at))


def evaluation(services: Any, principal: Any, *, dataset: str | None, by: str = "all",
               outcome: str = "poverty", area: str | None = None, n_boot: int = 500,
               seed: int = 2561) -> Evaluation:
    """Exit rate of helped households vs comparable households not helped, between the
    previous round and the current one (service.followup.evaluate), for the provinces the
    caller may see (``area``: one province or amphoe of them)."""
    from service.followup.evaluate import (
        BY,
        OUTCOMES,
        build_panel,
        evaluate,
        persistent_never_helped,
    )

    dataset = _dataset(services, dataset)
    if by not in BY:
        raise InvalidInput(f"by ต้องเป็น {', '.join(BY)} / by must be one of {', '.join(BY)}",
                           column="by")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome ต้องเป็น {', '.join(OUTCOMES)} / outcome must be one of "
                           f"{', '.join(OUTCOMES)}", column="outcome")
    if not 0 <= int(n_boot) <= 2000:
        raise InvalidInput("n_boot 0-2000", column="n_boot")
    provinces = require_cases(principal, area[:4] if area else None)
    follow = current_round(services, dataset)
    base = _previous_round(services, dataset, follow)
    if area:
        scope = [area[:4]]
    elif provinces is not None:
        scope = sorted(provinces)
    else:
        scope = sorted(p.stem for p in (Path(base.path) / "persons").glob("*.parquet"))
    frames_b, frames_f = [], []
    for prov in scope:
        try:
            frames_b.append(household_frame(services.store.read_persons(
                dataset, prov, version=base.id)))
            frames_f.append(household_frame(services.store.read_persons(
                dataset, prov, version=follow.id)))
        except NotFound:
            continue
    if not frames_b:
        raise NotFound("ไม่มีข้อมูลครัวเรือนของพื้นที่นี้ทั้งสองรอบ / no households of this area "
                       "in both rounds")
    baseline, nxt = pl.concat(frames_b), pl.concat(frames_f)
    if area and len(area) > 4:
        baseline = baseline.filter(pl.col("amphoe_code").str.starts_with(area[:6]))
    panel = build_panel(baseline, nxt)
    # help recorded on the baseline round's cases (or earlier): given before the next survey
    help_ = case_store(services).assistance_frame(dataset, provinces=set(scope),
                                                  max_round=base.round)
    results = evaluate(panel, help_, outcome=outcome, by=by, n_boot=int(n_boot), seed=seed)
    acts = case_store(services).actions
    labels = {**{a: x.label_th for a, x in acts.actions.items()},
              **{a: x.label_th for a, x in acts.agencies.items()}, "all": "ทั้งหมด · all"}
    results.insert(2, "label_th", [labels.get(k) or area_name(services, k) for k in
                                   results["key"]])
    persistent = persistent_never_helped(panel, help_)
    persistent.insert(1, "name_th", [area_name(services, c) for c in persistent["amphoe_code"]])
    _audit(services, principal, "case.evaluation",
           f"cases:{dataset}/{area or ','.join(scope)}", f"by={by} outcome={outcome}")
    return Evaluation(dataset, base, follow, outcome, by, results, persistent,
                      panel.frame.height)


#: child level of an area's follow-up section (area profiles, KPI dashboard): the country
#: ("" or "TH") lists its provinces
_CHILD = {0: "province", 2: "province", 4: "amphoe", 6: "tambon", 8: "village"}


def progress_section(services: Any, principal: Any, *, dataset: str | None,
                     code: str | None) -> dict[str, Any] | None:
    """Follow-up progress of an area's children for another page (WORKSPACE's area profile
    and KPI dashboard): ``{"rows", "public", "links", "agencies"}`` for the template include
    ``pages/_followup_progress.html``, or None when no case of the area exists (or the
    public asks below the amphoe). Callers who may not see the province get the public
    figures; the country's section is exact for national users only. Sections of the whole
    country are cached per :meth:`CaseStore.generation` (and day, for past-due counts), so
    a page view does not group every case of the country again."""
    code = "" if code in (None, "", "TH") else str(code)
    level = _CHILD.get(len(code))
    if level is None:
        return None
    dataset = _dataset(services, dataset)
    try:
        version = current_round(services, dataset)
    except NotFound:
        return None
    visible_all = visible(principal)
    detail = principal.is_authenticated and (
        visible_all is None if not code else (visible_all is None or code[:4] in visible_all))
    cases = case_store(services)
    agencies = None
    if detail:
        def build() -> pd.DataFrame:
            frame = cases.progress(dataset, version.round, level=level,
                                   provinces=visible_all, area=code or None)
            frame.insert(1, "name_th", [area_name(services, c) for c in frame["code"]])
            return _with_shares(frame)

        if code:
            frame = build()
        else:
            frame = cases.public_cache.get_or_build(
                ("detail", dataset, version.round, level, dt.date.today(),
                 cases.generation(dataset)), build)
        agencies = assistance_summary(services, principal, dataset=dataset,
                                      area=code or None).to_dict("records")
    elif level in PUBLIC_LEVELS:
        if code:
            frame = public_progress(services, dataset=dataset, level=level, area=code)
        else:
            frame = cases.public_cache.get_or_build(
                ("public", dataset, int(version.round), level, services.min_households,
                 cases.generation(dataset), None),
                lambda: public_progress(services, dataset=dataset, level=level,
                                        round=int(version.round)))
    else:
        return None
    if frame.empty:
        return None
    return {"rows": frame.to_dict("records"), "public": not detail, "links": bool(detail),
            "agencies": agencies}
