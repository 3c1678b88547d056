"""Use cases of published datasets (``kind: "published"``: area tables without persons, such
as TPMAP's public tables): import them, tell what they support, serve their public view.

Plain values in, plain values out; no Flask, no click (routes and commands stay thin)."""

from __future__ import annotations

import logging
import re
import shutil
import zipfile
from collections.abc import Mapping, Sequence
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
                     dataset: str, round: int, store: Any = None,
                     on_progress: Any = None) -> Any:
    """Import a directory of TPMAP published tables (see :mod:`service.ingest.tpmap`)."""
    settings = as_settings(settings)
    from service.ingest.tpmap import import_tpmap

    require_national(principal)
    report = import_tpmap(settings, directory, dataset=dataset, round=round, store=store,
                          on_progress=on_progress)
    log.info("published import %s round %s: %s (%d problems)", dataset, round, report.status,
             report.n_problems)
    return report


def check_round(text: str | None) -> int:
    if not re.fullmatch(r"\d{4}", (text or "").strip()):
        raise InvalidInput("round must be a 4-digit year, e.g. 2561 / round ต้องเป็นปี 4 หลัก",
                           column="round")
    return int((text or "").strip())


def save_uploads(settings: SettingsLike, principal: Any, files: Sequence[Any]
                 ) -> tuple[Path, Any, list[tuple[str, Path]]]:
    """The request's part: the uploaded parts saved as they came (objects with ``filename``
    and ``save(path)``, or ``(name, binary stream)`` pairs) in a private work directory
    (:func:`service.ingest.run.open_work_dir`: locked while in use, removed if its process
    dies). Returns (directory, lock, [(display name, saved path)])."""
    from service.ingest.run import close_work_dir, open_work_dir

    require_national(principal)
    if not files:
        raise InvalidInput("no file uploaded / ไม่พบไฟล์", column="file")
    if len(files) > MAX_UPLOAD_FILES:
        raise InvalidInput(f"at most {MAX_UPLOAD_FILES} files / ไม่เกิน {MAX_UPLOAD_FILES} ไฟล์",
                           column="file")
    work, lock = open_work_dir(settings, "tpmap-upload-")
    saved: list[tuple[str, Path]] = []
    try:
        for i, f in enumerate(files):
            name, stream = (f if isinstance(f, tuple) else (f.filename or "", None))
            path = work / f"{i:04d}.upload"
            if stream is None:
                f.save(path)
            else:
                with open(path, "wb") as dst:
                    shutil.copyfileobj(stream, dst)
            saved.append((Path(str(name).replace("\\", "/")).name, path))
    except BaseException:
        close_work_dir(work, lock)
        raise
    return work, lock, saved


def unpack_uploads(settings: SettingsLike, work: Path, saved: Sequence[tuple[str, Path]]
                   ) -> Path:
    """The job's part: the saved parts as the files of one directory (ZIP archives unpacked,
    names without directories; at most ``ingest_max_uncompressed_mb`` unpacked)."""
    settings = as_settings(settings)
    max_bytes = settings.ingest_max_uncompressed_mb * 1024 * 1024
    out = work / "files"
    out.mkdir()
    n = total = 0
    try:
        for base, path in saved:
            if base.lower().endswith(".zip"):
                with zipfile.ZipFile(path) as archive:
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
                        with archive.open(info) as src, open(out / inner, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                path.unlink()
            elif base and not base.startswith("."):
                n += 1
                path.replace(out / base)
            if n > MAX_UPLOAD_FILES:
                raise InvalidInput(f"at most {MAX_UPLOAD_FILES} files / ไม่เกิน "
                                   f"{MAX_UPLOAD_FILES} ไฟล์", column="file")
    except zipfile.BadZipFile:
        raise InvalidInput("not a readable ZIP archive / ไฟล์ ZIP เสียหาย", column="file") from None
    if n == 0:
        raise InvalidInput("no file uploaded / ไม่พบไฟล์", column="file")
    return out


def import_uploaded(settings: SettingsLike, principal: Any, files: Sequence[Any], *,
                    dataset: str, round: int, store: Any = None, on_progress: Any = None
                    ) -> Any:
    """Import uploaded files (CSVs, or ZIP archives of them) at once, through a private
    work directory removed afterwards (the HTTP route runs it as a job:
    :func:`submit_import`)."""
    from service.ingest.run import close_work_dir

    work, lock, saved = save_uploads(settings, principal, files)
    try:
        return import_published(settings, principal, unpack_uploads(settings, work, saved),
                                dataset=dataset, round=round, store=store,
                                on_progress=on_progress)
    finally:
        close_work_dir(work, lock)


def import_result(report: Any) -> dict[str, Any]:
    """A finished import as the HTTP answer in plain values (201/200, or 422 + report)."""
    from service.errors import problem_body

    body = report.to_dict()
    if report.status == "rejected":
        return {"status": 422, "problem": problem_body(
            422, "Invalid input", "the files have problems; nothing was imported "
                                  "/ ไฟล์มีปัญหา ไม่ได้นำเข้า", {"report": body})}
    return {"status": 201 if report.status == "created" else 200, "report": body}


def submit_import(settings: SettingsLike, users: Any, runner: Any, principal: Any, name: str,
                  files: Sequence[Any], *, round_text: str | None,
                  remote_addr: str | None = None) -> str:
    """Check the request, save its files and submit their import to ``runner`` (a
    :class:`service.jobs.JobRunner`: off the request threads, one build per dataset at a
    time, progress per batch of provinces); returns the job id. Audited when it ends."""
    from service.ingest.run import close_work_dir
    from service.store.catalog import validate_dataset_name

    require_national(principal)
    validate_dataset_name(name)
    round_ = check_round(round_text)
    work, lock, saved = save_uploads(settings, principal, files)

    def work_fn(progress: Any) -> dict[str, Any]:
        try:
            directory = unpack_uploads(settings, work, saved)
            progress(0.1)
            report = import_published(settings, principal, directory, dataset=name,
                                      round=round_, on_progress=progress)
        finally:
            close_work_dir(work, lock)
        users.audit(username=principal.username, role=principal.role,
                    province=principal.province, action="import-tpmap",
                    object=f"{name}/{report.version_id or '-'}",
                    detail=f"status={report.status} problems={report.n_problems}",
                    remote_addr=remote_addr)
        return import_result(report)

    return runner.submit("tpmap-import", name, principal.username, work_fn)


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
    villages = store.read_areas(dataset, "village", version=version, province=province)
    return selection_table(villages[villages["province_code"] == province])


def selection_table(villages: Any) -> tuple[Any, Any]:
    """:func:`village_table` of villages already read (one province's village rows)."""
    import numpy as np
    import pandas as pd

    from service.analysis.rank import rank_areas

    villages = villages.reset_index(drop=True)
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


# -- pages (the budget selection page, the KPI dashboard) ----------------------------------------
#: shown wherever a figure needs person records (CONTRACT-WAVE2 §3: never 0)
NOT_AVAILABLE = ("ไม่มีในชุดข้อมูลนี้", "not available for this dataset")
OBJECTIVE_NOTE = ("คนจนหลายมิติ (MPI) และ M0 ต้องใช้ข้อมูลรายบุคคล จึงเลือกตามคนจนเป้าหมาย TPMAP "
                  "· MPI poor and M0 need person records: chosen by TPMAP target poor reached")


def selection_page(src: Any, province: str, *, budget: float, costs: dict[str, float] | None,
                   objective: str | None, per_amphoe: bool, version: Any,
                   names: dict[str, str] | None = None) -> dict[str, Any]:
    """The budget selection page on a published dataset, the same dict as
    :func:`service.usecases.budget_page.selection_page` (+ ``published``): benefit = target
    poor reached, costs per indicator from the target poor failing it (households
    estimated, :func:`selection_table`), the fall in M0 not available (None)."""
    import numpy as np

    from service.analysis import select as sel_mod

    if objective == "m0":
        raise InvalidInput("objective 'm0' needs person records: not available for this "
                           "dataset (published tables) / M0 ต้องใช้ข้อมูลรายบุคคล "
                           "ชุดข้อมูลนี้ไม่มี", column="objective")
    villages = src.read(version.id, "village", province)
    villages = villages[villages["province_code"] == province]
    if villages.empty:
        raise InvalidInput(f"no villages in {province} / ไม่พบหมู่บ้านในจังหวัด {province}",
                           column="province")
    table, ranking = selection_table(villages)
    known = [c[len("n_hh_tdep_"):] for c in table.columns if c.startswith("n_hh_tdep_")]
    prices = sel_mod.resolve_costs(costs, known)
    sel = sel_mod.select_villages(table, budget=budget, costs=prices, objective="target_poor",
                                  per_amphoe=per_amphoe, ranking=ranking, time_limit=10.0)
    frame = table.reset_index(drop=True).copy()
    frame["cost_thb"] = sel_mod.village_costs(frame, prices, prefix="n_hh_tdep_")
    frame["benefit"] = frame["n_target_poor"].fillna(0).to_numpy("float64")
    groups = frame["amphoe_code"].astype(str).to_numpy() if per_amphoe else None
    chosen_g = sel_mod.greedy_knapsack(frame["benefit"].to_numpy(), frame["cost_thb"].to_numpy(),
                                       budget, groups)
    sub = frame[np.asarray(chosen_g, dtype=bool)]
    greedy = {"n_selected": int(len(sub)), "total_cost_thb": float(sub["cost_thb"].sum()),
              "people_lifted": int(sub["n_target_poor"].fillna(0).sum()), "m0_fall": None}
    summary = sel.summary()
    summary["m0_fall"] = None
    summary["top_of_ranking"] = {**summary["top_of_ranking"], "m0_fall": None,
                                 "m0_fall_difference": None}
    notes = [summary.get("note") or "", ESTIMATE_NOTE]
    if objective == "poor":
        notes.append(OBJECTIVE_NOTE)
    summary["note"] = "; ".join(n for n in notes if n)
    names = names or {}
    chosen = sel.selected.copy()
    chosen["amphoe_name"] = chosen["code"].str[:6].map(lambda c: names.get(c, ""))
    chosen["tambon_name"] = chosen["code"].str[:8].map(lambda c: names.get(c, ""))
    chosen = chosen.rename(columns={"code": "village_id"})
    keep = [c for c in ("village_id", "name_th", "tambon_name", "amphoe_name", "n_households",
                        "n_persons", "n_target_poor", "cost_thb", "benefit", "priority_rank")
            if c in chosen]
    return {"province": province, "version": version, "budget": budget, "costs": prices,
            "objective": "target_poor", "per_amphoe": per_amphoe, "summary": summary,
            "greedy": greedy, "top": summary["top_of_ranking"], "selected": chosen[keep],
            "map": None, "published": True, "not_available": NOT_AVAILABLE}


#: KPIs a published dataset supports: (id, Thai, English, numerator, denominator, format,
#: falls: fewer is the aim (status against the baseline round), else no master-plan target)
PUBLISHED_KPIS = (
    ("target_poor_rate", "สัดส่วนคนจนเป้าหมาย (TPMAP)", "Target-poor rate (TPMAP)",
     "n_target_poor", "n_persons", "percent", True),
    ("n_target_poor", "คนจนเป้าหมาย (TPMAP)", "Target poor (TPMAP)", "n_target_poor", None,
     "count", True),
    *[(f"n_target_poor_{d}", f"คนจนเป้าหมาย มิติ{th}", f"Target poor, {en} dimension",
       f"n_target_poor_{d}", None, "count", True)
      for d, th, en in (("health", "สุขภาพ", "health"), ("living", "ความเป็นอยู่", "living"),
                        ("education", "การศึกษา", "education"), ("income", "รายได้", "income"),
                        ("accessibility", "การเข้าถึงบริการรัฐ", "access to services"))],
    ("welfare_card_registered_rate", "ผู้ลงทะเบียนบัตรสวัสดิการแห่งรัฐ (ต่อคนที่สำรวจ)",
     "Welfare-card registrants (per person surveyed)", "n_welfare_card_registered", "n_persons",
     "percent", False),
    ("welfare_card_validated_rate", "ผู้ผ่านการตรวจสอบสิทธิบัตรสวัสดิการ (ต่อผู้ลงทะเบียน)",
     "Validated welfare-card holders (per registrant)", "n_welfare_card",
     "n_welfare_card_registered", "percent", False),
    ("n_welfare_card", "ผู้ถือบัตรสวัสดิการแห่งรัฐที่ผ่านการตรวจสอบ", "Validated welfare-card holders",
     "n_welfare_card", None, "count", False),
)
PUBLISHED_STATUS = {
    "baseline": ("ปีฐาน", "baseline"), "falling": ("ลดลงจากปีฐาน", "fewer than at baseline"),
    "rising": ("เพิ่มขึ้นจากปีฐาน", "more than at baseline"),
    "same": ("เท่าปีฐาน", "as at baseline"),
    "no_target": ("ไม่มีเป้าหมายในแผน", "no master-plan target"),
    "no_data": ("ไม่มีข้อมูล", "no data"),
}


def _number(row: Any, col: str | None) -> float | None:
    import pandas as pd

    if col is None:
        return 1.0
    value = row.get(col) if hasattr(row, "get") else None
    if value is None or pd.isna(value):
        return None
    return float(value)


def kpi_dashboard(src: Any, province: str | None, versions: list[Any], *,
                  baseline_round: int | None = None) -> dict[str, Any]:
    """The KPI dashboard of a published dataset (the dict of
    :func:`service.usecases.kpi_dashboard.kpi_dashboard` + ``published``, ``not_available``):
    target poor (rate, count, per dimension) and welfare-card registration and validation
    per round, from the area tables as the caller may see them (suppressed rows and hidden
    items give no value); the KPIs that need persons (M0 of every group, programme coverage,
    people excluded) are listed as not available for this dataset."""

    import pandas as pd

    from service.usecases.kpi_dashboard import KPI_WORDS, round_tables
    from service.usecases.profile import line_chart

    rounds, provinces = round_tables(src, versions, province)
    round_list = [r for r, _ in rounds]
    base = baseline_round if baseline_round in round_list else round_list[0]
    rows = kpi_rows(rounds, base)
    frame = pd.DataFrame(rows)
    areas = []
    for code in ["TH", *([province] if province else [])]:
        sub = [r for r in rows if r["province_code"] == code]
        if not sub:
            continue
        kpis = []
        for kpi, th, en, _n, _d, fmt, _f in PUBLISHED_KPIS:
            by_round = {r["round"]: r for r in sub if r["kpi"] == kpi}
            kpis.append({"family": "published", "kpi": kpi, "th": th, "en": en, "fmt": fmt,
                         "cells": [by_round.get(r) for r in round_list]})
        rate = {r["round"]: r["value"] for r in sub if r["kpi"] == "target_poor_rate"}
        chart = line_chart(round_list, [
            {"id": "target_poor_rate", "th": "สัดส่วนคนจนเป้าหมาย", "en": "target-poor rate",
             "color": "#c0392b", "values": [rate.get(r) for r in round_list]}], fmt="percent")
        name = next((r["name_th"] for r in sub if r["name_th"]), code)
        areas.append({"code": code, "name_th": "ประเทศไทย" if code == "TH" else name,
                      "kpis": kpis, "chart": chart})
    return {"rounds": round_list, "baseline_round": base, "table": frame, "areas": areas,
            "province": province, "provinces": provinces, "version": versions[-1],
            "published": True, "not_available": NOT_AVAILABLE,
            "unavailable_kpis": _unavailable_kpis(KPI_WORDS)}


def kpi_rows(rounds: list[tuple[int, Any]], base: int) -> list[dict[str, Any]]:
    """One row per (area, round, KPI) of :data:`PUBLISHED_KPIS` from area tables as the
    caller may see them (``[(round, table)]``; a null count gives no value, status
    ``no_data``); the target-poor KPIs compared with the ``base`` round."""
    rows: list[dict[str, Any]] = []
    base_table = dict(rounds).get(base)
    base_rows = ({r["code"]: r for r in base_table.to_dict("records")}
                 if base_table is not None else {})
    for rnd, table in rounds:
        for area in table.to_dict("records"):
            for kpi, th, en, num, den, fmt, falls in PUBLISHED_KPIS:
                n, d = _number(area, num), _number(area, den)
                value = n / d if n is not None and d else None
                b_row = base_rows.get(area["code"])
                bn = _number(b_row, num) if b_row else None
                bd = _number(b_row, den) if b_row else None
                b = bn / bd if bn is not None and bd else None
                if value is None:
                    status = "no_data"
                elif not falls:
                    status = "no_target"
                elif rnd == base:
                    status = "baseline"
                elif b is None:
                    status = "no_data"
                else:
                    status = "falling" if value < b else "rising" if value > b else "same"
                words = PUBLISHED_STATUS[status]
                rows.append({
                    "province_code": area["code"], "name_th": area.get("name_th"),
                    "round": rnd, "years_since_baseline": rnd - base, "kpi": kpi,
                    "family": "published", "fmt": fmt, "kpi_th": th, "kpi_en": en,
                    "value": value, "baseline_value": b, "target_value": float("nan"),
                    "change_pct": 100 * (value - b) / b if value is not None and b else None,
                    "status": status, "status_th": words[0], "status_en": words[1],
                    "good": status in ("baseline", "falling")})
    return rows


def kpi_api(s: Any, p: Any, dataset: str, province: str | None, baseline_round: int | None
            ) -> tuple[Any, list[int]] | None:
    """``GET /api/v1/kpi`` on a published dataset (None: a person dataset): the rows of
    :func:`kpi_rows` per province, disclosure as the caller may see them."""
    import pandas as pd

    from service.access import views
    from service.access.principal import can_see_province
    from service.errors import NotFound
    from service.usecases.datasets import versions_by_round

    by_round = versions_by_round(s.store, dataset)
    if not by_round or version_kind(list(by_round.values())[-1]) != "published":
        return None
    rounds = []
    for rnd, v in by_round.items():
        try:
            frame = views.area_view(s.store, dataset, "province", p, version=v.id,
                                    min_households=s.min_households, cache=s.views)
        except NotFound:
            continue
        if province:
            frame = frame[frame["code"] == province]
        if "suppressed" in frame:
            frame = frame[~views.suppressed_mask(frame)]
        rounds.append((int(rnd), frame))
    round_list = [r for r, _ in rounds]
    base = baseline_round if baseline_round in round_list else (round_list or [0])[0]
    table = pd.DataFrame(kpi_rows(rounds, base))
    if not table.empty:
        table = table.drop(columns=["fmt", "good"])
        table["view"] = ["detail" if can_see_province(p, c) else "public"
                         for c in table["province_code"]]
    return table, round_list


def _unavailable_kpis(kpi_words: Mapping[str, tuple[str, str]]) -> list[dict[str, str]]:
    """The master-plan KPIs that need person records (M0 per group, coverage, excluded)."""
    from service.usecases.exclusion import programme_info

    out = [{"kpi": k, "th": th, "en": en} for k, (th, en) in kpi_words.items()]
    for p in programme_info():
        out.append({"kpi": f"cov_{p['id']}", "th": f"ความครอบคลุม{p['th']}",
                    "en": f"Coverage: {p['en']}"})
        out.append({"kpi": f"n_excl_{p['id']}", "th": f"คนตกหล่น{p['th']}",
                    "en": f"Excluded: {p['en']}"})
    return out


# -- maps --------------------------------------------------------------------------------------
def map_availability(s: Any, dataset: str, version: str | None, level: str
                     ) -> tuple[bool, frozenset[str]]:
    """(published?, ids of the catalogue measures the version lacks) for a map page; a
    published dataset has no H3 layers (no village points): 404 in words for those."""
    from service.errors import NotFound
    from service.render.catalogue import load_catalogue

    try:
        v = s.store.version(dataset, version)
    except Exception:  # a map source without this catalog (FrameSource), unknown dataset
        return False, frozenset()
    columns = measures_available(v)
    if columns is None:
        return False, frozenset()
    if level.startswith("h3_"):
        raise NotFound("no H3 layers in this dataset: published tables have no village "
                       "points / ชุดข้อมูลนี้ไม่มีชั้นหกเหลี่ยม H3 (ตารางที่เผยแพร่ไม่มีพิกัดหมู่บ้าน)")
    have = set(columns)
    missing = set()
    for m in load_catalogue().measures.values():
        if m.id == "priority_rank":  # ranked from the table's own columns
            continue
        if not all(c in have for c in m.columns()):
            missing.add(m.id)
    return True, frozenset(missing)
