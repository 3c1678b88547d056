"""POST /api/v1/datasets/<name>/tpmap-uploads: TPMAP's published tables (national users).

Multipart form: ``file`` parts (the CSVs, or ZIP archives of them) and ``round`` (year).
201 new version, 200 the same files are already stored, 422 rejected with the report (file,
row, column, reason), 403 not a national user. The work is in
:mod:`service.usecases.published`."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, request

from service.api.auth import audit, current_principal, require_role
from service.api.core import allow_large_body
from service.errors import InvalidInput
from service.vocabulary import DATASET_REGEX

bp = Blueprint("published", __name__, url_prefix="/api/v1")


@bp.post("/datasets/<name>/tpmap-uploads")
@allow_large_body
@require_role("national")
def upload(name: str):
    from service.usecases.published import import_uploaded

    round_text = (request.form.get("round") or "").strip()
    if not re.fullmatch(r"\d{4}", round_text):
        raise InvalidInput("round must be a 4-digit year, e.g. 2561 / round ต้องเป็นปี 4 หลัก",
                           column="round")
    files = [(f.filename or "", f.stream) for f in request.files.getlist("file")]
    report = import_uploaded(current_app.config["CHIPAO"], current_principal(), files,
                             dataset=name, round=int(round_text))
    audit("import-tpmap", f"{name}/{report.version_id or '-'}", f"status={report.status}")
    body = report.to_dict()
    if report.status == "rejected":
        resp = jsonify({"type": "about:blank", "title": "Invalid input", "status": 422,
                        "detail": "the files have problems; nothing was imported "
                                  "/ ไฟล์มีปัญหา ไม่ได้นำเข้า", "report": body})
        resp.status_code, resp.content_type = 422, "application/problem+json"
        return resp
    resp = jsonify(body)
    resp.status_code = 201 if report.status == "created" else 200
    return resp


OPENAPI_PATHS = {
    "/api/v1/datasets/{name}/tpmap-uploads": {"post": {
        "summary": "Import TPMAP's published tables / นำเข้าตารางที่ TPMAP เผยแพร่",
        "description": "National users only. The 96 CSVs per province (amphur, tambol, "
                       "village x common + 31 dimension masks), or ZIP archives of them; "
                       "see docs/ingest.md section 10.",
        "tags": ["datasets"],
        "security": [{"bearer": []}, {"session": []}],
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": DATASET_REGEX}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file", "round"],
            "properties": {"file": {"type": "string", "format": "binary"},
                           "round": {"type": "string", "pattern": "^[0-9]{4}$"}}}}}},
        "responses": {
            "201": {"description": "New version / สร้างรุ่นข้อมูลใหม่",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "200": {"description": "Same files already imported / เคยนำเข้าแล้ว",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
        },
    }},
}
