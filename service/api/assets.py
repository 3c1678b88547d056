"""/assets/<package>/<path>: Leaflet, the Thai font and Chipao's map script, served from
installed packages (service.render.assets) so no map page needs another host.

Responses are immutable for a year (URLs carry ``?v=<version>``), gzip-compressed when the
client accepts it, and exempt from the API rate limit (a page load fetches several).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, request

from service.render import assets

bp = Blueprint("assets", __name__)

COMPRESSIBLE = ("text/", "application/json", "image/svg+xml")
MIN_GZIP_BYTES = 1024


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime: float) -> tuple[bytes, bytes | None, str]:
    data = Path(path).read_bytes()
    etag = hashlib.sha256(data).hexdigest()[:20]
    mime = assets.mimetype_of(Path(path))
    packed = None
    if mime.startswith(COMPRESSIBLE) and len(data) >= MIN_GZIP_BYTES:
        packed = gzip.compress(data, compresslevel=9, mtime=0)
    return data, packed, etag


def accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def precompressed_json(body: bytes, packed: bytes | None) -> Response:
    """JSON response from a cached body and its gzip form (``None``: not worth compressing),
    so cached responses are compressed once, not per request."""
    if packed is not None and accepts_gzip():
        resp = Response(packed, mimetype="application/json")
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = Response(body, mimetype="application/json")
    resp.vary.add("Accept-Encoding")
    return resp


def gzip_response(response: Response, min_bytes: int = MIN_GZIP_BYTES) -> Response:
    """Compress a buffered text/JSON response in place when the client accepts gzip."""
    if (response.direct_passthrough or response.status_code < 200 or response.status_code >= 300
            or "Content-Encoding" in response.headers or not accepts_gzip()):
        return response
    if not (response.mimetype or "").startswith(COMPRESSIBLE):
        return response
    body = response.get_data()
    if len(body) < min_bytes:
        return response
    response.set_data(gzip.compress(body, compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


@bp.get("/assets/<package>/<path:relpath>")
def asset(package: str, relpath: str):
    path = assets.resolve(package, relpath)
    if path is None:
        abort(404)
    data, packed, etag = _load(str(path), path.stat().st_mtime)
    mime = assets.mimetype_of(path)
    if request.if_none_match and etag in request.if_none_match:
        resp = Response(status=304)
    elif packed is not None and accepts_gzip():
        resp = Response(packed, mimetype=mime)
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = Response(data, mimetype=mime)
    resp.set_etag(etag)
    resp.vary.add("Accept-Encoding")
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return resp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    from service.api.services import services

    limiter = services(app).limiter
    if limiter is not None:
        limiter.exempt(bp)
