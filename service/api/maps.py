"""/maps/: interactive choropleth pages (folium + chipao-map.js) and their two data routes.

* ``GET /maps/`` national map (``level`` = province, amphoe, tambon, h3_r6, h3_r7);
* ``GET /maps/area/<code>`` map inside a province/amphoe/tambon (its amphoes, tambons,
  villages or H3 cells); clicking an area drills down to the next page;
* ``GET /maps/geo/<level>.geojson?scope=`` geometry, simplified and gzipped once, cached;
* ``GET /maps/values/<level>.json?scope=&measure=&group=&round=&change=&classes=&classifier=``
  one value row per area and the classed legend.

Public callers (and provincial users outside their province) get figures that passed
disclosure control; villages need a signed-in user of that province (audited).

Routes only: pages, values and geometry are computed by :mod:`service.usecases.map_values`
(page layout: :mod:`service.render.map_page`, plain functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, request

from service.api.assets import accepts_gzip, gzip_response, precompressed_json
from service.api.auth import audit, current_principal
from service.api.services import services
from service.render import geometry
from service.render.builders import MapPage, render_page
from service.usecases import map_values
from service.usecases.map_values import MapParams

if TYPE_CHECKING:
    from service.settings import Settings

bp = Blueprint("maps", __name__)


# -- helpers shared with service.api.embed -----------------------------------------------------
def settings() -> Settings:
    return services().settings


def map_params() -> MapParams:
    """The map parameters of this request's query string."""
    return MapParams.parse(request.args, default_dataset=services().settings.default_dataset)


def check_level(scope: str | None, level: str | None) -> str:
    return map_values.check_level(services(), scope, level)


def page_response(page: MapPage) -> Response:
    from flask import render_template

    # the site navigation of every page, in one line above the map (not in embeds)
    chrome = None if page.embed else render_template("_sitebar.html")
    return gzip_response(Response(render_page(page, chrome), mimetype="text/html"))


def page(scope: str | None, *, embed: bool = False) -> Response:
    """The map page of ``scope`` (None = the country) at the level asked for."""
    params = map_params()
    return page_response(map_values.map_page(
        services(), None if embed else current_principal(), scope, request.args.get("level"),
        params, embed=embed))


def values_response(level: str, *, public: bool) -> Response:
    s, scope = services(), request.args.get("scope") or None
    map_values.check_level(s, scope, level)  # a bad scope or level is told first
    params, p = map_params(), None if public else current_principal()
    req = map_values.values_request(s, p, level, scope, params, public=public)
    if req.level == "village":
        audit("map.villages", f"{params.dataset}/{req.version}/{req.scope}", params.measure)
    return precompressed_json(*map_values.map_values(s, p, req, params, public=public))


def geometry_response(level: str) -> Response:
    got = map_values.map_geometry(services(), current_principal(), level,
                                  request.args.get("scope") or None, request.args)
    if got.audit:
        audit("map.village_points", got.audit)
    if accepts_gzip():
        resp = Response(got.data, mimetype="application/geo+json")
        resp.headers["Content-Encoding"] = "gzip"
    else:
        import gzip

        resp = Response(gzip.decompress(got.data), mimetype="application/geo+json")
    resp.vary.add("Accept-Encoding")
    resp.set_etag(geometry.cache_key("etag", len(got.data), got.data[-64:].hex()))
    if got.public_cache:
        resp.headers["Cache-Control"] = "public, max-age=86400"
        resp.headers["Access-Control-Allow-Origin"] = "*"  # public geometry, for portals
    resp.make_conditional(request)
    return resp


# -- routes --------------------------------------------------------------------------------------
@bp.get("/maps/")
def national():
    return page(None)


@bp.get("/maps/area/<code>")
def area(code: str):
    return page(code)


@bp.get("/maps/geo/<level>.geojson")
def geo(level: str):
    return geometry_response(level)


@bp.get("/maps/values/<level>.json")
def values(level: str):
    return values_response(level, public=False)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    s = services(app)
    if s.settings.map_warmup and not s.settings.testing:
        from service.usecases import map_warmup

        map_warmup.start(s)  # cold start: the first map after a restart is a warm one
