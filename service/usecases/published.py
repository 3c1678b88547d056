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
from service.settings import SettingsLike, as_settings

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


def import_published(settings: SettingsLike, principal: Any, directory: str | Path, *,
                     dataset: str, round: int, store: Any = None) -> Any:
    """Import a directory of TPMAP published tables (see :mod:`service.ingest.tpmap`)."""
    settings = as_settings(settings)
    from service.ingest.tpmap import import_tpmap

    require_national(principal)
    report = import_tpmap(settings, directory, dataset=dataset, round=round, store=store)
    log.info("published import %s round %s: %s (%d problems)", dataset, round, report.status,
             report.n_problems)
    return report


def import_uploaded(settings: SettingsLike, principal: Any,
                    files: Iterable[tuple[str, Any]], *, dataset: str, round: int,
                    store: Any = None) -> Any:
    """Import uploaded files (``(name, binary stream)`` pairs: CSVs, or ZIP archives of
    them) through a private temporary directory, removed afterwards."""
    settings = as_settings(settings)
    require_national(principal)
    max_bytes = settings.ingest_max_uncompressed_mb * 1024 * 1024
    tmp_root = Path(settings.data_dir) / "tmp"
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


# -- selection (benefit = target poor reached) ------------------------------------------------
#: the objectives that need person records (MPI poor, M0)
PERSON_OBJECTIVES = ("poor", "m0")
ESTIMATE_NOTE = ("published tables: households needing each indicator estimated as target "
                 "poor failing it x deprived households per deprived person "
                 "/ ตารางที่เผยแพร่: ประมาณจำนวนครัวเรือนที่ต้องแก้แต่ละตัวชี้วัดจากจำนวนคน")


def village_table(store: Any, dataset: str, province: str, version: str | None = None
                  ) -> tuple[Any, Any]:
    """Villages of a province from a published dataset's area table, with the columns
    :func:`service.analysis.select.select_villages` needs for ``objective="target_poor"``:
    ``n_hh_tdep_ind<N>`` estimated (target poor failing N x households per deprived person,
    TPMAP publishing no household counts per indicator) and ``n_poor``/``sum_c_poor``
    empty (not available, never 0 in any output). Returns (table, ranking)."""
    import numpy as np
    import pandas as pd

    from service.analysis.rank import rank_areas

    villages = store.read_areas(dataset, "village", version=version, province=province)
    villages = villages[villages["province_code"] == province].reset_index(drop=True)
    table = villages.copy()
    hh = pd.to_numeric(table.get("n_dep_hh_m11111"), errors="coerce")
    dep = pd.to_numeric(table.get("n_dep_m11111"), errors="coerce")
    with np.errstate(divide="ignore", invalid="ignore"):
        per_person = (hh / dep.where(dep > 0)).fillna(0.0)
    for n in range(1, 32):
        col = f"n_tp_ind{n}"
        if col in table:
            table[f"n_hh_tdep_ind{n}"] = np.ceil(
                pd.to_numeric(table[col], errors="coerce").fillna(0) * per_person)
    table["n_poor"] = np.nan
    table["sum_c_poor"] = np.nan
    table["amphoe_code"] = table["code"].str[:6]
    ranking = rank_areas(villages, explain=False)
    return table, ranking


def select_villages(store: Any, dataset: str, province: str, version: str | None, *,
                    budget: float, costs: dict[str, float] | None = None,
                    objective: str | None = None, per_amphoe: bool = False,
                    time_limit: float = 10.0) -> tuple[Any, dict[str, float]]:
    """Budget-constrained village selection on a published dataset: benefit = target poor
    reached. Returns (Selection, the price list used)."""
    from service.analysis import select as sel_mod

    objective = objective or "target_poor"
    if objective in PERSON_OBJECTIVES:
        raise InvalidInput(
            f"objective {objective!r} needs person records: not available for this dataset "
            "(published tables); use objective=target_poor / เป้าหมาย "
            f"{objective} ต้องใช้ข้อมูลรายบุคคล ชุดข้อมูลนี้ไม่มี ใช้ target_poor",
            column="objective")
    table, ranking = village_table(store, dataset, province, version)
    known = [c[len("n_hh_tdep_"):] for c in table.columns if c.startswith("n_hh_tdep_")]
    prices = sel_mod.resolve_costs(costs, known)
    selection = sel_mod.select_villages(table, budget=budget, costs=prices,
                                        objective="target_poor", per_amphoe=per_amphoe,
                                        ranking=ranking, time_limit=time_limit)
    selection.m0_fall = float("nan")  # not available: shown as null by summary()
    for key in ("m0_fall", "m0_fall_difference"):
        if key in selection.baseline:
            selection.baseline[key] = float("nan")
    selection.note = "; ".join(x for x in (selection.note, ESTIMATE_NOTE) if x)
    selection.selected = selection.selected.drop(columns=["n_poor", "sum_c_poor"],
                                                 errors="ignore")
    return selection, prices


def summary(selection: Any) -> dict[str, Any]:
    """``selection.summary()`` with figures that are not available (NaN) as None."""
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return clean(selection.summary())
