"""Use cases of published datasets (``kind: "published"``: area tables without persons, such
as TPMAP's public tables): import them, tell what they support, serve their public view.

Plain values in, plain values out; no Flask, no click (routes and commands stay thin)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from service.errors import Forbidden, InvalidInput, PayloadTooLarge

log = logging.getLogger(__name__)

#: measures that need person records: never computed from published tables
NEEDS_PERSONS = ("n_poor", "h", "a", "m0", "sum_c_poor", "n_vulnerable", "n_severe",
                 "n_poor_households", "n_crossgen_households")
#: most files an upload may hold (76 provinces x 96 files, with room to spare)
MAX_UPLOAD_FILES = 8000


def require_national(principal: Any) -> None:
    """Published datasets are national: only national users import them."""
    if getattr(principal, "role", None) != "national":
        raise Forbidden("only national users import published tables "
                        "/ นำเข้าตารางที่เผยแพร่ได้เฉพาะผู้ใช้ระดับประเทศ")


def import_published(settings: dict[str, Any], principal: Any, directory: str | Path, *,
                     dataset: str, round: int, store: Any = None) -> Any:
    """Import a directory of TPMAP published tables (see :mod:`service.ingest.tpmap`)."""
    from service.ingest.tpmap import import_tpmap

    require_national(principal)
    report = import_tpmap(settings, directory, dataset=dataset, round=round, store=store)
    log.info("published import %s round %s: %s (%d problems)", dataset, round, report.status,
             report.n_problems)
    return report


def import_uploaded(settings: dict[str, Any], principal: Any,
                    files: Iterable[tuple[str, Any]], *, dataset: str, round: int,
                    store: Any = None) -> Any:
    """Import uploaded files (``(name, binary stream)`` pairs: CSVs, or ZIP archives of
    them) through a private temporary directory, removed afterwards."""
    require_national(principal)
    max_bytes = int(settings.get("ingest_max_uncompressed_mb", 1024)) * 1024 * 1024
    tmp_root = Path(settings["data_dir"]) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tpmap-upload-", dir=tmp_root))
    try:
        n = 0
        total = 0
        for name, stream in files:
            base = Path(name.replace("\\", "/")).name
            if base.lower().endswith(".zip"):
                with zipfile.ZipFile(stream) as archive:
                    for info in archive.infolist():
                        if info.is_dir():
                            continue
                        total += info.file_size
                        if total > max_bytes:
                            raise PayloadTooLarge("archive too large when unpacked "
                                                  "/ ไฟล์ ZIP ใหญ่เกินเมื่อแตกไฟล์")
                        inner = Path(info.filename.replace("\\", "/")).name
                        if not inner or inner.startswith("."):
                            continue
                        n += 1
                        with archive.open(info) as src, open(work / inner, "wb") as dst:
                            shutil.copyfileobj(src, dst)
            elif base:
                n += 1
                with open(work / base, "wb") as dst:
                    shutil.copyfileobj(stream, dst)
            if n > MAX_UPLOAD_FILES:
                raise InvalidInput(f"at most {MAX_UPLOAD_FILES} files / ไม่เกิน "
                                   f"{MAX_UPLOAD_FILES} ไฟล์", column="file")
        if n == 0:
            raise InvalidInput("no file uploaded / ไม่พบไฟล์", column="file")
        return import_published(settings, principal, work, dataset=dataset, round=round,
                                store=store)
    except zipfile.BadZipFile:
        raise InvalidInput("not a readable ZIP archive / ไฟล์ ZIP เสียหาย", column="file") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def version_kind(version: Any) -> str:
    """``published`` or ``persons`` (the default when a version's meta says nothing)."""
    meta = getattr(version, "meta", None) or {}
    return str(meta.get("kind", "persons"))


def is_published(store: Any, dataset: str, version: str | None = None) -> bool:
    try:
        return version_kind(store.version(dataset, version)) == "published"
    except Exception:  # store without catalog (FrameSource) or unknown dataset
        return False


def measures_available(version: Any) -> list[str] | None:
    """Columns a published version supports (None: a person dataset, everything)."""
    if version_kind(version) != "published":
        return None
    return list((version.meta or {}).get("measures_available", []))
