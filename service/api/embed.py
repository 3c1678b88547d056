"""/embed/: map-only pages for portals' iframes, and /embed-code: the copy-paste snippet.

Embedded maps always show public (suppressed) aggregates, whoever views them, and never
villages. Their Content-Security-Policy allows framing by this site and the configured portal
origins only (setting ``embed_allowed_origins``); every other page keeps
``frame-ancestors 'none'`` (service.api.core).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode

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
from service.render.map_page import JS_QUERY_ORDER
from service.usecases import map_values

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
    params = map_params()
    if level == "village":
        from service.errors import InvalidInput

        raise InvalidInput("village maps are never embedded / ไม่เผยแพร่แผนที่ระดับหมู่บ้าน",
                           column="level")
    query = params.query(default_dataset=settings().default_dataset)
    # the embed is pinned to the round shown: a portal page keeps saying what it said
    version, _, rounds = map_values.resolve_round(services(), params)
    if version:
        query["round"] = version
    round_label = next((r.label for r in rounds if r.id == version), version or "")
    pairs = [("level", level)] + [(k, query[k]) for k in JS_QUERY_ORDER if k in query]
    path = f"/embed/area/{scope}" if scope else "/embed/"
    embed_url = f"{path}?{urlencode(pairs)}"
    absolute = request.host_url.rstrip("/") + embed_url
    title = "แผนที่ความยากจน ชี้เป้า · Chipao poverty map"
    snippet = (f'<iframe src="{absolute}" width="100%" height="480" style="border:0" '
               f'title="{title}" loading="lazy"></iframe>')
    back = (f"/maps/area/{scope}" if scope else "/maps/") + f"?{urlencode(pairs)}"
    template = (MAPS_DIR / "templates" / "embed_code.html").read_text(encoding="utf-8")
    return render_template_string(
        template, snippet=snippet, embed_url=embed_url, title=title, back_url=back,
        allowed=" ".join(allowed_origins(settings().embed_allowed_origins)),
        min_households=settings().min_cell_households, round_label=round_label,
        css_url=assets.url("maps", "chipao-map.css"),
        script_url=assets.url("maps", "chipao-embed-code.js"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
