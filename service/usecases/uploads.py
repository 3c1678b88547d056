"""Uploads of survey/registry files as a background import job (POST
/api/v1/datasets/<name>/uploads): the files are staged in a private work directory, the job
imports them (service.ingest.run.ingest_files) and audits it, and its answer is plain values
(status and body) that the route sends as it is. No Flask here."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import InvalidInput, problem_body

MAX_FILES = 20


@dataclass(frozen=True)
class UploadForm:
    """The upload form: the file parts (objects with ``filename`` and ``save(path)``), the
    round (a 4-digit year) and the problem policy (``reject`` or ``quarantine``)."""

    files: Sequence[Any]
    round: int
    policy: str

    @classmethod
    def parse(cls, form: Any, files: Sequence[Any]) -> UploadForm:
        from service.ingest.run import POLICIES

        if not files:
            raise InvalidInput("no file part named 'file' / ไม่พบไฟล์ในคำขอ (ช่อง file)",
                               column="file")
        if len(files) > MAX_FILES:
            raise InvalidInput(f"at most {MAX_FILES} files per upload / อัปโหลดได้ไม่เกิน "
                               f"{MAX_FILES} ไฟล์ต่อครั้ง", column="file")
        round_text = (form.get("round") or "").strip()
        if not re.fullmatch(r"\d{4}", round_text):
            raise InvalidInput("round must be a 4-digit year, e.g. 2567 / round ต้องเป็นปี 4 หลัก",
                               column="round")
        policy = form.get("policy", "reject")
        if policy not in POLICIES:
            raise InvalidInput(f"policy must be one of {', '.join(POLICIES)} / นโยบายไม่ถูกต้อง",
                               column="policy")
        return cls(files, int(round_text), policy)


def display_name(raw: str | None, index: int) -> str:
    """File name shown in messages: no directories, no control characters, bounded length."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:120]
    return name or f"upload-{index + 1}"


@contextlib.contextmanager
def staged_file(settings: Any, storage: Any, filename: str) -> Iterator[tuple[Path, str]]:
    """One uploaded file (``storage``: ``filename`` and ``save(path)``) saved in a private
    work directory as ``filename``; yields (path, the name shown in messages). The directory
    is removed when the block ends."""
    from service.ingest.run import close_work_dir, open_work_dir

    if storage is None or not storage.filename:
        raise InvalidInput("เลือกไฟล์ที่จะนำเข้า / choose a file to import", column="file")
    name = re.sub(r"[\x00-\x1f\x7f]", "", re.split(r"[\\/]", storage.filename)[-1])[:120]
    work, lock = open_work_dir(settings, "upload-")
    try:
        path = work / filename
        storage.save(path)
        yield path, name or "upload"
    finally:
        close_work_dir(work, lock)


def allowed_province(principal: Any) -> str | None:
    """The province a provincial uploader may change (None: a national user, any)."""
    allowed = principal.province if principal.role == "provincial" else None
    if principal.role == "provincial" and not allowed:
        raise InvalidInput("provincial account without a province / บัญชีจังหวัดไม่มีรหัสจังหวัด")
    return allowed


def submit_upload(settings: Any, users: Any, runner: Any, principal: Any, name: str,
                  form: UploadForm, *, remote_addr: str | None) -> str:
    """Stage the files and submit their import to ``runner`` (a :class:`service.jobs.
    JobRunner`); returns the job id. The work directory goes when the job ends."""
    from service.ingest.run import close_work_dir, open_work_dir

    allowed = allowed_province(principal)
    work, lock = open_work_dir(settings, "upload-")
    try:
        paths, names = [], []
        for i, storage in enumerate(form.files):
            path = work / f"{i:02d}.upload"
            storage.save(path)
            paths.append(path)
            names.append(display_name(storage.filename, i))
    except BaseException:
        close_work_dir(work, lock)
        raise
    who = (principal.username, principal.role, principal.province, remote_addr)

    def work_fn(progress: Any) -> dict:
        from service.jobs import in_process, uses_process

        args = (who, name, paths, names, form.round, form.policy, allowed)
        try:
            if uses_process(settings):  # a build never takes the web process's CPU
                return in_process(settings, ingest_in_worker, dict(settings), *args)
            return ingest_result(settings, users, *args)
        finally:
            close_work_dir(work, lock)

    return runner.submit("upload", name, principal.username, work_fn)


def ingest_in_worker(settings: dict, *args: Any) -> dict:
    """:func:`ingest_result` in the jobs' worker process (service.jobs.in_process)."""
    from service.settings import as_settings
    from service.store.users import UserStore

    typed = as_settings(settings)
    return ingest_result(typed, UserStore(typed.database_url), *args)


def ingest_result(settings: Any, users: Any, who: tuple, name: str, paths: list, names: list,
                  round_: int, policy: str, allowed: str | None) -> dict:
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
        return {"status": status, "problem": problem_body(status, title, detail,
                                                          {"report": body})}
    return {"status": 201 if report.status == "created" else 200, "report": body}
