"""HTTP answers built in one place: application/problem+json bodies and file downloads."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from service.errors import problem_body
from service.usecases.downloads import Download


def problem(status: int, title: str, detail: str, extra: dict | None = None) -> Response:
    """An ``application/problem+json`` response."""
    return problem_response(problem_body(status, title, detail, extra))


def problem_response(body: dict[str, Any]) -> Response:
    resp = jsonify(body)
    resp.status_code = int(body.get("status", 500))
    resp.content_type = "application/problem+json"
    return resp


def download(d: Download) -> Response:
    """A file as an attachment (RFC 6266 names: ASCII fallback and UTF-8 ``filename*``)."""
    from service.export import content_disposition

    resp = Response(d.body, mimetype=d.media.split(";")[0])
    resp.headers["Content-Type"] = d.media
    resp.headers["Content-Disposition"] = content_disposition(d.ascii_name, d.filename)
    if d.no_store:
        resp.headers["Cache-Control"] = "no-store"
    return resp
