"""The planners' and committees' journeys in headless Chromium over a real two-round store
(two Mae Hong Son amphoes): what is on screen equals the API, no console error, no request
to another host; screenshots under test-artifacts/."""

from __future__ import annotations

import re
import threading

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory):
    from pages_fixtures import build_pages_app  # tests/ is on sys.path
    from werkzeug.serving import make_server

    app, tokens, ids = build_pages_app(tmp_path_factory.mktemp("ws-browser"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app, tokens, ids
    server.shutdown()


@pytest.fixture
def ws_page(chromium_browser, ws_server):
    from conftest import PageRecorder

    origin = ws_server[0]
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900},
                                           locale="th-TH", accept_downloads=True)
    rec = PageRecorder(context.new_page(), origin)
    yield rec
    context.close()


def _clean(rec):
    assert rec.console_errors == [], rec.console_errors
    assert rec.off_server() == set(), rec.off_server()
    assert rec.failed == [], rec.failed


def sign_in(rec, origin, user, password="correct horse battery"):
    page = rec.page
    page.goto(origin + "/")
    page.get_by_role("link", name="เข้าสู่ระบบ · Sign in").first.click()
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="เข้าสู่ระบบ · Sign in").click()
    page.wait_for_load_state()


def test_committee_map_profile_ranking(ws_page, ws_server, artifacts):
    """Committee member: national map -> province -> profile -> ranking with explanation."""
    origin, app, tokens, ids = ws_server
    rec, page = ws_page, ws_page.page
    page.goto(origin + "/maps/")  # the interactive national map loads offline
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    page.goto(origin + "/areas/")
    page.get_by_role("link", name=re.compile("ข้อมูลพื้นที่")).first.click()  # site menu
    page.wait_for_selector("#sub-areas")
    assert "ประเทศ" in page.locator("h1").inner_text()
    # the national map of the country profile: click Mae Hong Son
    page.locator("#small-map a[href='/areas/TH58'] path").first.click()
    page.wait_for_selector("#headline")
    assert "แม่ฮ่องสอน" in page.locator("h1").inner_text()
    api = app.test_client().get("/api/v1/areas/province/TH58").get_json()
    row = api["area"]
    cards = page.locator("#headline .card[data-measure=n_target_poor] .value").inner_text()
    assert cards == f"{row['n_target_poor']:,.0f}"
    assert page.locator("#radar svg polygon.value").count() == 1
    assert page.locator("#indicator-table tr[data-indicator]").count() == 17
    assert page.locator("#small-map svg path").count() >= 2
    page.screenshot(path=str(artifacts / "ws-profile-TH58.png"), full_page=True)
    page.get_by_role("link", name=re.compile("จัดลำดับพื้นที่ย่อย")).click()
    page.wait_for_selector("#ranking-table")
    api = app.test_client().get("/api/v1/rankings?level=amphoe&province=TH58").get_json()
    first = page.locator("#ranking-table tbody tr").first
    assert first.get_attribute("data-code") == api["items"][0]["code"]
    assert first.locator("td.why .th").inner_text() == api["items"][0]["explanation_th"]
    # adjust a weight in the form and rank again
    page.fill("input[name=w_n_target_poor]", "3")
    page.get_by_role("button", name=re.compile("จัดลำดับ")).click()
    page.wait_for_selector("#ranking-table")
    assert "w_n_target_poor=3" in page.url
    assert page.locator("input[name=w_n_target_poor]").input_value() == "3.0"
    page.screenshot(path=str(artifacts / "ws-ranking-TH58.png"), full_page=True)
    assert page.evaluate("document.fonts.check('12px Sarabun', 'ทดสอบ')")
    _clean(rec)


def test_error_page_in_the_browser(ws_page, ws_server, artifacts):
    origin = ws_server[0]
    rec, page = ws_page, ws_page.page
    page.goto(origin + "/areas/")
    resp = page.goto(origin + "/areas/TH9999")
    assert resp.status == 404
    assert "ไม่พบหน้าที่ขอ" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "ws-error-404.png"))
    page.locator("#error-home").click()
    page.wait_for_load_state()
    assert page.url == origin + "/"
    rec.console_errors = [e for e in rec.console_errors if "404" not in e]  # the 404 itself
    _clean(rec)
