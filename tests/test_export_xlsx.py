"""service.export.xlsx: Thai header + English/code row, rounding, text never a formula,
escaping, definitions and About sheets; re-read with openpyxl."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from service.export.xlsx import Sheet, describe, export_metadata, workbook


def test_workbook_round_trip():
    n = 3000
    frame = pd.DataFrame({
        "village_id": [f"TH58{i:06d}" for i in range(n)],
        "village_name": ["หมู่ 1 ต.จองคำ & <บ้าน>"] * n,
        "h": np.linspace(0, 1, n), "m0": np.full(n, 0.123456), "n_poor": np.arange(n) * 1.0,
        "note": ["=HYPERLINK(\"http://x\")", None, "\x01ok"] * (n // 3),
        "suppressed": [True, False, False] * (n // 3),
    })
    meta = export_metadata(dataset="demo", round=2566, version="r2566-x", k=0.26,
                           who="mhs (provincial, TH58)", view="public", min_households=10,
                           area="TH58", rows=n)
    wb = load_workbook(io.BytesIO(workbook([Sheet("หมู่บ้าน", frame, note="เกณฑ์ <ทดสอบ>")],
                                           metadata=meta)))
    assert wb.sheetnames == ["หมู่บ้าน", "คำอธิบาย Definitions", "ข้อมูลไฟล์ About"]
    ws = wb["หมู่บ้าน"]
    assert [c.value for c in ws[1]][:4] == ["รหัสหมู่บ้าน", "หมู่บ้าน", "สัดส่วนคนจน (H)",
                                           "ดัชนีความยากจนหลายมิติ (M0)"]
    assert ws.cell(2, 3).value == "Headcount ratio H [h]"
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == f"A2:G{n + 2}"
    rows = list(ws.iter_rows(min_row=3, max_row=n + 2, values_only=True))
    assert len(rows) == n and rows[-1][0] == f"TH58{n - 1:06d}"
    assert rows[0][1] == "หมู่ 1 ต.จองคำ & <บ้าน>"
    assert rows[1][2] == round(1 / (n - 1), 3) and rows[0][3] == 0.123
    assert ws.cell(3, 3).number_format == "0.0%" and ws.cell(3, 4).number_format == "0.000"
    assert rows[0][5] == "'=HYPERLINK(\"http://x\")" and rows[1][5] is None
    assert rows[2][5] == "ok"  # a control character XML cannot hold is dropped
    assert rows[0][6] == "ใช่ · yes" and ws.cell(3, 6).data_type == "s"
    assert ws.cell(n + 4, 1).value == "เกณฑ์ <ทดสอบ>"
    assert ws.column_dimensions["B"].width > ws.column_dimensions["E"].width
    defs = {r[0]: r for r in wb["คำอธิบาย Definitions"].iter_rows(min_row=2, values_only=True)}
    assert defs["m0"][1] == "ดัชนีความยากจนหลายมิติ (M0)" and "M0 = H" in defs["m0"][4]
    about = {r[1]: r[2] for r in wb["ข้อมูลไฟล์ About"].iter_rows(min_row=2, values_only=True)}
    assert about["Version"] == "r2566-x" and about["Poverty cut-off k"] == "26 %"
    assert "10 households" in about["Disclosure rule"]


def test_describe_patterns():
    assert describe("n_excl_elderly_allowance").th == "ตกหล่นเบี้ยยังชีพผู้สูงอายุ"
    assert describe("cov_child_grant").fmt == "percent"
    assert describe("m0_child").fmt == "ratio" and describe("n_dep_ind10").fmt == "count"
    assert describe("whatever").th == "whatever"
