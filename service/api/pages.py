"""Server-rendered pages for people (Thai first, English beside it) and HTML error pages.

Templates live in ``maps/templates`` (``base.html``: site navigation, the Sarabun font, the
signed-in user and role; ``error.html``; ``pages/*.html``) and are found by every blueprint
through the loader added here, so other helpers' pages ``{% extends "base.html" %}`` too.
Routes are thin: each reads its arguments, calls a use case (service.usecases.*) and renders.

Errors: a person's browser asking for a page gets ``error.html`` (403/404/422/500 ... in Thai
and English with a way back); the API and data files keep ``application/problem+json``
(:func:`wants_html` decides; service.api registers the handlers).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, request
from jinja2 import ChoiceLoader, FileSystemLoader

from service import __version__
from service.api import params
from service.api.responses import download
from service.api.services import services
from service.render import thai
from service.render.catalogue import MAPS_DIR

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

TEMPLATES_DIR = MAPS_DIR / "templates"

#: site navigation: (path prefix, href, Thai, English); an item is shown once a route under
#: its prefix exists, so the menu never links to a page that is not there
NAV = (
    ("/", "/", "หน้าแรก", "Home"),
    ("/maps/", "/maps/", "แผนที่", "Maps"),
    ("/areas/", "/areas/", "ข้อมูลพื้นที่", "Area profiles"),
    ("/ranking", "/ranking", "จัดลำดับความสำคัญ", "Ranking"),
    ("/selection", "/selection", "เลือกหมู่บ้านตามงบ", "Selection"),
    ("/lists", "/lists", "รายชื่อเป้าหมาย", "Target lists"),
    ("/kpi", "/kpi", "ตัวชี้วัดแผนแม่บท", "KPIs"),
    ("/cases", "/cases", "ติดตามผล", "Follow-up"),
)

#: status -> (heading th, heading en, advice th, advice en)
ERROR_TEXT = {
    400: ("คำขอไม่ถูกต้อง", "Bad request",
          "ที่อยู่หรือข้อมูลที่ส่งมาไม่ครบหรือไม่ถูกต้อง",
          "The address or the form was incomplete or malformed."),
    401: ("ต้องเข้าสู่ระบบ", "Sign-in required",
          "หน้านี้สำหรับเจ้าหน้าที่ที่เข้าสู่ระบบแล้ว", "This page is for signed-in staff."),
    403: ("ไม่มีสิทธิ์เข้าถึง", "Not allowed",
          "บัญชีของท่านไม่มีสิทธิ์ดูข้อมูลนี้ ข้อมูลรายครัวเรือนดูได้เฉพาะเจ้าหน้าที่ระดับประเทศ"
          "และเจ้าหน้าที่ของจังหวัดนั้น",
          "Your account may not see this. Household data is for national staff and the "
          "staff of that province only."),
    404: ("ไม่พบหน้าที่ขอ", "Page not found",
          "ที่อยู่ (URL) หรือรหัสพื้นที่อาจพิมพ์ผิด หรือข้อมูลนี้ไม่มีในชุดข้อมูล",
          "The address or area code may be mistyped, or this dataset has no such data."),
    405: ("ไม่รองรับวิธีเรียกนี้", "Method not allowed",
          "หน้านี้เปิดด้วยวิธีนี้ไม่ได้", "This page cannot be opened this way."),
    413: ("ข้อมูลใหญ่เกินกำหนด", "Too large",
          "ไฟล์หรือข้อมูลที่ส่งมีขนาดใหญ่เกินที่ระบบรับได้", "The upload is larger than allowed."),
    422: ("ข้อมูลที่กรอกไม่ถูกต้อง", "Invalid input",
          "กรุณาแก้ไขค่าที่ระบุด้านล่างแล้วลองอีกครั้ง", "Please correct the value named below "
          "and try again."),
    429: ("เรียกใช้บ่อยเกินไป", "Too many requests",
          "กรุณารอสักครู่แล้วลองใหม่", "Please wait a moment and try again."),
    500: ("ระบบขัดข้อง", "Something went wrong",
          "เกิดข้อผิดพลาดภายในระบบ ผู้ดูแลระบบได้รับบันทึกแล้ว กรุณาลองใหม่ภายหลัง",
          "An internal error occurred and was logged for the administrator. Please try "
          "again later."),
}

_DATA_SUFFIXES = (".json", ".geojson", ".csv", ".xlsx", ".gpkg", ".png", ".pbf")


def wants_html() -> bool:
    """A person's browser asking for a page: not the API, not a data file, and HTML preferred
    over JSON (API clients and test clients send no ``Accept: text/html``)."""
    path = request.path
    if path.startswith(("/api/", "/assets/")) or path.endswith(_DATA_SUFFIXES):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > 0


def _same_site_referrer() -> str | None:
    ref = request.referrer
    if not ref:
        return None
    parts, here = urlsplit(ref), urlsplit(request.host_url)
    if parts.netloc != here.netloc or ref.rstrip("/") == request.url.rstrip("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def error_page(status: int, detail: str | None = None):
    """The HTML error page (Thai then English, a way back, no stack trace)."""
    from flask import render_template

    th, en, advice_th, advice_en = ERROR_TEXT.get(status, ERROR_TEXT[500 if status >= 500
                                                                     else 400])
    try:
        body = render_template("error.html", status=status, heading_th=th, heading_en=en,
                               advice_th=advice_th, advice_en=advice_en,
                               detail=None if status >= 500 else detail,
                               back=_same_site_referrer())
    except Exception:  # the error page itself must never fail: plain text then
        log.exception("error page could not be rendered")
        body = f"{status} {th} / {en}"
    return body, status, {"Content-Type": "text/html; charset=utf-8"}


def _principal():
    from service.api.auth import PUBLIC, current_principal

    try:
        return current_principal()
    except Exception:  # a bad token: the view answers 401; the menu shows the public role
        return PUBLIC


def _nav() -> list[dict[str, Any]]:
    memo = services().memo
    prefixes = memo.get("nav_prefixes")
    if prefixes is None:
        rules = [r.rule for r in current_app.url_map.iter_rules()]
        prefixes = {p for p, *_ in NAV if any(r == p or (p != "/" and r.startswith(p))
                                              for r in rules)}
        memo["nav_prefixes"] = prefixes
    path = request.path
    out = []
    for prefix, href, th, en in NAV:
        if prefix not in prefixes:
            continue
        active = path == "/" if prefix == "/" else path.startswith(prefix)
        out.append({"href": href, "th": th, "en": en, "active": active})
    return out


def _context() -> dict[str, Any]:
    from service.api.page_cache import template_principal

    return {"chipao_nav": _nav(), "principal": template_principal(_principal()),
            "chipao_version": __version__}


def init_app(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES_DIR)),
                                     *([app.jinja_loader] if app.jinja_loader else [])])
    app.context_processor(_context)
    app.add_template_filter(thai.be_date, "be_date")
    app.add_template_filter(thai.be_datetime, "be_datetime")
    app.add_template_filter(thai.count, "cnt")
    app.add_template_filter(thai.percent, "pct")
    app.add_template_filter(thai.ratio, "ratio")
    app.add_template_filter(thai.baht, "baht")
    app.add_template_filter(thai.number, "num")
    app.register_blueprint(bp)
    from service.api import page_cache

    page_cache.init_app(app)  # last: after the limiter, the CSRF guard and _context


# -- data access for the use cases ---------------------------------------------------------
def area_source():
    """The request's :class:`service.usecases.profile.AreaSource`: area tables as the
    signed-in principal may see them (``service.access.views.area_view``: disclosure control
    in one place, the app's shared view cache)."""
    from service.access.principal import can_see_province
    from service.access.views import area_view
    from service.api.datasets import dataset_arg
    from service.usecases.profile import AreaSource

    principal = _principal()
    dataset = dataset_arg()
    s = services()

    def read(version: str, level: str, province: str | None):
        return area_view(s.store, dataset, level, principal, version=version,
                         province=province, min_households=s.min_households, cache=s.views)

    return AreaSource(s.store, dataset, principal, read, int(s.min_households),
                      can_see=lambda code: can_see_province(principal, code), cache=s.pages)


def _render(template: str, **context: Any):
    from flask import render_template

    return render_template(template, **context)


# -- pages ---------------------------------------------------------------------------------
@bp.get("/areas/")
@bp.get("/areas/<code>")
def area_page(code: str | None = None):
    """Area profile of the country, a province, amphoe, tambon or village."""
    from service.api.datasets import version_arg
    from service.usecases.profile import area_profile

    profile = area_profile(area_source(), code, version_id=version_arg())
    return _render("pages/profile.html", p=profile, followup=_followup(code))


def _followup(code: str | None) -> dict[str, Any] | None:
    """Follow-up progress of the area's children (FOLLOWUP hook; None = no cases)."""
    from service.api.services import services
    from service.usecases.cases import progress_section

    return progress_section(services(), _principal(), dataset=request.args.get("dataset"),
                            code=code)


def _default_area() -> str:
    p = _principal()
    return p.province if p.role == "provincial" and p.province else "TH"


@bp.get("/ranking")
def ranking_page():
    """Priority ranking of the sub-areas of an area, with intervals and explanations."""
    from service.api.datasets import int_arg, version_arg
    from service.usecases.profile import ranking_page as build

    r = build(area_source(), request.args.get("area") or _default_area(),
              request.args.get("level") or None, version_id=version_arg(),
              weights=params.weights(request.args), n_boot=int_arg("bootstrap", 0, lo=0, hi=200),
              top_n=int_arg("top_n", 10, lo=1, hi=1000))
    return _render("pages/ranking.html", r=r, args=request.args)


# -- target lists ----------------------------------------------------------------------------
LIST_PAGE_ROWS = 200


def _list(kind: str):
    """The list of ``kind`` for the request's arguments (authorised and audited when it
    holds households)."""
    from service.api.auth import audit, require_province
    from service.api.datasets import version_arg
    from service.usecases.exclusion import target_list

    form = params.ListParams.parse(request.args, default_area=_default_area())
    if kind != "villages":
        require_province(form.area[:4])  # household data: national or this province's staff
    src = area_source()
    info = target_list(src, kind, form.area, version_id=version_arg(), order=form.order,
                       dimension=form.dimension, programme=form.programme)
    if kind != "villages":
        audit(f"read_{kind}_list", f"{src.dataset}/{info['version'].id}/{form.area}",
              f"rows={info['total']} programme={info.get('programme') or ''}")
    return src, info, form


@bp.get("/lists")
@bp.get("/lists/<kind>")
def list_page(kind: str = "villages"):
    """Village, household and exclusion lists of an area, filterable and exportable."""
    from service.export.xlsx import columns_for

    if _default_area() == "TH" and not request.args.get("area"):
        return _render("pages/lists.html", info=None, kind=kind, args=request.args)
    _, info, _ = _list(kind)
    frame = info["frame"]
    return _render("pages/lists.html", info=info, kind=kind, args=request.args,
                   columns=columns_for(frame), rows=frame.head(LIST_PAGE_ROWS).to_dict("records"),
                   shown=min(len(frame), LIST_PAGE_ROWS))


@bp.get("/lists/<kind>.<fmt>")
def list_export(kind: str, fmt: str):
    """The list as XLSX (Thai headers, definitions, metadata) or CSV (UTF-8 with BOM)."""
    from service.api.auth import audit
    from service.usecases.downloads import check_format, list_download

    check_format(fmt)
    src, info, form = _list(kind)
    if kind != "villages":
        audit(f"export_{kind}", f"{src.dataset}/{info['version'].id}/{info['area']}",
              f"format={fmt} rows={len(info['frame'])}")
    return download(list_download(src, info, kind, fmt, filters=form.filters))


# -- budget selection ------------------------------------------------------------------------
def _selection():
    from service.analysis.select import DEFAULT_COSTS
    from service.api.auth import require_province
    from service.api.datasets import version_arg
    from service.usecases.budget_page import selection_page
    from service.usecases.exclusion import area_names

    province = params.selection_province(request.args, default_area=_default_area())
    if province == "TH":
        return None, {"defaults": DEFAULT_COSTS}
    require_province(province)
    form = params.SelectionParams.parse(request.args, province=province)
    if form is None:
        return None, {"defaults": DEFAULT_COSTS, "province": province}
    src = area_source()
    version = src.store.version(src.dataset, version_arg())
    result = selection_page(src, province, budget=form.budget, costs=form.costs,
                            objective=form.objective, per_amphoe=form.per_amphoe,
                            version_id=version.id, names=area_names(src, version.id, province))
    return src, result


@bp.get("/selection")
def selection_page():
    """Villages to act in within a budget, compared with greedy and top-of-ranking."""
    from service.analysis.spec import load_spec

    src, result = _selection()
    labels = {i.name: (i.label_th, i.label_en) for i in load_spec("tpmap").indicators}
    costs_open = any(k.startswith("cost_") for k in request.args)
    if src is None:
        return _render("pages/selection.html", r=None, form=result, labels=labels,
                       args=request.args, costs_open=costs_open)
    return _render("pages/selection.html", r=result, form={"defaults": result["costs"],
                                                           "province": result["province"]},
                   labels=labels, args=request.args, costs_open=costs_open,
                   rows=result["selected"].to_dict("records"))


@bp.get("/selection.<fmt>")
def selection_export(fmt: str):
    """The selected villages as XLSX (with the costs, totals and comparison) or CSV."""
    from service.errors import InvalidInput
    from service.usecases.downloads import check_format, selection_download

    check_format(fmt)
    src, r = _selection()
    if src is None:
        raise InvalidInput("give a province and a budget / ระบุจังหวัดและงบประมาณ",
                           column="budget")
    return download(selection_download(src, r, fmt))


# -- KPI dashboard ---------------------------------------------------------------------------
def _kpi():
    from service.api.datasets import int_arg
    from service.usecases.kpi_dashboard import kpi_dashboard

    p = _principal()
    province = params.province(request.args, p.province if p.role == "provincial" else None)
    src = area_source()
    base = int_arg("baseline_round", 0, lo=0, hi=9999)
    return src, kpi_dashboard(src, province, baseline_round=base or None)


@bp.get("/kpi")
def kpi_page():
    """Master-plan KPIs of the country and a province, with charts and exports."""
    _, d = _kpi()
    return _render("pages/kpi.html", d=d, followup=_followup(request.args.get("province")))


@bp.get("/kpi.<fmt>")
def kpi_export(fmt: str):
    """The KPI table as XLSX or CSV."""
    from service.usecases.downloads import check_format, kpi_download

    check_format(fmt)
    src, d = _kpi()
    return download(kpi_download(src, d, fmt))


# -- household visit sheet (re-identification on the authorised server) -----------------------
def _visit_sheet_view():
    """POST: the household list of ``area`` with names re-identified from the province's
    source file(s) uploaded in the form; audited, no-store, the files deleted at once."""
    from service.api.auth import audit, require_province
    from service.errors import InvalidInput
    from service.usecases.downloads import visit_sheet_download
    from service.usecases.exclusion import target_list

    form = params.ListParams.parse(request.form, default_area="")
    require_province(form.area[:4])
    uploads = [f for f in request.files.getlist("source") if f and f.filename]
    if not uploads:
        raise InvalidInput("choose the province's survey file (CSV or XLSX) "
                           "/ เลือกไฟล์ข้อมูลต้นฉบับของจังหวัด (CSV หรือ XLSX)", column="source")
    src = area_source()
    info = target_list(src, "households", form.area, order=form.order, dimension=form.dimension)
    file, rows, found = visit_sheet_download(src, info, services().settings, uploads)
    audit("export_visit_sheet", f"{src.dataset}/{info['version'].id}/{form.area}",
          f"rows={rows} found={found} files={len(uploads)}")
    return download(file)


def _register_visit_sheet() -> None:
    from service.api.core import allow_large_body

    bp.add_url_rule("/lists/visit-sheet", "visit_sheet", allow_large_body(_visit_sheet_view),
                    methods=["POST"])


_register_visit_sheet()
