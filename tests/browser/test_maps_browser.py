"""Every map type in headless Chromium: loads with no console error, no request to any other
host, a legend and a bilingual tooltip; a screenshot is saved under test-artifacts/.
Timings are measured by `chipao bench maps`, not asserted here."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

THAI = re.compile(r"[\u0e00-\u0e7f]")

MAPS = {
    "national-provinces": "/maps/",
    "national-tambons": "/maps/?level=tambon&measure=cov_child_grant",
    "province-tambons": "/maps/area/TH50?measure=h&group=child",
    "province-amphoes-change": "/maps/area/TH50?level=amphoe&measure=n_poor&change=1",
    "amphoe-tambons": "/maps/area/TH5001?classifier=natural_breaks&classes=4",
    "h3-r6-national": "/maps/?level=h3_r6&measure=m0",
    "h3-r7-bangkok": "/maps/area/TH10?level=h3_r7",
    "embed-province": "/embed/area/TH50?level=tambon",
}


def _open(rec, origin, path):
    rec.page.goto(origin + path)
    rec.page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    assert rec.page.get_attribute("html", "data-chipao-error") is None


def _hover_until_tooltip(page) -> str:
    """Move the mouse over areas until a tooltip opens; return its text."""
    box = page.locator(".folium-map").bounding_box()
    for x, y in page.evaluate("window.chipaoProbe(40)"):
        page.mouse.move(box["x"] + x, box["y"] + y)
        tip = page.locator(".chipao-tip")
        try:
            tip.wait_for(state="visible", timeout=250)
            return tip.inner_text()
        except Exception:
            continue
    return ""


@pytest.mark.parametrize("name", list(MAPS))
def test_map_loads_offline_with_legend_and_tooltip(name, recorded_page, live_server, artifacts):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, MAPS[name])
    page = rec.page
    legend = page.locator(".chipao-legend").inner_text()
    assert THAI.search(legend) and re.search(r"[A-Za-z]{3}", legend)
    assert "fewer than 10 households" in legend
    assert page.locator(".chipao-legend-row").count() >= 3
    tip = _hover_until_tooltip(page)
    assert tip, "no tooltip appeared"
    assert THAI.search(tip) and re.search(r"[A-Za-z]{3}", tip)
    assert re.search(r"\d", tip) or "fewer than" in tip
    # Thai text is drawn with the served Sarabun font, not a system fallback
    assert page.evaluate("document.fonts.check('12px Sarabun', 'ทดสอบ')")
    assert page.evaluate(
        "[...document.fonts].some(f => f.family.includes('Sarabun') && f.status === 'loaded')")
    page.screenshot(path=str(artifacts / f"map-{name}.png"))
    assert rec.off_server() == set(), rec.off_server()
    assert rec.console_errors == []
    assert rec.failed == []


def test_measure_control_restyles_without_reload(recorded_page, live_server):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH50")
    page = rec.page
    before = page.locator(".chipao-legend").inner_text()
    page.select_option("select[name=measure]", "excl_elderly_allowance")
    page.locator(".chipao-legend", has_text="Exclusion").wait_for(timeout=30_000)
    assert page.locator(".chipao-legend").inner_text() != before
    assert "measure=excl_elderly_allowance" in page.url
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert rec.console_errors == [] and rec.off_server() == set()


def test_click_drills_down_from_province_to_amphoe(recorded_page, live_server):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/?measure=h")
    page = rec.page
    box = page.locator(".folium-map").bounding_box()
    for x, y in page.evaluate("window.chipaoProbe(40)"):
        page.mouse.move(box["x"] + x, box["y"] + y)
        try:
            page.locator(".chipao-tip").wait_for(state="visible", timeout=400)
        except Exception:
            continue
        with page.expect_navigation():
            page.mouse.click(box["x"] + x, box["y"] + y)
        break
    assert re.search(r"/maps/area/TH\d\d\?level=amphoe", page.url), page.url
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    assert "อำเภอ" in page.locator(".chipao-title").inner_text()
    assert rec.console_errors == [] and rec.off_server() == set()


def test_embed_code_page_frames_the_embed(recorded_page, live_server, artifacts):
    origin, _ = live_server
    rec = recorded_page
    rec.page.goto(origin + "/embed-code?scope=TH50&level=tambon")
    frame = rec.page.frame_locator("iframe")
    frame.locator(".chipao-legend").wait_for(timeout=60_000)
    assert "<iframe" in rec.page.locator("textarea").input_value()
    rec.page.screenshot(path=str(artifacts / "embed-code.png"))
    assert rec.console_errors == [] and rec.off_server() == set()


def test_village_map_for_the_province_user(chromium_browser, live_server, artifacts):
    from service.api.auth import user_store

    origin, app = live_server
    with app.app_context():
        users = user_store(app)
        users.create_user("cm-browser", "correct horse battery", "provincial", "TH50")
        secret, _ = users.create_token("cm-browser")
    context = chromium_browser.new_context(
        viewport={"width": 1280, "height": 860},
        extra_http_headers={"Authorization": f"Bearer {secret}"})
    from conftest import PageRecorder

    rec = PageRecorder(context.new_page(), origin)
    try:
        _open(rec, origin, "/maps/area/TH500101")
        assert "หมู่บ้าน" in rec.page.locator(".chipao-title").inner_text()
        tip = _hover_until_tooltip(rec.page)
        assert "Moo" in tip and "หมู่" in tip
        rec.page.screenshot(path=str(artifacts / "map-tambon-villages.png"))
        assert rec.console_errors == [] and rec.off_server() == set()
    finally:
        context.close()


def test_png_export_for_committee_papers(recorded_page, live_server, artifacts):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH50?measure=h")
    with rec.page.expect_download() as info:
        rec.page.get_by_role("button", name="รูปภาพ · PNG").click()
    download = info.value
    assert download.suggested_filename == "chipao-TH50-tambon-h.png"
    path = artifacts / "export-TH50-tambon-h.png"
    download.save_as(str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert rec.console_errors == [] and rec.off_server() == set()
