"""National IDs and names where only codes or free text belong: the one rule (SEC, issue 16).

Columns that are stored as typed (``hh_id`` and ``person_id`` when they are not identifiers
of the source, follow-up notes) must never carry a person's 13-digit national ID or name.
The rule finds:

* ``id_in_free_text``: a checksum-valid national ID however it was typed: plain, with dots,
  dashes, slashes or spaces (one or a few) between the digits, after a label
  (``ID: ...``, ``บัตร ...``), in Thai digits (๑๒๓...), next to other numbers (``หมู่ 4
  1-2345-...``): every run of digit groups holding 13 digits is checked;
* ``name_in_free_text``: a Thai or English personal title (นาย นาง นางสาว น.ส. ด.ช. ด.ญ.
  เด็กชาย เด็กหญิง Mr Mrs Ms Miss; official titles such as นายก นายอำเภอ นางพยาบาล are not
  names), or text of two to four words of letters only (``สมชาย ใจดี``, ``somchai jaidee``).

The ingest refuses such rows (service/ingest/validate.py: file, row, column, Thai and
English, the value masked); follow-up notes use the same titles and IDs
(service/followup/notes.py). Python (:func:`free_text_problem`) and polars
(:func:`free_text_problem_expr`) agree (tests/test_attacks_free_text.py).
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from service.ingest.pseudonym import national_id_check_digit

FREE_TEXT_REASONS: dict[str, tuple[str, str]] = {
    "id_in_free_text": (
        "มีเลขประจำตัวประชาชนในช่องที่ไม่ใช่เลขประจำตัว (ห้ามเก็บ) ใส่ไว้ในคอลัมน์ "
        "เลขประจำตัวประชาชน หรือใช้รหัสแทน",
        "a national ID in a column that is not the national ID column (never stored): put "
        "it in the national ID column or use a code"),
    "name_in_free_text": (
        "มีชื่อบุคคลในช่องรหัส (ห้ามเก็บ) ใส่ชื่อในคอลัมน์ ชื่อ/นามสกุล หรือใช้รหัสแทน",
        "a person's name in a code column (never stored): put names in the first/last name "
        "columns or use a code"),
}

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
#: words starting like a personal title that are not one (removed before the title test)
ALLOWED_TITLES = ("นายกรัฐมนตรี", "นายกเทศมนตรี", "นายก", "นายอำเภอ", "นายจ้าง", "นายหน้า",
                  "นายทุน", "นายช่าง", "นายสิบ", "นายทหาร", "นางพยาบาล", "นางงาม")
ALLOWED_RE = "|".join(sorted(ALLOWED_TITLES, key=len, reverse=True))
TITLE_RE = (r"นางสาว|นาย|นาง|น\.ส\.|ด\.ช\.|ด\.ญ\.|เด็กชาย|เด็กหญิง"
            r"|(?i:\b(?:mr|mrs|ms|miss)\b\.?\s*[a-z])")
#: letters only, two to four words: a name written without a title
NAME_WORDS_RE = r"^[A-Za-z\u0e01-\u0e4e]{2,}(?:\s+[A-Za-z\u0e01-\u0e4e]{2,}){1,3}$"
#: digit groups with at most three separators between them
_RUN = re.compile(r"[0-9]+(?:[\s.\-/]{1,3}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_PY_ALLOWED = re.compile(ALLOWED_RE)
_PY_TITLE = re.compile(TITLE_RE)
_PY_NAME = re.compile(NAME_WORDS_RE)


def _valid(digits: str) -> bool:
    return national_id_check_digit(digits[:12]) == int(digits[12])


def contains_national_id(text: str) -> bool:
    """True when ``text`` holds a checksum-valid 13-digit national ID, however typed."""
    text = text.translate(THAI_DIGITS)
    for run in _RUN.findall(text):
        groups = _GROUP.findall(run)
        for i in range(len(groups)):
            digits = ""
            for group in groups[i:]:
                digits += group
                if len(digits) >= 13:
                    break
            if len(digits) == 13 and _valid(digits):
                return True
    return False


def looks_like_name(text: str) -> bool:
    """True for a personal title or a name written as two to four words of letters."""
    stripped = " ".join(text.split())
    return bool(_PY_TITLE.search(_PY_ALLOWED.sub(" ", stripped))
                or _PY_NAME.match(stripped))


def free_text_problem(text: str | None) -> str | None:
    """``id_in_free_text``, ``name_in_free_text`` or None (see :data:`FREE_TEXT_REASONS`)."""
    if not text:
        return None
    if contains_national_id(text):
        return "id_in_free_text"
    if looks_like_name(text):
        return "name_in_free_text"
    return None


def _problems(values: pl.Series) -> pl.Series:
    n = len(values)
    if values.null_count() == n:  # the column is absent or empty: nothing to look at
        return pl.repeat(None, n, dtype=pl.String, eager=True).alias(values.name)
    # only values with 13 digits or more can hold an ID: the Python rule runs on those only
    many_digits = values.str.count_matches(r"[0-9๐-๙]").fill_null(0) >= 13
    hits = [i for i in many_digits.arg_true().to_list() if contains_national_id(values[i])]
    has_id = pl.Series(np.zeros(n, dtype=bool)).scatter(hits, True) if hits else \
        pl.Series(np.zeros(n, dtype=bool))
    spaced = values.str.replace_all(r"\s+", " ").str.strip_chars()
    names = (spaced.str.replace_all(ALLOWED_RE, " ").str.contains(TITLE_RE)
             | spaced.str.contains(NAME_WORDS_RE)).fill_null(False)
    return pl.select(pl.when(has_id).then(pl.lit("id_in_free_text"))
                     .when(names).then(pl.lit("name_in_free_text"))
                     .otherwise(pl.lit(None, dtype=pl.String))).to_series().alias(values.name)


def free_text_problem_expr(col: str) -> pl.Expr:
    """Vectorised :func:`free_text_problem` over a String column (null = no problem)."""
    return pl.col(col).map_batches(_problems, return_dtype=pl.String)
