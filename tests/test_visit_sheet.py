"""Household visit sheet: names re-identified from the province's own source file on the
authorised server (docs/ingest.md section 6), through the use case and the page route."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from ingest_support import good_rows, settings_for, write_csv
from openpyxl import load_workbook
from pages_fixtures import build_pages_app
from test_ingest import run

from service.usecases.exclusion import visit_sheet


def test_visit_sheet_reidentifies_households_from_the_source_file(tmp_path):
    settings = settings_for(tmp_path)
    path = write_csv(tmp_path / "bmn.csv", good_rows(6))
    _, cap = run(settings, [path])
    hh = cap.persons["hh_id"].unique(maintain_order=True).to_list()
    households = pd.DataFrame({"order": [1, 2, 3], "hh_id": [hh[1], hh[0], "unknown"]})
    sheet, found = visit_sheet(households, settings, [path])
    assert found == 2
    assert sheet["member_names"].tolist() == ["สมชาย2 ใจดี; สมชาย3 ใจดี",
                                              "สมชาย0 ใจดี; สมชาย1 ใจดี", ""]
    assert sheet["found_in_source"].tolist() == [True, True, False]
    assert sheet["house_id"].iloc[0] == "75010000001"
    assert not any("national" in c for c in sheet.columns)  # no ID numbers on the sheet


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return build_pages_app(tmp_path_factory.mktemp("visit"))


def test_visit_sheet_route_is_authorised_audited_and_names_columns(pages, tmp_path):
    app, tokens, _ = pages
    c = app.test_client()
    path = write_csv(tmp_path / "bmn.csv", good_rows(4))  # another province's households
    form = {"area": "TH580201"}

    def post(who):
        with open(path, "rb") as fh:
            headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
            return c.post("/lists/visit-sheet", headers=headers,
                          data={**form, "source": (fh, "bmn.csv")},
                          content_type="multipart/form-data")

    assert post(None).status_code == 401
    assert post("cm").status_code == 403
    resp = post("mhs")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.headers["Cache-Control"].startswith("no-store")
    wb = load_workbook(io.BytesIO(resp.data))
    ws = wb.worksheets[0]
    heads = [v.value for v in ws[1]]
    assert ws.title == "ใบลงเยี่ยมบ้าน" and "ชื่อสมาชิก (จากไฟล์ต้นฉบับของจังหวัด)" in heads
    codes = [v.value.rsplit("[", 1)[1].rstrip("]") for v in ws[2]]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True) if r[codes.index("hh_id")]]
    assert rows and all(r[codes.index("found_in_source")] == "ไม่ · no" for r in rows)
    from service.api.auth import user_store

    audit = [r for r in user_store(app).audit_rows() if r["action"] == "export_visit_sheet"]
    assert audit and "found=0" in str(audit[-1])
    empty = c.post("/lists/visit-sheet", headers={"Authorization": f"Bearer {tokens['mhs']}"},
                   data=form, content_type="multipart/form-data")
    assert empty.status_code == 422
