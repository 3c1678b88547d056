"""The ingest schema: canonical person columns (docs/CONTRACT.md §1), how each is parsed, and
the Thai and English header names accepted for it.

Source headers are normalised (:func:`normalise_header`: lower case, no BOM, spaces/dots/
underscores/hyphens collapsed) before lookup, so ``"Tambon Code"``, ``tambon_code`` and
``รหัสตำบล`` all map to ``tambon_code``. BMN indicators are recognised by pattern: ``ind7``,
``bmn 7``, ``จปฐ.7``, ``ตัวชี้วัดที่ 7``, ``indicator_7``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import polars as pl

from service.vocabulary import INDICATOR_NUMBERS

#: BMN indicators of the canonical table (TPMAP's 17).
INDICATORS = INDICATOR_NUMBERS


@dataclass(frozen=True)
class Column:
    """One column the ingest understands.

    ``kind`` says how raw text is parsed: ``pseudonym`` (kept as text unless it looks like a
    raw identifier), ``code`` (admin code), ``moo`` (village number), ``float``, ``age``,
    ``sex``, ``bool``, ``indicator``, ``money``, or ``identifier`` (personal data: used only to
    compute pseudonyms, never stored).
    """

    name: str
    kind: str
    dtype: pl.DataType | None
    label_th: str
    label_en: str
    aliases: tuple[str, ...] = ()


def _ind(n: int) -> Column:
    return Column(f"ind{n}", "indicator", pl.Int8(), f"ตัวชี้วัด จปฐ. ข้อ {n} (1 = ไม่ผ่าน)",
                  f"BMN indicator {n} (1 = fails the criterion)")


#: identifier columns: read, validated, hashed, then dropped.
IDENTIFIERS = (
    Column("national_id", "identifier", None, "เลขประจำตัวประชาชน 13 หลัก",
           "13-digit national ID number",
           ("เลขประจำตัวประชาชน", "เลขบัตรประชาชน", "เลขบัตรประจำตัวประชาชน", "เลขที่บัตรประชาชน",
            "บัตรประชาชน", "citizen id", "national id number", "pid", "cid", "id card")),
    Column("first_name", "identifier", None, "ชื่อ", "first name",
           ("ชื่อ", "ชื่อจริง", "firstname", "fname", "given name")),
    Column("last_name", "identifier", None, "นามสกุล", "last name",
           ("นามสกุล", "lastname", "lname", "surname", "family name")),
    Column("house_id", "identifier", None, "รหัสประจำบ้าน (ทะเบียนบ้าน 11 หลัก)",
           "house registration number (11 digits)",
           ("รหัสประจำบ้าน", "รหัสบ้าน", "เลขรหัสประจำบ้าน", "house code", "house registration")),
)

#: canonical person columns in CONTRACT order, plus the helper column ``moo``.
CANONICAL = (
    Column("person_id", "pseudonym", pl.String(), "รหัสบุคคล (นามแฝง)", "person pseudonym",
           ("รหัสบุคคล", "person", "pseudonym")),
    Column("hh_id", "pseudonym", pl.String(), "รหัสครัวเรือน (นามแฝง)", "household pseudonym",
           ("รหัสครัวเรือน", "household id", "household", "hh")),
    Column("village_id", "code", pl.String(), "รหัสหมู่บ้าน", "village code (TH10010103)",
           ("รหัสหมู่บ้าน", "village code", "village")),
    Column("tambon_code", "code", pl.String(), "รหัสตำบล", "tambon (sub-district) code",
           ("รหัสตำบล", "tambon", "tambol code", "tambol id", "subdistrict code", "sub district code")),
    Column("amphoe_code", "code", pl.String(), "รหัสอำเภอ", "amphoe (district) code",
           ("รหัสอำเภอ", "amphoe", "amphur code", "district code")),
    Column("province_code", "code", pl.String(), "รหัสจังหวัด", "province code",
           ("รหัสจังหวัด", "province", "changwat code")),
    Column("lon", "float", pl.Float64(), "ลองจิจูด", "longitude (WGS84)",
           ("ลองจิจูด", "longitude", "lng", "long")),
    Column("lat", "float", pl.Float64(), "ละติจูด", "latitude (WGS84)",
           ("ละติจูด", "latitude")),
    Column("age", "age", pl.Int16(), "อายุ (ปี)", "age (years)", ("อายุ", "age years", "อายุ ปี")),
    Column("sex", "sex", pl.String(), "เพศ (ชาย/หญิง)", "sex (M/F)", ("เพศ", "gender")),
    Column("disabled", "bool", pl.Boolean(), "คนพิการ (จดทะเบียน)", "registered disabled",
           ("พิการ", "คนพิการ", "ผู้พิการ", "disability")),
    Column("chronic", "bool", pl.Boolean(), "โรคเรื้อรัง", "chronic illness",
           ("โรคเรื้อรัง", "ป่วยเรื้อรัง", "chronic illness")),
    Column("welfare_card_registered", "bool", pl.Boolean(), "ลงทะเบียนบัตรสวัสดิการแห่งรัฐ",
           "registered for the state welfare card",
           ("ลงทะเบียนบัตรสวัสดิการแห่งรัฐ", "ลงทะเบียนบัตรสวัสดิการ", "welfare registered")),
    Column("welfare_card", "bool", pl.Boolean(), "ถือบัตรสวัสดิการแห่งรัฐ",
           "validated state welfare card holder",
           ("บัตรสวัสดิการแห่งรัฐ", "ถือบัตรสวัสดิการแห่งรัฐ", "บัตรสวัสดิการ", "welfare card holder")),
    Column("elderly_allowance", "bool", pl.Boolean(), "เบี้ยยังชีพผู้สูงอายุ",
           "receives the old-age allowance", ("เบี้ยยังชีพผู้สูงอายุ", "เบี้ยผู้สูงอายุ", "old age allowance")),
    Column("disability_allowance", "bool", pl.Boolean(), "เบี้ยความพิการ",
           "receives the disability allowance",
           ("เบี้ยความพิการ", "เบี้ยยังชีพคนพิการ", "เบี้ยคนพิการ")),
    Column("child_grant", "bool", pl.Boolean(), "เงินอุดหนุนเพื่อการเลี้ยงดูเด็กแรกเกิด",
           "receives the child support grant",
           ("เงินอุดหนุนเพื่อการเลี้ยงดูเด็กแรกเกิด", "เงินอุดหนุนเด็กแรกเกิด", "child support grant")),
    Column("social_security", "bool", pl.Boolean(), "ประกันสังคม", "covered by social security",
           ("ประกันสังคม", "sso")),
    Column("informal_worker", "bool", pl.Boolean(), "แรงงานนอกระบบ", "informal worker",
           ("แรงงานนอกระบบ", "informal")),
    Column("income_per_person_thb", "money", pl.Float32(), "รายได้เฉลี่ยต่อคนต่อปี (บาท)",
           "household income per person per year (THB)",
           ("รายได้เฉลี่ยต่อคนต่อปี", "รายได้ต่อคนต่อปี", "รายได้เฉลี่ย", "income per person",
            "income per person per year")),
    *(_ind(n) for n in INDICATORS),
)

#: helper column: village number (หมู่ที่) used with tambon_code to build village_id.
MOO = Column("moo", "moo", None, "หมู่ที่", "village number (moo)",
             ("หมู่ที่", "หมู่", "หมู่บ้านที่", "village no", "village number"))

#: columns of the stored person table, in order, with their types.
PERSON_SCHEMA: dict[str, pl.DataType] = {
    c.name: c.dtype for c in CANONICAL if c.dtype is not None
}

ALL_COLUMNS = {c.name: c for c in (*IDENTIFIERS, *CANONICAL, MOO)}

_IND_RE = re.compile(r"^(?:ind|bmn|indicator|จปฐ|ตัวชี้วัด(?:ที่)?|ข้อ)\s*(\d{1,2})$")


def normalise_header(text: str) -> str:
    """Lower-case a header, drop BOM/zero-width characters and collapse separators."""
    text = unicodedata.normalize("NFC", str(text))
    text = text.replace("\ufeff", "").replace("\u200b", "")
    text = re.sub(r"[\s_.\-/()]+", " ", text.lower()).strip()
    return text


def _build_aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for col in ALL_COLUMNS.values():
        for alias in (col.name, *col.aliases):
            table[normalise_header(alias)] = col.name
    return table


ALIASES = _build_aliases()


def canonical_name(header: str) -> str | None:
    """Canonical column for a source header, or None when the header is not recognised."""
    key = normalise_header(header)
    if key in ALIASES:
        return ALIASES[key]
    m = _IND_RE.match(key)
    if m and int(m.group(1)) in INDICATORS:
        return f"ind{int(m.group(1))}"
    return None


def looks_like_mojibake(text: str) -> bool:
    """True for Thai text that was decoded with the wrong code page somewhere upstream.

    UTF-8 Thai read as cp874 turns every letter into ``เธ``/``เน`` + one character; read as
    latin-1/cp1252 it turns into ``à¸``/``à¹``. The replacement character U+FFFD means a
    lossy conversion already happened.
    """
    if "\ufffd" in text or "à¸" in text or "à¹" in text:
        return True
    pairs = len(re.findall(r"เ[ธน]", text))
    thai = len(re.findall(r"[\u0e00-\u0e7f]", text))
    return pairs >= 2 and 2 * pairs * 2 >= thai
