"""KPI dashboard /kpi: values and statuses equal /api/v1/kpi, status words read right for
measures that should fall, CSV/XLSX exports re-read."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from pages_fixtures import build_pages_app

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return build_pages_app(tmp_path_factory.mktemp("kpi"))


def test_kpi_page_equals_the_api_and_words_read_right(pages):
    app, tokens, _ = pages
    c = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['mhs']}"}
    page = c.get("/kpi?province=TH58", headers={**HTML, **auth}).get_data(as_text=True)
    api = c.get("/api/v1/kpi?province=TH58", headers=auth).get_json()
    section = page[page.index('id="kpi-TH58"'):]
    row = section[section.index('data-kpi="m0"'):section.index("</tr>",
                                                                  section.index('data-kpi="m0"'))]
    for item in (i for i in api["items"] if i["kpi"] == "m0"):
        assert f"{item['value']:.3f}" in row
    statuses = re.findall(r'data-status="(\w+)"', row)
    assert statuses == [i["status"] for i in api["items"] if i["kpi"] == "m0"]
    # the fixture's M0 rises between the rounds: above its target is "behind", never
    # "ต่ำกว่าเป้า" (below target)
    assert statuses[-1] == "behind"
    assert "ยังสูงกว่าเป้า" in row and "ต่ำกว่าเป้า" not in row
    assert 'id="kpi-TH"' in page and "<svg" in page
    assert 'data-kpi="n_excl_elderly_allowance"' in section


def test_kpi_exports(pages):
    app, tokens, _ = pages
    c = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['mhs']}"}
    wb = load_workbook(io.BytesIO(c.get("/kpi.xlsx?province=TH58", headers=auth).data))
    ws = wb.worksheets[0]
    codes = [v.value.rsplit("[", 1)[1].rstrip("]") for v in ws[2]]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert {r[codes.index("province_code")] for r in rows} == {"TH", "TH58"}
    values = [r[codes.index("value")] for r in rows if r[codes.index("kpi")] == "m0"]
    assert all(v == round(v, 4) for v in values)
    behind = [r for r in rows if r[codes.index("kpi")].startswith("m0")
              and r[codes.index("status_en")].startswith("behind")]
    assert behind and all(r[codes.index("status_th")] == "ยังสูงกว่าเป้า" for r in behind)
    assert ws.cell(1, codes.index("status_th") + 1).value == "สถานะ"
    csv = c.get("/kpi.csv?province=TH58", headers=auth).data
    assert csv.startswith(b"\xef\xbb\xbf") and b"status_th" in csv.splitlines()[0]
