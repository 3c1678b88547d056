"""Free-text notes must carry no personal data: refuse ID-like numbers, names and contacts.

A note on a help record or a plan item describes the help ("ซ่อมหลังคา", "ส่งต่อ รพ.สต."),
never the person. We refuse, rather than mask, so the officer rewrites the note:

* ``note_id_like``   a run of 9 or more digits (national ID 13, house number 11, phone 9-10),
  spaces, dashes and dots between digits ignored;
* ``note_name_like`` a Thai or English personal title (นาย นาง นางสาว น.ส. ด.ช. ด.ญ. เด็กชาย
  เด็กหญิง Mr Mrs Ms Miss), which in Thai always precedes a name; official titles that
  start the same way (นายก, นายอำเภอ, นายจ้าง, นางพยาบาล ...) are allowed;
* ``note_contact``   an e-mail address.

The same rules exist as Python (one note, the web form) and as a polars expression (a
column of notes, the bulk import); tests check both agree.
"""

from __future__ import annotations

import re

import polars as pl

from service.ingest.free_text import (
    ALLOWED_RE,
    TITLE_RE,
    contains_national_id,
    free_text_problem_expr,
)

MAX_NOTE_CHARS = 500

# personal titles and national IDs: the shared rule of every free-text column (SEC hook,
# service/ingest/free_text.py: an ID typed with " - " between groups, in Thai digits...)
_ALLOWED_RE = ALLOWED_RE
_ID_RE = r"\d(?:[\s.\-]?\d){8,}"
_TITLE_RE = TITLE_RE
_EMAIL_RE = r"[\w.+-]+@[\w-]+\.[\w.]+"

NOTE_REASONS: dict[str, tuple[str, str]] = {
    "note_id_like": ("หมายเหตุมีตัวเลขคล้ายเลขประจำตัว เลขรหัสบ้าน หรือเบอร์โทร (ห้ามใส่ข้อมูลส่วนบุคคล)",
                     "the note holds an ID-like number (national ID, house number or phone): "
                     "no personal data in notes"),
    "note_name_like": ("หมายเหตุมีคำนำหน้าชื่อ (เช่น นาย นาง) ห้ามใส่ชื่อบุคคล",
                       "the note looks like it names a person (title such as Mr/นาย): no "
                       "names in notes"),
    "note_contact": ("หมายเหตุมีอีเมล ห้ามใส่ข้อมูลติดต่อส่วนบุคคล",
                     "the note holds an e-mail address: no contact details in notes"),
    "note_too_long": (f"หมายเหตุยาวเกิน {MAX_NOTE_CHARS} ตัวอักษร",
                      f"the note is longer than {MAX_NOTE_CHARS} characters"),
}

_PY_ID = re.compile(_ID_RE)
_PY_ALLOWED = re.compile(_ALLOWED_RE)
_PY_TITLE = re.compile(_TITLE_RE)
_PY_EMAIL = re.compile(_EMAIL_RE)


def note_problem(text: str | None) -> str | None:
    """The problem code of a note (see :data:`NOTE_REASONS`), or None when it is acceptable."""
    if not text:
        return None
    if len(text) > MAX_NOTE_CHARS:
        return "note_too_long"
    if _PY_ID.search(text) or contains_national_id(text):
        return "note_id_like"
    if _PY_EMAIL.search(text):
        return "note_contact"
    if _PY_TITLE.search(_PY_ALLOWED.sub(" ", text)):
        return "note_name_like"
    return None


def note_problem_expr(col: str) -> pl.Expr:
    """Vectorised :func:`note_problem` over a String column (null = no problem)."""
    c = pl.col(col)
    stripped = c.str.replace_all(_ALLOWED_RE, " ")
    return (pl.when(c.str.len_chars() > MAX_NOTE_CHARS).then(pl.lit("note_too_long"))
            .when(c.str.contains(_ID_RE)
                  | (free_text_problem_expr(col) == "id_in_free_text"))
            .then(pl.lit("note_id_like"))
            .when(c.str.contains(_EMAIL_RE)).then(pl.lit("note_contact"))
            .when(stripped.str.contains(_TITLE_RE)).then(pl.lit("note_name_like"))
            .otherwise(pl.lit(None, dtype=pl.String)))
