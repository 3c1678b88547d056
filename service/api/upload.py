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

from flask import Blueprint, current_app, jsonify, request

from service.api.auth import audit, current_principal, require_role
from service.api.core import allow_large_body
from service.errors import Forbidden, InvalidInput
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
    """Import uploaded files as a new version of dataset ``name``."""
    from service.ingest.run import POLICIES, close_work_dir, ingest_files, open_work_dir
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
        report = ingest_files(settings, paths, dataset=name, round=int(round_text),
                              policy=policy, names=names, allowed_province=allowed)
    finally:
        close_work_dir(work, lock)
    body = report.to_dict()
    body.pop("report_file", None)
    body.pop("quarantine_files", None)
    audit("ingest", f"{name}/{report.version_id or '-'}",
          f"status={report.status} records={report.n_records} accepted={report.n_accepted} "
          f"quarantined={report.n_quarantined}")
    if report.status == "rejected":  # answered through the one error table (errors.py)
        if report.forbidden:
            raise Forbidden("rows outside your province / มีแถวนอกจังหวัดของคุณ"
                            ).with_extra(report=body)
        raise InvalidInput("the file has problems; nothing was imported / ไฟล์มีปัญหา "
                           "ไม่ได้นำเข้า").with_extra(report=body)
    resp = jsonify(body)
    resp.status_code = 201 if report.status == "created" else 200
    if report.version_id:
        resp.headers["Location"] = f"/api/v1/datasets/{name}/versions/{report.version_id}"
    return resp


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
            "415": {"description": "Not a CSV, XLSX or Parquet file / ไม่รองรับชนิดไฟล์"},
        },
    }},
}
