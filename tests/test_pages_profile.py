"""Area profile pages /areas/<code> over a real two-round store: figures equal the API's,
public views are disclosure-controlled, links go up and down the hierarchy."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from pages_fixtures import build_pages_app

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return build_pages_app(tmp_path_factory.mktemp("pages"))


def _get(app, url, who=None, tokens=None):
    headers = dict(HTML)
    if who:
        headers["Authorization"] = f"Bearer {tokens[who]}"
    return app.test_client().get(url, headers=headers)


@pytest.mark.parametrize("code", ["", "TH58", "TH5802", "TH580201"])
def test_profile_pages_render_for_the_public(pages, code):
    app, tokens, ids = pages
    resp = _get(app, f"/areas/{code}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    page = resp.get_data(as_text=True)
    for section in ("headline", "dimensions", "programmes", "trend", "sub-areas", "provenance"):
        assert f'id="{section}"' in page, section
    assert ids[-1] in page and "2566" in page and "k = 26 %" in page
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org", "")


def test_profile_numbers_equal_the_api(pages):
    app, tokens, ids = pages
    client = app.test_client()
    api = client.get("/api/v1/areas/amphoe/TH5802").get_json()
    row = api["area"]
    page = _get(app, "/areas/TH5802").get_data(as_text=True)
    cards = dict(re.findall(r'data-measure="(\w+)">.*?<div class="value">([^<]+)</div>', page,
                            re.S))
    assert cards["n_households"] == f"{row['n_households']:,.0f}"
    assert cards["n_target_poor"] == f"{row['n_target_poor']:,.0f}"
    assert cards["m0"] == f"{row['m0']:.3f}"
    assert cards["h"] == f"{row['h'] * 100:.1f} %"
    # the sub-areas appear in the API's ranking order
    rank = client.get("/api/v1/rankings?level=tambon&province=TH58&limit=100").get_json()
    api_order = [i["code"] for i in rank["items"] if i["code"].startswith("TH5802")]
    shown = re.findall(r'<tr data-code="(TH5802\d\d)">', page)
    assert shown and shown == api_order[:len(shown)]


def test_profile_states_eligibility_rules_and_links_exclusions(pages):
    app, tokens, _ = pages
    page = _get(app, "/areas/TH5802").get_data(as_text=True)
    assert "อายุ ตั้งแต่ 60" in page and "age at least 60" in page
    assert "/lists/excluded?programme=elderly_allowance&amp;area=TH5802" in page
    assert 'href="/areas/TH58"' in page and 'href="/areas/TH580201"' in page


def test_village_profile_public_is_withheld_or_shown_safely(pages):
    app, tokens, _ = pages
    nat = _get(app, "/areas/TH58020101", "nat", tokens).get_data(as_text=True)
    assert 'id="headline"' in nat and "ตัวเลขละเอียด" in nat
    public = _get(app, "/areas/TH58020101").get_data(as_text=True)
    assert "ตัวเลขสาธารณะ" in public


def test_unknown_area_is_an_html_404_for_browsers(pages):
    app, _, _ = pages
    resp = _get(app, "/areas/TH9999")
    assert resp.status_code == 404 and "ไม่พบหน้าที่ขอ" in resp.get_data(as_text=True)
    bad = _get(app, "/areas/bogus")
    assert bad.status_code == 422 and "รหัสพื้นที่ไม่ถูกต้อง" in bad.get_data(as_text=True)


def _order(page):
    return re.findall(r'<tr data-code="(TH\d+)">', page)


def test_ranking_page_equals_the_api_and_weights_change_it(pages):
    app, tokens, _ = pages
    client = app.test_client()
    page = _get(app, "/ranking?area=TH58&level=tambon").get_data(as_text=True)
    api = client.get("/api/v1/rankings?level=tambon&province=TH58&limit=500").get_json()
    assert _order(page) == [i["code"] for i in api["items"]]
    first = api["items"][0]
    assert str(escape(first["explanation_th"])) in page
    assert str(escape(first["explanation_en"])) in page
    assert f"{first['priority_score']:.1f}" in page
    assert 'name="w_m0" value="0.25"' in page
    # a weight from the form changes the order exactly as the API's w_ parameter does
    page2 = _get(app, "/ranking?area=TH58&level=tambon&w_m0=0&w_n_poor=0&w_n_target_poor=5"
                 ).get_data(as_text=True)
    api2 = client.get("/api/v1/rankings?level=tambon&province=TH58&limit=500&w_m0=0&w_n_poor=0"
                      "&w_n_target_poor=5").get_json()
    assert _order(page2) == [i["code"] for i in api2["items"]]
    assert 'name="w_n_target_poor" value="5.0"' in page2


def test_ranking_page_intervals_for_the_province_user(pages):
    app, tokens, _ = pages
    client = app.test_client()
    url = "/ranking?area=TH5802&level=village&bootstrap=50"
    page = _get(app, url, "mhs", tokens).get_data(as_text=True)
    api = client.get("/api/v1/rankings?level=village&province=TH58&bootstrap=50&limit=500",
                     headers={"Authorization": f"Bearer {tokens['mhs']}"}).get_json()
    assert api["uncertainty"]["method"].startswith("Poisson household")
    expected = [i["code"] for i in api["items"] if i["code"].startswith("TH5802")]
    assert _order(page) == expected
    top = next(i for i in api["items"] if i["code"] == expected[0])
    assert f"{top['score_lo']:.1f}–{top['score_hi']:.1f}" in page
    assert "P(top 10)" in page


def test_province_ranking_explains_the_home_page_difference(pages):
    app, _, _ = pages
    page = _get(app, "/ranking?area=TH").get_data(as_text=True)
    assert 'id="home-note"' in page and "target-poor rate" in page
    assert _get(app, "/ranking?area=TH&level=village").status_code == 422


def test_home_top_provinces_say_which_definition_and_link_the_ranking(pages):
    app, _, _ = pages
    page = app.test_client().get("/").get_data(as_text=True)
    note = page[page.index('id="top-definition"'):]
    assert "target-poor rate" in note and 'href="/ranking?area=TH"' in note
    ranking = _get(app, "/ranking?area=TH").get_data(as_text=True)
    assert 'id="home-note"' in ranking


def test_headline_says_not_available_for_absent_columns():
    from service.usecases.profile import headline

    cards = {c["id"]: c for c in headline({"n_households": 10, "n_persons": 30, "h": None})}
    assert cards["n_households"]["available"] and cards["h"]["available"]
    assert not cards["m0"]["available"] and not cards["target_poor_rate"]["available"]
