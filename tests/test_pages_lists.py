"""Target lists /lists (villages, households, exclusion per programme): authorisation,
order by greatest need, filters, words instead of codes, and XLSX exports re-read."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from pages_fixtures import build_pages_app

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return build_pages_app(tmp_path_factory.mktemp("lists"))


def _get(app, url, who=None, tokens=None, html=True):
    headers = dict(HTML) if html else {}
    if who:
        headers["Authorization"] = f"Bearer {tokens[who]}"
    return app.test_client().get(url, headers=headers)


def test_household_lists_need_the_province_right(pages):
    app, tokens, _ = pages
    resp = _get(app, "/lists/households?area=TH5802")
    assert resp.status_code == 303 and "/login?next=" in resp.headers["Location"]
    other = _get(app, "/lists/excluded?area=TH5802", "cm", tokens)
    assert other.status_code == 403 and "ไม่มีสิทธิ์เข้าถึง" in other.get_data(as_text=True)
    assert _get(app, "/lists/households.xlsx?area=TH5802", html=False).status_code == 401
    ok = _get(app, "/lists/households?area=TH5802", "mhs", tokens)
    assert ok.status_code == 200
    assert ok.headers["Cache-Control"].startswith("no-store")


def test_household_list_greatest_need_first_with_plans_in_words(pages):
    app, tokens, _ = pages
    page = _get(app, "/lists/households?area=TH5802", "mhs", tokens).get_data(as_text=True)
    assert "rights:" not in page and "เร่งด่วน" in page
    resp = _get(app, "/lists/households.xlsx?area=TH5802", "mhs", tokens, html=False)
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    ws = wb.worksheets[0]
    heads = [c.value for c in ws[1]]
    codes = [c.value.rsplit("[", 1)[1].rstrip("]") for c in ws[2]]
    assert heads[codes.index("max_c")] == "คะแนนความขาดแคลนสูงสุดในครัวเรือน"
    assert "หมู่บ้าน" in heads and "แผนเร่งด่วน" in heads
    scores = [r[codes.index("max_c")] for r in ws.iter_rows(min_row=3, values_only=True)]
    assert scores and scores == sorted(scores, reverse=True)
    assert all(s == round(s, 3) for s in scores)
    plans = [r[codes.index("plan_urgent_th")] or "" for r in ws.iter_rows(min_row=3,
                                                                          values_only=True)]
    assert not any("ind" in p or "rights:" in p for p in plans)
    names = [r[codes.index("village_name")] for r in ws.iter_rows(min_row=3, values_only=True)]
    assert all(n and "หมู่" in n for n in names)
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref
    assert [s.title for s in wb.worksheets][1:] == ["คำอธิบาย Definitions", "ข้อมูลไฟล์ About"]
    about = {r[1]: r[2] for r in wb.worksheets[-1].iter_rows(min_row=2, values_only=True)}
    assert about["Exported by"].startswith("mhs (provincial, TH58")
    assert about["Poverty cut-off k"] == "26 %" and "2569" in about["Exported at"]
    from service.api.auth import user_store

    actions = [r["action"] for r in user_store(app).audit_rows()]
    assert "export_households" in actions and "read_households_list" in actions


def test_elderly_exclusion_list_in_one_amphoe_matches_the_area_table(pages):
    app, tokens, _ = pages
    client = app.test_client()
    area = client.get("/api/v1/areas/amphoe/TH5802",
                      headers={"Authorization": f"Bearer {tokens['mhs']}"}).get_json()["area"]
    resp = _get(app, "/lists/excluded.xlsx?area=TH5802&programme=elderly_allowance",
                "mhs", tokens, html=False)
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    codes = [c.value.rsplit("[", 1)[1].rstrip("]") for c in ws[2]]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True)
            if r[codes.index("hh_id")] is not None]  # the rule note follows the rows
    assert "อายุ ตั้งแต่ 60" in str(ws.cell(ws.max_row, 1).value)
    excluded = sum(r[codes.index("n_excluded")] for r in rows)
    assert excluded == area["n_excl_elderly_allowance"]  # every excluded person is listed
    ages = [int(a) for r in rows for a in str(r[codes.index("excluded_ages")]).split(", ")]
    assert min(ages) >= 60
    page = _get(app, "/lists/excluded?area=TH5802&programme=elderly_allowance", "mhs",
                tokens).get_data(as_text=True)
    assert "อายุ ตั้งแต่ 60" in page and f"{area['n_excl_elderly_allowance']:,}" in page
    # filter by dimension keeps a subset, every order keeps the same households
    sub = _get(app, "/lists/excluded.csv?area=TH5802&programme=elderly_allowance"
               "&dimension=income", "mhs", tokens, html=False).get_data(as_text=True)
    assert 1 < len(sub.splitlines()) < len(rows) + 1


def test_village_list_public_suppressed_and_export(pages):
    app, tokens, _ = pages
    page = _get(app, "/lists?area=TH5802").get_data(as_text=True)
    assert 'id="list-table"' in page and "ตัวเลขสาธารณะ" in page
    resp = _get(app, "/lists/villages.xlsx?area=TH5802", html=False)
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    codes = [c.value.rsplit("[", 1)[1].rstrip("]") for c in ws[2]]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    api = app.test_client().get("/api/v1/targets/villages?area=TH5802&limit=500").get_json()
    ranked = [r[codes.index("village_id")] for r in rows
              if r[codes.index("priority_rank")] is not None]
    assert ranked == [i["village_id"] for i in api["items"]]
    assert all(r[codes.index("tambon_name")] for r in rows)
    hidden = [r for r in rows if r[codes.index("suppressed")] == "ใช่ · yes"]
    assert all(r[codes.index("n_households")] is None for r in hidden)
