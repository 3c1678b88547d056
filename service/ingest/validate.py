"""Parse and validate batches of raw text rows into canonical person rows.

Every rule is a vectorised polars expression over one batch; each failure becomes a problem
``(row, column, code)`` with a Thai and English reason (:data:`REASONS`). Identifier values are
never echoed in problems: national IDs and names are masked.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import shapely

from service.errors import InvalidInput
from service.ingest.free_text import FREE_TEXT_REASONS, free_text_problem_expr
from service.ingest.pseudonym import Pseudonymiser, national_id_check_expr
from service.ingest.schema import (
    ALL_COLUMNS,
    CANONICAL,
    IDENTIFIERS,
    MOO,
    PERSON_SCHEMA,
    canonical_name,
    looks_like_mojibake,
)
from service.vocabulary import CODE_REGEX

log = logging.getLogger(__name__)

#: problem code -> (Thai, English) reason
REASONS: dict[str, tuple[str, str]] = {
    "missing": ("ไม่มีค่า (จำเป็นต้องมี)", "value is required"),
    "bad_code": ("รูปแบบรหัสพื้นที่ไม่ถูกต้อง", "malformed admin code"),
    "unknown_tambon": ("ไม่พบรหัสตำบลนี้ในทะเบียนเขตการปกครอง", "unknown tambon code"),
    "code_mismatch": ("รหัสไม่ตรงกับรหัสตำบล", "code does not match the tambon code"),
    "bad_number": ("ไม่ใช่ตัวเลข", "not a number"),
    "coords_incomplete": ("มีพิกัดเพียงค่าเดียว (ต้องมีทั้งละติจูดและลองจิจูด)",
                          "only one of lon/lat is given"),
    "outside_thailand": ("พิกัดอยู่นอกประเทศไทย", "coordinates are outside Thailand"),
    "swapped_coords": ("พิกัดอยู่นอกประเทศไทย ละติจูด/ลองจิจูดอาจสลับกัน",
                       "coordinates are outside Thailand: lat and lon look swapped"),
    "bad_age": ("อายุเป็นไปไม่ได้ (ต้องเป็นจำนวนเต็ม 0-120)",
                "impossible age (must be a whole number 0-120)"),
    "bad_sex": ("เพศต้องเป็น ชาย/หญิง (M/F)", "sex must be M/F (ชาย/หญิง)"),
    "bad_bool": ("ต้องเป็น ใช่/ไม่ใช่ (1/0)", "must be yes/no (1/0)"),
    "bad_indicator": ("ผลตัวชี้วัดต้องเป็น 1 (ไม่ผ่าน), 0 (ผ่าน) หรือว่าง",
                      "indicator must be 1 (fails), 0 (meets) or empty"),
    "bad_income": ("รายได้ต้องเป็นตัวเลขไม่ติดลบ", "income must be a non-negative number"),
    "bad_national_id": ("เลขประจำตัวประชาชนต้องมี 13 หลัก", "national ID must have 13 digits"),
    "bad_check_digit": ("เลขประจำตัวประชาชนหลักตรวจสอบไม่ถูกต้อง",
                        "national ID check digit is wrong"),
    "excel_number": ("Excel แปลงเลขประจำตัวประชาชนเป็นตัวเลขทศนิยม (ตัวเลขสูญหาย) "
                     "ให้จัดรูปแบบคอลัมน์เป็นข้อความ",
                     "Excel turned the national ID into a rounded number: format the column "
                     "as text"),
    "no_person_id": ("ไม่มีเลขประจำตัวประชาชน ชื่อ หรือรหัสบุคคล",
                     "no national ID, name or person id"),
    "no_household": ("ไม่มีรหัสครัวเรือนหรือรหัสประจำบ้าน", "no household id or house number"),
    "duplicate_person": ("บุคคลซ้ำ (เลขประจำตัวเดียวกันปรากฏแล้ว)",
                         "duplicate person (same identifier seen before)"),
    "wrong_province": ("แถวนี้อยู่นอกจังหวัดของผู้นำเข้า",
                       "row belongs to a province outside the uploader's own"),
    "point_outside_province": (
        "พิกัดอยู่นอกจังหวัดของผู้นำเข้า (จะถูกนับในจังหวัดอื่น) ตรวจสอบพิกัดหรือให้ส่วนกลางนำเข้า",
        "the coordinates lie outside the uploader's province (the person would be counted "
        "in another province): check the point or ask a national user to import the row"),
    "mojibake": ("ข้อความอ่านไม่ออก (ถอดรหัสอักขระผิด)",
                 "garbled text (decoded with the wrong encoding)"),
    "municipal_unlocated": (
        "รหัสตำบลเทศบาล (≥ 51) ต้องมีพิกัดที่อยู่ในตำบลหนึ่งของประเทศ จึงจะระบุตำบลได้ "
        "กรุณาเพิ่มพิกัดหรือใช้รหัสตำบลจริง",
        "municipal pseudo-tambon code (≥ 51) needs coordinates inside a tambon to be placed: "
        "add lon/lat or give the real tambon code"),
}

# a national ID or a name in hh_id / person_id (service.ingest.free_text): refused
REASONS.update(FREE_TEXT_REASONS)

#: columns holding identifiers or codes typed by people: Thai digits (๐-๙) become 0-9
#: before anything else, so an ID gets the same pseudonym however it was typed
_DIGIT_COLUMNS = ("national_id", "house_id", "person_id", "hh_id")
_THAI_DIGITS = list("๐๑๒๓๔๕๖๗๘๙")
_ASCII_DIGITS = list("0123456789")


def _clean_id(name: str, src: str) -> pl.Expr:
    expr = _clean(src)
    if name in _DIGIT_COLUMNS:
        expr = expr.str.replace_many(_THAI_DIGITS, _ASCII_DIGITS)
    return expr.alias(name)


#: notice code -> (Thai, English) reason: reported with a count, the row is still accepted
NOTICES: dict[str, tuple[str, str]] = {
    "municipal_tambon": (
        "รหัสตำบลเทศบาล (รหัส 2 หลักท้าย ≥ 51) ใช้รหัสอำเภอ/จังหวัด และหาตำบลจากพิกัด",
        "municipal pseudo-tambon code (last two digits ≥ 51): amphoe and province kept, "
        "the tambon is found from the coordinates"),
    "no_national_id": (
        "ไม่มีเลขประจำตัวประชาชน: เชื่อมโยงกับรอบสำรวจอื่นได้ด้วยครัวเรือน (และชื่อ) เท่านั้น",
        "no national ID: linked to other rounds by household (and name) only"),
    "outside_amphoe": (
        "พิกัดอยู่นอกอำเภอที่ระบุ ระบบจะใช้ตำแหน่งตามพิกัด",
        "coordinates fall outside the declared amphoe: the point decides where the person "
        "is counted"),
}

#: columns that must be present (one of each group)
REQUIRED_GROUPS: tuple[tuple[str, ...], ...] = (
    ("person_id", "national_id", "first_name"),
    ("hh_id", "house_id"),
    ("tambon_code", "village_id"),
    ("age",),
    ("sex",),
)

_TRUE = ("1", "1.0", "true", "t", "yes", "y", "ใช่", "มี", "ได้รับ", "เป็น", "จริง", "✓")
_FALSE = ("0", "0.0", "false", "f", "no", "n", "ไม่ใช่", "ไม่มี", "ไม่ได้รับ", "ไม่เป็น", "เท็จ")
_SEX = {"m": "M", "male": "M", "ชาย": "M", "ช": "M", "1": "M",
        "f": "F", "female": "F", "หญิง": "F", "ญ": "F", "2": "F"}
_IND = {"1": 1, "1.0": 1, "ไม่ผ่าน": 1, "fail": 1, "0": 0, "0.0": 0, "ผ่าน": 0, "pass": 0}
_IND_NULL = ("-", "na", "n/a", "ไม่เกี่ยวข้อง")


def _variants(mapping: dict) -> dict:
    """Add upper-case and capitalised spellings of every key (no per-row lower-casing)."""
    out: dict = {}
    for k, v in mapping.items():
        for variant in (k, k.upper(), k.capitalize()):
            out.setdefault(variant, v)
    return out


_SEX_ANY = _variants(_SEX)
_BOOL_ANY = _variants({**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)})
_IND_ANY = _variants({**_IND, **dict.fromkeys(_IND_NULL, -1)})
_IND_NULL_ANY = frozenset(k for k, v in _IND_ANY.items() if v == -1)
_MASKED = {"national_id", "first_name", "last_name", "house_id"}
#: a national ID a spreadsheet turned into a number (1.23457E+12)
_EXCEL_NUMBER = r"(?i)^\d(\.\d+)?e\+?\d+$"
#: the columns every admin code rule reads (Validator._admin_codes)
_CODE_KEYS = ("tambon_code", "village_id", "moo", "amphoe_code", "province_code")
#: columns parsed by one dictionary lookup: name -> (dictionary, type)
_PARSED: dict[str, tuple[dict, pl.DataType]] = {"sex": (_SEX_ANY, pl.String())}
for _col in CANONICAL:
    if _col.kind == "bool":
        _PARSED[_col.name] = (_BOOL_ANY, pl.Boolean())
    elif _col.kind == "indicator":
        _PARSED[_col.name] = (_IND_ANY, pl.Int8())
# values are parsed as typed only because no key changes when stripped (Validator._cleaned)
assert all(k and not k[0].isspace() and not k[-1].isspace()
           for d, _t in _PARSED.values() for k in d)


def _parse(value: pl.Expr, name: str) -> pl.Expr:
    """The parsed value of a yes/no, indicator or sex column (indicators: -1 = not
    applicable -> null)."""
    mapping, dtype = _PARSED[name]
    coded = value.replace_strict(mapping, default=None, return_dtype=dtype)
    if mapping is _IND_ANY:
        return pl.when(coded == -1).then(None).otherwise(coded)
    return coded


def _lookup(value: pl.Expr, name: str, keys: list[str]) -> pl.Expr:
    """:func:`_parse` of a column whose values are all among ``keys`` (keys of its
    dictionary): a few equality tests instead of a hash lookup of every value."""
    mapping, dtype = _PARSED[name]
    if not keys or len(keys) > 8:
        return _parse(value, name)

    def result(key: str) -> pl.Expr:
        v = mapping[key]
        return pl.lit(None if mapping is _IND_ANY and v == -1 else v, dtype=dtype)

    expr: Any = pl.when(value == keys[0]).then(result(keys[0]))
    for key in keys[1:]:
        expr = expr.when(value == key).then(result(key))
    return expr.otherwise(pl.lit(None, dtype=dtype))


def _empty_to_null(name: str) -> pl.Expr:
    c = pl.col(name)
    c = pl.when(c == "").then(None).otherwise(c)
    if name in _DIGIT_COLUMNS:
        c = c.str.replace_many(_THAI_DIGITS, _ASCII_DIGITS)
    return c.alias(name)


@functools.lru_cache(maxsize=2)
def admin_codes(boundaries_dir: str) -> tuple[frozenset[str], object]:
    """Known tambon codes and a prepared outline of Thailand (buffered ~2 km for coasts)."""
    import geopandas as gpd

    base = Path(boundaries_dir)
    tambons = pl.read_parquet(base / "tambons.parquet", columns=["code"])["code"]
    provinces = gpd.read_parquet(base / "provinces.parquet")
    outline = shapely.union_all(provinces.geometry.values).buffer(0.02).simplify(0.01)
    shapely.prepare(outline)
    return frozenset(tambons.to_list()), outline


@functools.lru_cache(maxsize=2)
def amphoe_codes(boundaries_dir: str) -> frozenset[str]:
    """Known amphoe codes (municipal pseudo-tambons roll up to one of them)."""
    return frozenset(pl.read_parquet(Path(boundaries_dir) / "amphoes.parquet",
                                     columns=["code"])["code"].to_list())


@functools.lru_cache(maxsize=2)
def tambon_index(boundaries_dir: str) -> tuple[np.ndarray, shapely.STRtree]:
    """Tambon codes and a spatial index of their polygons (locating municipal rows)."""
    import geopandas as gpd

    tambons = gpd.read_parquet(Path(boundaries_dir) / "tambons.parquet", columns=["code",
                                                                                  "geometry"])
    return tambons["code"].to_numpy().astype(str), shapely.STRtree(tambons.geometry.values)


def tambon_of_points(boundaries_dir: str, x: np.ndarray, y: np.ndarray) -> pl.Series:
    """Tambon code containing each point (null where none does), as the pipeline locates."""
    codes, tree = tambon_index(boundaries_dir)
    idx = np.full(len(x), -1, dtype=np.int64)
    if len(x):
        pts, polys = tree.query(shapely.points(x, y), predicate="within")
        idx[pts] = polys
    inside = idx >= 0
    return (pl.Series(codes, dtype=pl.String).gather(np.where(inside, idx, 0))
            .scatter(np.flatnonzero(~inside), None))


@dataclass
class FileMapping:
    """How a file's headers map to canonical columns."""

    columns: dict[str, str]                       # canonical -> source header
    ignored: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # optional canonical columns not in file

    @property
    def has_identifiers(self) -> bool:
        return any(c.name in self.columns for c in IDENTIFIERS)


def map_headers(headers: list[str], *, file: str) -> FileMapping:
    """Map source headers to canonical names; refuse duplicates, mojibake and missing columns."""
    columns: dict[str, str] = {}
    ignored: list[str] = []
    for h in headers:
        if looks_like_mojibake(h):
            raise InvalidInput(
                f"หัวคอลัมน์ {h!r} อ่านไม่ออก (ถอดรหัสอักขระผิด) กรุณาบันทึกไฟล์ใหม่เป็น CSV UTF-8 / "
                "header is garbled text (wrong encoding upstream): save the file again as "
                "'CSV UTF-8'", file=file, row=1, column=h)
        name = canonical_name(h)
        if name is None:
            ignored.append(h)
            continue
        if name in columns:
            raise InvalidInput(
                f"คอลัมน์ {columns[name]!r} และ {h!r} หมายถึง {name} เหมือนกัน / columns "
                f"{columns[name]!r} and {h!r} both mean {name}", file=file, row=1, column=h)
        columns[name] = h
    missing = [g for g in REQUIRED_GROUPS if not any(c in columns for c in g)]
    if missing:
        names = "; ".join(" or ".join(f"{c} ({ALL_COLUMNS[c].label_th})" for c in g)
                          for g in missing)
        raise InvalidInput(f"ขาดคอลัมน์ที่จำเป็น / required column(s) missing: {names}",
                           file=file, row=1)
    absent = [c.name for c in CANONICAL if c.name not in columns
              and c.name not in ("person_id", "hh_id", "village_id", "amphoe_code",
                                 "province_code", "tambon_code")]
    return FileMapping(columns, ignored, absent)


def _empty_problems() -> pl.DataFrame:
    return pl.DataFrame(schema={"_row": pl.Int64, "column": pl.String, "code": pl.String,
                                "value": pl.String})


def _clean(col: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def _mask(column: str, value: pl.Expr) -> pl.Expr:
    if column in _MASKED:
        return pl.when(value.is_null()).then(None).otherwise(pl.lit("***"))
    return value.str.slice(0, 60)


def _garbled(values: pl.Series) -> pl.Series:
    """The distinct values of a name column that are mojibake (UTF-8 Thai decoded with the
    wrong code page: U+FFFD, "à¸"/"à¹", or mostly "เธ"/"เน" pairs)."""
    v = pl.col("v")
    return values.drop_nulls().unique().to_frame("v").filter(
        v.str.contains("\ufffd|à¸|à¹") | (
            (v.str.count_matches("เ[ธน]") >= 2)
            & (v.str.count_matches("เ[ธน]") * 4 >= v.str.count_matches("[\u0e00-\u0e7f]"))))["v"]


def _code_form(expr: pl.Expr) -> pl.Expr:
    """Admin code as typed -> ``TH`` + digits, without DOPA remapping.

    Accepted: COD-AB (``TH750101``, any case), DOPA/TPMAP digits (``750101``), digits with
    spaces or hyphens (``75-01-01``) and numbers a spreadsheet stored as floats
    (``750101.0``). Anything else stays as typed and fails the format check. One regex pass
    (a chain of when/then over the same text costs several times more).
    """
    return (expr.str.to_uppercase().str.replace_all(r"[\s\-]", "")
            .str.replace(r"^(?:TH)?(\d+)(?:\.0*)?$", "TH${1}"))


#: DOPA codes whose COD-AB code differs (service.geo.boundaries.from_dopa): tambon and the
#: villages of it. COD-AB has no TH530407, so the TH-prefixed form is unambiguous too.
DOPA_TO_CODAB = {"TH530407": "TH530306"}


def _code(expr: pl.Expr, digits: int) -> pl.Expr:
    form = _code_form(expr)
    if digits < 8:
        return form
    tail = "" if digits == 8 else rf"(\d{{{digits - 8}}})"
    for dopa, codab in DOPA_TO_CODAB.items():
        form = form.str.replace(rf"^{dopa}{tail}$", codab + ("${1}" if tail else ""))
    return form


class Validator:
    """Turns raw batches of one file into canonical rows and problems."""

    def __init__(self, mapping: FileMapping, *, file: str, boundaries_dir: str,
                 pseudonymiser: Callable[[], Pseudonymiser], allowed_province: str | None = None
                 ) -> None:
        self.mapping, self.file = mapping, file
        self.boundaries_dir = str(boundaries_dir)
        self.tambons, self.outline = admin_codes(self.boundaries_dir)
        self.amphoes = amphoe_codes(self.boundaries_dir)
        self._tambon_list = pl.Series(sorted(self.tambons), dtype=pl.String).implode()
        self._amphoe_list = pl.Series(sorted(self.amphoes), dtype=pl.String).implode()
        #: notices (accepted rows) of the last processed batch: _row, column, code, value
        self.last_notices = _empty_problems()
        self._pseudonymiser = pseudonymiser
        self.allowed_province = allowed_province
        #: columns of the current batch parsed as typed (see _cleaned)
        self._as_typed: set[str] = set()
        if mapping.has_identifiers:
            pseudonymiser()  # refuse at once when the key is missing

    # ------------------------------------------------------------------------------------
    def process(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Return (canonical rows with ``_row``, problems: _row, column, code, value).

        Rows with at least one problem are not in the first frame.
        """
        cols = self.mapping.columns
        df = self._cleaned(raw)
        for name in ALL_COLUMNS:
            if name not in df.columns:
                df = df.with_columns(pl.lit(None, dtype=pl.String).alias(name))
        empty = pl.all_horizontal([pl.col(c).is_null() for c in cols])
        n_blank = df.filter(empty).height
        df = df.filter(~empty)
        checks: list[tuple[pl.Expr, str, str, pl.Expr | None]] = []
        out: dict[str, pl.Expr] = {}

        # -- admin codes ------------------------------------------------------------------
        # every code rule reads the five code columns only, whose values repeat (a village's
        # households): computed once per distinct combination and joined back to the rows
        df = df.join(self._admin_codes(df.select(_CODE_KEYS).unique()), on=list(_CODE_KEYS),
                     how="left", nulls_equal=True, maintain_order="left")
        t = pl.col("_tambon")
        muni = pl.col("_muni")
        bad_tambon_fmt = t.is_not_null() & ~pl.col("_t_fmt")
        checks += [
            (t.is_null(), "tambon_code", "missing", None),
            (bad_tambon_fmt, "tambon_code", "bad_code", pl.col("tambon_code")),
            (pl.col("_t_fmt") & ~pl.col("_t_known") & ~muni,
             "tambon_code", "unknown_tambon", pl.col("tambon_code")),
            (pl.col("moo").is_not_null() & ~pl.col("_moo").is_between(0, 99).fill_null(False),
             MOO.name, "bad_code",
             pl.col("moo")),
            (pl.col("_village").is_not_null() & ~pl.col("_v_fmt"),
             "village_id", "bad_code", pl.col("village_id")),
            (pl.col("_v_fmt") & t.is_not_null()
             & (pl.col("_village").str.slice(0, 8) != t), "village_id", "code_mismatch",
             pl.col("village_id")),
        ]
        for name, n in (("amphoe_code", 6), ("province_code", 4)):
            given = pl.col(f"_given_{name}")
            checks.append((given.is_not_null() & t.is_not_null()
                           & (given != t.str.slice(0, n))
                           & (given != pl.col("_tambon_typed").str.slice(0, n)).fill_null(True),
                           name, "code_mismatch", pl.col(name)))
        # the canonical codes (__village_id, __tambon_code, __amphoe_code, __province_code)
        # come with the join
        if self.allowed_province is not None:
            checks.append((t.is_not_null() & (t.str.slice(0, 4) != self.allowed_province),
                           "tambon_code", "wrong_province", pl.col("tambon_code")))

        # -- coordinates ------------------------------------------------------------------
        for c in ("lon", "lat"):
            parsed = pl.col(c).cast(pl.Float64, strict=False)
            df = df.with_columns(
                pl.when(parsed.is_finite()).then(parsed).otherwise(None).alias(f"_{c}"))
            checks.append((pl.col(c).is_not_null() & pl.col(f"_{c}").is_null(), c,
                           "bad_number", pl.col(c)))
        lon, lat = pl.col("_lon"), pl.col("_lat")
        checks.append((lon.is_null() != lat.is_null(), "lon", "coords_incomplete", None))
        both = df.select(lon.is_not_null() & lat.is_not_null()).to_series()
        inside = np.ones(df.height, dtype=bool)
        swapped = np.zeros(df.height, dtype=bool)
        if both.any():
            x = df["_lon"].fill_null(0).to_numpy()
            y = df["_lat"].fill_null(0).to_numpy()
            idx = both.to_numpy()
            inside[idx] = shapely.contains_xy(self.outline, x[idx], y[idx])
            swapped[idx] = ~inside[idx] & shapely.contains_xy(self.outline, y[idx], x[idx])
        df = df.with_columns(_inside=pl.Series(inside), _swapped=pl.Series(swapped))
        if self.allowed_province is not None:
            # a provincial uploader's point decides where the person is counted: a point in
            # another province is refused, never counted in that province's tables
            df = df.with_columns(_point_tambon=pl.lit(None, dtype=pl.String))
            sub = (df.with_row_index("_i")
                   .filter(lon.is_not_null() & lat.is_not_null() & pl.col("_inside"))
                   .select("_i", "_lon", "_lat"))
            if sub.height:
                points = sub.select("_lon", "_lat").unique()
                points = points.with_columns(_point_tambon=tambon_of_points(
                    self.boundaries_dir, points["_lon"].to_numpy(), points["_lat"].to_numpy()))
                sub = sub.join(points, on=["_lon", "_lat"], how="left", maintain_order="left")
                df = df.with_columns(df["_point_tambon"].scatter(sub["_i"],
                                                                 sub["_point_tambon"]))
            checks.append((pl.col("_point_tambon").is_not_null()
                           & (t.str.slice(0, 4) == self.allowed_province).fill_null(True)
                           & (pl.col("_point_tambon").str.slice(0, 4)
                              != self.allowed_province), "lon", "point_outside_province",
                           pl.format("{} {}", pl.col("lon"), pl.col("lat"))))
        # municipal rows: the tambon their point lies in (as service.geo.locate finds it)
        df = df.with_columns(_located=pl.lit(None, dtype=pl.String))
        sub = (df.with_row_index("_i")
               .filter(muni & lon.is_not_null() & lat.is_not_null() & pl.col("_inside"))
               .select("_i", "_lon", "_lat"))
        if sub.height:
            # once per distinct point (household members share one)
            points = sub.select("_lon", "_lat").unique()
            points = points.with_columns(_located=tambon_of_points(
                self.boundaries_dir, points["_lon"].to_numpy(), points["_lat"].to_numpy()))
            sub = sub.join(points, on=["_lon", "_lat"], how="left", maintain_order="left")
            df = df.with_columns(df["_located"].scatter(sub["_i"], sub["_located"]))
        checks.append((muni & ((lon.is_null() & lat.is_null())
                               | (pl.col("_inside") & pl.col("_located").is_null())),
                       "tambon_code", "municipal_unlocated", pl.col("tambon_code")))
        notices: list[tuple[pl.Expr, str, str, pl.Expr | None]] = [
            (muni, "tambon_code", "municipal_tambon", pl.col("tambon_code")),
            (muni & pl.col("_located").is_not_null()
             & (pl.col("_located").str.slice(0, 6) != t.str.slice(0, 6)), "lon",
             "outside_amphoe", pl.format("{} {} ({})", pl.col("lon"), pl.col("lat"),
                                         pl.col("_located"))),
        ]
        checks += [
            (~pl.col("_inside") & ~pl.col("_swapped"), "lon", "outside_thailand",
             pl.format("{} {}", pl.col("lon"), pl.col("lat"))),
            (pl.col("_swapped"), "lon", "swapped_coords",
             pl.format("{} {}", pl.col("lon"), pl.col("lat"))),
        ]
        out["lon"], out["lat"] = lon, lat

        # -- person attributes ------------------------------------------------------------
        age = pl.col("age").cast(pl.Float64, strict=False)
        checks += [
            (pl.col("age").is_null(), "age", "missing", None),
            (pl.col("age").is_not_null() & (age.is_null() | (age != age.floor()) | (age < 0)
                                            | (age > 120)), "age", "bad_age", pl.col("age")),
        ]
        out["age"] = pl.when((age >= 0) & (age <= 120)).then(age).otherwise(None).cast(pl.Int16)
        # one dictionary lookup per column (case variants precomputed); a value that is
        # present but maps to nothing is the error, checked on the parsed "__" column
        out["sex"] = _parse(pl.col("sex"), "sex")
        # a column parsed as typed holds dictionary keys only (or is absent): its "bad"
        # rule cannot fire and is not evaluated
        typed = self._as_typed | (set(_PARSED) - set(cols))
        checks.append((pl.col("sex").is_null(), "sex", "missing", None))
        if "sex" not in typed:
            checks.append((pl.col("sex").is_not_null() & pl.col("__sex").is_null(), "sex",
                           "bad_sex", pl.col("sex")))
        for col in CANONICAL:
            if col.kind == "bool":
                out[col.name] = _parse(pl.col(col.name), col.name)
                if col.name not in typed:
                    checks.append((pl.col(col.name).is_not_null()
                                   & pl.col(f"__{col.name}").is_null(),
                                   col.name, "bad_bool", pl.col(col.name)))
            elif col.kind == "indicator":
                out[col.name] = _parse(pl.col(col.name), col.name)
                if col.name not in typed:
                    checks.append((pl.col(col.name).is_not_null()
                                   & pl.col(f"__{col.name}").is_null()
                                   & ~pl.col(col.name).is_in(list(_IND_NULL_ANY)), col.name,
                                   "bad_indicator", pl.col(col.name)))
        income = pl.col("income_per_person_thb")
        money = income.cast(pl.Float64, strict=False)
        if df.select((income.is_not_null() & money.is_null()).any()).item():
            # separators, white space, ฿ or บาท somewhere: removed (a number that parses as
            # typed holds none of them, so removing changes nothing elsewhere)
            money = income.str.replace_all(r"[,\s฿]|บาท", "").cast(pl.Float64, strict=False)
        df = df.with_columns(_money=money)
        money = pl.col("_money")
        checks.append((pl.col("income_per_person_thb").is_not_null()
                       & (money.is_null() | (money < 0) | ~money.is_finite()),
                       "income_per_person_thb", "bad_income", pl.col("income_per_person_thb")))
        out["income_per_person_thb"] = pl.when(money >= 0).then(money).otherwise(None)

        # -- identifiers ------------------------------------------------------------------
        # typed with dots, dashes, spaces or a label ("ID: 1.2345.67890.12.3"): the 13 digits
        # are the ID (normalised before the HMAC, so the pseudonym is the same however typed)
        national_id = pl.col("national_id")
        if df.select(national_id.str.contains(r"^[0-9]{13}$").sum()
                     == national_id.count()).item():
            nid = national_id  # 13 ASCII digits each: nothing to remove
        else:
            nid = national_id.str.replace_all(r"[\s\-]", "")
            digits = national_id.str.replace_all(r"\D", "")
            nid = pl.when(~nid.str.contains(_EXCEL_NUMBER)
                          & (digits.str.len_chars() == 13)).then(digits).otherwise(nid)
        df = df.with_columns(_nid=nid)
        # each test once: the rules below and the pseudonyms read them
        nidc = pl.col("_nid")
        df = df.with_columns(_nid_13=nidc.str.contains(r"^\d{13}$"),
                             _nid_excel=nidc.str.contains(_EXCEL_NUMBER))
        df = df.with_columns(_nid_ok=pl.col("_nid_13") & national_id_check_expr("_nid"))
        checks += [
            (pl.col("_nid_excel"), "national_id", "excel_number", None),
            (nidc.is_not_null() & ~pl.col("_nid_excel") & ~pl.col("_nid_13"), "national_id",
             "bad_national_id", None),
            (pl.col("_nid_13") & ~pl.col("_nid_ok"), "national_id", "bad_check_digit", None),
        ]
        # a household id is a code or a house number, never a national ID or a name; a person
        # id holding a national ID is that ID (hashed), never a name (SEC, issue 16)
        df = df.with_columns(_hh_text=free_text_problem_expr("hh_id"),
                             _pid_text=free_text_problem_expr("person_id"))
        for code in ("id_in_free_text", "name_in_free_text"):
            checks.append((pl.col("_hh_text") == code, "hh_id", code, None))
        checks.append((pl.col("_pid_text") == "name_in_free_text", "person_id",
                       "name_in_free_text", None))
        for name in ("first_name", "last_name"):
            # names repeat (สมชาย, ใจดี): the regexes run once per distinct name
            checks.append((pl.col(name).is_in(_garbled(df[name]).implode()), name, "mojibake",
                           None))

        # evaluate the checks
        # parsed values go to "__<name>" so the checks can still quote the raw text (the
        # columns parsed as typed by _cleaned are there already)
        df = df.with_columns(**{f"__{k}": e for k, e in out.items() if f"__{k}" not in df.columns})
        problems = self._problems(df, checks)

        # pseudonyms (only rows that are otherwise valid need them, but hashing all is simpler)
        df = self._pseudonymise(df)
        more = [
            (pl.col("person_id").is_null(), "person_id", "no_person_id", None),
            (pl.col("hh_id").is_null(), "hh_id", "no_household", None),
        ]
        problems = pl.concat([problems, self._problems(df, more)])
        bad_rows = problems["_row"].unique()
        good = df.filter(~pl.col("_row").is_in(bad_rows.implode()))
        if "national_id" in self.mapping.columns:  # PANEL hook: who links by household only
            notices.append((pl.col("_nid").is_null() & pl.col("person_id").is_not_null(),
                            "national_id", "no_national_id", None))
        self.last_notices = self._problems(good, notices)
        good = good.select(pl.col("_row"), *[
            pl.col(c if c in ("person_id", "hh_id") else f"__{c}").cast(t, strict=True).alias(c)
            for c, t in PERSON_SCHEMA.items()])
        if n_blank:
            log.debug("%s: %d empty rows skipped", self.file, n_blank)
        self.n_blank = getattr(self, "n_blank", 0) + n_blank
        return good, problems

    def _admin_codes(self, df: pl.DataFrame) -> pl.DataFrame:
        """The admin code columns of distinct (tambon, village, moo, amphoe, province) as
        typed: the normalised codes, the tests the rules read and the canonical codes."""
        # as typed (DOPA codes not remapped): a DOPA amphoe/province next to it agrees too
        df = df.with_columns(_tambon_typed=_code_form(pl.col("tambon_code")),
                             _village=_code(pl.col("village_id"), 10))
        village = pl.col("_village")
        tambon = _code(pl.col("_tambon_typed"), 8)
        tambon = pl.when(pl.col("_tambon_typed").is_null()
                         & village.str.contains(CODE_REGEX["village"])).then(
            village.str.slice(0, 8)).otherwise(tambon)
        df = df.with_columns(_tambon=tambon,
                             _moo=pl.col("moo").str.extract(
                                 r"^\s*(?:หมู่(?:ที่)?\s*)?(\d{1,3})(?:\.0+)?\s*$")
                             .cast(pl.Int32, strict=False))
        # moo 0 = outside any village (municipal areas): valid, but no village_id
        df = df.with_columns(
            _village=pl.when(pl.col("_village").is_null() & pl.col("_moo").is_between(1, 99))
            .then(pl.col("_tambon") + pl.col("_moo").cast(pl.String).str.zfill(2))
            .otherwise(pl.col("_village")))
        t = pl.col("_tambon")
        df = df.with_columns(_t_fmt=t.str.contains(CODE_REGEX["tambon"]),
                             _t_known=t.is_in(self._tambon_list),
                             _v_fmt=pl.col("_village").str.contains(CODE_REGEX["village"]),
                             _given_amphoe_code=_code(pl.col("amphoe_code"), 6),
                             _given_province_code=_code(pl.col("province_code"), 4))
        # TPMAP/DOPA municipal pseudo-tambons (tt >= 51) of a known amphoe: the amphoe and
        # province are kept, the tambon is left unknown for the pipeline to find from lon/lat
        df = df.with_columns(_muni=(
            pl.col("_t_fmt") & ~pl.col("_t_known")
            & (t.str.slice(6, 2).cast(pl.Int32, strict=False) >= 51)
            & t.str.slice(0, 6).is_in(self._amphoe_list)).fill_null(False))
        muni = pl.col("_muni")
        # a village code needs a real tambon: municipal rows have none (null = unknown)
        return df.with_columns(
            __village_id=pl.when(muni).then(None).otherwise(pl.col("_village")),
            __tambon_code=pl.when(muni).then(None).otherwise(t),
            __amphoe_code=t.str.slice(0, 6),
            __province_code=t.str.slice(0, 4))

    def _cleaned(self, raw: pl.DataFrame) -> pl.DataFrame:
        """``_row`` and the mapped columns by canonical name, as :func:`_clean_id` gives them
        (stripped, empty -> null, Thai digits), plus ``__<name>`` already parsed for the
        yes/no, indicator and sex columns whose every value is a key of their dictionary.

        Those values are kept as typed and parsed from their few distinct values: no key has
        white space or is empty, so stripping them changes nothing (a column holding one
        value that is not a key, " 1" or "", is cleaned and parsed by the general rule, as
        before). Elsewhere the text is stripped once (``_clean`` strips twice)."""
        cols = self.mapping.columns
        parsed: dict[str, pl.Expr] = {}
        for name, src in cols.items():
            if name not in _PARSED:
                continue
            mapping, dtype = _PARSED[name]
            values = raw[src].drop_nulls().unique().to_list()
            if all(v in mapping for v in values):
                parsed[name] = _lookup(pl.col(src), name, values)
        stripped = raw.select(pl.col("_row"), *[
            (pl.col(src) if name in parsed else pl.col(src).str.strip_chars()).alias(name)
            for name, src in cols.items()],
            *[e.alias(f"__{name}") for name, e in parsed.items()])
        self._as_typed = set(parsed)
        return stripped.with_columns(*[_empty_to_null(name) for name in cols
                                       if name not in parsed])

    def identities(self, raw: pl.DataFrame) -> pl.DataFrame:
        """Pseudonyms next to the identifying columns of every row (re-identification)."""
        df = raw.select(pl.col("_row"),
                        *[_clean_id(name, src) for name, src in self.mapping.columns.items()])
        for name in ALL_COLUMNS:
            if name not in df.columns:
                df = df.with_columns(pl.lit(None, dtype=pl.String).alias(name))
        df = df.with_columns(_nid=pl.col("national_id").str.replace_all(r"[\s\-]", ""))
        df = self._pseudonymise(df)
        return df.select(pl.col("_row").alias("row"), "person_id", "hh_id", "national_id", "first_name",
                         "last_name", "house_id", "tambon_code", "village_id", "moo")

    def _problems(self, df: pl.DataFrame,
                  checks: Sequence[tuple[pl.Expr, str, str, pl.Expr | None]]) -> pl.DataFrame:
        frames = []
        # one pass computes every mask; only rules that fired are filtered (most never do)
        masks = df.select([mask.fill_null(False).alias(f"m{i}")
                           for i, (mask, _c, _k, _v) in enumerate(checks)])
        fired = masks.select(pl.all().any()).row(0) if df.height else ()
        for i, hit in enumerate(fired):
            if not hit:
                continue
            _mask_expr, column, code, value = checks[i]
            value_expr = (_mask(column, value) if value is not None
                          else pl.lit(None, dtype=pl.String))
            frames.append(df.filter(masks[f"m{i}"]).select(
                pl.col("_row"), pl.lit(column).alias("column"), pl.lit(code).alias("code"),
                value_expr.cast(pl.String).alias("value")))
        if not frames:
            return _empty_problems()
        return pl.concat(frames).with_columns(pl.col("_row").cast(pl.Int64))

    def _pseudonymise(self, df: pl.DataFrame) -> pl.DataFrame:
        """person_id / hh_id from identifiers; raw-looking supplied ids are hashed too."""
        cols = self.mapping.columns
        ps = self._pseudonymiser
        pid = pl.col("person_id")
        hh = pl.col("hh_id")
        # a supplied id holding a national ID / house number however typed (dots, a label), or a
        # person's name (Thai letters, words), is hashed: never stored in clear
        pid_digits = pid.str.replace_all(r"\D", "")
        hh_digits = hh.str.replace_all(r"\D", "")
        raw_pid = ((pid_digits.str.len_chars() == 13)
                   & ~pid.str.contains(r"^TH\d") | pid.str.contains(r"[\u0e00-\u0e7f]"))
        raw_hh = (hh_digits.str.contains(r"^\d{11}$|^\d{13}$") & ~hh.str.contains(r"^TH\d")
                  | hh.str.contains(r"[\u0e00-\u0e7f]|[A-Za-z]{2,}\s+[A-Za-z]{2,}"))
        need_hash = df.select(raw_pid.any() | raw_hh.any()).item()
        if not (self.mapping.has_identifiers or need_hash):
            return df
        p = ps()
        valid_nid = df["_nid_ok"] if "_nid_ok" in df.columns else df.select(
            pl.col("_nid").str.contains(r"^\d{13}$") & national_id_check_expr("_nid")
        ).to_series()
        nid_hash = p.series("pid", df["_nid"].zip_with(valid_nid.fill_null(False),
                                                         pl.Series([None] * df.height,
                                                                   dtype=pl.String)))
        sup_pid = df.select(pl.when(raw_pid).then(None).otherwise(pid)).to_series()
        pid_norm = pl.when(pid_digits.str.len_chars() == 13).then(pid_digits).otherwise(
            pid.str.replace_all(r"\s+", " ").str.strip_chars())
        raw_pid_all = df.select(pl.when(raw_pid).then(pid_norm)
                                ).to_series()
        raw_pid_vals = raw_pid_all if raw_pid_all.null_count() < df.height else None
        hh_norm = pl.when(hh_digits.str.contains(r"^\d{11}$|^\d{13}$")).then(hh_digits).otherwise(
            hh.str.replace_all(r"\s+", " ").str.strip_chars())
        house = df.select(pl.when(raw_hh).then(hh_norm)
                          .otherwise(pl.col("house_id").str.replace_all(r"[\s\-]", ""))).to_series()
        hh_hash = p.series("hh", house)
        hh_final = hh_hash.fill_null(df.select(pl.when(raw_hh).then(None).otherwise(hh))
                                     .to_series())
        df = df.with_columns(hh_id=hh_final)
        person = nid_hash
        if raw_pid_vals is not None:
            person = person.fill_null(p.series("pid", raw_pid_vals))
        person = person.fill_null(sup_pid)
        if ("first_name" in cols or "last_name" in cols) and person.null_count():
            df = df.with_columns(_has_pid=person.is_not_null())
            names = df.select(
                pl.when(~pl.col("_has_pid") & (pl.col("first_name").is_not_null()
                                               | pl.col("last_name").is_not_null()))
                .then(pl.concat_str([
                    pl.col("hh_id").fill_null(""),
                    pl.col("first_name").fill_null("").str.to_lowercase()
                    .str.replace_all(r"\s+", " ").str.strip_chars(),
                    pl.col("last_name").fill_null("").str.to_lowercase()
                    .str.replace_all(r"\s+", " ").str.strip_chars()], separator="|"))
            ).to_series()
            # a name-only person is hashed with the household so namesakes stay distinct
            person = person.fill_null(p.series("name", names))
        return df.with_columns(person_id=person)
