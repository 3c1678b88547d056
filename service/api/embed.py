"""/embed/: map-only pages for portals' iframes, and /embed-code: the copy-paste snippet.

Embedded maps always show public (suppressed) aggregates, whoever views them, and never
villages. Their Content-Security-Policy allows framing by this site and the configured portal
origins only (setting ``embed_allowed_origins``); every other page keeps
``frame-ancestors 'none'`` (service.api.core).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict

from flask import Blueprint, Flask, g, render_template_string, request

from service.api.maps import (
    check_level,
    map_params,
    page,
    settings,
    values_response,
)
from service.api.services import services
from service.render import assets
from service.render.catalogue import MAPS_DIR
from service.usecases import embeds

log = logging.getLogger(__name__)

bp = Blueprint("embed", __name__)

#: scheme://host[:port], nothing else (no paths, quotes, semicolons or bare wildcards)
_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")


def allowed_origins(value: str) -> list[str]:
    """Valid origins of the ``embed_allowed_origins`` setting; invalid ones are logged."""
    out = []
    for item in value.split():
        if _ORIGIN.match(item):
            out.append(item)
        else:
            log.warning("embed_allowed_origins: %r is not an origin like https://portal.go.th; "
                        "ignored", item)
    return out


def _frame_ancestors() -> str:
    return " ".join(["'self'", *allowed_origins(settings().embed_allowed_origins)])


def _embed_page(scope: str | None):
    map_params()  # 422 for bad parameters before anything else
    g.csp_frame_ancestors = _frame_ancestors()
    return page(scope, embed=True)


@bp.get("/embed/")
def national():
    return _embed_page(None)


@bp.get("/embed/area/<code>")
def area(code: str):
    return _embed_page(code)


@bp.get("/embed/values/<level>.json")
def values(level: str):
    resp = values_response(level, public=True)
    resp.headers["Access-Control-Allow-Origin"] = "*"  # public aggregates, for portals
    return resp


@bp.get("/embed-code")
def embed_code():
    """The iframe snippet for the map the user is looking at (only validated parameters)."""
    scope = request.args.get("scope") or None
    level = check_level(scope, request.args.get("level"))
    code = embeds.embed_code(services(), map_params(), scope, level, host_url=request.host_url)
    template = (MAPS_DIR / "templates" / "embed_code.html").read_text(encoding="utf-8")
    return render_template_string(
        template, **asdict(code),
        allowed=" ".join(allowed_origins(settings().embed_allowed_origins)),
        min_households=settings().min_cell_households,
        css_url=assets.url("maps", "chipao-map.css"),
        script_url=assets.url("maps", "chipao-embed-code.js"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
