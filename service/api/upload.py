"""POST /api/v1/datasets/<name>/uploads: authenticated upload of survey/registry files.

Multipart form: one or more ``file`` parts (CSV, XLSX, Parquet), ``round`` (year) and
``policy`` (``reject`` default, or ``quarantine``). National users may upload any province;
provincial users only rows of their own province (any other row refuses the upload: 403).
Responses: 201 new version, 200 same file already imported (same SHA-256), 422 rejected
with the report (file, row, column, reason), 413 oversize, 415 not a supported file.
"""

from __future__ import annotations

import logging
import re
import threading

from flask import Blueprint, jsonify, request

from service.api.auth import current_principal, require_role, user_store
from service.api.core import allow_large_body
from service.api.responses import problem_response
from service.api.services import services
from service.errors import NotFound, problem_body
from service.usecases import uploads
from service.vocabulary import DATASET_REGEX

log = logging.getLogger(__name__)

bp = Blueprint("upload", __name__, url_prefix="/api/v1")

MAX_FILES = uploads.MAX_FILES


@bp.post("/datasets/<name>/uploads")
@allow_large_body
@require_role("national", "provincial")
def upload(name: str):
    """Import uploaded files as a new version of dataset ``name`` (a background job)."""
    from service.store.catalog import validate_dataset_name

    validate_dataset_name(name)
    form = uploads.UploadForm.parse(request.form, request.files.getlist("file"))
    s, runner = services(), job_runner()
    job_id = uploads.submit_upload(s.settings, user_store(), runner, current_principal(), name,
                                   form, remote_addr=request.remote_addr)
    wait = 0.0 if "respond-async" in request.headers.get("Prefer", "") else float(
        s.settings.upload_wait_seconds)
    if not runner.wait(job_id, wait):
        return _accepted(job_id)
    return _finished(name, job_id, runner.get(job_id) or {})


def _accepted(job_id: str):
    """202: the import goes on; the client follows the job."""
    resp = jsonify({"job": job_id, "status": "running",
                    "detail": "the upload is being imported; follow the job "
                              "/ กำลังนำเข้าข้อมูล ติดตามสถานะได้ที่ลิงก์งาน"})
    resp.status_code = 202
    resp.headers["Location"] = f"/api/v1/jobs/{job_id}"
    return resp


def _finished(name: str, job_id: str, job: dict):
    """The answer of a finished upload job: as a synchronous upload would have given it."""
    result = job.get("result") or {}
    status = int(result.get("status", 500))
    if "report" in result:
        resp = jsonify(result["report"])
        version = result["report"].get("version")
        if version:
            resp.headers["Location"] = f"/api/v1/datasets/{name}/versions/{version}"
    else:
        resp = problem_response(result.get("problem") or problem_body(
            status, result.get("title", "Error"), result.get("detail", "")))
    resp.status_code = status
    resp.headers["X-Chipao-Job"] = job_id
    return resp


def job_runner():
    """The app's :class:`service.jobs.JobRunner` (created once per app)."""
    from service.jobs import JobRunner

    s = services()
    with _RUNNER_LOCK:
        if s.jobs is None:
            s.jobs = JobRunner(s.settings.database_url,
                               workers=int(s.settings.job_workers))
    return s.jobs


_RUNNER_LOCK = threading.Lock()


@bp.get("/jobs/<job_id>")
@require_role("national", "provincial")
def get_job(job_id: str):
    """Status, progress and result of a background job (its creator or national users)."""
    if not re.fullmatch(r"[0-9a-f]{16}", job_id):
        raise NotFound("no such job / ไม่พบงานนี้")
    job = job_runner().get(job_id)
    principal = current_principal()
    if job is None or (principal.role != "national" and job["created_by"] != principal.username):
        raise NotFound("no such job / ไม่พบงานนี้")
    return jsonify(job)


_REPORT = {"type": "object", "additionalProperties": True}

OPENAPI_PATHS = {
    "/api/v1/datasets/{name}/uploads": {"post": {
        "summary": "Upload survey/registry files as a new version / นำเข้าไฟล์ จปฐ. หรือทะเบียน",
        "description": "CSV (UTF-8, UTF-8 BOM, TIS-620), XLSX or Parquet; see docs/ingest.md. "
                       "National IDs and names are pseudonymised at ingest.",
        "tags": ["datasets"],
        "security": [{"bearer": []}, {"session": []}],
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": DATASET_REGEX}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file", "round"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "round": {"type": "string", "pattern": "^[0-9]{4}$"},
                "policy": {"type": "string", "enum": ["reject", "quarantine"]},
            }}}}},
        "responses": {
            "201": {"description": "New version / สร้างรุ่นข้อมูลใหม่",
                    "content": {"application/json": {"schema": _REPORT}}},
            "200": {"description": "Same file already imported / เคยนำเข้าแล้ว",
                    "content": {"application/json": {"schema": _REPORT}}},
            "202": {"description": "Still importing: follow Location (/api/v1/jobs/{id}) "
                                   "/ กำลังนำเข้า ติดตามสถานะที่ลิงก์งาน",
                    "content": {"application/json": {"schema": _REPORT}}},
            "409": {"description": "Another upload changed this province meanwhile "
                                   "/ มีการนำเข้าข้อมูลจังหวัดนี้ระหว่างนั้น"},
            "415": {"description": "Not a CSV, XLSX or Parquet file / ไม่รองรับชนิดไฟล์"},
        },
    }},
    "/api/v1/jobs/{job_id}": {"get": {
        "summary": "A background job (upload, build) / สถานะงานเบื้องหลัง",
        "tags": ["datasets"],
        "security": [{"bearer": []}, {"session": []}],
        "parameters": [{"name": "job_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}],
        "responses": {"200": {"description": "The job / งาน", "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["id", "status", "progress"],
                "properties": {
                    "id": {"type": "string"}, "kind": {"type": "string"},
                    "dataset": {"type": "string"},
                    "status": {"type": "string",
                               "enum": ["queued", "running", "done", "failed"]},
                    "progress": {"type": "number"},
                    "created_by": {"type": ["string", "null"]},
                    "created_at": {"type": "string"},
                    "finished_at": {"type": ["string", "null"]},
                    "result": {"type": ["object", "null"]}}}}}}},
    }},
}
