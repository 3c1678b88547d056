"""Household follow-up: pages (/cases...) and API (/api/v1/cases..., /api/v1/followup/...).

Routes only: each parses its arguments, calls a use case in service.usecases.cases and
renders or answers JSON. Case pages and case JSON are personal data: audited by the use
case, sent with ``Cache-Control: no-store`` here; the public gets progress aggregates only.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request

from service.api import params
from service.api.auth import current_principal, no_store
from service.api.core import allow_large_body
from service.api.responses import problem
from service.errors import Conflict, InvalidInput
from service.followup.catalogue import HORIZONS
from service.usecases import cases as uc

log = logging.getLogger(__name__)

bp = Blueprint("cases", __name__)


def _services() -> Any:
    from service.api.services import services

    return services()


def _dataset() -> str | None:
    return params.dataset_name(request.values)


def _page_arg() -> int:
    return params.whole(request.args, "page", 1, lo=1, hi=100_000,
                        message="page ต้องเป็นจำนวนเต็มบวก / page must be a positive whole number")


def _filters():
    return uc.parse_filters({"area": request.args.get("area"),
                             "status": request.args.getlist("status"),
                             "source": request.args.get("source"),
                             "overdue": request.args.get("overdue"),
                             "helped": request.args.get("helped")})


def _catalogue() -> dict[str, Any]:
    acts = uc.case_store(_services()).actions
    return {"actions": list(acts.actions.values()), "agencies": list(acts.agencies.values()),
            "reasons": list(acts.missed_reasons.values()), "horizons": HORIZONS}


# -- pages ------------------------------------------------------------------------------------
@bp.get("/cases")
def case_list():
    """Case list of a province (filters: amphoe/tambon, status, overdue, missed)."""
    p = current_principal()
    uc.require_cases(p)
    if p.role == "national" and not request.args.get("province"):
        return redirect("/cases/progress?level=province", code=303)
    listing = uc.list_cases(_services(), p, dataset=_dataset(),
                            province=request.args.get("province"), filters=_filters(),
                            page=_page_arg())
    no_store()
    wf = uc.case_store(_services()).workflow
    return render_template("pages/cases.html", listing=listing, statuses=wf.statuses,
                           args=request.args, province_th=uc.area_name(_services(),
                                                                       listing.province))


@bp.post("/cases/open")
def case_open_form():
    """Open the follow-up of the current round for a province (one case per target
    household); then show its list."""
    p = current_principal()
    province = request.form.get("province") or p.province
    uc.open_cases(_services(), p, dataset=_dataset(), province=province)
    return redirect(f"/cases?province={province}" if province else "/cases", code=303)


def _case_page(case_id: int, *, error: str | None = None, status: int = 200):
    case = uc.get_case(_services(), current_principal(), case_id)
    no_store()
    body = render_template("pages/case.html", case=case, error=error, **_catalogue())
    return body, status


@bp.get("/cases/<int:case_id>")
def case_page(case_id: int):
    """One household case: status, plan, assistance, history."""
    return _case_page(case_id)


def _form_post(case_id: int, action):
    """Run a form action; on bad input show the case page again with the message."""
    try:
        action()
    except (InvalidInput, Conflict) as exc:
        return _case_page(case_id, error=str(exc), status=422 if isinstance(
            exc, InvalidInput) else 409)
    return redirect(f"/cases/{case_id}", code=303)


@bp.post("/cases/<int:case_id>/status")
def case_status_form(case_id: int):
    f = request.form
    return _form_post(case_id, lambda: uc.change_status(
        _services(), current_principal(), case_id, f.get("status", ""),
        note=f.get("note", ""), expected=f.get("expected") or None))


@bp.post("/cases/<int:case_id>/plan")
def case_plan_form(case_id: int):
    f = request.form
    return _form_post(case_id, lambda: uc.add_plan_item(
        _services(), current_principal(), case_id, action=f.get("action", ""),
        agency=f.get("agency", ""), horizon=f.get("horizon") or None,
        due_date=f.get("due_date") or None, indicator=f.get("indicator") or None,
        note=f.get("note", "")))


@bp.post("/cases/<int:case_id>/plan/<int:item_id>/cancel")
def case_plan_cancel(case_id: int, item_id: int):
    return _form_post(case_id, lambda: uc.cancel_plan_item(
        _services(), current_principal(), case_id, item_id))


@bp.post("/cases/<int:case_id>/assistance")
def case_assistance_form(case_id: int):
    f = request.form
    return _form_post(case_id, lambda: uc.log_assistance(
        _services(), current_principal(), case_id, given_on=f.get("given_on", ""),
        agency=f.get("agency", ""), action=f.get("action", ""),
        amount_thb=f.get("amount_thb") or 0, horizon=f.get("horizon") or None,
        note=f.get("note", "")))


def _import_upload(principal):
    from service.usecases.uploads import staged_file

    storage = request.files.get("file")
    with staged_file(_services().settings, storage, "assistance.upload") as (path, name):
        return uc.import_file(_services(), principal, path, name=name, dataset=_dataset(),
                              policy=request.form.get("policy", "reject"))


@bp.route("/cases/import", methods=["GET", "POST"])
@allow_large_body
def case_import():
    """Import an agency's assistance records (CSV/XLSX) through the page."""
    p = current_principal()
    uc.require_cases(p)
    report, error, status = None, None, 200
    if request.method == "POST":
        try:
            report = _import_upload(p)
            status = 200 if report.status != "rejected" else 422
        except InvalidInput as exc:
            error, status = str(exc), 422
    no_store()
    return render_template("pages/cases_import.html", report=report, error=error,
                           **_catalogue()), status


@bp.route("/cases/missed", methods=["GET", "POST"])
def case_missed():
    """Register a household found in the field but absent from the survey."""
    p = current_principal()
    uc.require_cases(p)
    error, status = None, 200
    if request.method == "POST":
        f = request.form
        try:
            case_id = uc.register_missed(
                _services(), p, dataset=_dataset(), village_id=f.get("village_id", ""),
                n_members=f.get("n_members"), reason=f.get("reason", ""),
                n_children=f.get("n_children"), n_elderly=f.get("n_elderly"),
                n_disabled=f.get("n_disabled"), lon=f.get("lon"), lat=f.get("lat"),
                house_id=f.get("house_id"))
            return redirect(f"/cases/{case_id}", code=303)
        except (InvalidInput, Conflict) as exc:
            error, status = str(exc), 422 if isinstance(exc, InvalidInput) else 409
    no_store()
    return render_template("pages/cases_missed.html", error=error, form=request.form,
                           **_catalogue()), status


@bp.get("/cases/progress")
def case_progress_page():
    """Progress per area: signed-in users see their areas in full, the public rounded and
    disclosure-controlled figures."""
    level, area = request.args.get("level", "amphoe"), request.args.get("area") or None
    p = current_principal()
    if p.is_authenticated:
        frame = uc.progress(_services(), p, dataset=_dataset(), level=level, area=area)
        agencies = uc.assistance_summary(_services(), p, dataset=_dataset(), area=area)
        no_store()
    else:
        frame = uc.public_progress(_services(), dataset=_dataset(), level=level, area=area)
        agencies = None
    return render_template("pages/cases_progress.html", rows=frame.to_dict("records"),
                           agencies=None if agencies is None else agencies.to_dict("records"),
                           level=level, area=area, public=not p.is_authenticated)


def _evaluation():
    n_boot = params.whole(request.args, "n_boot", 500, lo=0, hi=10**12,
                          message="n_boot ต้องเป็นจำนวนเต็ม / n_boot must be a whole number")
    return uc.evaluation(_services(), current_principal(), dataset=_dataset(),
                         by=request.args.get("by", "all"),
                         outcome=request.args.get("outcome", "poverty"),
                         area=request.args.get("area") or None, n_boot=n_boot)


@bp.get("/cases/evaluation")
def case_evaluation_page():
    """Did it work: exit of helped vs comparable not-helped households, with intervals."""
    ev = _evaluation()
    no_store()
    return render_template("pages/cases_evaluation.html", ev=ev,
                           rows=ev.results.to_dict("records"),
                           persistent=ev.persistent.to_dict("records"), args=request.args)


@bp.get("/api/v1/followup/evaluation")
def api_evaluation():
    """Evaluation as JSON, or CSV with ``format=csv`` (aggregates; signed-in users)."""
    ev = _evaluation()
    no_store()
    if request.args.get("format") == "csv":
        from service.export.formats import to_csv

        body = to_csv(ev.results.assign(baseline_round=ev.baseline.round,
                                        follow_round=ev.follow.round, outcome=ev.outcome))
        return body, 200, {"Content-Type": "text/csv; charset=utf-8",
                           "Content-Disposition": "attachment; filename="
                                                  f"followup-evaluation-{ev.by}.csv"}
    return jsonify({"dataset": ev.dataset, "baseline_version": ev.baseline.id,
                    "baseline_round": ev.baseline.round, "follow_version": ev.follow.id,
                    "follow_round": ev.follow.round, "outcome": ev.outcome, "by": ev.by,
                    "n_panel_households": ev.n_panel,
                    "results": _frame_json(ev.results),
                    "persistent_never_helped": _frame_json(ev.persistent)})


# -- API ---------------------------------------------------------------------------------------
def _json_case(case: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in case.items() if k not in ("next_statuses", "suggested")}
    out["next_statuses"] = [s.id for s in case.get("next_statuses", [])]
    out["suggested"] = [{"action": s["action"].id, "agency": s["agency"],
                         "horizon": s["action"].horizon, "indicator": s.get("indicator")}
                        for s in case.get("suggested", [])]
    return _jsonable(out)


def _jsonable(value: Any) -> Any:
    import datetime as dt

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def _frame_json(frame) -> list[dict[str, Any]]:
    from service.analysis.disclosure import json_records

    return json_records(frame)


@bp.get("/api/v1/cases")
def api_cases():
    """Cases of a province (authorised; audited)."""
    limit = params.whole(request.args, "limit", uc.PAGE_SIZE, lo=1, hi=500,
                         message="limit ต้องเป็น 1-500 / limit must be 1-500")
    listing = uc.list_cases(_services(), current_principal(), dataset=_dataset(),
                            province=request.args.get("province"), filters=_filters(),
                            page=_page_arg(), page_size=limit)
    no_store()
    return jsonify({"dataset": listing.dataset, "round": listing.round,
                    "province": listing.province, "total": listing.total,
                    "page": listing.page, "pages": listing.pages,
                    "status_counts": listing.status_counts,
                    "cases": _jsonable(listing.rows)})


@bp.post("/api/v1/cases/open")
def api_cases_open():
    """Open the current round's cases (national: every province unless ``province``)."""
    b = _body()
    opened = uc.open_cases(_services(), current_principal(), dataset=_dataset(),
                           province=b.get("province") or None)
    no_store()
    return jsonify({"opened": opened})


@bp.get("/api/v1/cases/<int:case_id>")
def api_case(case_id: int):
    """One case with plan, history and assistance (authorised; audited)."""
    case = uc.get_case(_services(), current_principal(), case_id)
    no_store()
    return jsonify(_json_case(case))


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.is_json else None
    return data if isinstance(data, dict) else dict(request.form)


@bp.post("/api/v1/cases/<int:case_id>/status")
def api_case_status(case_id: int):
    b = _body()
    out = uc.change_status(_services(), current_principal(), case_id, str(b.get("status", "")),
                           note=str(b.get("note", "")),
                           expected=str(b["expected"]) if b.get("expected") else None)
    no_store()
    return jsonify(_jsonable(out))


@bp.post("/api/v1/cases/<int:case_id>/plan")
def api_case_plan(case_id: int):
    b = _body()
    item = uc.add_plan_item(_services(), current_principal(), case_id,
                            action=str(b.get("action", "")), agency=str(b.get("agency", "")),
                            horizon=b.get("horizon") or None, due_date=b.get("due_date"),
                            indicator=b.get("indicator") or None, note=str(b.get("note", "")))
    no_store()
    return jsonify({"id": item}), 201


@bp.post("/api/v1/cases/<int:case_id>/assistance")
def api_case_assistance(case_id: int):
    b = _body()
    out = uc.log_assistance(_services(), current_principal(), case_id,
                            given_on=b.get("given_on", ""), agency=str(b.get("agency", "")),
                            action=str(b.get("action", "")), amount_thb=b.get("amount_thb", 0),
                            horizon=b.get("horizon") or None, note=str(b.get("note", "")))
    no_store()
    return jsonify(out), 201


@bp.post("/api/v1/cases/imports")
@allow_large_body
def api_case_import():
    """Import an agency file: 201 imported, 200 same file already imported, 422 rejected
    (report: file, row, column, reason in Thai and English), 403 rows of another province."""
    report = _import_upload(current_principal())
    no_store()
    body = report.to_dict()
    if report.status == "rejected":
        return problem(403 if report.forbidden else 422,
                       "Forbidden" if report.forbidden else "Invalid input",
                       "ไฟล์มีปัญหา ไม่ได้นำเข้า / the file has problems; nothing was imported",
                       {"report": body})
    return jsonify(body), 201 if report.status == "created" else 200


@bp.get("/api/v1/followup/progress")
def api_progress():
    """Progress per area (public: disclosure-controlled, rounded)."""
    level, area = request.args.get("level", "province"), request.args.get("area") or None
    agency, p = request.args.get("agency") or None, current_principal()
    if p.is_authenticated:
        frame = uc.progress(_services(), p, dataset=_dataset(), level=level, area=area,
                            agency=agency)
        no_store()
    else:
        frame = uc.public_progress(_services(), dataset=_dataset(), level=level, area=area,
                                   agency=agency)
    return jsonify({"level": level, "area": area, "agency": agency,
                    "public": not p.is_authenticated, "areas": _frame_json(frame)})


@bp.get("/api/v1/followup/assistance")
def api_assistance():
    """Help delivered per agency/action/area (signed-in users, their areas)."""
    by = tuple(x for x in (request.args.get("by") or "agency").split(",") if x)
    frame = uc.assistance_summary(_services(), current_principal(), dataset=_dataset(),
                                  by=by, area=request.args.get("area") or None)
    no_store()
    return jsonify({"by": list(by), "rows": _frame_json(frame)})


_OBJ = {"type": "object"}
_JSON = {"application/json": {"schema": _OBJ}}
_SEC: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
_CASE_ID = {"name": "case_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
_Q = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
      for n in ("dataset", "province", "area", "status", "source", "overdue", "helped")]
_PAGE = [{"name": "page", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
         {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": 500}}]


def _op(summary: str, params: list, *, body: dict | None = None, ok: str = "200",
        secured: bool = True, extra: dict[str, str] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "OK", "content": _JSON}}
    for code, text in (extra or {}).items():
        responses[code] = {"description": text}
    op: dict[str, Any] = {"summary": summary, "tags": ["follow-up"], "parameters": params,
                          "responses": responses}
    if secured:
        op["security"] = _SEC
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": body}}}
    return op


def _props(**kw: Any) -> dict[str, Any]:
    return {"type": "object", "properties": kw}


_S = {"type": "string"}
OPENAPI_PATHS = {
    "/api/v1/cases": {"get": _op("Household cases of a province (authorised; audited) / "
                                 "รายการครัวเรือนที่ติดตาม", [*_Q, *_PAGE])},
    "/api/v1/cases/open": {"post": _op(
        "Open the current round's cases / เปิดการติดตามรอบปัจจุบัน", [],
        body=_props(province=_S, dataset=_S))},
    "/api/v1/cases/{case_id}": {"get": _op("One case: plan, assistance, history / ข้อมูลกรณี",
                                           [_CASE_ID])},
    "/api/v1/cases/{case_id}/status": {"post": _op(
        "Change a case's status / เปลี่ยนสถานะ", [_CASE_ID],
        body=_props(status=_S, note=_S, expected=_S),
        extra={"409": "Changed by someone else meanwhile / ถูกเปลี่ยนโดยผู้อื่นแล้ว"})},
    "/api/v1/cases/{case_id}/plan": {"post": _op(
        "Add a plan item / เพิ่มรายการในแผนครัวเรือน", [_CASE_ID], ok="201",
        body=_props(action=_S, agency=_S, horizon=_S, due_date=_S, indicator=_S, note=_S))},
    "/api/v1/cases/{case_id}/assistance": {"post": _op(
        "Log help given / บันทึกการช่วยเหลือ", [_CASE_ID], ok="201",
        body=_props(given_on=_S, agency=_S, action=_S, amount_thb={"type": "number"},
                    horizon=_S, note=_S))},
    "/api/v1/cases/imports": {"post": {
        **_op("Import an agency's assistance file (CSV/XLSX) / นำเข้าไฟล์การช่วยเหลือ", [],
              ok="201", extra={"200": "Same file already imported / เคยนำเข้าแล้ว",
                               "415": "Not a CSV or XLSX file / ไม่รองรับชนิดไฟล์"}),
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"},
                           "policy": {"type": "string", "enum": ["reject", "quarantine"]},
                           "dataset": _S}}}}}}},
    "/api/v1/followup/progress": {"get": _op(
        "Follow-up progress per area (public: disclosure-controlled) / ความก้าวหน้าการติดตาม",
        [{"name": "level", "in": "query", "required": False,
          "schema": {"type": "string", "enum": ["province", "amphoe", "tambon", "village"]}},
         {"name": "area", "in": "query", "required": False, "schema": _S},
         {"name": "agency", "in": "query", "required": False, "schema": _S,
          "description": "help figures of this agency only / เฉพาะการช่วยเหลือของหน่วยงานนี้"},
         {"name": "dataset", "in": "query", "required": False, "schema": _S}],
        secured=False)},
    "/api/v1/followup/evaluation": {"get": {**_op(
        "Did it work: exit of helped vs comparable households (bootstrap interval) / "
        "ประเมินผลการช่วยเหลือ",
        [{"name": "by", "in": "query", "required": False,
          "schema": {"type": "string", "enum": ["all", "action", "agency", "area"]}},
         {"name": "outcome", "in": "query", "required": False,
          "schema": {"type": "string", "enum": ["poverty", "exclusion"]}},
         {"name": "area", "in": "query", "required": False, "schema": _S},
         {"name": "n_boot", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 0, "maximum": 2000}},
         {"name": "format", "in": "query", "required": False,
          "schema": {"type": "string", "enum": ["json", "csv"]}},
         {"name": "dataset", "in": "query", "required": False, "schema": _S}]),
        "responses": {"200": {"description": "OK", "content": {
            **_JSON, "text/csv": {"schema": {"type": "string"}}}}}}},
    "/api/v1/followup/assistance": {"get": _op(
        "Help delivered per agency, action or area / การช่วยเหลือตามหน่วยงาน",
        [{"name": "by", "in": "query", "required": False, "schema": _S},
         {"name": "area", "in": "query", "required": False, "schema": _S},
         {"name": "dataset", "in": "query", "required": False, "schema": _S}])},
}
