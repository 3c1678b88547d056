"""A published dataset (TPMAP's tables of three provinces, no persons) clicked through in
headless Chromium: national and province maps (no k, no target groups, the dimension
checkboxes, person measures listed as not available), profile, ranking, budget selection,
village list and its export, KPI dashboard. Every page renders, unavailable measures are
never shown as 0, no console error, no request to another host."""

from __future__ import annotations

import re
import threading

import polars as pl
import pytest

pytestmark = pytest.mark.browser
NA = "not available for this dataset"


@pytest.fixture(scope="module")
def pub_server(tmp_path_factory):
    from test_tpmap import PUBLISHED  # tests/ is on sys.path
    from werkzeug.serving import make_server

    from service import create_app
    from service.api.auth import user_store
    from service.ingest.tpmap import import_tpmap

    if not PUBLISHED.exists():
        pytest.skip("TPMAP published tables absent")
    tmp = tmp_path_factory.mktemp("tpmap-browser")
    app = create_app({"testing": True, "data_dir": str(tmp / "var"), "rate_limit": "",
                      "secret_key": "browser-test", "default_dataset": "tpmap"})
    assert import_tpmap(app.config["CHIPAO"], PUBLISHED, dataset="tpmap",
                        round=2561).status == "created"
    with app.app_context():
        users = user_store(app)
        users.create_user("nat", "correct horse battery", "national", None)
        token = users.create_token("nat")[0]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app, {"Authorization": f"Bearer {token}"}
    server.shutdown()


@pytest.fixture
def pub_page(chromium_browser, pub_server):
    from conftest import PageRecorder

    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900},
                                           locale="th-TH", accept_downloads=True)
    rec = PageRecorder(context.new_page(), pub_server[0])
    yield rec
    context.close()


def _clean(rec):
    assert rec.console_errors == [], rec.console_errors
    assert rec.off_server() == set(), rec.off_server()
    assert rec.failed == [], rec.failed


def _settled(page) -> int:
    return int(page.get_attribute("html", "data-chipao-settled") or 0)


def _wait_values(page, before: int) -> None:
    """Until another values request has finished (the page's CSP allows no eval)."""
    page.wait_for_selector(f"html[data-chipao-settled]:not([data-chipao-settled='{before}'])",
                           state="attached", timeout=60_000)


def _published_tp(level: str, province: str, suffix: str = "11111") -> int:
    from test_tpmap import published

    return int(published(level, suffix, province[2:])["poor.JPT.MOFval.CNT"]
               .cast(pl.Int64).sum())


def test_published_maps_offer_what_the_tables_support(pub_page, pub_server, artifacts):
    origin, app, _ = pub_server
    rec, page = pub_page, pub_page.page
    page.goto(origin + "/maps/")
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    page.wait_for_selector("html[data-chipao-settled]", state="attached", timeout=60_000)
    assert page.locator("select[name=k]").count() == 0  # no persons: no other cut-off
    assert page.locator("select[name=group]").is_hidden()  # no target groups
    boxes = page.locator("fieldset.chipao-dims input[name=dim]")
    assert boxes.count() == 5
    # person measures: listed as not available, cannot be chosen
    assert page.locator("select[name=measure] option[value=m0]").is_disabled()
    assert page.locator("select[name=measure] option[value=h]").is_disabled()
    label = page.locator("select[name=measure] option[value=m0]").evaluate(
        "o => o.parentNode.label")
    assert NA in label
    assert not page.locator("select[name=measure] option[value=tp_m10000]").is_disabled()
    # the dimension checkboxes compose the measure: health, then health + education
    before = _settled(page)
    page.locator("fieldset.chipao-dims input[value=health]").check()
    _wait_values(page, before)
    assert page.locator("select[name=measure]").input_value() == "tp_m10000"
    assert "measure=tp_m10000" in page.url
    from service.render.catalogue import load_catalogue

    legend = page.locator(".chipao-legend").inner_text()
    assert load_catalogue().get("tp_m10000").th in legend
    assert "Poverty cut-off k" not in legend  # no k without persons
    before = _settled(page)
    page.locator("fieldset.chipao-dims input[value=education]").check()
    _wait_values(page, before)
    assert page.locator("select[name=measure]").input_value() == "tp_m10100"
    assert any("/maps/values/province.json" in u and "measure=tp_m10100" in u
               for u in rec.requests)
    page.screenshot(path=str(artifacts / "tpmap-national-map.png"))
    # choosing another measure in the list syncs the boxes (none for a non-mask measure)
    before = _settled(page)
    page.select_option("select[name=measure]", "tp_m01000")
    _wait_values(page, before)
    checked = [boxes.nth(i).is_checked() for i in range(5)]
    assert checked == [False, True, False, False, False]

    # a province map: no H3 levels (no village points), the same controls
    page.goto(origin + "/maps/area/TH58")
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    page.wait_for_selector("html[data-chipao-settled]", state="attached", timeout=60_000)
    levels = page.locator("select[name=level] option").evaluate_all(
        "os => os.map(o => o.value)")
    assert levels and not any(lv.startswith("h3_") for lv in levels)
    assert page.locator("select[name=k]").count() == 0
    # a person measure opened by its URL: not available, no classes, never a 0
    page.goto(origin + "/maps/area/TH58?measure=m0")
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    page.wait_for_selector("html[data-chipao-settled]", state="attached", timeout=60_000)
    legend = page.locator(".chipao-legend").inner_text()
    assert NA in legend
    assert not re.search(r"(^|\s)0([.,]0+)?(\s|$|–)", legend.split(NA)[1].split("ข้อมูลจาก")[0])
    body = app.test_client().get("/maps/values/tambon.json?scope=TH58&measure=m0").get_json()
    assert body["available"] is False and set(body["columns"]["value"]) == {None}
    page.screenshot(path=str(artifacts / "tpmap-province-map-m0.png"))
    _clean(rec)


def sign_in(rec, origin, user="nat", password="correct horse battery"):
    page = rec.page
    page.goto(origin + "/areas/")
    page.locator(".site-account a.signin").click()
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="เข้าสู่ระบบ · Sign in").click()
    page.wait_for_selector(".site-account .who")


def _download(page, locator, path):
    with page.expect_download() as info:
        locator.click()
    info.value.save_as(str(path))
    return path


def test_published_pages_click_through(pub_page, pub_server, artifacts, tmp_path):
    from openpyxl import load_workbook

    origin, app, national = pub_server
    rec, page = pub_page, pub_page.page
    api = app.test_client()
    sign_in(rec, origin)
    # profile: the published figures, person measures not available (never 0)
    page.goto(origin + "/areas/TH58")
    page.wait_for_selector("#headline")
    tp = _published_tp("amphur", "TH58")
    card = page.locator("#headline .card[data-measure=n_target_poor] .value").inner_text()
    assert card == f"{tp:,}"
    for measure in ("n_poor", "h", "a", "m0"):
        text = page.locator(f"#headline .card[data-measure={measure}] .value").inner_text()
        assert NA in text and not re.search(r"\d", text), measure
    ind22 = page.locator("#indicator-table tr[data-indicator=ind22]").inner_text()
    row = api.get("/api/v1/areas/province/TH58", headers=national).get_json()["area"]
    assert f"{row['n_fail_ind22']:,}" in ind22 and f"{row['n_tp_ind22']:,}" in ind22
    page.screenshot(path=str(artifacts / "tpmap-profile-TH58.png"), full_page=True)
    # ranking from the profile
    page.get_by_role("link", name=re.compile("จัดลำดับพื้นที่ย่อย")).click()
    page.wait_for_selector("#ranking-table")
    ranked = api.get("/api/v1/rankings?level=amphoe&province=TH58",
                     headers=national).get_json()
    first = page.locator("#ranking-table tbody tr").first
    assert first.get_attribute("data-code") == ranked["items"][0]["code"]
    # budget selection from the site menu: target poor reached
    page.get_by_role("link", name=re.compile("เลือกหมู่บ้านตามงบ")).first.click()
    page.fill("input[name=province]", "TH58")
    page.fill("input[name=budget]", "3,000,000")
    page.get_by_role("button", name=re.compile("คำนวณ")).click()
    page.wait_for_selector("#result")
    sel = api.get("/api/v1/selection?province=TH58&budget=3000000", headers=national).get_json()
    reached = page.locator(".card[data-measure=people_lifted]").inner_text()
    assert "Target poor reached" in reached and f"{sel['total_benefit']:,.0f}" in reached
    m0 = page.locator(".card[data-measure=m0_fall] .value").inner_text()
    assert NA in m0 and not re.search(r"\d", m0)
    assert page.locator("#selected-table tbody tr[data-code]").count() == sel["n_selected"]
    assert page.locator("#published-note").is_visible()
    path = _download(page, page.locator("#export-xlsx"), tmp_path / "selection.xlsx")
    assert load_workbook(path)["เปรียบเทียบ"].cell(3, 5).value == sel["total_benefit"]
    page.screenshot(path=str(artifacts / "tpmap-selection-TH58.png"), full_page=True)
    # the target village list of an amphoe and its export
    page.get_by_role("link", name=re.compile("รายชื่อเป้าหมาย")).first.click()
    page.fill("input[name=area]", "TH5801")
    page.get_by_role("button", name=re.compile("แสดง")).click()
    page.wait_for_selector("#list-table")
    targets = api.get("/api/v1/targets/villages?area=TH5801&limit=1000",
                      headers=national).get_json()
    assert int(page.locator("#list-table").get_attribute("data-total")) == len(
        targets["items"])
    path = _download(page, page.locator("#export-xlsx"), tmp_path / "villages.xlsx")
    ws = load_workbook(path).worksheets[0]
    codes = [str(c.value).rsplit("[", 1)[-1].rstrip("]") for c in ws[2]]
    got = {r[codes.index("village_id")]: r[codes.index("n_target_poor")]
           for r in ws.iter_rows(min_row=3, values_only=True)}
    want = {i["village_id"]: i["n_target_poor"] for i in targets["items"]}
    assert got == want and sum(v for v in want.values() if v) > 0
    page.screenshot(path=str(artifacts / "tpmap-villages-TH5801.png"), full_page=True)
    # KPI dashboard from the menu, then Mae Hong Son
    page.get_by_role("link", name=re.compile("ตัวชี้วัดแผนแม่บท")).first.click()
    page.wait_for_selector("#kpi-form")
    page.select_option("select[name=province]", "TH58")
    page.get_by_role("button", name=re.compile("แสดง")).click()
    page.wait_for_selector("#kpi-TH58")
    row = page.locator("#kpi-TH58 tr[data-kpi=n_target_poor]").inner_text()
    assert f"{tp:,}" in row
    m0 = page.locator("#kpi-TH58 tr[data-kpi=m0]").inner_text()
    assert NA in m0 and not re.search(r"\d", m0.split("\n", 1)[-1].replace("M0", ""))
    page.screenshot(path=str(artifacts / "tpmap-kpi-TH58.png"), full_page=True)
    _clean(rec)
