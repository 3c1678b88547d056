"""/api/v1/rankings, /selection, /targets/villages, /targets/households, /kpi.

Who sees what: a caller who may see a province's detail (national, or provincial for its own
province) gets rankings and lists computed from the unsuppressed area table; anyone else gets
them computed from the public, disclosure-controlled table (suppressed areas are left out and
counted in ``notes``). Budget selection reads household data, and the household target list
is personal data: those need the province's detail right, and the household list is
audit-logged. Ranking intervals (``bootstrap=N``) use the household bootstrap for callers
who may see the province's detail and binomial resampling of the visible area table for
everyone else.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pandas as pd
from flask import Blueprint, jsonify, request

from service.api.areas import level_view, province_arg
from service.api.auth import audit, can_see_province, current_principal, require_province
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
from service.commands.rank import RANK_LEVELS, previous_version
from service.errors import InvalidInput, NotFound
from service.vocabulary import ADMIN_CODE, CODE_REGEX

log = logging.getLogger(__name__)

bp = Blueprint("rankings", __name__, url_prefix="/api/v1")

MAX_LIMIT = 5000
MAX_BOOT = 200  # replicates per request (0.7 s per 50 for 60 k households)
_WEIGHT_RE = re.compile(r"^w_([a-z][a-z0-9_]{0,40})$")


def _level() -> str:
    level = request.args.get("level", "village")
    if level not in RANK_LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(RANK_LEVELS)} "
                           "/ ระดับพื้นที่ไม่ถูกต้อง", column="level")
    return level


def _float_arg(name: str, default: float | None, *, lo: float, hi: float) -> float:
    raw = request.args.get(name)
    if raw in (None, ""):
        if default is None:
            raise InvalidInput(f"{name} is required / ต้องระบุ {name}", column=name)
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number / {name} ต้องเป็นตัวเลข",
                           column=name) from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo:,.0f} and {hi:,.0f} "
                           f"/ {name} อยู่นอกช่วงที่รับได้", column=name)
    return value


def _config():
    from service.analysis.rank import load_config

    overrides = {}
    for key in request.args:
        m = _WEIGHT_RE.match(key)
        if m:
            overrides[m.group(1)] = _float_arg(key, None, lo=0, hi=1000)
    return load_config(None, overrides or None)


def _page(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    limit = int_arg("limit", 100, lo=1, hi=MAX_LIMIT)
    offset = int_arg("offset", 0, lo=0, hi=10_000_000)
    return frame.iloc[offset:offset + limit], {"total": len(frame), "limit": limit,
                                               "offset": offset}


def _visible(dataset: str, version_id: str, level: str, province: str | None,
             ) -> tuple[pd.DataFrame, list[str]]:
    """The level's rows as the caller may see them, suppressed rows dropped."""
    frame = level_view(dataset, version_id, level, current_principal(), province)
    if province:
        frame = frame[frame["province_code"] == province]
    notes = []
    if "suppressed" in frame:
        hidden = frame["suppressed"].fillna(False).astype(bool)
        if hidden.any():
            notes.append(f"{int(hidden.sum()):,} areas suppressed for disclosure control "
                         "are not ranked / พื้นที่ที่ถูกปกปิดข้อมูลไม่ถูกจัดลำดับ")
        frame = frame[~hidden]
    return frame.reset_index(drop=True), notes


def _cache_key() -> tuple:
    """Response-cache key: endpoint, caller, arguments, resolved version and the previous
    round's version (a new version of either changes the answer)."""
    dataset = dataset_arg()
    v = resolve_version(dataset, version_arg())
    prev = previous_version(get_store(), dataset, v)
    return request_key(dataset, v.id, prev.id if prev is not None else None)


def _ranking_inputs(level: str, province: str | None):
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    areas, notes = _visible(dataset, v.id, level, province)
    if areas.empty:
        raise NotFound(f"no {level} areas to rank / ไม่มีพื้นที่ระดับ {level} ให้จัดลำดับ")
    prev_v = previous_version(get_store(), dataset, v)
    previous = None
    if prev_v is not None:
        try:
            previous, _ = _visible(dataset, prev_v.id, level, province)
        except NotFound:
            previous = None
    return dataset, v, prev_v, areas, previous, notes


@bp.get("/rankings")
def rankings():
    """Priority ranking with explanations; ``bootstrap=N`` adds intervals and P(top N)."""
    return cached_json(_cache_key(), _rankings_body)


def _rankings_body() -> dict[str, Any]:
    from service.analysis.rank import rank_areas

    level, province = _level(), province_arg()
    config = _config()
    n_boot = int_arg("bootstrap", 0, lo=0, hi=MAX_BOOT)
    top_n = int_arg("top_n", 10, lo=1, hi=1000)
    dataset, v, prev_v, areas, previous, notes = _ranking_inputs(level, province)
    if n_boot and province and can_see_province(current_principal(), province):
        # household bootstrap: the caller may see this province's detail
        from service.analysis.uncertainty import bootstrap_ranking

        persons = get_store().read_persons(dataset, province, version=v.id)
        ranked = bootstrap_ranking(persons, level=level, config=config, areas=areas,
                                   previous=previous, n_boot=n_boot, top_n=top_n)
        ranked = ranked[ranked["code"].isin(areas["code"])]
    elif n_boot:
        # from the (public) area table only: never touches household data
        from service.analysis.uncertainty import resample_areas

        ranked = resample_areas(areas, config=config, previous=previous, n_boot=n_boot,
                                top_n=top_n)
    else:
        ranked = rank_areas(areas, config, previous=previous)
    page, meta = _page(ranked)
    return {"dataset": dataset, "version": v.id, "level": level, "province": province,
            "previous_version": prev_v.id if prev_v is not None else None,
            "notes": ranked.attrs.get("notes", []) + notes,
            "weights": ranked.attrs.get("config"),
            "uncertainty": ranked.attrs.get("bootstrap"), **meta, "items": records(page)}


@bp.get("/selection")
def selection():
    """Budget-constrained village selection in one province (MILP, greedy fallback)."""
    from service.analysis.select import select_villages
    from service.commands.rank import parse_pairs
    from service.commands.select import usable_costs, village_table

    province = province_arg()
    if not province:
        raise InvalidInput("province is required / ต้องระบุจังหวัด", column="province")
    require_province(province)
    budget = _float_arg("budget", None, lo=0, hi=1e13)
    objective = request.args.get("objective")
    per_amphoe = request.args.get("per_amphoe", "false").lower() in ("1", "true", "yes")
    raw_costs = request.args.get("costs", "")
    given = parse_pairs([c for c in raw_costs.split(",") if c], "cost") if raw_costs \
        else None
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    from service.usecases import published

    if published.is_published(get_store(), dataset, v.id):  # TPMAP tables: no persons
        sel, costs = published.select_villages(get_store(), dataset, province, v.id,
                                               budget=budget, costs=given, objective=objective,
                                               per_amphoe=per_amphoe)
    else:
        table, ranking, _ = village_table(get_store(), dataset, province, v.id)
        costs = usable_costs(given, table)  # the defaults, overridden item by item
        sel = select_villages(table, budget=budget, costs=costs, objective=objective or "poor",
                              per_amphoe=per_amphoe, ranking=ranking, time_limit=10.0)
    cols = [c for c in ("code", "name_th", "name_en", "amphoe_code", "n_households",
                        "n_persons", "n_poor", "n_target_poor", "cost_thb", "benefit",
                        "priority_rank")
            if c in sel.selected]
    return jsonify({"dataset": dataset, "version": v.id, "province": province,
                    "costs_thb_per_household": costs, **published.summary(sel),
                    "items": records(sel.selected[cols])})


@bp.get("/targets/villages")
def target_villages():
    """Village target list (ranked), for one province or amphoe/tambon by ``area``."""
    return cached_json(_cache_key(), _target_villages_body)


def _target_villages_body() -> dict[str, Any]:
    from service.analysis.rank import rank_areas
    from service.analysis.targets import names_from_areas, village_list

    province = province_arg()
    area = request.args.get("area")
    if area:
        if not ADMIN_CODE.fullmatch(area):
            raise InvalidInput("area must be an admin code such as TH5001 / รหัสพื้นที่ไม่ถูกต้อง",
                               column="area")
        province = area[:4]
    dataset, v, _, areas, previous, notes = _ranking_inputs("village", province)
    if area:
        areas = areas[areas["code"].str.startswith(area)]
        if areas.empty:
            raise NotFound(f"no villages in {area} / ไม่พบหมู่บ้านใน {area}")
    ranking = rank_areas(areas, _config(), previous=previous, explain=False)
    names: dict[str, str] = {}
    for lvl in ("province", "amphoe", "tambon"):
        try:
            names.update(names_from_areas(get_store().read_areas(dataset, lvl, version=v.id,
                                                                 province=province)))
        except NotFound:
            continue
    frame = village_list(areas, ranking=ranking, names=names)
    page, meta = _page(frame)
    return {"dataset": dataset, "version": v.id, "province": province, "area": area,
            "notes": notes, **meta, "items": records(page)}


@bp.get("/targets/households")
def target_households():
    """Poor households of an area, nearest to exit first (authorised; audited)."""
    from service.analysis.targets import household_list

    area = request.args.get("area", "")
    if not ADMIN_CODE.fullmatch(area):
        raise InvalidInput("area must be an admin code such as TH50010101 "
                           "/ รหัสพื้นที่ไม่ถูกต้อง", column="area")
    require_province(area[:4])
    dataset, version = dataset_arg(), version_arg()
    v = resolve_version(dataset, version)
    persons = get_store().read_persons(dataset, area[:4], version=v.id)
    frame = household_list(persons, area=area)
    page, meta = _page(frame)
    audit("read_target_households", f"{dataset}/{v.id}/{area}",
          f"rows={len(page)} offset={meta['offset']}")
    return jsonify({"dataset": dataset, "version": v.id, "area": area, **meta,
                    "items": records(page)})


@bp.get("/kpi")
def kpi():
    """Master-plan KPIs per province across rounds (MPI per group vs -10 %/5 years,
    coverage vs 80/90/100 %)."""
    from service.analysis.kpi import kpi_table

    province = province_arg()
    dataset = dataset_arg()
    store = get_store()
    principal = current_principal()
    by_round: dict[int, Any] = {}
    for v in sorted(store.versions(dataset), key=lambda v: (v.round, v.created_at)):
        by_round[v.round] = v  # the newest version of each round
    if not by_round:
        raise NotFound(f"dataset {dataset!r} has no ready version / ไม่พบชุดข้อมูล {dataset!r}")
    rounds = []
    for rnd, v in sorted(by_round.items()):
        try:
            frame = level_view(dataset, v.id, "province", principal)
        except NotFound:
            continue
        if province:
            frame = frame[frame["code"] == province]
        rounds.append((rnd, frame))
    baseline = int_arg("baseline_round", 0, lo=0, hi=9999)
    table = kpi_table(rounds, baseline_round=baseline or None)
    if not table.empty:
        table["view"] = ["detail" if can_see_province(principal, c) else "public"
                         for c in table["province_code"]]
    page, meta = _page(table)
    return jsonify({"dataset": dataset, "province": province,
                    "rounds": [r for r, _ in rounds], **meta, "items": records(page)})


@bp.get("/kpi/progress")
def kpi_progress():
    """Master-plan KPIs of the country and each province over the real sequence of rounds:
    baseline, latest, 5-year target, pace needed, on track / behind, trend (PANEL hook)."""
    from service.analysis.kpi import kpi_progress as progress

    dataset, province, principal = dataset_arg(), province_arg(), current_principal()
    by_round = {v.round: v for v in sorted(get_store().versions(dataset),
                                           key=lambda v: (v.round, v.created_at))}
    if not by_round:
        raise NotFound(f"dataset {dataset!r} has no ready version / ไม่พบชุดข้อมูล {dataset!r}")
    rounds = [(rnd, pd.concat([level_view(dataset, v.id, lvl, principal)
                               for lvl in ("country", "province")], ignore_index=True))
              for rnd, v in sorted(by_round.items())]
    table = progress(rounds, baseline_round=int_arg("baseline_round", 0, lo=0, hi=9999) or None)
    if province:
        table = table[table["code"].isin(["TH", province])]
    page, meta = _page(table)
    return jsonify({"dataset": dataset, "rounds": sorted(by_round), **meta,
                    "items": records(page)})


_OBJ = {"type": "object"}
_DS = [
    {"name": "dataset", "in": "query", "schema": {"type": "string"}, "required": False},
    {"name": "version", "in": "query", "schema": {"type": "string"}, "required": False},
]
_PAGE = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                               "maximum": MAX_LIMIT}, "required": False},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0},
     "required": False},
]
_PROV = {"name": "province", "in": "query", "schema": {"type": "string",
                                                       "pattern": CODE_REGEX["province"]},
         "required": False}
_AREA = {"name": "area", "in": "query", "schema": {"type": "string",
                                                   "pattern": f"^{ADMIN_CODE.pattern}$"}}


def _ok(summary: str, params: list, tags: list[str], secured: bool = False) -> dict:
    op: dict[str, Any] = {"summary": summary, "tags": tags, "parameters": params,
                          "responses": {"200": {"description": "OK", "content": {
                              "application/json": {"schema": _OBJ}}}}}
    if secured:
        op["security"] = [{"bearer": []}, {"session": []}]
    return {"get": op}


OPENAPI_PATHS = {
    "/api/v1/rankings": _ok(
        "Priority ranking with explanations / จัดลำดับความสำคัญพร้อมคำอธิบาย",
        [*_DS, _PROV, *_PAGE,
         {"name": "level", "in": "query", "schema": {"type": "string", "enum": list(RANK_LEVELS)}},
         {"name": "bootstrap", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                         "maximum": MAX_BOOT}},
         {"name": "top_n", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                     "maximum": 1000}}],
        ["rankings"]),
    "/api/v1/selection": _ok(
        "Budget-constrained village selection / เลือกหมู่บ้านภายใต้งบประมาณ",
        [*_DS, {**_PROV, "required": True},
         {"name": "budget", "in": "query", "required": True,
          "schema": {"type": "number", "minimum": 0, "maximum": 1e13}},
         {"name": "costs", "in": "query", "schema": {"type": "string"},
          "description": "ind22=20000,ind8=80000 (THB per household)"},
         {"name": "objective", "in": "query", "schema": {"type": "string",
                                                         "enum": ["poor", "m0", "target_poor"]}},
         {"name": "per_amphoe", "in": "query", "schema": {"type": "boolean"}}],
        ["rankings"], secured=True),
    "/api/v1/targets/villages": _ok(
        "Village target list / รายชื่อหมู่บ้านเป้าหมาย", [*_DS, _PROV, _AREA, *_PAGE],
        ["rankings"]),
    "/api/v1/targets/households": _ok(
        "Households nearest to exit first (authorised; audited) / ครัวเรือนเป้าหมาย",
        [*_DS, {**_AREA, "required": True}, *_PAGE], ["rankings", "households"],
        secured=True),
    "/api/v1/kpi/progress": _ok(
        "Master-plan KPI progress: baseline, latest, target, pace, status, trend "
        "/ ความก้าวหน้าตัวชี้วัดตามแผนแม่บท",
        [{"name": "dataset", "in": "query", "schema": {"type": "string"}}, _PROV,
         {"name": "baseline_round", "in": "query", "schema": {"type": "integer"}}, *_PAGE],
        ["rankings"]),
    "/api/v1/kpi": _ok(
        "Master-plan KPIs across rounds / ตัวชี้วัดตามแผนแม่บท",
        [{"name": "dataset", "in": "query", "schema": {"type": "string"}}, _PROV,
         {"name": "baseline_round", "in": "query", "schema": {"type": "integer"}}, *_PAGE],
        ["rankings"]),
}
