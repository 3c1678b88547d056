"""Workbooks people can open: Thai headers with an English row, names beside codes, numbers
rounded for people, widths, a frozen header, autofilter, a definitions sheet and a metadata
sheet (dataset, round, version, k, who exported, when, disclosure rule).

Streamed with xlsxwriter's ``constant_memory`` mode (one row in memory at a time), so a list
of 40,000 households is written in well under 3 s (docs/benchmarks.md). Text cells are
written as strings and neutralised (:func:`service.export.safety.neutralise`), never as
formulas; numbers stay numbers, rounded (rates: fraction to 3 decimals shown as 0.0 %; M0 and
other indices: 3 decimals; counts: whole numbers; scores: 1 decimal; money: whole baht).

:func:`columns_for` describes a frame's columns from :data:`CATALOGUE` (exact names and
patterns such as ``n_excl_<programme>`` or ``n_dep_ind<N>``); unknown columns keep their
code as the header. No Flask here.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from service import vocabulary
from service.export.safety import neutralise

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("text", "count", "percent", "ratio", "score", "baht", "number", "date")


@dataclass(frozen=True)
class Col:
    """One column of a sheet: code (the frame's column), Thai and English header, format,
    and a definition for the definitions sheet."""

    code: str
    th: str
    en: str
    fmt: str = "text"
    definition_th: str = ""
    definition_en: str = ""


def _mid_sentence(labels: Any) -> dict[str, tuple[str, str]]:
    """vocabulary labels as used inside a header ("Excluded: state welfare card")."""
    return {k: (v.th, v.en[:1].lower() + v.en[1:]) for k, v in labels.items()}


#: names of programmes, groups and dimensions: declared once in service.vocabulary
_PROG = _mid_sentence(vocabulary.PROGRAMMES)
_GROUP = _mid_sentence(vocabulary.GROUPS)
_DIM = _mid_sentence(vocabulary.DIMENSIONS)

#: exact column -> (th, en, format, definition th, definition en)
CATALOGUE: dict[str, tuple[str, str, str, str, str]] = {
    "code": ("รหัสพื้นที่", "Area code", "text", "", ""),
    "village_id": ("รหัสหมู่บ้าน", "Village code", "text", "", ""),
    "name_th": ("ชื่อ", "Name (Thai)", "text", "", ""),
    "name_en": ("ชื่อภาษาอังกฤษ", "Name (English)", "text", "", ""),
    "level": ("ระดับพื้นที่", "Level", "text", "", ""),
    "parent_code": ("รหัสพื้นที่แม่", "Parent code", "text", "", ""),
    "province_code": ("รหัสจังหวัด", "Province code", "text", "", ""),
    "province_name": ("จังหวัด", "Province", "text", "", ""),
    "amphoe_code": ("รหัสอำเภอ", "Amphoe code", "text", "", ""),
    "amphoe_name": ("อำเภอ", "Amphoe", "text", "", ""),
    "tambon_code": ("รหัสตำบล", "Tambon code", "text", "", ""),
    "tambon_name": ("ตำบล", "Tambon", "text", "", ""),
    "village_name": ("หมู่บ้าน", "Village", "text", "", ""),
    "hh_id": ("รหัสครัวเรือน (นามแฝง)", "Household id (pseudonym)", "text",
              "รหัสแทนตัว ไม่ใช่เลขบ้านหรือเลขประจำตัวประชาชน",
              "A pseudonym, not a house number or national ID"),
    "n_households": ("ครัวเรือนที่สำรวจ", "Surveyed households", "count", "", ""),
    "n_persons": ("คนที่สำรวจ", "Surveyed people", "count", "", ""),
    "n_poor": ("คนจนหลายมิติ", "MPI poor people", "count",
               "คนที่คะแนนความขาดแคลนถึงเกณฑ์ k", "People whose deprivation score reaches k"),
    "n_poor_households": ("ครัวเรือนจนหลายมิติ", "MPI poor households", "count", "", ""),
    "n_target_poor": ("คนจนเป้าหมาย (TPMAP)", "Target poor (TPMAP)", "count",
                      "ขาดอย่างน้อยหนึ่งมิติและถือบัตรสวัสดิการแห่งรัฐ",
                      "Deprived in any dimension and a welfare-card holder"),
    "target_poor_rate": ("สัดส่วนคนจนเป้าหมาย", "Target-poor rate", "percent", "", ""),
    "n_severe": ("คนจนรุนแรง", "Severely poor people", "count", "", ""),
    "h": ("สัดส่วนคนจน (H)", "Headcount ratio H", "percent", "คนจน ÷ คนที่สำรวจ",
          "Poor people / surveyed people"),
    "a": ("ความรุนแรงเฉลี่ย (A)", "Intensity A", "percent",
          "คะแนนความขาดแคลนเฉลี่ยของคนจน", "Average deprivation score of the poor"),
    "m0": ("ดัชนีความยากจนหลายมิติ (M0)", "MPI M0", "ratio", "M0 = H × A", "M0 = H x A"),
    "priority_rank": ("ลำดับความสำคัญ", "Priority rank", "count", "1 = ดำเนินการก่อน",
                      "1 = act first"),
    "priority_score": ("คะแนนความสำคัญ (0-100)", "Priority score (0-100)", "score", "", ""),
    "top_failing_indicators": ("ตัวชี้วัดที่คนจนไม่ผ่านมากที่สุด", "Indicators failed most",
                               "text", "", ""),
    "suppressed": ("ปกปิดข้อมูล", "Withheld", "text",
                   "ไม่เปิดเผยตัวเลขต่อสาธารณะ", "Figures withheld from the public"),
    "visit_order": ("ลำดับการเยี่ยม", "Visit order", "count", "", ""),
    "order": ("ลำดับ", "Order", "count", "", ""),
    "n_members": ("สมาชิก", "Members", "count", "", ""),
    "n_poor_members": ("สมาชิกที่จน", "Poor members", "count", "", ""),
    "max_c": ("คะแนนความขาดแคลนสูงสุดในครัวเรือน", "Highest member deprivation score",
              "ratio", "สัดส่วนตัวชี้วัดถ่วงน้ำหนักที่ไม่ผ่าน (0-1)",
              "Weighted share of indicators failed (0-1)"),
    "n_deprivations": ("จำนวนตัวชี้วัดที่ไม่ผ่าน", "Indicators failed", "count", "", ""),
    "failing_labels_th": ("ตัวชี้วัดที่ไม่ผ่าน", "Indicators failed (Thai)", "text", "", ""),
    "failing_labels_en": ("ตัวชี้วัดที่ไม่ผ่าน (อังกฤษ)", "Indicators failed", "text", "", ""),
    "failing_indicators": ("รหัสตัวชี้วัดที่ไม่ผ่าน", "Indicator codes failed", "text", "", ""),
    "missed_programmes_th": ("สวัสดิการที่ตกหล่น", "Programmes missed (Thai)", "text", "", ""),
    "missed_programmes_en": ("สวัสดิการที่ตกหล่น (อังกฤษ)", "Programmes missed", "text", "",
                             ""),
    "listed_by": ("เกณฑ์ที่ทำให้อยู่ในรายชื่อ", "Listed by", "text", "", ""),
    "plan_urgent_th": ("แผนเร่งด่วน", "Urgent plan (Thai)", "text",
                       "สิ่งของ เงิน การเข้าถึงสิทธิ", "Goods, cash, access to rights"),
    "plan_medium_th": ("แผนระยะกลาง", "Medium-term plan (Thai)", "text",
                       "ทักษะ อาชีพ สภาพแวดล้อม", "Skills, jobs, environment"),
    "plan_long_th": ("แผนระยะยาว", "Long-term plan (Thai)", "text",
                     "ที่อยู่อาศัย ที่ดิน แผนท้องถิ่น", "Housing, land, local plans"),
    "plan_urgent_en": ("แผนเร่งด่วน (อังกฤษ)", "Urgent plan", "text", "", ""),
    "plan_medium_en": ("แผนระยะกลาง (อังกฤษ)", "Medium-term plan", "text", "", ""),
    "plan_long_en": ("แผนระยะยาว (อังกฤษ)", "Long-term plan", "text", "", ""),
    "n_child": ("เด็ก", "Children", "count", "", ""),
    "n_elderly": ("ผู้สูงอายุ", "Elderly", "count", "", ""),
    "n_disabled": ("คนพิการ", "Disabled", "count", "", ""),
    "n_excluded": ("สมาชิกที่ตกหล่น", "Members excluded", "count",
                   "มีสิทธิตามเกณฑ์แต่ยังไม่ได้รับ", "Eligible by the rule, not receiving"),
    "n_eligible": ("สมาชิกที่มีสิทธิ", "Members eligible", "count", "", ""),
    "excluded_ages": ("อายุของผู้ตกหล่น", "Ages of those excluded", "text", "", ""),
    "member_names": ("ชื่อสมาชิก (จากไฟล์ต้นฉบับของจังหวัด)", "Members' names (province's source file)",
                     "text", "ระบุตัวบุคคลบนเครื่องที่ได้รับอนุญาต ห้ามเผยแพร่",
                     "Re-identified on the authorised server; do not share"),
    "house_id": ("รหัสประจำบ้าน", "House id", "text", "", ""),
    "moo": ("หมู่ที่", "Moo", "text", "", ""),
    "found_in_source": ("พบในไฟล์ต้นฉบับ", "Found in the source file", "text", "", ""),
    "n_poor_in_dimension": ("คนจนที่ไม่ผ่านตัวชี้วัดในมิตินี้ (มากสุด)",
                            "Poor people failing an indicator of the dimension (most)",
                            "count", "", ""),
    "cost_thb": ("ค่าใช้จ่าย (บาท)", "Cost (THB)", "baht", "", ""),
    "benefit": ("ผลที่ได้", "Benefit", "number", "", ""),
    "round": ("รอบสำรวจ", "Survey round", "count", "", ""),
    "kpi": ("ตัวชี้วัด", "KPI", "text", "", ""),
    "kpi_th": ("ตัวชี้วัด", "KPI (Thai)", "text", "", ""),
    "kpi_en": ("ตัวชี้วัด (อังกฤษ)", "KPI", "text", "", ""),
    "value": ("ค่า", "Value", "number", "", ""),
    "baseline_value": ("ค่าปีฐาน", "Baseline value", "number", "", ""),
    "target_value": ("ค่าเป้าหมาย", "Target value", "number", "", ""),
    "change_pct": ("เปลี่ยนจากปีฐาน (%)", "Change from baseline (%)", "score", "", ""),
    "status_th": ("สถานะ", "Status (Thai)", "text", "", ""),
    "status_en": ("สถานะ (อังกฤษ)", "Status", "text", "", ""),
}

def _family(pattern: str, names: dict[str, tuple[str, str]], th: str, en: str, fmt: str,
            ) -> tuple[re.Pattern[str], Any]:
    """A column family ``<prefix><id>``: headers ``th``/``en`` with ``{}`` = the id's Thai /
    English name from ``names`` (an id without a name is shown as itself)."""
    def make(m: re.Match[str]) -> tuple[str, str, str]:
        name_th, name_en = names.get(m[1], (m[1], m[1]))
        return th.format(name_th), en.format(name_en), fmt

    return re.compile(pattern), make


_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    _family(r"^n_excl_(\w+)$", _PROG, "ตกหล่น{}", "Excluded: {}", "count"),
    _family(r"^n_elig_(\w+)$", _PROG, "มีสิทธิ{}", "Eligible: {}", "count"),
    _family(r"^n_cov_(\w+)$", _PROG, "ได้รับ{}", "Covered: {}", "count"),
    _family(r"^cov_(\w+)$", _PROG, "ความครอบคลุม{}", "Coverage: {}", "percent"),
    _family(r"^h_(\w+)$", _GROUP, "สัดส่วนคนจน: {}", "Headcount H: {}", "percent"),
    _family(r"^m0_(\w+)$", _GROUP, "M0: {}", "M0: {}", "ratio"),
    _family(r"^n_target_poor_(\w+)$", _DIM, "คนจนเป้าหมายที่ขาดด้าน{}",
            "Target poor deprived in {}", "count"),
    _family(r"^n_dep_(ind\d+)$", {}, "คนที่ไม่ผ่าน {}", "People failing {}", "count"),
    _family(r"^n_cdep_(ind\d+)$", {}, "คนจนที่ไม่ผ่าน {}", "Poor people failing {}", "count"),
    _family(r"^n_hh_cdep_(ind\d+)$", {}, "ครัวเรือนจนที่ไม่ผ่าน {}",
            "Poor households failing {}", "count"),
    _family(r"^(n_\w+)$", {}, "{}", "{}", "count"),
)


def describe(code: str) -> Col:
    """The :class:`Col` of a column code (catalogue, then patterns, else the code itself)."""
    if code in CATALOGUE:
        th, en, fmt, dth, den = CATALOGUE[code]
        return Col(code, th, en, fmt, dth, den)
    for pattern, make in _PATTERNS:
        m = pattern.match(code)
        if m:
            th, en, fmt = make(m)
            return Col(code, th, en, fmt)
    return Col(code, code, code, "text")


def columns_for(frame: pd.DataFrame, *, drop: Iterable[str] = ("geometry", "cell", "lon",
                                                                 "lat", "view")) -> list[Col]:
    dropped = set(drop)
    return [describe(str(c)) for c in frame.columns if c not in dropped]


# -- values ------------------------------------------------------------------------------
def _column_values(series: pd.Series, fmt: str) -> list[Any]:
    """A column as Python values, rounded for people; None for missing."""
    if fmt in ("count", "percent", "ratio", "score", "baht", "number"):
        num = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
        digits = {"count": 0, "baht": 0, "percent": 3, "ratio": 3, "score": 1,
                  "number": 4}[fmt]
        rounded = np.round(num, digits)
        out: list[Any] = rounded.tolist()
        return [None if (v is None or math.isnan(v) or math.isinf(v)) else
                (int(v) if digits == 0 else v) for v in out]
    values = series.tolist()
    if all(type(v) is str for v in values):  # the common case: plain text
        memo: dict[str, str] = {}
        return [memo.setdefault(v, neutralise(v)) if v not in memo else memo[v]
                for v in values]
    clean: list[Any] = []
    for v in values:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            clean.append(None)
        elif isinstance(v, bool | np.bool_):
            clean.append("ใช่ · yes" if v else "ไม่ · no")
        elif isinstance(v, dt.datetime | dt.date | pd.Timestamp):
            from service.render.thai import be_date

            clean.append(be_date(v))
        else:
            clean.append(neutralise(str(v)))
    return clean


_NUM_FORMATS = {"count": "#,##0", "baht": "#,##0", "percent": "0.0%", "ratio": "0.000",
                "score": "0.0", "number": "#,##0.####"}


@dataclass
class Sheet:
    """A data sheet: a title (max 31 characters), the frame and its columns."""

    title: str
    frame: pd.DataFrame
    columns: Sequence[Col] | None = None
    note: str = ""


def workbook(sheets: Sequence[Sheet], *, metadata: Sequence[tuple[str, str, Any]] = (),
             definitions: bool = True) -> bytes:
    """The XLSX bytes: each data sheet (Thai header row, English header row, frozen, with
    autofilter and widths), then ``คำอธิบาย · Definitions`` and ``ข้อมูลไฟล์ · About``
    (``metadata``: (Thai label, English label, value) rows)."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False,
                                   "strings_to_urls": False, "strings_to_numbers": False,
                                   "default_date_format": "yyyy-mm-dd"})
    font = {"font_name": "Tahoma", "font_size": 10}
    head_th = wb.add_format({**font, "bold": True, "bg_color": "#F0F4F8", "text_wrap": True,
                             "valign": "top", "border": 1})
    head_en = wb.add_format({**font, "italic": True, "font_color": "#52606D",
                             "bg_color": "#F8FAFC", "text_wrap": True, "valign": "top",
                             "border": 1})
    text_fmt = wb.add_format(font)
    num_fmt = {k: wb.add_format({**font, "num_format": v}) for k, v in _NUM_FORMATS.items()}
    used: dict[str, Col] = {}
    bodies: list[tuple[int, list[list[Any]], list[bool], list[Any], int, str]] = []
    for sheet in sheets:
        cols = list(sheet.columns) if sheet.columns is not None else columns_for(sheet.frame)
        ws = wb.add_worksheet(_sheet_title(sheet.title))
        frame = sheet.frame
        values = [_column_values(frame[c.code], c.fmt) if c.code in frame else
                  [None] * len(frame) for c in cols]
        for j, c in enumerate(cols):
            used.setdefault(c.code, c)
            sample = [len(str(v)) for v in values[j][:300] if v is not None]
            width = max([len(c.th) * 0.9, len(c.en) * 0.8, *sample, 6])
            fmt = num_fmt.get(c.fmt)
            ws.set_column(j, j, min(max(width + 2, 8), 48), fmt or text_fmt)
        ws.set_row(0, 32)
        # constant_memory: rows are flushed in order, so each row is written whole
        for j, c in enumerate(cols):
            ws.write_string(0, j, neutralise(c.th), head_th)
        for j, c in enumerate(cols):
            ws.write_string(1, j, neutralise(f"{c.en} [{c.code}]"), head_en)
        ws.freeze_panes(2, 0)
        n = len(frame)
        if cols:
            ws.autofilter(1, 0, 1 + max(n, 1), len(cols) - 1)
        # the data rows are written as sheet XML directly (below, after close): xlsxwriter's
        # per-cell calls cost ~20 us a cell, ~15 s for a 40,000-household list
        bodies.append((len(wb.worksheets()), values, [c.fmt in _NUM_FORMATS for c in cols],
                       [num_fmt.get(c.fmt) or text_fmt for c in cols], n,
                       neutralise(sheet.note) if sheet.note else ""))
    if definitions:
        ws = wb.add_worksheet("คำอธิบาย Definitions")
        ws.set_column(0, 0, 28)
        ws.set_column(1, 2, 36)
        ws.set_column(3, 3, 12)
        ws.set_column(4, 5, 48)
        heads = ("รหัสคอลัมน์ · code", "หัวคอลัมน์ · Thai header", "English header",
                 "รูปแบบ · format", "ความหมาย", "Definition")
        for j, h in enumerate(heads):
            ws.write_string(0, j, h, head_th)
        ws.freeze_panes(1, 0)
        fmt_words = {"count": "จำนวน · count", "percent": "ร้อยละ 1 ตำแหน่ง · % (1 decimal)",
                     "ratio": "ทศนิยม 3 ตำแหน่ง · 3 decimals", "score": "ทศนิยม 1 ตำแหน่ง · 1 decimal",
                     "baht": "บาท · THB", "number": "ตัวเลข · number", "text": "ข้อความ · text"}
        for i, c in enumerate(used.values(), start=1):
            for j, v in enumerate((c.code, c.th, c.en, fmt_words.get(c.fmt, c.fmt),
                                   c.definition_th, c.definition_en)):
                ws.write_string(i, j, neutralise(v), text_fmt)
    ws = wb.add_worksheet("ข้อมูลไฟล์ About")
    ws.set_column(0, 1, 30)
    ws.set_column(2, 2, 70)
    for j, h in enumerate(("รายการ", "Item", "ค่า · Value")):
        ws.write_string(0, j, h, head_th)
    for i, (th, en, value) in enumerate(metadata, start=1):
        ws.write_string(i, 0, neutralise(th), text_fmt)
        ws.write_string(i, 1, neutralise(en), text_fmt)
        if isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(i, 2, value, text_fmt)
        else:
            ws.write_string(i, 2, neutralise("" if value is None else str(value)), text_fmt)
    wb.close()
    return _with_rows(buf.getvalue(), bodies)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _escape(text: str) -> str:
    """XML text: &, <, > escaped; control characters XML 1.0 forbids dropped."""
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _col_name(j: int) -> str:
    name = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        name = chr(65 + r) + name
    return name


def _rows_xml(values: list[list[Any]], numeric: list[bool], styles: list[int], n: int,
              first_row: int = 3) -> str:
    """``<row>`` elements of the data (1-based rows from ``first_row``), built column-wise:
    numbers as ``<v>``, text as inline strings (as xlsxwriter's constant_memory mode)."""
    rows = [str(first_row + i) for i in range(n)]
    cells: list[list[str]] = []
    for j, col in enumerate(values):
        ref, s = _col_name(j), styles[j]
        if numeric[j]:
            cells.append(["" if v is None else f'<c r="{ref}{r}" s="{s}"><v>{v!r}</v></c>'
                          for v, r in zip(col, rows, strict=True)])
        else:
            memo: dict[str, str] = {}  # lists repeat names and plans: escape each text once
            for v in col:
                if v is not None and v not in memo:
                    memo[v] = _escape(v)
            head = f'" s="{s}" t="inlineStr"><is><t xml:space="preserve">'
            cells.append(["" if v is None else f'<c r="{ref}{r}{head}{memo[v]}</t></is></c>'
                          for v, r in zip(col, rows, strict=True)])
    return "".join(f'<row r="{r}">' + "".join(row) + "</row>"
                   for r, row in zip(rows, zip(*cells, strict=True), strict=True)) \
        if cells else ""


def _with_rows(xlsx: bytes, bodies: list[tuple[int, list[list[Any]], list[bool], list[Any],
                                                int, str]]) -> bytes:
    """Insert each data sheet's rows into the workbook xlsxwriter wrote (headers, formats,
    panes, autofilter are its own), and fix the sheet's dimension."""
    import zipfile

    if not any(n or note for *_, n, note in bodies):
        return xlsx
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    patched: dict[str, bytes] = {}
    for index, values, numeric, fmts, n, note in bodies:
        if not n and not note:
            continue
        name = f"xl/worksheets/sheet{index}.xml"
        xml = src.read(name).decode("utf-8")
        # the dimension is fixed on xlsxwriter's small sheet XML, before the rows go in (a
        # regex over the 50 MB sheet of 40,000 households took 2 s)
        last = f"{_col_name(max(len(values) - 1, 0))}{n + 2}"
        xml = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', xml, count=1)
        styles = [f.xf_index or 0 for f in fmts]
        rows = _rows_xml(values, numeric, styles, n)
        if note:  # a line under the rows (e.g. the eligibility rule of an exclusion list)
            rows += (f'<row r="{n + 4}"><c r="A{n + 4}" t="inlineStr"><is><t xml:space='
                     f'"preserve">{_escape(note)}</t></is></c></row>')
        if "</sheetData>" not in xml:  # a sheet without header cells
            xml = xml.replace("<sheetData/>", "<sheetData></sheetData>", 1)
        at = xml.index("</sheetData>")
        patched[name] = b"".join((xml[:at].encode("utf-8"), rows.encode("utf-8"),
                                  xml[at:].encode("utf-8")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in patched:  # fast deflate for the big sheets
                dst.writestr(info, patched[info.filename], compress_type=zipfile.ZIP_DEFLATED,
                             compresslevel=1)
            else:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(title: str) -> str:
    return (_BAD_TITLE.sub(" ", title).strip() or "data")[:31]


def export_metadata(*, dataset: str, round: int | None, version: str, k: float | None,
                    who: str, view: str, min_households: int, area: str = "",
                    filters: str = "", rows: int | None = None,
                    when: dt.datetime | None = None) -> list[tuple[str, str, Any]]:
    """The standard rows of the About sheet."""
    from service.render.thai import be_datetime

    when = when or dt.datetime.now(dt.UTC)
    rule = ("ตัวเลขละเอียด (สิทธิ์ของผู้ส่งออก) · full figures (the exporter's access)"
            if view == "detail" else
            f"ปกปิดพื้นที่ที่มีน้อยกว่า {min_households} ครัวเรือน และปกปิดเสริมเพื่อไม่ให้คำนวณย้อนกลับ "
            f"· areas under {min_households} households withheld, with complementary "
            "suppression")
    rows_ = [("ชุดข้อมูล", "Dataset", dataset), ("รอบสำรวจ", "Survey round", round),
             ("รุ่นข้อมูล", "Version", version),
             ("เกณฑ์ความยากจน k", "Poverty cut-off k",
              "" if k is None else f"{k * 100:.0f} %"),
             ("พื้นที่", "Area", area), ("ตัวกรอง", "Filters", filters),
             ("จำนวนแถว", "Rows", rows if rows is not None else ""),
             ("ผู้ส่งออก", "Exported by", who),
             ("วันเวลาที่ส่งออก", "Exported at", be_datetime(when) + f" ({when:%Y-%m-%d %H:%M} UTC)"),
             ("การปกปิดข้อมูล", "Disclosure rule", rule),
             ("ระบบ", "System", "ชี้เป้า Chipao")]
    return rows_
