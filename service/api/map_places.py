"""/maps/places.json: the names of every province, amphoe and tambon with their bounding
boxes, for the map's search box (public: names and outlines are open data)."""

from __future__ import annotations

import gzip
import hashlib

from flask import Blueprint, Flask, current_app, request

from service.api.assets import precompressed_json
from service.api.services import services
from service.render import places

bp = Blueprint("map_places", __name__)
_CACHE_KEY = "chipao_map_places"


@bp.get("/maps/places.json")
def place_index():
    bdir = str(current_app.config["CHIPAO"].boundaries_dir)
    memo = services().memo
    cached = memo.get(_CACHE_KEY)
    if cached is None or cached[0] != bdir:
        body = places.search_index(bdir)
        cached = memo[_CACHE_KEY] = (bdir, body, gzip.compress(body, mtime=0))
    _, body, packed = cached
    resp = precompressed_json(body, packed)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.set_etag(hashlib.sha256(body).hexdigest()[:20])
    return resp.make_conditional(request)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
