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

from flask import Blueprint, current_app, jsonify, request

from service.api.auth import current_principal, require_role, user_store
from service.api.core import allow_large_body
from service.errors import InvalidInput, NotFound
from service.vocabulary import DATASET_REGEX

log = logging.getLogger(__name__)

bp = Blueprint("upload", __name__, url_prefix="/api/v1")

MAX_FILES = 20


def _display_name(raw: str | None, index: int) -> str:
    """File name shown in messages: no directories, no control characters, bounded length."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:120]
    return name or f"upload-{index + 1}"


@bp.post("/datasets/<name>/uploads")
@allow_large_body
@require_role("national", "provincial")
def upload(name: str):
    """Import uploaded files as a new version of dataset ``name`` (a background job)."""
    from service.ingest.run import POLICIES, close_work_dir, open_work_dir
    from service.store.catalog import validate_dataset_name

    settings = current_app.config["CHIPAO"]
    principal = current_principal()
    validate_dataset_name(name)
    files = request.files.getlist("file")
    if not files:
        raise InvalidInput("no file part named 'file' / ไม่พบไฟล์ในคำขอ (ช่อง file)", column="file")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per upload / อัปโหลดได้ไม่เกิน "
                           f"{MAX_FILES} ไฟล์ต่อครั้ง", column="file")
    round_text = (request.form.get("round") or "").strip()
    if not re.fullmatch(r"\d{4}", round_text):
        raise InvalidInput("round must be a 4-digit year, e.g. 2567 / round ต้องเป็นปี 4 หลัก",
                           column="round")
    policy = request.form.get("policy", "reject")
    if policy not in POLICIES:
        raise InvalidInput(f"policy must be one of {', '.join(POLICIES)} / นโยบายไม่ถูกต้อง",
                           column="policy")
    allowed = principal.province if principal.role == "provincial" else None
    if principal.role == "provincial" and not allowed:
        raise InvalidInput("provincial account without a province / บัญชีจังหวัดไม่มีรหัสจังหวัด")
    work, lock = open_work_dir(settings, "upload-")
    try:
        paths, names = [], []
        for i, storage in enumerate(files):
            path = work / f"{i:02d}.upload"
            storage.save(path)
            paths.append(path)
            names.append(_display_name(storage.filename, i))
    except BaseException:
        close_work_dir(work, lock)
        raise
    users = user_store()
    who = (principal.username, principal.role, principal.province, request.remote_addr)

    def work_fn(progress) -> dict:
        try:
            return _ingest_result(settings, users, who, name, paths, names, int(round_text),
                                  policy, allowed)
        finally:
            close_work_dir(work, lock)

    runner = job_runner()
    job_id = runner.submit("upload", name, principal.username, work_fn)
    wait = 0.0 if "respond-async" in request.headers.get("Prefer", "") else float(
        settings.upload_wait_seconds)
    if not runner.wait(job_id, wait):
        resp = jsonify({"job": job_id, "status": "running",
                        "detail": "the upload is being imported; follow the job "
                                  "/ กำลังนำเข้าข้อมูล ติดตามสถานะได้ที่ลิงก์งาน"})
        resp.status_code = 202
        resp.headers["Location"] = f"/api/v1/jobs/{job_id}"
        return resp
    return _finished(name, job_id, runner.get(job_id) or {})


def _ingest_result(settings, users, who, name, paths, names, round_: int, policy: str,
                   allowed: str | None) -> dict:
    """Run the import (in a job thread) and audit it; the HTTP answer as plain values."""
    from service.ingest.run import ingest_files

    report = ingest_files(settings, paths, dataset=name, round=round_, policy=policy,
                          names=names, allowed_province=allowed)
    body = report.to_dict()
    body.pop("report_file", None)
    body.pop("quarantine_files", None)
    username, role, province, remote = who
    users.audit(username=username, role=role, province=province, action="ingest",
                object=f"{name}/{report.version_id or '-'}",
                detail=f"status={report.status} records={report.n_records} "
                       f"accepted={report.n_accepted} quarantined={report.n_quarantined}",
                remote_addr=remote)
    if report.status == "rejected":
        status = 403 if report.forbidden else 422
        title = "Forbidden" if report.forbidden else "Invalid input"
        detail = ("rows outside your province / มีแถวนอกจังหวัดของคุณ" if report.forbidden
                  else "the file has problems; nothing was imported / ไฟล์มีปัญหา ไม่ได้นำเข้า")
        return {"status": status, "problem": {"type": "about:blank", "title": title,
                                              "status": status, "detail": detail,
                                              "report": body}}
    return {"status": 201 if report.status == "created" else 200, "report": body}


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
        problem = result.get("problem") or {"type": "about:blank", "status": status,
                                             "title": result.get("title", "Error"),
                                             "detail": result.get("detail", "")}
        resp = jsonify(problem)
        resp.content_type = "application/problem+json"
    resp.status_code = status
    resp.headers["X-Chipao-Job"] = job_id
    return resp


def job_runner():
    """The app's :class:`service.jobs.JobRunner` (created once per app)."""
    from service.api.services import services
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
