"""POST /api/v1/datasets/<name>/tpmap-uploads: TPMAP's published tables (national users).

Multipart form: ``file`` parts (the CSVs, or ZIP archives of them) and ``round`` (year). The
import runs as a background job (service.jobs, like survey uploads: one build per dataset at
a time): the request waits at most ``CHIPAO_UPLOAD_WAIT_SECONDS`` (``Prefer:
respond-async``: not at all), then answers 202 + ``Location: /api/v1/jobs/<id>``; a finished
job answers 201 new version, 200 the same files are already stored, 422 rejected with the
report (file, row, column, reason). 403 not a national user. The work is in
:mod:`service.usecases.published`."""

from __future__ import annotations

from flask import Blueprint, request

from service.api.auth import current_principal, require_role, user_store
from service.api.core import allow_large_body
from service.api.services import services
from service.vocabulary import DATASET_REGEX

bp = Blueprint("published", __name__, url_prefix="/api/v1")


@bp.post("/datasets/<name>/tpmap-uploads")
@allow_large_body
@require_role("national")
def upload(name: str):
    from service.api.upload import _accepted, _finished, job_runner
    from service.usecases.published import submit_import

    s, runner = services(), job_runner()
    job_id = submit_import(s.settings, user_store(), runner, current_principal(), name,
                           request.files.getlist("file"), round_text=request.form.get("round"),
                           remote_addr=request.remote_addr)
    wait = 0.0 if "respond-async" in request.headers.get("Prefer", "") else float(
        s.settings.upload_wait_seconds)
    if not runner.wait(job_id, wait):
        return _accepted(job_id)
    return _finished(name, job_id, runner.get(job_id) or {})


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
            "202": {"description": "Still importing: follow Location (/api/v1/jobs/{id}) "
                                   "/ กำลังนำเข้า ติดตามสถานะที่ลิงก์งาน",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
        },
    }},
}
