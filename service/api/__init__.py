"""HTTP layer: blueprints, error handling. Only this package, cli.py and create_app import flask.

Each blueprint lives in its own module and exposes ``bp``; modules are listed once here.
"""

from __future__ import annotations

import importlib
import logging
from urllib.parse import quote

from flask import Flask, redirect, request
from werkzeug.exceptions import HTTPException

from service.errors import ChipaoError, status_for

log = logging.getLogger(__name__)

#: blueprint modules, registered in this order. A module that does not exist yet is skipped.
BLUEPRINT_MODULES = (
    "service.api.core",       # /, /healthz, security headers
    "service.api.auth",       # login, tokens, roles
    "service.api.datasets",   # /api/v1/datasets, rounds, upload
    "service.api.upload",     # POST /api/v1/datasets/<name>/uploads (ingest)
    "service.api.published",  # POST /api/v1/datasets/<name>/tpmap-uploads (TPMAP tables)
    "service.api.areas",      # /api/v1/areas, measures, coverage, kpi
    "service.api.cells",      # /api/v1/cells (H3)
    "service.api.rankings",   # /api/v1/rankings, selection, target lists
    "service.api.exports",    # /api/v1/exports
    "service.api.maps",       # /maps/...
    "service.api.map_places", # /maps/places.json (search box names; MAPS)
    "service.api.assets",     # /assets/... Leaflet, Thai font, map script (offline)
    "service.api.embed",      # /embed/...
    "service.api.cases",      # /cases pages, /api/v1/cases, /api/v1/followup (follow-up)
    "service.api.openapi",    # /api/v1/openapi.json, /api/v1/docs
    "service.api.pages",      # pages for people (base.html, profiles, lists, KPIs), errors
)


def _browser_page_request() -> bool:
    """A person's browser asking for an HTML page (not the API, not a data file): such a
    request is sent to the sign-in page instead of a JSON 401."""
    if request.method != "GET" or request.path.startswith("/api/"):
        return False
    if request.path.endswith((".json", ".geojson", ".csv", ".xlsx", ".gpkg")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def init_app(app: Flask) -> None:
    from service.api.pages import error_page, wants_html
    from service.api.responses import problem as _problem

    for name in BLUEPRINT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        if hasattr(module, "init_app"):
            module.init_app(app)
        else:
            app.register_blueprint(module.bp)

    @app.errorhandler(ChipaoError)
    def _domain_error(exc: ChipaoError):
        status = status_for(exc)
        if status == 401 and _browser_page_request():
            return redirect(f"/login?next={quote(request.full_path.rstrip('?'), safe='/?=&')}",
                            code=303)
        if wants_html():
            return error_page(status, str(exc))
        return _problem(status, exc.title, str(exc), exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        detail = exc.description or exc.name
        thai = HTTP_THAI.get(exc.code or 500)
        if thai and not any("\u0e00" <= ch <= "\u0e7f" for ch in detail):
            detail = f"{detail} / {thai}"
        if wants_html():
            return error_page(exc.code or 500)
        return _problem(exc.code or 500, exc.name, detail)


#: Thai text for Werkzeug's English-only HTTP errors (user-facing text is Thai and English)
HTTP_THAI = {
    400: "คำขอไม่ถูกต้อง",
    404: "ไม่พบหน้าหรือข้อมูลที่ขอ กรุณาตรวจสอบที่อยู่ (URL)",
    405: "ที่อยู่นี้ไม่รองรับวิธีเรียกนี้",
    413: "ข้อมูลที่ส่งมีขนาดใหญ่เกินกำหนด",
    429: "เรียกใช้บ่อยเกินไป กรุณารอสักครู่แล้วลองใหม่",
    500: "เกิดข้อผิดพลาดภายในระบบ",
}
