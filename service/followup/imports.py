"""Bulk import of an agency's assistance records (CSV UTF-8/TIS-620 or XLSX).

The same machinery as survey files (service.ingest): the readers sniff and bound the file,
rows are validated column-wise with every problem named by file, row and column in Thai and
English, identifiers are pseudonymised with the keyed HMAC (house numbers ``hh:``, national
IDs ``pid:``), and the import is atomic and idempotent: all accepted rows and the import row
are written in one transaction, and a file with the SHA-256 of an earlier import of the
dataset adds nothing (``status = existing``). Names in the file are never read.

Columns (Thai or English headers, any case): ``hh_id`` (the pseudonymous household id of
the case list) or ``house_id`` (รหัสประจำบ้าน) or ``national_id`` (of a member); ``date``;
``agency``; ``action`` (catalogue id or label); optional ``amount_thb``, ``horizon``,
``note``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from service.errors import InvalidInput
from service.followup.catalogue import HORIZONS
from service.followup.notes import NOTE_REASONS, note_problem_expr
from service.followup.store import ASSIST_COLUMNS, Actor, CaseStore, parse_dates
from service.ingest.pseudonym import Pseudonymiser, national_id_check_expr
from service.ingest.readers import Limits, iter_batches, sniff
from service.ingest.report import ImportReport
from service.ingest.run import close_work_dir, open_work_dir
from service.settings import as_settings

log = logging.getLogger(__name__)

POLICIES = ("reject", "quarantine")
MAX_LISTED = 1_000

#: canonical column -> accepted headers (compared case-insensitively, spaces ignored)
HEADERS: dict[str, tuple[str, ...]] = {
    "hh_id": ("hh_id", "household_id", "รหัสครัวเรือน", "รหัสครัวเรือนเป้าหมาย"),
    "house_id": ("house_id", "house_no", "รหัสประจำบ้าน", "รหัสบ้าน", "เลขรหัสประจำบ้าน"),
    "national_id": ("national_id", "citizen_id", "pid", "เลขประจำตัวประชาชน",
                    "เลขบัตรประชาชน"),
    "date": ("date", "given_on", "วันที่", "วันที่ช่วยเหลือ", "วันที่ให้ความช่วยเหลือ"),
    "agency": ("agency", "หน่วยงาน", "หน่วยงานที่ช่วยเหลือ", "หน่วยงานรับผิดชอบ"),
    "action": ("action", "assistance", "กิจกรรม", "การช่วยเหลือ", "รายการช่วยเหลือ"),
    "amount_thb": ("amount_thb", "amount", "thb", "จำนวนเงิน", "จำนวนเงิน(บาท)",
                   "จำนวนเงิน (บาท)", "มูลค่า", "มูลค่า(บาท)"),
    "horizon": ("horizon", "ระยะ", "ระยะของแผน"),
    "note": ("note", "remark", "หมายเหตุ"),
}
#: columns of personal data an agency file may carry: never read, listed as ignored
PERSONAL = ("first_name", "last_name", "name", "ชื่อ", "นามสกุล", "ชื่อ-สกุล", "ชื่อ-นามสกุล",
            "phone", "โทรศัพท์", "เบอร์โทร")

REASONS: dict[str, tuple[str, str]] = {
    "missing": ("ไม่มีค่า (จำเป็นต้องมี)", "value is required"),
    "no_household": ("ไม่มีรหัสครัวเรือน รหัสประจำบ้าน หรือเลขประจำตัวประชาชน",
                     "no household id, house number or national ID"),
    "bad_national_id": ("เลขประจำตัวประชาชนไม่ถูกต้อง (13 หลัก หลักตรวจสอบถูกต้อง)",
                        "national ID is not 13 digits with a valid check digit"),
    "unknown_household": ("ไม่พบครัวเรือนนี้ในรายการครัวเรือนเป้าหมาย",
                          "household not found among the follow-up cases"),
    "wrong_province": ("ครัวเรือนนี้อยู่นอกจังหวัดของผู้นำเข้า",
                       "household belongs to a province outside the uploader's own"),
    "bad_date": ("วันที่ไม่ถูกต้อง (ใช้ 2026-12-01 หรือ 1/12/2569)",
                 "invalid date (use 2026-12-01 or 1/12/2569)"),
    "future_date": ("วันที่อยู่ในอนาคต", "the date is in the future"),
    "unknown_agency": ("ไม่รู้จักหน่วยงานนี้ (ดูรายชื่อหน่วยงานในหน้านำเข้า)",
                       "unknown agency (see the list on the import page)"),
    "unknown_action": ("ไม่รู้จักกิจกรรมนี้ (ดูรายการกิจกรรมในหน้านำเข้า)",
                       "unknown action (see the catalogue on the import page)"),
    "bad_horizon": ("ระยะต้องเป็น เร่งด่วน/ระยะกลาง/ระยะยาว", "horizon must be urgent, medium "
                    "or long"),
    "bad_amount": ("จำนวนเงินต้องเป็นตัวเลข 0-10,000,000 บาท",
                   "amount must be a number from 0 to 10,000,000 THB"),
    "duplicate_row": ("แถวซ้ำกับแถวก่อนหน้าในไฟล์ (ครัวเรือน วันที่ หน่วยงาน กิจกรรม เดียวกัน)",
                      "same household, date, agency and action as an earlier row of the file"),
    **NOTE_REASONS,
}
FATAL = frozenset({"wrong_province"})
_MASKED = {"national_id", "house_id"}


@dataclass
class AssistImport(ImportReport):
    """What an agency-file import did (no personal data: ids are masked in problems)."""

    REASONS = REASONS
    FATAL_CODES = FATAL
    HEADINGS: ClassVar[Mapping[str, str]] = {
        "created": "นำเข้าสำเร็จ / imported",
        "existing": "ไฟล์นี้เคยนำเข้าแล้ว ไม่นำเข้าซ้ำ / already imported (same SHA-256): "
                    "nothing added",
        "rejected": "ปฏิเสธการนำเข้า ไม่มีการบันทึกใด ๆ / import rejected: nothing was "
                    "recorded",
    }

    dataset: str
    file: str
    policy: str
    sha256: str = ""
    import_id: int | None = None
    n_flagged: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "file": self.file, "policy": self.policy,
            "sha256": self.sha256, "status": self.status, "import_id": self.import_id,
            "records": self.n_records, "accepted": self.n_accepted,
            "possible_duplicates": self.n_flagged, "ignored_columns": self.ignored_columns,
            "problem_counts": self.problem_rows(),
            "problems": self.problems, "problems_total": self.n_problems,
            "seconds": round(self.seconds, 2),
        }

    def summary(self) -> str:
        lines = [self.heading(),
                 self.counts_line(f"อาจซ้ำซ้อน/possible duplicates {self.n_flagged:,}")]
        for p in self.problems[:20]:
            lines.append(f"  {p['file']} แถว/row {p['row']} คอลัมน์/column {p['column']}: "
                         f"{p['reason_th']} / {p['reason_en']}"
                         + (f" ({p['value']})" if p.get("value") else ""))
        return "\n".join(lines)


def _key(text: str) -> str:
    return "".join(str(text).split()).casefold()


def map_headers(headers: list[str], *, file: str) -> tuple[dict[str, str], list[str]]:
    """canonical -> source header, and the ignored headers; refuses missing/ambiguous ones."""
    lookup = {_key(alias): canon for canon, aliases in HEADERS.items() for alias in aliases}
    columns: dict[str, str] = {}
    ignored: list[str] = []
    for h in headers:
        canon = lookup.get(_key(h))
        if canon is None:
            ignored.append(h)
            continue
        if canon in columns:
            raise InvalidInput(f"คอลัมน์ {columns[canon]!r} และ {h!r} หมายถึง {canon} เหมือนกัน / "
                               f"columns {columns[canon]!r} and {h!r} both mean {canon}",
                               file=file, row=1, column=h)
        columns[canon] = h
    need = [("hh_id", "house_id", "national_id"), ("date",), ("agency",), ("action",)]
    missing = [g for g in need if not any(c in columns for c in g)]
    if missing:
        names = "; ".join(" or ".join(f"{c} ({HEADERS[c][-1]})" for c in g) for g in missing)
        raise InvalidInput(f"ขาดคอลัมน์ที่จำเป็น / required column(s) missing: {names}",
                           file=file, row=1)
    return columns, ignored


def _lookup_expr(col: str, table: dict[str, str]) -> pl.Expr:
    norm = pl.col(col).str.replace_all(r"\s+", "").str.to_lowercase()
    return norm.replace_strict({k.replace(" ", ""): v for k, v in table.items()},
                               default=None, return_dtype=pl.String)


def import_assistance(cases: CaseStore, settings: Mapping[str, Any], path: str | Path, *,
                      dataset: str, actor: Actor, name: str | None = None,
                      allowed_province: str | None = None, policy: str = "reject",
                      window_days: int | None = None,
                      person_households: Callable[[list[str]], pl.DataFrame] | None = None,
                      today: dt.date | None = None, chunk_rows: int = 100_000
                      ) -> AssistImport:
    """Validate and import one agency file (see module doc). ``person_households(ids)``
    maps person pseudonyms to ``person_id, hh_id`` (needed only for national-ID files)."""
    t0 = time.perf_counter()
    if policy not in POLICIES:
        raise InvalidInput("policy must be reject or quarantine / นโยบายไม่ถูกต้อง",
                           column="policy")
    name = name or Path(path).name
    report = AssistImport(dataset, name, policy)
    today = today or dt.date.today()
    limits = Limits(max_uncompressed_bytes=as_settings(settings).ingest_max_uncompressed_mb
                    * 2**20)
    work, lock = open_work_dir(settings, "ingest-assist-")
    try:
        src = sniff(path, name=name, limits=limits, work_dir=work)
        report.sha256 = src.sha256
        found = cases.find_import(dataset, src.sha256)
        if found is not None:
            report.status, report.import_id = "existing", int(found["id"])
            report.n_records = int(found["n_records"])
            report.n_accepted, report.n_flagged = int(found["n_accepted"]), int(found["n_flagged"])
            return report
        columns, report.ignored_columns = map_headers(src.headers, file=name)
        checker = _Rows(cases, settings, columns, name, dataset, allowed_province,
                        person_households, today)
        accepted: list[pl.DataFrame] = []
        for raw in iter_batches(src, chunk_rows=chunk_rows, limits=limits):
            good, problems = checker.process(raw)
            report.n_records += good.height + problems["_row"].n_unique()
            _record(report, problems, name)
            accepted.append(good)
        good = pl.concat(accepted) if accepted else pl.DataFrame()
        report.n_accepted = good.height
        fatal = any(code in FATAL for _c, code in report.problem_counts)
        if fatal or not good.height or (report.n_problems and policy == "reject"):
            # nothing is written: the agency fixes the rows and sends the file again
            report.status, report.n_accepted = "rejected", 0
            return report
        ids = cases.insert_assistance(
            dataset, good.select(ASSIST_COLUMNS), actor=actor, window_days=window_days,
            import_meta={"sha256": src.sha256, "file_name": name[:256],
                         "province": allowed_province, "n_records": report.n_records,
                         "n_accepted": good.height})
        report.n_flagged = int(ids["duplicate_of"].is_not_null().sum())
        report.status = "created"
        found = cases.find_import(dataset, src.sha256)
        report.import_id = int(found["id"]) if found else None
        log.info("assistance import %s: %d records, %d accepted, %d flagged, %d problems",
                 dataset, report.n_records, report.n_accepted, report.n_flagged,
                 report.n_problems)
        return report
    finally:
        report.seconds = time.perf_counter() - t0
        close_work_dir(work, lock)


def _record(report: AssistImport, problems: pl.DataFrame, file: str) -> None:
    if not problems.height:
        return
    problems = problems.sort("_row")
    for col, code, n in problems.group_by(["column", "code"]).len().iter_rows():
        report.problem_counts[(col, code)] += n
    room = MAX_LISTED - len(report.problems)
    for row, col, code, value in problems.head(max(room, 0)).iter_rows():
        th, en = REASONS[code]
        report.problems.append({"file": file, "row": row, "column": col, "code": code,
                                "reason_th": th, "reason_en": en, "value": value})


class _Rows:
    """Validates batches of one file into rows for :meth:`CaseStore.insert_assistance`."""

    def __init__(self, cases: CaseStore, settings: Mapping[str, Any], columns: dict[str, str],
                 file: str, dataset: str, allowed_province: str | None,
                 person_households: Callable[[list[str]], pl.DataFrame] | None,
                 today: dt.date) -> None:
        self.cases, self.columns, self.file, self.dataset = cases, columns, file, dataset
        self.allowed_province, self.today = allowed_province, today
        self.person_households = person_households
        self.key = as_settings(settings).pseudonym_key
        self._ps: Pseudonymiser | None = None
        self.seen = pl.DataFrame(schema={"hh_id": pl.String, "given_on": pl.Date,
                                         "agency": pl.String, "action": pl.String,
                                         "_first": pl.Int64})
        acts = cases.actions
        self.agencies = dict(acts._lookup["agency"])
        self.actions = dict(acts._lookup["action"])
        self.horizon_of = {a.id: a.horizon for a in acts.actions.values()}
        self.horizons = {**{k: k for k in HORIZONS},
                         **{th: k for k, (th, _en) in HORIZONS.items()},
                         **{en: k for k, (_th, en) in HORIZONS.items()}}
        if "house_id" in columns or "national_id" in columns:
            self.pseudonymiser()  # refuse at once when the key is missing

    def pseudonymiser(self) -> Pseudonymiser:
        if self._ps is None:
            self._ps = Pseudonymiser(self.key)
        return self._ps

    def process(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        cols = self.columns
        df = raw.select(pl.col("_row"), *[
            pl.col(src).str.strip_chars().replace("", None).alias(canon)
            for canon, src in cols.items()])
        for canon in HEADERS:
            if canon not in df.columns:
                df = df.with_columns(pl.lit(None, dtype=pl.String).alias(canon))
        df = df.filter(~pl.all_horizontal([pl.col(c).is_null() for c in cols]))
        checks: list[tuple[pl.Expr, str, str, pl.Expr | None]] = []

        # -- household: pseudonymous id, house number or a member's national ID -------------
        hh = pl.col("hh_id")
        raw_hh = hh.str.replace_all(r"[\s\-]", "").str.contains(r"^\d{11}$|^\d{13}$")
        house = pl.when(raw_hh).then(hh).otherwise(pl.col("house_id")).str.replace_all(
            r"[\s\-]", "")
        df = df.with_columns(_house=house,
                             _nid=pl.col("national_id").str.replace_all(r"[\s\-.]", ""))
        hashed = pl.Series("_hh_house", [None] * df.height, dtype=pl.String)
        if df.select(pl.col("_house").is_not_null().any()).item():
            hashed = self.pseudonymiser().series("hh", df["_house"]).alias("_hh_house")
        df = df.with_columns(hashed, _nid_ok=(pl.col("_nid").str.contains(r"^\d{13}$")
                                              & national_id_check_expr("_nid")).fill_null(False))
        df = df.with_columns(_hh_nid=pl.lit(None, dtype=pl.String))
        if df["_nid_ok"].any():
            pids = self.pseudonymiser().series(
                "pid", df.select(pl.when("_nid_ok").then(pl.col("_nid"))).to_series())
            df = df.with_columns(_pid=pids)
            if self.person_households is not None:
                found = self.person_households(pids.drop_nulls().unique().to_list())
                df = df.join(found.rename({"person_id": "_pid", "hh_id": "_hh_found"}),
                             on="_pid", how="left", maintain_order="left")
                df = df.with_columns(_hh_nid=pl.col("_hh_found")).drop("_hh_found")
        df = df.with_columns(_hh=pl.coalesce(pl.when(~raw_hh).then(hh), "_hh_house", "_hh_nid"))
        checks += [
            (hh.is_null() & pl.col("house_id").is_null() & pl.col("national_id").is_null(),
             "hh_id", "no_household", None),
            (pl.col("national_id").is_not_null() & ~pl.col("_nid_ok") & hh.is_null()
             & pl.col("house_id").is_null(), "national_id", "bad_national_id", None),
        ]
        known = self.cases.cases_by_hh(self.dataset, df["_hh"].drop_nulls().unique().to_list())
        df = df.join(known.rename({"hh_id": "_hh"}), on="_hh", how="left",
                     maintain_order="left")
        where_col = next(c for c in ("hh_id", "house_id", "national_id") if c in cols)
        checks.append((pl.col("_hh").is_not_null() & pl.col("case_id").is_null(), where_col,
                       "unknown_household", pl.col(where_col)))
        if self.allowed_province is not None:
            checks.append((pl.col("province_code").is_not_null()
                           & (pl.col("province_code") != self.allowed_province), where_col,
                           "wrong_province", pl.col(where_col)))

        # -- the help itself -------------------------------------------------------------------
        df = df.with_columns(given_on=parse_dates(df["date"]))
        amount = pl.col("amount_thb").str.replace_all(r"[,\s฿]|บาท", "").cast(pl.Float64,
                                                                              strict=False)
        df = df.with_columns(_agency=_lookup_expr("agency", self.agencies),
                             _action=_lookup_expr("action", self.actions),
                             _amount=pl.when(pl.col("amount_thb").is_null()).then(0.0)
                             .otherwise(amount),
                             _note_problem=note_problem_expr("note"))
        df = df.with_columns(
            _horizon=pl.when(pl.col("horizon").is_null())
            .then(pl.col("_action").replace_strict(self.horizon_of, default=None,
                                                   return_dtype=pl.String))
            .otherwise(pl.col("horizon").str.to_lowercase().replace_strict(
                {k.lower(): v for k, v in self.horizons.items()}, default=None,
                return_dtype=pl.String)))
        checks += [
            (pl.col("date").is_null(), "date", "missing", None),
            (pl.col("date").is_not_null() & pl.col("given_on").is_null(), "date", "bad_date",
             pl.col("date")),
            (pl.col("given_on") > self.today, "date", "future_date", pl.col("date")),
            (pl.col("agency").is_null(), "agency", "missing", None),
            (pl.col("agency").is_not_null() & pl.col("_agency").is_null(), "agency",
             "unknown_agency", pl.col("agency")),
            (pl.col("action").is_null(), "action", "missing", None),
            (pl.col("action").is_not_null() & pl.col("_action").is_null(), "action",
             "unknown_action", pl.col("action")),
            (pl.col("horizon").is_not_null() & pl.col("_horizon").is_null(), "horizon",
             "bad_horizon", pl.col("horizon")),
            (pl.col("_amount").is_null() | (pl.col("_amount") < 0)
             | (pl.col("_amount") > 10_000_000) | ~pl.col("_amount").is_finite(), "amount_thb",
             "bad_amount", pl.col("amount_thb")),
        ]
        for code in NOTE_REASONS:
            # a refused note is never echoed back: it may hold the personal data itself
            checks.append((pl.col("_note_problem") == code, "note", code, None))
        problems = self._problems(df, checks)
        good = df.filter(~pl.col("_row").is_in(problems["_row"].unique().implode()))
        good, dups = self._duplicate_rows(good)
        problems = pl.concat([problems, dups])
        out = good.select(
            pl.col("case_id").cast(pl.Int64), pl.col("_hh").alias("hh_id"), "province_code",
            "amphoe_code", "tambon_code", "given_on", pl.col("_agency").alias("agency"),
            pl.col("_action").alias("action"), pl.col("_horizon").alias("horizon"),
            pl.col("_amount").round(2).alias("amount_thb"),
            pl.col("note").fill_null("").str.replace_all(r"\s+", " ").alias("note"),
            pl.col("_row").cast(pl.Int64).alias("source_row"))
        return out, problems

    def _duplicate_rows(self, good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        keys = ["_hh", "given_on", "_agency", "_action"]
        g = good.with_columns(_first=pl.col("_row").min().over(keys).cast(pl.Int64))
        seen = self.seen.rename({"hh_id": "_hh", "agency": "_agency", "action": "_action",
                                 "_first": "_earlier"})
        g = g.join(seen, on=keys, how="left", maintain_order="left")
        dup = (pl.col("_row") != pl.col("_first")) | pl.col("_earlier").is_not_null()
        where = pl.coalesce("_earlier", "_first")
        problems = g.filter(dup).select(
            pl.col("_row").cast(pl.Int64), pl.lit("date").alias("column"),
            pl.lit("duplicate_row").alias("code"),
            pl.format("row {}", where).alias("value"))
        keep = g.filter(~dup).drop("_first", "_earlier")
        self.seen = pl.concat([self.seen, keep.select(
            pl.col("_hh").alias("hh_id"), "given_on", pl.col("_agency").alias("agency"),
            pl.col("_action").alias("action"), pl.col("_row").cast(pl.Int64).alias("_first"))])
        return keep, problems

    def _problems(self, df: pl.DataFrame,
                  checks: list[tuple[pl.Expr, str, str, pl.Expr | None]]) -> pl.DataFrame:
        frames = [pl.DataFrame(schema={"_row": pl.Int64, "column": pl.String,
                                       "code": pl.String, "value": pl.String})]
        if df.height:
            masks = df.select([c[0].fill_null(False).alias(f"m{i}")
                               for i, c in enumerate(checks)])
            for i, (_mask, column, code, value) in enumerate(checks):
                if not masks[f"m{i}"].any():
                    continue
                shown = (pl.lit(None, dtype=pl.String) if value is None
                         else pl.lit("***") if column in _MASKED
                         else value.cast(pl.String).str.slice(0, 60))
                frames.append(df.filter(masks[f"m{i}"]).select(
                    pl.col("_row").cast(pl.Int64), pl.lit(column).alias("column"),
                    pl.lit(code).alias("code"), shown.alias("value")))
        return pl.concat(frames)
