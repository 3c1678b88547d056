"""Home page, health check, security headers on every response, body size and rate limits.

Headers (the security checklist, item 13):

* ``Content-Security-Policy`` with ``frame-ancestors 'none'``, unless the view set its own
  policy (kept as is) or set ``g.csp_frame_ancestors`` (the embed blueprint's allow-list);
* ``X-Frame-Options: DENY`` unless the page may be framed;
* ``Cache-Control: no-store`` on personal data (``auth.no_store()`` / ``auth.audit()``) and
  on every response to a signed-in caller, which may contain unsuppressed figures;
* ``Access-Control-Allow-Origin: *`` only on anonymous ``/api/v1`` reads (suppressed public
  aggregates), never on authenticated responses.

Flask-Limiter is set up here (settings ``rate_limit`` and ``rate_limit_storage_uri``); request
bodies are capped at 1 MiB except on views marked with :func:`allow_large_body` (uploads,
which get ``max_upload_mb``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from service import __version__
from service.api.services import services

log = logging.getLogger(__name__)

bp = Blueprint("core", __name__)

F = TypeVar("F", bound=Callable[..., Any])

#: body limit of ordinary requests (JSON parameters, forms)
SMALL_BODY_BYTES = 1024 * 1024

BASE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'"
)


def allow_large_body(view: F) -> F:
    """Mark an upload view: it accepts bodies up to ``max_upload_mb`` instead of 1 MiB."""
    view.chipao_large_body = True  # type: ignore[attr-defined]
    return view


def home_figures(dataset: str, principal: Any) -> dict[str, Any]:
    """The home page's figures (service.usecases.home) for this app."""
    from service.usecases import home

    return home.home_figures(services(), dataset, principal)


@bp.get("/")
def home():
    from service.api.auth import current_principal
    from service.api.datasets import dataset_arg

    principal = current_principal()
    figures = home_figures(dataset_arg(), principal)
    # maps/templates/home.html extends base.html: the site navigation of every page
    # principal: from the pages' context processor (a cached body gets the user name as a
    # hole, service.api.page_cache)
    return render_template("home.html", home=figures)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok", "version": __version__})


def _rate_key() -> str:
    from service.api.auth import current_principal

    try:
        p = current_principal()
    except Exception:  # a bad token is answered by the view with 401; count it per address
        return "addr:" + get_remote_address()
    if p.is_authenticated:
        return "user:" + str(p.username)
    return "addr:" + get_remote_address()


def _limit_body() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "chipao_large_body", False):
        return
    request.max_content_length = min(SMALL_BODY_BYTES,
                                     current_app.config.get("MAX_CONTENT_LENGTH") or
                                     SMALL_BODY_BYTES)


def _security_headers(response):
    headers = response.headers
    ancestors = g.get("csp_frame_ancestors")
    if "Content-Security-Policy" not in headers:
        frame = ancestors if ancestors else "'none'"
        headers["Content-Security-Policy"] = f"{BASE_CSP}; frame-ancestors {frame}"
    framable = bool(ancestors) or "frame-ancestors 'none'" not in headers.get(
        "Content-Security-Policy", "")
    if not framable:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")

    authenticated = _authenticated_quietly()
    if g.get("chipao_no_store") or authenticated:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    headers.add("Vary", "Authorization, Cookie")
    if authenticated:
        headers.pop("Access-Control-Allow-Origin", None)
    elif request.path.startswith("/api/v1/") and request.method in {"GET", "HEAD"} \
            and response.status_code < 500 and not g.get("chipao_no_store"):
        headers.setdefault("Access-Control-Allow-Origin", "*")
    if response.status_code == 401 and request.headers.get("Authorization"):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="chipao"')
    return response


def _authenticated_quietly() -> bool:
    from service.api.auth import current_principal

    try:
        return current_principal().is_authenticated
    except Exception:
        return bool(request.headers.get("Authorization"))


def init_app(app: Flask) -> None:
    from service.api.limits_memory import storage_uri

    settings = app.config["CHIPAO"]
    limiter = Limiter(
        _rate_key,
        app=app,
        default_limits=[settings.rate_limit] if settings.rate_limit else [],
        storage_uri=storage_uri(settings.rate_limit_storage_uri),  # memory: no timer thread
        headers_enabled=True,
        strategy="fixed-window",
    )
    limiter.exempt(bp)  # pages and health checks are cheap; the limits guard the API
    services(app).limiter = limiter
    app.register_blueprint(bp)
    app.before_request(_limit_body)
    app.after_request(_security_headers)
