"""Import TPMAP's published area tables (tpmap.in.th/public/data/<yy>/) as a dataset of area
tables without persons (docs/ingest.md, "TPMAP published tables").

Format: per province and level (``amphur``, ``tambol``, ``village``) one ``common`` file and 31
files whose 5-bit suffix selects the dimensions of TPMAP's rule (health, living, education,
income, accessibility, in that order), named ``<yy>_<pp>_<level>_<suffix>.csv``.

Flow: :func:`discover` the files, :func:`read_province` validates a province's 96 files
(header, codes, non-negative integers, counts within their totals, the dimension columns of
every mask file against the all-dimension file, villages summing to their tambon and tambons to
their amphoe) and turns them into area rows with boundary codes; :func:`import_tpmap` does it
for every province, one at a time (memory bounded by the output tables), and only when no
problem was found publishes one atomic version through :class:`service.store.store.Store`.

Codes: TPMAP gives DOPA digits; ``TH`` + digits is the boundary code, except DOPA tambon 530407
(= COD-AB TH530306) and its villages. Tambon codes with tt >= 51 are municipal pseudo-tambons:
counted in their amphoe (and above), not in the tambon or village tables. A village ID is the
8-digit DOPA village code plus a 2-digit suffix; rows sharing the 8 digits are summed into one
village ``TH<8 digits>``.

Pure: no Flask, no click. Problems never echo more than 60 characters of a cell.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from service.settings import SettingsLike, as_settings
from service.vocabulary import ADMIN_LEVELS

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DIMENSIONS = ("health", "living", "education", "income", "accessibility")
MASKS = tuple(format(m, "05b") for m in range(1, 32))
FULL_MASK = "11111"
SUFFIXES = ("common",) + MASKS
INDICATORS = tuple(range(1, 32))
#: the 17 BMN indicators TPMAP's rule uses
TPMAP_INDICATORS = (1, 4, 5, 7, 8, 9, 10, 11, 15, 16, 17, 19, 20, 21, 22, 27, 28)
FILE_LEVELS = {"amphur": "amphoe", "tambol": "tambon", "village": "village"}
ID_COLUMN = {"amphur": "amphur_ID", "tambol": "tumbol_ID", "village": "village_ID"}
ID_DIGITS = {"amphur": 4, "tambol": 6, "village": 10}
FILE_RE = re.compile(r"^(\d{2})_(\d{2})_(amphur|tambol|village)_(common|[01]{5})\.csv$")
#: municipal pseudo-tambons: last two digits of the tambon code at least this
MUNICIPAL_FROM = 51
#: DOPA tambon codes whose boundary (COD-AB) code differs; their villages follow
DOPA_TO_CODAB = {"530407": "530306"}
MAX_LISTED = 1000
#: provinces read together (one multi-file scan per level and kind of file): ~10,000 villages
BATCH_PROVINCES = 8

COMMON_COUNTS: dict[str, str] = {
    "household.CNT": "n_households",
    "HOUSEMEMBER_CNT": "n_persons",
    "MOF_REG_CNT": "n_welfare_card_registered",
    "MOF_VAL_CNT": "n_welfare_card",
    "ELDERLY_CNT": "n_elderly",
    "DISABLED_CNT": "n_disabled",
    "CHRONICPATIENT_CNT": "n_chronic",
    **{f"indicator{n}.ALL": f"n_app_ind{n}" for n in INDICATORS},
    **{f"indicator{n}.CNT": f"n_fail_ind{n}" for n in INDICATORS},
}
COMMON_FLOATS = ("happiness",)
MASK_COUNTS = ("poor.household.CNT", "poor.JPT.CNT", "poor.JPT.MOFreg.CNT",
               "poor.JPT.MOFval.CNT", *[f"poor.JPT.MOFval.{d}" for d in DIMENSIONS],
               *[f"poor.JPT.MOFval.ind{n}.CNT" for n in INDICATORS])
MASK_FLOATS = ("JPT.MOFval.pov.rate",)


def mask_columns(mask: str) -> dict[str, str]:
    """Published column -> area-table column for one mask file (dimension columns excluded:
    they equal the all-dimension file's, checked, and are stored once)."""
    out = {"poor.household.CNT": f"n_dep_hh_m{mask}", "poor.JPT.CNT": f"n_dep_m{mask}",
           "poor.JPT.MOFreg.CNT": f"n_dep_reg_m{mask}", "poor.JPT.MOFval.CNT": f"n_tp_m{mask}"}
    for n in INDICATORS:
        out[f"poor.JPT.MOFval.ind{n}.CNT"] = (f"n_tp_ind{n}" if mask == FULL_MASK
                                              else f"n_tp_m{mask}_ind{n}")
    if mask == FULL_MASK:
        out.update({f"poor.JPT.MOFval.{d}": f"n_target_poor_{d}" for d in DIMENSIONS})
    return out


def main_columns() -> list[str]:
    """Count columns of the area tables (CONTRACT-WAVE2 §3, published datasets), in order."""
    from service.analysis.disclosure_published import count_columns

    return count_columns()


def side_columns() -> list[str]:
    """Target poor failing each indicator under every mask but the full one (side table)."""
    return [f"n_tp_m{m}_ind{n}" for m in MASKS if m != FULL_MASK for n in INDICATORS]


# -- problems ----------------------------------------------------------------------------------
#: problem code -> (Thai, English) reason
REASONS: dict[str, tuple[str, str]] = {
    "missing_file": ("ไม่มีไฟล์นี้ (ต้องมีครบ 32 ไฟล์ต่อระดับ)",
                     "file missing (32 files per level are needed)"),
    "bad_file_name": ("ชื่อไฟล์ไม่ตรงรูปแบบ <ปี>_<จังหวัด>_<ระดับ>_<common|มิติ 5 หลัก>.csv",
                      "file name does not follow <yy>_<pp>_<level>_<common|5-bit mask>.csv"),
    "wrong_round": ("ปีในชื่อไฟล์ไม่ตรงกับรอบที่นำเข้า", "year in the file name is not the round"),
    "unreadable": ("อ่านไฟล์ CSV ไม่ได้", "the CSV file cannot be read"),
    "missing_column": ("ไม่มีคอลัมน์ที่จำเป็น", "required column missing"),
    "unexpected_column": ("มีคอลัมน์ที่ไม่รู้จัก", "unknown column"),
    "bad_code": ("รหัสพื้นที่ไม่ถูกต้อง", "malformed area code"),
    "wrong_province": ("รหัสไม่อยู่ในจังหวัดของไฟล์", "code is not in the file's province"),
    "duplicate_code": ("รหัสพื้นที่ซ้ำ", "duplicate area code"),
    "unknown_code": ("ไม่พบรหัสนี้ในทะเบียนเขตการปกครอง", "code not in the admin boundaries"),
    "codes_differ": ("รหัสพื้นที่ไม่ตรงกับไฟล์ common ของระดับเดียวกัน",
                     "area not in the common file of the same level (or the reverse)"),
    "not_integer": ("ต้องเป็นจำนวนเต็มไม่ติดลบ", "must be a non-negative whole number"),
    "bad_number": ("ไม่ใช่ตัวเลขที่ถูกต้อง", "not a valid number"),
    "exceeds_total": ("มากกว่ายอดรวมที่ควรครอบคลุม", "larger than the total it is part of"),
    "mask_dimension": ("ค่ารายมิติไม่สอดคล้องกับชุดมิติของไฟล์",
                       "dimension count inconsistent with the file's dimension mask"),
    "rate_mismatch": ("อัตราไม่เท่ากับ 100 × คนจนเป้าหมาย / ประชากร",
                      "rate is not 100 x target poor / persons"),
    "sum_mismatch": ("ผลรวมของพื้นที่ย่อยไม่เท่ากับยอดของพื้นที่นี้",
                     "the areas within do not sum to this area's figure"),
    "orphan": ("ไม่มีพื้นที่แม่ (ตำบล/อำเภอ) ในไฟล์ระดับสูงกว่า",
               "its tambon/amphoe is missing from the level above"),
}
#: notice code -> (Thai, English): reported, never refuses the import
NOTICES: dict[str, tuple[str, str]] = {
    "validated_above_registered": (
        "ผู้ถือบัตรสวัสดิการมากกว่าผู้ลงทะเบียน (ตามที่ TPMAP เผยแพร่)",
        "more validated welfare-card holders than registrants (as TPMAP published it)"),
}


@dataclass
class TpmapReport:
    """What an import did: files, areas, problems (file, row, column, reason), the version."""

    dataset: str
    round: int
    status: str = "pending"  # created | existing | rejected
    source_sha256: str = ""
    version_id: str | None = None
    provinces: list[str] = field(default_factory=list)
    n_files: int = 0
    ignored_files: list[str] = field(default_factory=list)
    areas: dict[str, int] = field(default_factory=dict)
    municipal: dict[str, int] = field(default_factory=dict)
    problem_counts: Counter = field(default_factory=Counter)  # (column, code) -> n
    problems: list[dict[str, Any]] = field(default_factory=list)
    notice_counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def n_problems(self) -> int:
        return sum(self.problem_counts.values())

    def problem(self, code: str, *, file: str, row: int | None = None,
                column: str | None = None, value: Any = None, detail: str = "") -> None:
        self.problem_counts[(column or "", code)] += 1
        if len(self.problems) < MAX_LISTED:
            th, en = REASONS[code]
            self.problems.append({
                "file": file, "row": row, "column": column, "code": code,
                "reason_th": th + (f" ({detail})" if detail else ""),
                "reason_en": en + (f" ({detail})" if detail else ""),
                "value": None if value is None else str(value)[:60]})

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "round": self.round, "status": self.status,
            "kind": "published", "source_sha256": self.source_sha256,
            "version": self.version_id, "provinces": self.provinces, "files": self.n_files,
            "ignored_files": self.ignored_files, "areas": self.areas,
            "municipal": self.municipal,
            "problem_counts": [
                {"column": col, "code": code, "count": n, "reason_th": REASONS[code][0],
                 "reason_en": REASONS[code][1]}
                for (col, code), n in sorted(self.problem_counts.items())],
            "problems": self.problems, "problems_listed": len(self.problems),
            "problems_total": self.n_problems,
            "notice_counts": [
                {"column": col, "code": code, "count": n, "reason_th": NOTICES[code][0],
                 "reason_en": NOTICES[code][1]}
                for (col, code), n in sorted(self.notice_counts.items())],
            "seconds": round(self.seconds, 2),
        }

    def summary(self) -> str:
        """Thai first, English beside it."""
        head = {"created": "นำเข้าแล้ว · imported", "existing":
                "ไฟล์ชุดนี้นำเข้าไว้แล้ว · these files are already stored",
                "rejected": "ไม่นำเข้า (พบปัญหา) · rejected (problems found)"}.get(
                    self.status, self.status)
        lines = [f"{head}: dataset {self.dataset}, รอบ/round {self.round}"
                 + (f", version {self.version_id}" if self.version_id else ""),
                 f"จังหวัด/provinces {len(self.provinces)}, ไฟล์/files {self.n_files}, "
                 + ", ".join(f"{k} {v:,}" for k, v in self.areas.items())]
        for p in self.problems[:20]:
            where = ", ".join(x for x in (
                p["file"], f"แถว/row {p['row']}" if p["row"] is not None else "",
                f"คอลัมน์/column {p['column']}" if p["column"] else "") if x)
            value = f" [{p['value']}]" if p["value"] not in (None, "") else ""
            lines.append(f"  {where}: {p['reason_th']} · {p['reason_en']}{value}")
        if self.n_problems > 20:
            lines.append(f"  ... ปัญหาทั้งหมด/problems in all: {self.n_problems:,}")
        return "\n".join(lines)


class Rejected(Exception):
    """Problems were found: nothing is stored (internal: aborts the staging)."""


# -- discovery ---------------------------------------------------------------------------------
@dataclass
class FileSet:
    """The files of a directory, by (province digits, file level, suffix)."""

    files: dict[tuple[str, str, str], Path]
    provinces: list[str]
    ignored: list[str]

    def path(self, province: str, level: str, suffix: str) -> Path | None:
        return self.files.get((province, level, suffix))


def discover(directory: str | Path, *, round: int, report: TpmapReport) -> FileSet:
    """Find the TPMAP files of ``directory``; missing or misnamed files become problems."""
    base = Path(directory)
    if not base.is_dir():
        from service.errors import InvalidInput

        raise InvalidInput(f"ไม่พบโฟลเดอร์ {base} / not a directory: {base}", file=str(base))
    files: dict[tuple[str, str, str], Path] = {}
    ignored: list[str] = []
    yy = f"{int(round) % 100:02d}"
    for path in sorted(base.iterdir()):
        if not path.is_file():
            continue
        m = FILE_RE.match(path.name)
        if m is None:
            if path.suffix.lower() == ".csv":
                report.problem("bad_file_name", file=path.name)
            else:
                ignored.append(path.name)
            continue
        if m.group(1) != yy:
            report.problem("wrong_round", file=path.name, value=m.group(1),
                           detail=f"round {round} = {yy}")
            continue
        files[(m.group(2), m.group(3), m.group(4))] = path
    provinces = sorted({p for p, _, _ in files})
    if not provinces and not report.n_problems:
        report.problem("missing_file", file=f"{yy}_<pp>_<level>_<suffix>.csv",
                       detail="no TPMAP file in the directory / ไม่มีไฟล์ TPMAP ในโฟลเดอร์")
    for p in provinces:
        for level in FILE_LEVELS:
            for suffix in SUFFIXES:
                if (p, level, suffix) not in files:
                    report.problem("missing_file", file=f"{yy}_{p}_{level}_{suffix}.csv")
    report.n_files = len(files)
    report.ignored_files = ignored
    return FileSet(files, provinces, ignored)


def source_sha256(fileset: FileSet) -> str:
    """SHA-256 over the files' names and contents (same files = same digest)."""
    outer = hashlib.sha256(f"tpmap-published:{FORMAT_VERSION}".encode())
    for key in sorted(fileset.files):
        path = fileset.files[key]
        inner = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                inner.update(block)
        outer.update(f"{path.name}:{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


# -- reading the files of one province and level ------------------------------------------------
def _expected_header(level: str, suffix: str) -> list[str]:
    if suffix == "common":
        body = list(COMMON_COUNTS)[:7] + list(COMMON_FLOATS) + list(COMMON_COUNTS)[7:]
    else:
        body = list(MASK_COUNTS[:9]) + list(MASK_FLOATS) + list(MASK_COUNTS[9:])
    return [ID_COLUMN[level], *body, "province_ID"]


def _check_header(path: Path, level: str, suffix: str, report: TpmapReport
                  ) -> tuple[str, ...] | None:
    """Header row against the format (read with the csv module: no frame is built)."""
    import csv

    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader([fh.readline()]), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        report.problem("unreadable", file=path.name, detail=type(exc).__name__)
        return None
    header = [h.strip() for h in header]
    expected = _expected_header(level, suffix)
    if header == expected:
        return tuple(header)
    missing = [c for c in expected if c not in set(header)]
    extra = [c for c in header if c not in set(expected)]
    for c in missing:
        report.problem("missing_column", file=path.name, row=1, column=c)
    for c in extra:
        report.problem("unexpected_column", file=path.name, row=1, column=c)
    dups = sorted({c for c in header if header.count(c) > 1})
    for c in dups:
        report.problem("unexpected_column", file=path.name, row=1, column=c,
                       detail="twice / ซ้ำ")
    if missing or extra or dups:
        return None
    return tuple(header)


def _types(level: str, suffix: str) -> dict[str, Any]:
    counts = list(COMMON_COUNTS) if suffix == "common" else list(MASK_COUNTS)
    floats = list(COMMON_FLOATS) if suffix == "common" else list(MASK_FLOATS)
    return {ID_COLUMN[level]: pl.String, "province_ID": pl.String,
            **dict.fromkeys(counts, pl.Int64), **dict.fromkeys(floats, pl.String)}


def _scan(paths: dict[Path, tuple[str, ...]], report: TpmapReport, *, level: str,
          suffix: str, text: bool = False) -> pl.DataFrame | None:
    """The files as one frame (typed by the format, or all text) with ``_file`` and
    ``_line`` (the CSV line number). Values that do not parse are null in the typed frame
    (:func:`_parse` then reads the text to report them). Files sharing a header are parsed
    in one multi-file scan."""
    expected = _expected_header(level, suffix)
    types = _types(level, suffix)

    def read(files: list[Path]) -> pl.DataFrame:
        lazy = pl.scan_csv([str(f) for f in files], infer_schema=False,
                           schema_overrides=None if text else types, ignore_errors=not text,
                           include_file_paths="_file", encoding="utf8-lossy")
        return (lazy.select(pl.col("_file").str.extract(r"([^/\\]+)$"),
                            (pl.int_range(pl.len()).over("_file") + 2).alias("_line"),
                            *expected).collect())

    groups: dict[tuple[str, ...], list[Path]] = {}
    for path, header in paths.items():
        groups.setdefault(header, []).append(path)
    frames = []
    for files in groups.values():
        try:
            frames.append(read(files))
        except Exception:  # polars raises several types for malformed CSV: find the file
            for path in files:
                try:
                    read([path])
                except Exception as exc:
                    report.problem("unreadable", file=path.name, detail=type(exc).__name__)
            return None
    return pl.concat(frames) if len(frames) > 1 else frames[0]


def _report_rows(report: TpmapReport, frame: pl.DataFrame, cond: pl.Expr, code: str,
                 column: str, value: pl.Expr, detail: pl.Expr | str = "") -> None:
    rows = frame.filter(cond.fill_null(False)).select(
        "_file", "_line", value.cast(pl.String).alias("_v"),
        (detail if isinstance(detail, pl.Expr) else pl.lit(detail)).cast(pl.String)
        .alias("_d"))
    for file, line, v, d in rows.head(MAX_LISTED).iter_rows():
        report.problem(code, file=file, row=line, column=column, value=v, detail=d or "")
    if rows.height > MAX_LISTED:
        report.problem_counts[(column, code)] += rows.height - MAX_LISTED


def _parse(typed: pl.DataFrame, paths: dict[Path, tuple[str, ...]], *, level: str,
           suffix: str, report: TpmapReport) -> pl.DataFrame:
    """Problems for values that are not non-negative integers (or valid numbers), bad,
    foreign and duplicate codes. One pass finds whether any closer look is needed; only then
    is the text read again to quote the bad cells."""
    id_col = ID_COLUMN[level]
    types = _types(level, suffix)
    counts = [c for c, t in types.items() if t == pl.Int64]
    floats = list(COMMON_FLOATS) if suffix == "common" else list(MASK_FLOATS)
    digits = ID_DIGITS[level]
    frame = typed.rename({id_col: "id", "province_ID": "_province"}).with_columns(
        pl.col("id").str.strip_chars(), pl.col("_province").str.strip_chars(),
        *[pl.col(c).alias(f"_raw_{c}") for c in floats],
        *[pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in floats])
    well_formed = pl.col("id").str.contains(rf"^\d{{{digits}}}$").fill_null(False)
    if level == "village":
        # municipal pseudo-tambons (tt >= 51) number their communities with letters too
        # (340151A001): accepted there, they are counted in the amphoe only
        well_formed = well_formed | (
            pl.col("id").str.contains(r"^\d{6}[0-9A-Z]{2}\d{2}$").fill_null(False)
            & (pl.col("id").str.slice(4, 2).cast(pl.Int32, strict=False) >= MUNICIPAL_FROM))
    hi = {c: (10.0 if c == "happiness" else 100.0) for c in floats}
    checks: dict[str, tuple[pl.Expr, str, str, pl.Expr | str]] = {}
    for c in counts:
        checks[f"int:{c}"] = (pl.col(c).is_null() | (pl.col(c) < 0), "not_integer", c, "")
    for c in floats:
        # empty or NA is "no value" (a mean over nobody); anything else must be a number
        checks[f"float:{c}"] = ((pl.col(c) < 0) | (pl.col(c) > hi[c]) | pl.col(c).is_nan()
                                | (pl.col(c).is_null() & pl.col(f"_raw_{c}").is_not_null()
                                   & ~pl.col(f"_raw_{c}").str.strip_chars()
                                   .is_in(["", "NA"])),
                                "bad_number", c, f"0-{hi[c]:g}")
    checks["bad_code"] = (~well_formed, "bad_code", id_col,
                          f"{digits} digits / {digits} หลัก")
    province = pl.col("_file").str.slice(3, 2)  # <yy>_<pp>_...: the file's province
    checks["wrong_province"] = (well_formed & ((pl.col("id").str.slice(0, 2) != province)
                                               | (pl.col("_province").fill_null("")
                                                  != province)),
                                "wrong_province", id_col,
                                pl.lit("province ") + province)
    checks["duplicate_code"] = (pl.col("id").is_duplicated().over("_file")
                                & pl.col("id").is_not_null(), "duplicate_code", id_col, "")
    flags = frame.select([cond.fill_null(False).any().alias(k)
                          for k, (cond, *_rest) in checks.items()]).row(0, named=True)
    frame_raw = frame
    if any(flags[f"int:{c}"] for c in counts):
        text = _scan(paths, report, level=level, suffix=suffix, text=True)
        if text is not None:
            frame_raw = pl.concat([frame, text.select([pl.col(c).alias(f"_raw_{c}")
                                                       for c in counts])], how="horizontal")
    for key, bad in flags.items():
        if bad:
            cond, code, column, detail = checks[key]
            value = (pl.col("id") if column == id_col
                     else pl.col(f"_raw_{column}") if f"_raw_{column}" in frame_raw.columns
                     else pl.col(column))
            _report_rows(report, frame_raw, cond, code, column, value, detail)
    return frame.drop("_province", *[f"_raw_{c}" for c in floats])


def _exceeds(report: TpmapReport, frame: pl.DataFrame, pairs: Iterable[tuple[str, str]],
             extra: dict[str, tuple[pl.Expr, str, str, pl.Expr | str]] | None = None
             ) -> None:
    """Problems where a count is larger than the total it belongs to (+ ``extra`` checks,
    all decided in one pass)."""
    checks: dict[str, tuple[pl.Expr, str, str, pl.Expr | str]] = {
        f"{p}|{t}": (pl.col(p) > pl.col(t), "exceeds_total", p,
                     pl.lit(f"{t} = ") + pl.col(t).cast(pl.String))
              for p, t in pairs if p in frame.columns and t in frame.columns}
    checks.update(extra or {})
    if not checks:
        return
    flags = frame.select([cond.fill_null(False).any().alias(k)
                          for k, (cond, *_rest) in checks.items()]).row(0, named=True)
    for key, bad in flags.items():
        if bad:
            cond, code, column, detail = checks[key]
            _report_rows(report, frame, cond, code, column, pl.col(column), detail)


COMMON_PAIRS = ([(c, "HOUSEMEMBER_CNT") for c in ("household.CNT", "MOF_REG_CNT", "MOF_VAL_CNT",
                                                  "ELDERLY_CNT", "DISABLED_CNT",
                                                  "CHRONICPATIENT_CNT")]
                + [(f"indicator{n}.ALL", "HOUSEMEMBER_CNT") for n in INDICATORS]
                + [(f"indicator{n}.CNT", f"indicator{n}.ALL") for n in INDICATORS])
MASK_PAIRS = ([("poor.household.CNT", "household.CNT"), ("poor.JPT.CNT", "HOUSEMEMBER_CNT"),
               ("poor.JPT.MOFreg.CNT", "poor.JPT.CNT"), ("poor.JPT.MOFval.CNT", "poor.JPT.CNT"),
               ("poor.JPT.MOFval.CNT", "MOF_VAL_CNT"), ("poor.household.CNT", "poor.JPT.CNT")]
              + [(f"poor.JPT.MOFval.{d}", "poor.JPT.MOFval.CNT") for d in DIMENSIONS]
              + [(f"poor.JPT.MOFval.ind{n}.CNT", "poor.JPT.MOFval.CNT") for n in INDICATORS])


def _known(header: tuple[str, ...] | None) -> tuple[str, ...]:
    assert header is not None
    return header


def read_level(fileset: FileSet, provinces: list[str], level: str, report: TpmapReport
               ) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The common files and the 31 mask files (long: one row per area and mask) of some
    provinces at one level, validated; None when a file is unusable. A few provinces are
    read together: one multi-file scan per kind of file, so the per-call cost of the frame
    engine is paid a few times per batch, not per file."""
    before = report.n_problems
    common_paths: dict[Path, tuple[str, ...]] = {}
    mask_paths: dict[Path, tuple[str, ...]] = {}
    for province in provinces:
        for suffix in SUFFIXES:
            path = fileset.path(province, level, suffix)
            if path is None:
                continue
            header = _check_header(path, level, suffix, report)
            if header is not None:
                (common_paths if suffix == "common" else mask_paths)[path] = header
    if report.n_problems > before or len(common_paths) + len(mask_paths) != \
            len(SUFFIXES) * len(provinces):
        return None
    typed_common = _scan(common_paths, report, level=level, suffix="common")
    typed_masks = _scan(mask_paths, report, level=level, suffix=FULL_MASK)
    if typed_common is None or typed_masks is None:
        return None
    common = _parse(typed_common, common_paths, level=level, suffix="common", report=report)
    masks = _parse(typed_masks, mask_paths, level=level, suffix=FULL_MASK,
                   report=report).with_columns(
        pl.col("_file").str.extract(r"_([01]{5})\.csv$").alias("_mask"))
    if report.n_problems > before:
        return None
    notice = common.filter(pl.col("MOF_VAL_CNT") > pl.col("MOF_REG_CNT")).height
    if notice:
        report.notice_counts[("MOF_VAL_CNT", "validated_above_registered")] += notice
    _exceeds(report, common, COMMON_PAIRS)
    # every mask file holds the areas of the common file, no more, no fewer
    id_col = ID_COLUMN[level]
    province_of = pl.col("_file").str.slice(3, 2)
    extra_rows = masks.join(common.select("id"), on="id", how="anti")
    for file, line, v in extra_rows.select("_file", "_line", "id").iter_rows():
        report.problem("codes_differ", file=file, row=line, column=id_col, value=v,
                       detail=f"not in {file[:3]}{file[3:5]}_{file.split('_')[2]}_common.csv")
    expected = common.group_by(province_of.alias("_p")).agg(pl.len().alias("_n"))
    per_file = masks.group_by("_file").agg(pl.col("id").is_in(common["id"].implode()).sum()
                                           .alias("n")).with_columns(province_of.alias("_p"))
    short = per_file.join(expected, on="_p", how="left").filter(pl.col("n") < pl.col("_n"))
    for file in short["_file"]:
        lacking = common.filter(province_of == file[3:5]).join(
            masks.filter(pl.col("_file") == file).select("id"), on="id", how="anti")
        for cfile, line, v in lacking.select("_file", "_line", "id").iter_rows():
            report.problem("codes_differ", file=cfile, row=line, column=id_col,
                           value=v, detail=f"not in {file}")
    if report.n_problems > before:
        return None
    # counts within their totals; the dimension columns against the mask and the full file
    full = masks.filter(pl.col("_mask") == FULL_MASK).select(
        "id", *[pl.col(f"poor.JPT.MOFval.{d}").alias(f"_full_{d}") for d in DIMENSIONS])
    joined = masks.join(common.select("id", "household.CNT", "HOUSEMEMBER_CNT", "MOF_VAL_CNT"),
                        on="id", how="left").join(full, on="id", how="left")
    extra: dict[str, tuple[pl.Expr, str, str, pl.Expr | str]] = {}
    for i, d in enumerate(DIMENSIONS):
        col = f"poor.JPT.MOFval.{d}"
        selected = pl.col("_mask").str.slice(i, 1) == "1"
        extra[f"dim:{d}"] = (
            pl.when(selected).then(pl.col(col) != pl.col(f"_full_{d}"))
            .otherwise(pl.col(col) != 0), "mask_dimension", col,
            pl.when(selected).then(pl.lit(f"differs from {FULL_MASK} / ไม่ตรงกับไฟล์ {FULL_MASK}"))
            .otherwise(pl.lit("dimension not in the mask: must be 0 / มิตินี้ไม่อยู่ในชุด ต้องเป็น 0")))
    rate = "JPT.MOFval.pov.rate"
    extra["rate"] = (pl.col(rate).is_not_null() & (pl.col("HOUSEMEMBER_CNT") > 0)
                     & ((pl.col(rate) - 100 * pl.col("poor.JPT.MOFval.CNT")
                         / pl.col("HOUSEMEMBER_CNT")).abs() > 1e-4), "rate_mismatch", rate, "")
    _exceeds(report, joined, MASK_PAIRS, extra)
    if report.n_problems > before:
        return None
    return common, masks


def _check_sums(report: TpmapReport, child: pl.DataFrame, parent: pl.DataFrame,
                columns: list[str], *, digits: int, child_id: str) -> None:
    """Children (rows of a finer level) must sum to their parent where both are given
    (per file: ``_mask`` pairs the mask files)."""
    keys = ["_mask"] if "_mask" in child.columns else []
    keyed = child.with_columns(pl.col("id").str.slice(0, digits).alias("_parent"))
    orphans = keyed.join(parent.select(*keys, pl.col("id").alias("_parent")),
                         on=[*keys, "_parent"], how="anti")
    for file, line, v in orphans.select("_file", "_line", "id").iter_rows():
        report.problem("orphan", file=file, row=line, column=child_id, value=v)
    sums = keyed.group_by(*keys, "_parent").agg(
        pl.col("_file").first().alias("_child_file"), *[pl.col(c).sum() for c in columns])
    cmp = parent.select("_file", "_line", "id", *keys, *columns).join(
        sums.rename({c: f"_sum_{c}" for c in columns}), left_on=[*keys, "id"],
        right_on=[*keys, "_parent"], how="inner")
    checks: dict[str, tuple[pl.Expr, str, str, pl.Expr | str]] = {
        c: (pl.col(c) != pl.col(f"_sum_{c}"), "sum_mismatch", c,
                  pl.col("_child_file") + pl.lit(": ") + pl.col(f"_sum_{c}").cast(pl.String))
              for c in columns}
    _exceeds(report, cmp, [], checks)


@dataclass
class ProvinceTables:
    """A province's rows per area-table level (boundary codes, before identity columns)."""

    province: str
    tambon: pl.DataFrame
    village: pl.DataFrame
    amphoe: pl.DataFrame
    side: dict[str, pl.DataFrame]
    municipal: Counter


def _tambon_code(expr: pl.Expr) -> pl.Expr:
    """DOPA tambon digits -> boundary code."""
    for dopa, codab in DOPA_TO_CODAB.items():
        expr = pl.when(expr == dopa).then(pl.lit(codab)).otherwise(expr)
    return pl.lit("TH") + expr


def read_province(fileset: FileSet, provinces: str | list[str], *, report: TpmapReport,
                  known_tambons: frozenset[str], known_amphoes: frozenset[str]
                  ) -> ProvinceTables | None:
    """Validate some provinces' 96 files each and turn them into area rows (None on
    problems)."""
    provinces = [provinces] if isinstance(provinces, str) else list(provinces)
    before = report.n_problems
    levels: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = {}
    for level in FILE_LEVELS:
        got = read_level(fileset, provinces, level, report)
        if got is not None:
            levels[level] = got
    if report.n_problems > before or len(levels) != len(FILE_LEVELS):
        return None
    # across levels: villages sum to their tambon, tambons to their amphoe (every count)
    for child, parent, digits in (("village", "tambol", 6), ("tambol", "amphur", 4)):
        for i, columns in ((0, list(COMMON_COUNTS)), (1, list(MASK_COUNTS))):
            _check_sums(report, levels[child][i], levels[parent][i], columns, digits=digits,
                        child_id=ID_COLUMN[child])
    # codes known to the boundaries (municipal pseudo-tambons: their amphoe)
    for level, known in (("amphur", known_amphoes), ("tambol", known_tambons)):
        common = levels[level][0]
        if level == "tambol":
            codes = common.filter(pl.col("id").str.slice(4, 2).cast(pl.Int32) < MUNICIPAL_FROM
                                  ).with_columns(_tambon_code(pl.col("id")).alias("_code"))
        else:
            codes = common.with_columns((pl.lit("TH") + pl.col("id")).alias("_code"))
        unknown = codes.filter(~pl.col("_code").is_in(list(known)))
        for file, line, v in unknown.select("_file", "_line", "id").iter_rows():
            report.problem("unknown_code", file=file, row=line, column=ID_COLUMN[level],
                           value=v)
    if report.n_problems > before:
        return None
    return _province_tables(levels, ",".join(provinces))


def _wide(common: pl.DataFrame, masks: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All files of a level as one row per published area (main columns), and the side
    table: per area and mask (but the full one) the target poor failing each indicator
    (long: ``id, mask, n_tp_ind1..31``).

    Every mask file holds exactly the common file's areas once (checked), so sorted by mask
    and code the long frame is 31 equal blocks side by side (no hashing pivot)."""
    main = common.sort("id").select(
        "id", *[pl.col(k).alias(v) for k, v in COMMON_COUNTS.items()],
        (pl.col("happiness") * pl.col("household.CNT")).alias("_happy_w"),
        pl.when(pl.col("happiness").is_not_null()).then(pl.col("household.CNT"))
        .otherwise(0).alias("_happy_n"))
    n = main.height
    # only the columns the main table takes are sorted (the side table stays long)
    needed = sorted({k for m in MASKS for k, v in mask_columns(m).items()
                     if not v.startswith(f"n_tp_m{m}_ind")})
    ordered = masks.select("id", "_mask", *needed).sort("_mask", "id")
    blocks = [main]
    for i, m in enumerate(MASKS):
        block = ordered.slice(i * n, n)
        if not block["id"].equals(main["id"]):  # guaranteed by read_level's checks
            raise RuntimeError(f"mask {m}: areas differ from the common file")
        cols = mask_columns(m)
        blocks.append(block.select([pl.col(k).alias(v) for k, v in cols.items()
                                    if not v.startswith(f"n_tp_m{m}_ind")]))
        del block
    wide = pl.concat(blocks, how="horizontal").with_columns(
        pl.col(f"n_tp_m{FULL_MASK}").alias("n_target_poor"),
        pl.col(f"n_dep_m{FULL_MASK}").alias("n_deprived_any"))
    side = masks.filter(pl.col("_mask") != FULL_MASK).select(
        "id", pl.col("_mask").alias("mask"),
        *[pl.col(f"poor.JPT.MOFval.ind{n}.CNT").cast(pl.Int32).alias(f"n_tp_ind{n}")
          for n in INDICATORS])
    return wide, side


def _sum_by(frame: pl.DataFrame, key: pl.Expr, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rows summed by ``key`` (the new ``code``) and ``extra`` key columns; when the keys
    are already unique (most levels) the rows are only re-labelled."""
    keyed = frame.with_columns(key.alias("code"))
    value_cols = [c for c in frame.columns if c not in ("id", "code", *extra)]
    if keyed.select(pl.struct("code", *extra).is_unique().all()).item():
        return keyed.select("code", *extra, *value_cols)
    return keyed.group_by("code", *extra).agg([pl.col(c).sum() for c in value_cols])


def _province_tables(levels: dict[str, tuple[pl.DataFrame, pl.DataFrame]], province: str
                     ) -> ProvinceTables:
    tam_main, tam_side = _wide(*levels["tambol"])
    vil_main, vil_side = _wide(*levels["village"])
    muni_tam = pl.col("id").str.slice(4, 2).cast(pl.Int32) >= MUNICIPAL_FROM
    municipal: Counter = Counter()
    municipal["tambons"] = tam_main.filter(muni_tam).height
    municipal["villages"] = vil_main.filter(muni_tam).height
    municipal["households"] = int(tam_main.filter(muni_tam)["n_households"].sum() or 0)
    municipal["persons"] = int(tam_main.filter(muni_tam)["n_persons"].sum() or 0)
    # amphoe = its real tambons (boundary codes) + its municipal pseudo-tambons
    amphoe_of = (pl.when(muni_tam).then(pl.lit("TH") + pl.col("id").str.slice(0, 4))
                 .otherwise(_tambon_code(pl.col("id")).str.slice(0, 6)))
    amphoe = _sum_by(tam_main, amphoe_of)
    amphoe_side = _sum_by(tam_side, amphoe_of, ("mask",))
    tambon = tam_main.filter(~muni_tam).with_columns(
        _tambon_code(pl.col("id")).alias("code")).drop("id")
    tambon_side = tam_side.filter(~muni_tam).with_columns(
        _tambon_code(pl.col("id")).alias("code")).drop("id").select("code", pl.exclude("code"))
    village_code = _tambon_code(pl.col("id").str.slice(0, 6)) + pl.col("id").str.slice(6, 2)
    village = _sum_by(vil_main.filter(~muni_tam), village_code)
    village_side = _sum_by(vil_side.filter(~muni_tam), village_code, ("mask",))
    return ProvinceTables(province=province, tambon=tambon, village=village, amphoe=amphoe,
                          side={"amphoe": amphoe_side, "tambon": tambon_side,
                                "village": village_side},
                          municipal=municipal)


# -- the whole import --------------------------------------------------------------------------


def _finish_level(level: str, frame: pl.DataFrame, names: dict[str, tuple[str, str]]
                  ) -> pl.DataFrame:
    """Identity columns (CONTRACT §3), Int32 counts, happiness from its weighted sum."""
    from service.analysis.aggregate import COUNTRY_CODE

    codes = frame["code"].to_list()
    if level == "country":
        th, en = ["ประเทศไทย"], ["Thailand"]
    elif level == "village":
        th, en = [], []
        for code in codes:
            t_th, t_en = names.get(code[:8], (code[:8], code[:8]))
            th.append(f"หมู่ {int(code[-2:])} ต.{t_th}")
            en.append(f"Moo {int(code[-2:])}, {t_en}")
    else:
        th = [names.get(c, (c, c))[0] for c in codes]
        en = [names.get(c, (c, c))[1] for c in codes]
    parent_len = {"country": None, "province": 0, "amphoe": 4, "tambon": 6, "village": 8}[level]
    parent = (pl.lit(None, dtype=pl.String) if parent_len is None
              else pl.lit(COUNTRY_CODE) if parent_len == 0
              else pl.col("code").str.slice(0, parent_len))
    province = (pl.lit(None, dtype=pl.String) if level == "country"
                else pl.col("code").str.slice(0, 4))
    counts = main_columns()
    out = frame.select(
        pl.lit(level).alias("level"), "code", parent.alias("parent_code"),
        pl.Series("name_th", th, dtype=pl.String), pl.Series("name_en", en, dtype=pl.String),
        province.alias("province_code"),
        *[pl.col(c).cast(pl.Int32) for c in counts],
        pl.when(pl.col("_happy_n") > 0).then(pl.col("_happy_w") / pl.col("_happy_n"))
        .alias("happiness"),
        *([pl.lit(None, dtype=pl.Float64).alias("lon"), pl.lit(None, dtype=pl.Float64)
           .alias("lat")] if level == "village" else []))
    return out.sort("code")


def build_tables(parts: list[ProvinceTables], names: dict[str, tuple[str, str]]
                 ) -> dict[str, pl.DataFrame]:
    """Area tables of every admin level from the provinces' rows."""
    tambon = pl.concat([p.tambon for p in parts], how="vertical_relaxed")
    village = pl.concat([p.village for p in parts], how="vertical_relaxed")
    # a DOPA tambon moved to another amphoe (530407) can add to an amphoe of another file
    amphoe = _sum_by(pl.concat([p.amphoe for p in parts], how="vertical_relaxed"),
                     pl.col("code"))
    province = _sum_by(amphoe, pl.col("code").str.slice(0, 4))
    country = _sum_by(province, pl.lit("TH"))
    raw = {"country": country, "province": province, "amphoe": amphoe, "tambon": tambon,
           "village": _sum_by(village, pl.col("code"))}
    return {level: _finish_level(level, raw[level], names) for level in ADMIN_LEVELS}


def measures_available(tables: dict[str, pl.DataFrame]) -> list[str]:
    """Count columns every level carries (absent columns mean "not available")."""
    cols = main_columns() + ["happiness"]
    return [c for c in cols if all(c in t.columns for t in tables.values())]


def import_tpmap(settings: SettingsLike, directory: str | Path, *, dataset: str,
                 round: int, store: Any = None, progress: bool = False,
                 on_progress: Callable[[float], None] | None = None) -> TpmapReport:
    """Validate every TPMAP file of ``directory`` and publish one version (or nothing).

    ``on_progress`` (a job's progress, 0-1) is called after each batch of provinces and
    before publishing.

    Returns the report: ``created`` (new version), ``existing`` (the same files are stored:
    same SHA-256, no new version) or ``rejected`` (problems listed; nothing stored).
    """
    settings = as_settings(settings)
    from service.analysis.aggregate import admin_names
    from service.geo.boundaries import hierarchy
    from service.store.catalog import validate_dataset_name
    from service.store.store import SourceAlreadyStored, open_store

    t0 = time.perf_counter()
    validate_dataset_name(dataset)
    report = TpmapReport(dataset=dataset, round=int(round))
    fileset = discover(directory, round=round, report=report)
    report.provinces = ["TH" + p for p in fileset.provinces]
    if not fileset.provinces:
        report.status = "rejected"
        report.seconds = time.perf_counter() - t0
        return report
    store = store or open_store(settings)
    report.source_sha256 = sha = source_sha256(fileset)
    existing = (None if report.n_problems
                else store.catalog.find_by_sha256(dataset, sha))
    if existing is not None:
        report.status, report.version_id = "existing", existing.id
        report.seconds = time.perf_counter() - t0
        return report
    bdir = settings.boundaries_dir
    h = hierarchy(bdir)
    known_tambons = frozenset(h.tambons.index.astype(str))
    known_amphoes = frozenset(h.amphoes.index.astype(str))
    staging = Path(tempfile.mkdtemp(prefix="tpmap-", dir=_tmp_dir(settings)))
    try:
        parts: list[ProvinceTables] = []
        municipal: Counter = Counter()
        batches = [fileset.provinces[i:i + BATCH_PROVINCES]
                   for i in range(0, len(fileset.provinces), BATCH_PROVINCES)]
        for n, batch in enumerate(batches):
            part = read_province(fileset, batch, report=report,
                                 known_tambons=known_tambons, known_amphoes=known_amphoes)
            if part is None or report.n_problems:
                continue  # keep validating the others: every problem is reported at once
            municipal.update(part.municipal)
            for level, side in part.side.items():
                side.with_columns(pl.col("code").str.slice(0, 4).alias("province_code")
                                  ).write_parquet(_side_path(staging, level, f"part-{n:03d}"),
                                                  compression="zstd")
            part.side = {}
            parts.append(part)
            if progress:
                log.info("TPMAP %s: read and checked", ", ".join(batch))
            if on_progress is not None:
                on_progress(0.1 + 0.7 * (n + 1) / len(batches))
        if report.n_problems:
            report.status = "rejected"
            return report
        report.municipal = dict(municipal)
        tables = build_tables(parts, admin_names(h))
        del parts
        report.areas = {level: t.height for level, t in tables.items()}
        if on_progress is not None:
            on_progress(0.85)
        try:
            version = _publish(settings, store, tables, staging, dataset=dataset,
                               round=int(round), sha=sha, report=report)
        except SourceAlreadyStored as exc:
            report.status, report.version_id = "existing", exc.version.id
            return report
        report.status, report.version_id = "created", version.id
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        report.seconds = time.perf_counter() - t0


def _tmp_dir(settings: SettingsLike) -> Path:
    settings = as_settings(settings)
    path = Path(settings.data_dir) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _side_path(base: Path, level: str, province: str) -> Path:
    path = base / "published" / level / f"{province}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _publish(settings: SettingsLike, store: Any, tables: dict[str, pl.DataFrame],
             staging: Path, *, dataset: str, round: int, sha: str, report: TpmapReport) -> Any:
    settings = as_settings(settings)
    from service.analysis.disclosure_published import protect_published

    min_hh = int(settings.min_cell_households)
    flags, _public = protect_published(tables, min_households=min_hh)
    with store.write_version(dataset, round=round, source_sha256=sha) as writer:
        levels: dict[str, int] = {}
        suppressed: dict[str, int] = {}
        for level, table in tables.items():
            frame = table.join(flags[level], on="code", how="left").with_columns(
                pl.col("dc_suppressed").fill_null(True)).sort("province_code", "code",
                                                              nulls_last=False)
            frame.write_parquet(writer.areas_path(level), row_group_size=50_000,
                                compression="zstd")
            levels[level] = frame.height
            suppressed[level] = int(frame["dc_suppressed"].sum())
        shutil.move(str(staging / "published"), str(writer.dir / "published"))
        country = tables["country"].row(0, named=True)
        meta = {
            "kind": "published", "source": "tpmap", "format_version": FORMAT_VERSION,
            "measures_available": measures_available(tables),
            "levels": levels, "dc_suppressed": suppressed, "min_cell_households": min_hh,
            "provinces": report.provinces, "municipal": report.municipal,
            "files": report.n_files, "tpmap_indicators": list(TPMAP_INDICATORS),
            "notices": {f"{c}:{k}": n for (c, k), n in report.notice_counts.items()},
        }
        return writer.publish(n_persons=int(country["n_persons"]),
                              n_households=int(country["n_households"]), meta=meta)
