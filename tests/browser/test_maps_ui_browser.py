"""A map for a meeting room: place names, search, the table beside the map, collapsible
controls, presentation mode, phones and small laptops, print/PNG with provenance.
Screenshots are saved under test-artifacts/."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def _open(rec, origin, path):
    rec.page.goto(origin + path)
    rec.page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    assert rec.page.get_attribute("html", "data-chipao-error") is None


def _clean(rec):
    assert rec.console_errors == [], rec.console_errors
    assert rec.off_server() == set(), rec.off_server()


def _search(page, text):
    box = page.locator(".chipao-search input")
    box.fill("")
    box.type(text, delay=20)
    page.locator(".chipao-search-results li").first.wait_for(timeout=20_000)
    return page.locator(".chipao-search-results li").all_inner_texts()


@pytest.mark.parametrize("text", ["สุเทพ", "Suthep", "Sutep", "suthep "])
def test_search_finds_a_tambon_in_thai_english_or_with_a_typo_and_flies_there(
        text, recorded_page, live_server):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH50")
    page = rec.page
    results = _search(page, text)
    assert "สุเทพ" in results[0] and "Suthep" in results[0], results
    assert "ตำบล" in results[0] and "เมืองเชียงใหม่" in results[0]
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.documentElement.getAttribute('data-chipao-found')"
                           " === 'TH500108'", timeout=10_000)
    page.wait_for_timeout(900)  # the flight
    # the tambon is on this map: it is outlined and its table row is marked
    assert page.get_attribute("html", "data-chipao-highlight") == "TH500108"
    assert page.locator(".chipao-table tr.chipao-active").get_attribute("data-code") == "TH500108"
    # ... and the map has flown there: the tambon's centre is in view
    assert page.evaluate("""() => { const r = document.querySelector('.chipao-found')
        .getBoundingClientRect(); return r.x > 0 && r.y > 0 && r.right < innerWidth
        && r.bottom < innerHeight; }""")
    assert page.locator(".chipao-found").inner_text().startswith("สุเทพ")
    _clean(rec)


def test_search_over_the_whole_country_from_the_national_map(recorded_page, live_server):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/")
    results = _search(rec.page, "Mueang Chaing Mai")  # typo: Chaing
    assert any("Mueang Chiang Mai" in r and "อำเภอ" in r for r in results), results
    assert _search(rec.page, "xyzxyzxyz") == ["ไม่พบ · not found"]
    _clean(rec)


def test_table_beside_the_map_sorts_and_follows_the_map(recorded_page, live_server, artifacts):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH5001?measure=h")
    page = rec.page
    rows = page.locator(".chipao-table tbody tr")
    n = rows.count()
    assert n >= 10
    values = page.eval_on_selector_all(
        ".chipao-table tbody tr td:nth-child(2)", "tds => tds.map(t => t.innerText)")
    shown = [float(v.rstrip("%")) for v in values if v.endswith("%")]
    assert shown == sorted(shown, reverse=True)  # by value, highest first
    page.locator(".chipao-table th[data-key=name]").click()
    names = page.eval_on_selector_all(".chipao-table tbody tr td:first-child",
                                      "tds => tds.map(t => t.innerText.split('\\n')[0])")
    assert names == sorted(names, key=lambda s: s) or names[0] != names[-1]
    first_code = page.locator(".chipao-table tbody tr").first.get_attribute("data-code")
    page.locator(".chipao-table tbody tr").first.click()
    assert page.get_attribute("html", "data-chipao-highlight") == first_code
    assert page.locator(".chipao-table tr.chipao-active").get_attribute("data-code") == first_code
    # hovering an area marks its row
    box = page.locator(".folium-map").bounding_box()
    marked = None
    for x, y in page.evaluate("window.chipaoProbe(30)"):
        page.mouse.move(box["x"] + x, box["y"] + y)
        active = page.locator(".chipao-table tr.chipao-active")
        if active.count() and active.get_attribute("data-code") != first_code:
            marked = active.get_attribute("data-code")
            break
    assert marked and marked.startswith("TH5001")
    tip = page.locator(".chipao-tip").inner_text()
    name = page.locator(".chipao-table tr.chipao-active td").first.inner_text().split("\n")[0]
    assert name in tip
    page.screenshot(path=str(artifacts / "ui-table.png"))
    _clean(rec)


def test_place_names_are_drawn_without_overlap(recorded_page, live_server, artifacts):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH50?level=amphoe")
    page = rec.page
    labels = page.locator(".chipao-label")
    assert labels.count() >= 5
    texts = labels.all_inner_texts()
    amphoes = page.eval_on_selector_all(".chipao-table tbody tr td:first-child",
                                        "tds => tds.map(t => t.innerText.split('\\n')[0])")
    assert len(amphoes) == 25 and set(texts) <= set(amphoes)
    # the national province map names provinces; zooming in names more of them
    _open(rec, origin, "/maps/")
    before = int(page.get_attribute("html", "data-chipao-labels"))
    assert before >= 10
    provinces = page.eval_on_selector_all(".chipao-table tbody tr td:first-child",
                                          "tds => tds.map(t => t.innerText.split('\\n')[0])")
    assert set(page.locator(".chipao-label").all_inner_texts()) <= set(provinces)
    # no name hides under the controls
    blocked = [page.locator(s).bounding_box() for s in (".chipao-panel", ".chipao-legend",
                                                         ".chipao-table")]
    for i in range(page.locator(".chipao-label").count()):
        lab = page.locator(".chipao-label").nth(i).bounding_box()
        assert all(_overlapping([lab, b]) is None for b in blocked if b)
    page.screenshot(path=str(artifacts / "ui-labels-national.png"))
    _clean(rec)


def _overlapping(boxes):
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if (a["x"] < b["x"] + b["width"] - 1 and b["x"] < a["x"] + a["width"] - 1
                    and a["y"] < b["y"] + b["height"] - 1 and b["y"] < a["y"] + a["height"] - 1):
                return a, b
    return None


def test_labels_never_overlap(recorded_page, live_server):
    origin, _ = live_server
    rec = recorded_page
    for path in ("/maps/", "/maps/area/TH50", "/maps/area/TH10?level=amphoe"):
        _open(rec, origin, path)
        labels = rec.page.locator(".chipao-label")
        boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
        assert boxes, path
        assert _overlapping(boxes) is None, path
    _clean(rec)


@pytest.mark.parametrize("viewport", [(1024, 768), (390, 844)])
def test_layout_on_a_small_laptop_and_a_phone(viewport, chromium_browser, live_server,
                                              artifacts):
    from conftest import PageRecorder

    origin, _ = live_server
    width, height = viewport
    context = chromium_browser.new_context(viewport={"width": width, "height": height},
                                           locale="th-TH", is_mobile=width < 500,
                                           has_touch=width < 500)
    rec = PageRecorder(context.new_page(), origin)
    page = rec.page
    try:
        _open(rec, origin, "/maps/area/TH50")
        map_box = page.locator(".folium-map").bounding_box()
        assert map_box["width"] >= width - 2 and map_box["height"] >= height * 0.9
        panel = page.locator(".chipao-panel").bounding_box()
        legend = page.locator(".chipao-legend").bounding_box()
        covered = panel["width"] * panel["height"] + legend["width"] * legend["height"]
        if width < 500:
            # a phone: the controls are folded away, most of the map is visible
            assert page.locator(".chipao-panel.chipao-collapsed").count() == 1
            assert not page.locator(".chipao-form").is_visible()
            assert covered < 0.3 * map_box["width"] * map_box["height"]
            page.screenshot(path=str(artifacts / "ui-phone-collapsed.png"))
            page.get_by_role("button", name=re.compile("ตัวเลือก")).click()
            assert page.locator(".chipao-form").is_visible()
            page.get_by_role("button", name=re.compile("ย่อ")).click()
            assert not page.locator(".chipao-form").is_visible()
        else:
            assert page.locator(".chipao-form").is_visible()
            page.get_by_role("button", name=re.compile("ย่อ · Hide")).click()
            assert not page.locator(".chipao-form").is_visible()
            small = page.locator(".chipao-panel").bounding_box()
            assert small["height"] < panel["height"] / 2
        page.screenshot(path=str(artifacts / f"ui-{width}x{height}.png"))
        _clean(rec)
    finally:
        context.close()


def test_presentation_mode_and_legend_collapse(recorded_page, live_server, artifacts):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH50")
    page = rec.page
    page.get_by_role("button", name="นำเสนอ · Present").click()
    assert page.locator("html.chipao-presenting").count() == 1
    assert not page.locator(".chipao-form").is_visible()
    assert not page.locator(".chipao-table").is_visible()
    assert page.locator(".chipao-legend").is_visible()
    page.screenshot(path=str(artifacts / "ui-presentation.png"))
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.documentElement.classList.contains("
                           "'chipao-presenting')", timeout=5000)
    assert page.locator(".chipao-form").is_visible()
    page.locator(".chipao-legend-toggle").click()
    assert not page.locator(".chipao-legend-row").first.is_visible()
    page.locator(".chipao-legend-toggle").click()
    assert page.locator(".chipao-legend-row").first.is_visible()
    _clean(rec)


def test_legend_and_print_carry_the_provenance(recorded_page, live_server, artifacts):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH50?measure=h&group=child")
    page = rec.page
    legend = page.locator(".chipao-legend").inner_text()
    assert "เด็ก" in legend and "Children" in legend
    source = page.locator(".chipao-legend-source").inner_text()
    assert "เชียงใหม่" in source and "Round" in source and "k" in source
    assert re.search(r"25\d\d", source), source  # a Buddhist-era year
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / "ui-print.png"))
    assert not page.locator(".chipao-form").is_visible()
    assert page.locator(".chipao-legend-source").is_visible()
    with page.expect_download() as info:
        page.emulate_media(media="screen")
        page.get_by_role("button", name="รูปภาพ · PNG").click()
    path = artifacts / "ui-export-provenance.png"
    info.value.save_as(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _clean(rec)


def test_a_public_click_on_a_tambon_says_sign_in_shows_villages(recorded_page, live_server):
    origin, _ = live_server
    rec = recorded_page
    _open(rec, origin, "/maps/area/TH50")
    page = rec.page
    box = page.locator(".folium-map").bounding_box()
    for x, y in page.evaluate("window.chipaoProbe(20)"):
        page.mouse.click(box["x"] + x, box["y"] + y)
        if page.locator(".chipao-hint").is_visible():
            break
    hint = page.locator(".chipao-hint")
    assert hint.is_visible()
    assert "เข้าสู่ระบบ" in hint.inner_text() and "villages" in hint.inner_text()
    assert re.match(r"/login\?next=%2Fmaps%2Farea%2FTH50\d{4}$",
                    hint.locator("a").get_attribute("href"))
    _clean(rec)
