"""Budget selection page /selection: same answer as /api/v1/selection, defaults filled in, a
partial price list overrides only the items given, comparison and XLSX export."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from pages_fixtures import build_pages_app

from service.analysis.select import DEFAULT_COSTS

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return build_pages_app(tmp_path_factory.mktemp("selection"))


def _auth(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"}


def test_selection_needs_the_province_right(pages):
    app, tokens, _ = pages
    c = app.test_client()
    assert c.get("/selection?province=TH58&budget=5000000", headers=HTML).status_code == 303
    assert c.get("/selection?province=TH58&budget=5000000",
                 headers={**HTML, **_auth(tokens, "cm")}).status_code == 403


def test_selection_page_equals_the_api_with_partial_costs(pages):
    app, tokens, _ = pages
    c = app.test_client()
    form = c.get("/selection?province=TH58", headers={**HTML, **_auth(tokens, "mhs")}
                 ).get_data(as_text=True)
    assert f'name="cost_ind8" value="{DEFAULT_COSTS["ind8"]:.0f}"' in form
    url = "province=TH58&budget=5000000&per_amphoe=1&cost_ind22=30000"
    page = c.get(f"/selection?{url}", headers={**HTML, **_auth(tokens, "mhs")}
                 ).get_data(as_text=True)
    api = c.get("/api/v1/selection?province=TH58&budget=5000000&per_amphoe=true"
                "&costs=ind22=30000", headers=_auth(tokens, "mhs")).get_json()
    assert api["costs_thb_per_household"]["ind8"] == DEFAULT_COSTS["ind8"]
    shown = re.findall(r'<tr data-code="(TH\d{8})">', page)
    assert sorted(shown) == sorted(i["code"] for i in api["items"])
    assert f"{api['total_cost_thb']:,.0f} บาท" in page
    assert f"{api['people_lifted']:,}" in page
    assert 'data-method="greedy"' in page and 'data-method="top"' in page
    assert page.count('class="chosen"') == len(shown)
    xlsx = c.get(f"/selection.xlsx?{url}", headers=_auth(tokens, "mhs"))
    wb = load_workbook(io.BytesIO(xlsx.data))
    assert wb.sheetnames[:3] == ["หมู่บ้านที่เลือก", "เปรียบเทียบ", "ราคาต่อครัวเรือน"]
    ws = wb.worksheets[0]
    codes = [v.value.rsplit("[", 1)[1].rstrip("]") for v in ws[2]]
    ids = [r[codes.index("village_id")] for r in ws.iter_rows(min_row=3, values_only=True)]
    assert sorted(ids) == sorted(shown)
    assert all(r[codes.index("tambon_name")] for r in ws.iter_rows(min_row=3, values_only=True))
    prices = {r[0]: r[1] for r in wb["ราคาต่อครัวเรือน"].iter_rows(min_row=3, values_only=True)}
    assert prices["ind22"] == 30000 and prices["ind8"] == DEFAULT_COSTS["ind8"]


def test_selection_bad_budget_is_a_clear_422_page(pages):
    app, tokens, _ = pages
    resp = app.test_client().get("/selection?province=TH58&budget=lots",
                                 headers={**HTML, **_auth(tokens, "mhs")})
    assert resp.status_code == 422
    assert "งบประมาณต้องเป็นตัวเลข" in resp.get_data(as_text=True)
