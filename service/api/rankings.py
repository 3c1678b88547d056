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

from service.api.areas import province_arg
from service.api.auth import audit, current_principal
from service.api.datasets import (
    cached_json,
    dataset_arg,
    int_arg,
    records,
    request_key,
    resolve_version,
    version_arg,
)
from service.api.services import services
from service.errors import InvalidInput
from service.usecases import ranking, targets
from service.usecases import selection as choose
from service.usecases.datasets import previous_version
from service.usecases.ranking import RANK_LEVELS
from service.vocabulary import ADMIN_CODE, CODE_REGEX

log = logging.getLogger(__name__)

bp = Blueprint("rankings", __name__, url_prefix="/api/v1")

MAX_LIMIT = 5000
MAX_BOOT = 200  # replicates per request (0.7 s per 50 for 60 k households)
_WEIGHT_RE = re.compile(r"^w_([a-z][a-z0-9_]{0,40})$")
#: columns of a selection answer
SELECTION_COLUMNS = ("code", "name_th", "name_en", "amphoe_code", "n_households", "n_persons",
                     "n_poor", "n_target_poor", "cost_thb", "benefit", "priority_rank")


# -- parameters ----------------------------------------------------------------------------------
def _level() -> str:
    return ranking.check_rank_level(request.args.get("level", "village"))


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


def _config() -> Any:
    overrides = {m.group(1): _float_arg(key, None, lo=0, hi=1000)
                 for key in request.args if (m := _WEIGHT_RE.match(key))}
    return ranking.rank_config(None, overrides or None)


def _page(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    limit = int_arg("limit", 100, lo=1, hi=MAX_LIMIT)
    offset = int_arg("offset", 0, lo=0, hi=10_000_000)
    return frame.iloc[offset:offset + limit], {"total": len(frame), "limit": limit,
                                               "offset": offset}


def _cache_key() -> tuple:
    """Response-cache key: endpoint, caller, arguments, resolved version and the previous
    round's version (a new version of either changes the answer)."""
    dataset = dataset_arg()
    v = resolve_version(dataset, version_arg())
    prev = previous_version(services().store, dataset, v)
    return request_key(dataset, v.id, prev.id if prev is not None else None)


# -- routes --------------------------------------------------------------------------------------
@bp.get("/rankings")
def rankings():
    """Priority ranking with explanations; ``bootstrap=N`` adds intervals and P(top N)."""
    return cached_json(_cache_key(), _rankings_body)


def _rankings_body() -> dict[str, Any]:
    level, province, config = _level(), province_arg(), _config()
    n_boot = int_arg("bootstrap", 0, lo=0, hi=MAX_BOOT)
    top_n = int_arg("top_n", 10, lo=1, hi=1000)
    ranked, inp = ranking.ranking(services(), current_principal(), dataset_arg(),
                                  version_arg(), level, province, config, n_boot=n_boot,
                                  top_n=top_n)
    page, meta = _page(ranked)
    return {"dataset": inp.dataset, "version": inp.version.id, "level": level,
            "province": province,
            "previous_version": inp.previous_version.id if inp.previous_version else None,
            "notes": ranked.attrs.get("notes", []) + inp.notes,
            "weights": ranked.attrs.get("config"),
            "uncertainty": ranked.attrs.get("bootstrap"), **meta, "items": records(page)}


@bp.get("/selection")
def selection():
    """Budget-constrained village selection in one province (MILP, greedy fallback)."""
    from service.usecases import published

    province = province_arg()
    if not province:
        raise InvalidInput("province is required / ต้องระบุจังหวัด", column="province")
    p, dataset, raw_costs = current_principal(), dataset_arg(), request.args.get("costs", "")
    targets.require_detail(p, province)  # 401/403 before any parameter is read
    sel, costs, v = choose.select(
        services().store, p, dataset, province, version_arg(),
        budget=_float_arg("budget", None, lo=0, hi=1e13),
        costs=ranking.parse_pairs([c for c in raw_costs.split(",") if c], "cost")
        if raw_costs else None, objective=request.args.get("objective"),
        per_amphoe=request.args.get("per_amphoe", "false").lower() in ("1", "true", "yes"))
    cols = [c for c in SELECTION_COLUMNS if c in sel.selected]
    return jsonify({"dataset": dataset, "version": v.id, "province": province,
                    "costs_thb_per_household": costs, **published.summary(sel),
                    "items": records(sel.selected[cols])})


@bp.get("/targets/villages")
def target_villages():
    """Village target list (ranked), for one province or amphoe/tambon by ``area``."""
    return cached_json(_cache_key(), _target_villages_body)


def _target_villages_body() -> dict[str, Any]:
    area = request.args.get("area")
    frame, inp, province = ranking.target_villages(
        services(), current_principal(), dataset_arg(), version_arg(), province_arg(), area,
        _config())
    page, meta = _page(frame)
    return {"dataset": inp.dataset, "version": inp.version.id, "province": province,
            "area": area, "notes": inp.notes, **meta, "items": records(page)}


@bp.get("/targets/households")
def target_households():
    """Poor households of an area, nearest to exit first (authorised; audited)."""
    area = targets.check_area(request.args.get("area", ""))
    p, dataset = current_principal(), dataset_arg()
    targets.require_detail(p, area[:4])  # before the version is even looked up
    v = resolve_version(dataset, version_arg())
    page, meta = _page(targets.households(services().store, p, dataset, v.id, area))
    audit("read_target_households", f"{dataset}/{v.id}/{area}",
          f"rows={len(page)} offset={meta['offset']}")
    return jsonify({"dataset": dataset, "version": v.id, "area": area, **meta,
                    "items": records(page)})


@bp.get("/kpi")
def kpi():
    """Master-plan KPIs per province across rounds (MPI per group vs -10 %/5 years,
    coverage vs 80/90/100 %)."""
    province, dataset = province_arg(), dataset_arg()
    baseline = int_arg("baseline_round", 0, lo=0, hi=9999) or None
    table, rounds = ranking.kpi(services(), current_principal(), dataset, province, baseline)
    page, meta = _page(table)
    return jsonify({"dataset": dataset, "province": province, "rounds": rounds, **meta,
                    "items": records(page)})


@bp.get("/kpi/progress")
def kpi_progress():
    """Master-plan KPIs of the country and each province over the real sequence of rounds:
    baseline, latest, 5-year target, pace needed, on track / behind, trend (PANEL hook)."""
    dataset, province = dataset_arg(), province_arg()
    baseline = int_arg("baseline_round", 0, lo=0, hi=9999) or None
    table, rounds = ranking.kpi_progress(services(), current_principal(), dataset, province,
                                         baseline)
    page, meta = _page(table)
    return jsonify({"dataset": dataset, "rounds": rounds, **meta, "items": records(page)})


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
