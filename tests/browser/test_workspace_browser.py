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


VISIT_DATASET, VISIT_VILLAGE = "survey", "TH58020101"


@pytest.fixture(scope="module")
def visit_source(ws_server, tmp_path_factory):
    """The province's own survey file (names, house numbers, 13-digit IDs) of six households
    of one Khun Yuam village, imported as dataset ``survey``: the file a planner uploads to
    re-identify the households of the list on the visit sheet. (path, {house id: names})."""
    from ingest_support import nid, write_csv

    from service.ingest import ingest_files

    app = ws_server[1]
    rows, names = [], {}
    for i in range(12):
        house = f"5802{i // 2:07d}"
        rows.append([nid(i + 1), f"สมศรี{i}", "ดอยงาม", house, "580201", "1", "", "",
                     str(20 + i * 4), "ชาย" if i % 2 else "หญิง", "มี", "ไม่ได้รับ", "ไม่ผ่าน",
                     "1", "20,000"])
        names.setdefault(house, []).append(f"สมศรี{i} ดอยงาม")
    path = write_csv(tmp_path_factory.mktemp("visit-source") / "khun-yuam-moo1.csv", rows)
    report = ingest_files(app.config["CHIPAO"], [path], dataset=VISIT_DATASET, round=2566)
    assert report.status == "created", report.summary()
    return path, names


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
    page.goto(origin + "/areas/")
    page.locator(".site-account a.signin").click()
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="เข้าสู่ระบบ · Sign in").click()
    page.wait_for_selector(".site-account .who")


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


def _download(page, locator, path):
    with page.expect_download() as info:
        locator.click()
    info.value.save_as(str(path))
    return path


def _sheet(path):
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb.worksheets[0]
    codes = [c.value.rsplit("[", 1)[1].rstrip("]") for c in ws[2]]
    rows = [dict(zip(codes, r, strict=True)) for r in ws.iter_rows(min_row=3, values_only=True)]
    return wb, [c.value for c in ws[1]], [r for r in rows if any(v is not None for v in r.values())]


def test_planner_selection_village_list_visit_sheet(ws_page, ws_server, visit_source,
                                                    artifacts):
    """Planner: sign in -> selection with a budget -> village list export -> household
    list export -> household visit sheet with the names re-identified from the province's
    own file (uploaded in the browser), audited."""
    origin, app, tokens, ids = ws_server
    rec, page = ws_page, ws_page.page
    sign_in(rec, origin, "mhs")
    assert "ระดับจังหวัด" in page.locator(".site-account").inner_text()
    page.get_by_role("link", name=re.compile("เลือกหมู่บ้านตามงบ")).click()
    page.fill("input[name=province]", "TH58")
    page.fill("input[name=budget]", "5,000,000")
    page.check("input[name=per_amphoe]")
    page.get_by_role("button", name=re.compile("คำนวณ")).click()
    page.wait_for_selector("#result")
    api = app.test_client().get(
        "/api/v1/selection?province=TH58&budget=5000000&per_amphoe=true",
        headers={"Authorization": f"Bearer {tokens['mhs']}"}).get_json()
    shown = [r.get_attribute("data-code") for r in page.locator("#selected-table tbody tr").all()]
    assert sorted(shown) == sorted(i["code"] for i in api["items"])
    total = page.locator(".card[data-measure=total_cost] .value").inner_text()
    assert total == f"{api['total_cost_thb']:,.0f} บาท"
    assert page.locator("#comparison tr[data-method=top]").count() == 1
    page.screenshot(path=str(artifacts / "ws-selection-TH58.png"), full_page=True)
    _, heads, rows = _sheet(_download(page, page.locator("#export-xlsx"),
                                      artifacts / "ws-selection-TH58.xlsx"))
    assert sorted(r["village_id"] for r in rows) == sorted(shown) and "ค่าใช้จ่าย (บาท)" in heads
    # village list of the first chosen village's amphoe, exported
    amphoe = shown[0][:6]
    page.get_by_role("link", name=re.compile("รายชื่อเป้าหมาย")).first.click()
    page.fill("input[name=area]", amphoe)
    page.get_by_role("button", name=re.compile("แสดง")).click()
    page.wait_for_selector("#list-table")
    _, heads, rows = _sheet(_download(page, page.locator("#export-xlsx"),
                                      artifacts / f"ws-villages-{amphoe}.xlsx"))
    assert "หมู่บ้าน" in " ".join(heads) and all(r["tambon_name"] for r in rows)
    assert {r["village_id"] for r in rows} >= {c for c in shown if c.startswith(amphoe)}
    # the household visit sheet of that village: greatest need first, plans in words
    page.get_by_role("link", name=re.compile("ครัวเรือนเป้าหมาย")).click()
    page.fill("input[name=area]", shown[0])
    page.get_by_role("button", name=re.compile("แสดง")).click()
    page.wait_for_selector("#list-table")
    page.screenshot(path=str(artifacts / "ws-households.png"), full_page=True)
    wb, heads, rows = _sheet(_download(page, page.locator("#export-xlsx"),
                                       artifacts / "ws-visit-sheet.xlsx"))
    assert "แผนเร่งด่วน" in heads and rows
    assert [r["max_c"] for r in rows] == sorted((r["max_c"] for r in rows), reverse=True)
    assert not any("rights:" in (r["plan_urgent_th"] or "") for r in rows)
    about = {r[1]: r[2] for r in wb.worksheets[-1].iter_rows(min_row=2, values_only=True)}
    assert about["Exported by"].startswith("mhs")
    # the visit sheet: the households of a village of the province's own survey file, the
    # file chosen in the form, the workbook downloaded and read back
    source, names = visit_source
    page.goto(origin + f"/lists/households?area={VISIT_VILLAGE}&dataset={VISIT_DATASET}")
    page.wait_for_selector("#list-table")
    listed = [r.get_attribute("data-id") for r in page.locator("#list-table tbody tr").all()]
    assert len(listed) == len(names)
    page.set_input_files("#visit-sheet-form input[name=source]", str(source))
    page.screenshot(path=str(artifacts / "ws-visit-sheet-form.png"), full_page=True)
    wb, heads, rows = _sheet(_download(
        page, page.get_by_role("button", name=re.compile("สร้างใบลงเยี่ยมบ้าน")),
        artifacts / "ws-visit-sheet-names.xlsx"))
    assert wb.worksheets[0].title == "ใบลงเยี่ยมบ้าน"
    assert {"ชื่อสมาชิก (จากไฟล์ต้นฉบับของจังหวัด)", "รหัสประจำบ้าน", "พบในไฟล์ต้นฉบับ",
            "แผนเร่งด่วน"} <= set(heads), heads
    rows = [r for r in rows if r.get("hh_id")]
    assert sorted(r["hh_id"] for r in rows) == sorted(listed)
    assert {r["house_id"]: r["member_names"] for r in rows} == {
        h: "; ".join(n) for h, n in names.items()}
    assert all(r["found_in_source"] == "ใช่ · yes" for r in rows)
    assert not any(str(v).isdigit() and len(str(v)) == 13 for r in rows for v in r.values())
    about = {r[1]: r[2] for r in wb.worksheets[-1].iter_rows(min_row=2, values_only=True)}
    assert about["Exported by"].startswith("mhs")
    from service.api.auth import user_store

    audit = [r for r in user_store(app).audit_rows() if r["action"] == "export_visit_sheet"]
    assert audit and f"found={len(names)}" in str(audit[-1])
    assert "mhs" in str(audit[-1]) and not any(n in str(audit[-1]) for v in names.values()
                                               for n in v)  # no name in the audit log
    # a form submission answered with an attachment ends its navigation as a download,
    # which Chromium reports as an aborted request: that one is the download itself
    rec.failed = [u for u in rec.failed
                  if u != f"{origin}/lists/visit-sheet?dataset={VISIT_DATASET}"]
    _clean(rec)


def test_follow_up_officer_elderly_exclusion_in_one_amphoe(ws_page, ws_server, artifacts):
    origin, app, tokens, ids = ws_server
    rec, page = ws_page, ws_page.page
    sign_in(rec, origin, "mhs")
    page.goto(origin + "/lists/excluded?area=TH5807")
    page.select_option("select[name=programme]", "elderly_allowance")
    page.get_by_role("button", name=re.compile("แสดง")).click()
    page.wait_for_selector("#eligibility-rule")
    assert "อายุ ตั้งแต่ 60" in page.locator("#eligibility-rule").inner_text()
    area = app.test_client().get("/api/v1/areas/amphoe/TH5807", headers={
        "Authorization": f"Bearer {tokens['mhs']}"}).get_json()["area"]
    assert page.locator("#area-excluded").inner_text() == f"{area['n_excl_elderly_allowance']:,}"
    page.screenshot(path=str(artifacts / "ws-excluded-elderly-TH5807.png"), full_page=True)
    _, heads, rows = _sheet(_download(page, page.locator("#export-xlsx"),
                                      artifacts / "ws-excluded-elderly-TH5807.xlsx"))
    rows = [r for r in rows if r.get("hh_id")]
    assert sum(r["n_excluded"] for r in rows) == area["n_excl_elderly_allowance"]
    assert all(r["amphoe_name"] == area["name_th"] for r in rows)
    _clean(rec)


def test_analyst_kpi_dashboard_and_export(ws_page, ws_server, artifacts):
    origin, app, tokens, ids = ws_server
    rec, page = ws_page, ws_page.page
    sign_in(rec, origin, "nat")
    page.get_by_role("link", name=re.compile("ตัวชี้วัดแผนแม่บท")).click()
    page.select_option("select[name=province]", "TH58")
    page.get_by_role("button", name=re.compile("แสดง")).click()
    page.wait_for_selector("#kpi-TH58")
    api = app.test_client().get("/api/v1/kpi?province=TH58", headers={
        "Authorization": f"Bearer {tokens['nat']}"}).get_json()
    m0 = [i for i in api["items"] if i["kpi"] == "m0"]
    cells = page.locator("#kpi-TH58 tr[data-kpi=m0] td.status")
    assert [c.get_attribute("data-status") for c in cells.all()] == [i["status"] for i in m0]
    assert page.locator("#kpi-TH58 svg polyline").count() == 2
    page.screenshot(path=str(artifacts / "ws-kpi-TH58.png"), full_page=True)
    _, heads, rows = _sheet(_download(page, page.locator("#export-xlsx"),
                                      artifacts / "ws-kpi-TH58.xlsx"))
    assert "สถานะ" in heads
    got = [r["value"] for r in rows if r["kpi"] == "m0" and r["province_code"] == "TH58"]
    assert got == [round(i["value"], 4) for i in m0]
    _clean(rec)


# -- the site navigation on every page (#12 item 7) -------------------------------------------
NAV_TARGETS = {"/": "หน้าแรก", "/maps/": "แผนที่", "/areas/": "ข้อมูลพื้นที่",
               "/ranking": "จัดลำดับความสำคัญ", "/selection": "เลือกหมู่บ้านตามงบ",
               "/lists": "รายชื่อเป้าหมาย", "/kpi": "ตัวชี้วัดแผนแม่บท", "/cases": "ติดตามผล"}
NAV_PAGES = ["/", "/maps/", "/maps/area/TH58", "/areas/", "/areas/TH58", "/ranking",
             "/selection", "/lists", "/kpi", "/cases", "/account", "/login", "/embed-code"]
CE_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def _settle(page, path):
    """Wait until the page is in use: a map page has drawn its values."""
    page.wait_for_selector("#site-nav, .site-head", state="visible")
    if path.startswith("/maps/"):
        page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
        page.wait_for_selector("html[data-chipao-settled]", state="attached", timeout=60_000)
    if path == "/embed-code":  # its preview iframe has loaded its map
        page.locator("#preview").scroll_into_view_if_needed()
        page.frame_locator("#preview").locator("html[data-chipao-settled]").wait_for(
            state="attached", timeout=60_000)


def test_every_page_reaches_every_other_through_the_site_menu(ws_page, ws_server, artifacts):
    """Home, maps (national and province), profiles, ranking, selection, lists, KPIs,
    follow-up, account, sign-in and the embed-code page all carry the same menu, and each
    menu item opens its page; no date is shown in the common era."""
    origin = ws_server[0]
    rec, page = ws_page, ws_page.page
    sign_in(rec, origin, "nat")
    for start in NAV_PAGES:
        page.goto(origin + start)
        _settle(page, start)
        menu = page.locator(".site-nav a")
        hrefs = [a.get_attribute("href") for a in menu.all()]
        assert hrefs == list(NAV_TARGETS), (start, hrefs)
        assert page.locator(".site-account a.who").inner_text() == "nat", start
        assert not CE_DATE.search(page.locator("body").inner_text()), start
        if start in ("/maps/area/TH58", "/"):
            page.screenshot(path=str(artifacts / f"ws-nav{start.replace('/', '-')}.png"))
        for target, label in NAV_TARGETS.items():
            if target == start:
                continue
            page.goto(origin + start)
            _settle(page, start)
            page.locator(".site-nav").get_by_role("link", name=re.compile(label)).click()
            # /cases sends national staff on to /cases/progress
            page.wait_for_url(re.compile(re.escape(origin + target) + (
                r"(/progress.*)?$" if target == "/cases" else r"$")))
            _settle(page, target)
            current = page.locator(".site-nav a[aria-current=page]")
            assert current.get_attribute("href") == target, (start, target)
        # the account link of the menu
        page.goto(origin + start)
        _settle(page, start)
        page.locator(".site-account a.who").click()
        page.wait_for_url(origin + "/account")
        assert "บัญชีของฉัน" in page.locator("h1").inner_text()
    _clean(rec)


def test_the_map_menu_signs_in_and_comes_back_and_the_embed_has_none(ws_page, ws_server,
                                                                      artifacts):
    origin = ws_server[0]
    rec, page = ws_page, ws_page.page
    page.goto(origin + "/maps/area/TH58?measure=m0")
    _settle(page, "/maps/")
    bar = page.locator("#site-nav").bounding_box()
    map_box = page.locator(".folium-map").bounding_box()
    assert bar and map_box and map_box["y"] >= bar["y"] + bar["height"] - 1  # not under it
    assert map_box["y"] + map_box["height"] <= 900 + 1  # the map fills the rest, no scroll
    page.locator("#site-nav a.signin").click()
    page.wait_for_url(re.compile(r"/login\?next="))
    assert page.locator(".site-nav a").count() == len(NAV_TARGETS)
    page.fill("input[name=username]", "mhs")
    page.fill("input[name=password]", "correct horse battery")
    page.get_by_role("button", name="เข้าสู่ระบบ · Sign in").click()
    page.wait_for_url(origin + "/maps/area/TH58?measure=m0")
    _settle(page, "/maps/")
    assert page.locator("#site-nav a.who").inner_text() == "mhs"
    # round labels read in the Buddhist era: "รอบ 2566 · Round 2566 (1 ธ.ค. 2569)"
    labels = page.locator(".chipao-form select[name=round] option").all_inner_texts()
    assert labels and all(re.fullmatch(r"รอบ 25\d\d · Round 25\d\d \(\d{1,2} \S+ 25\d\d\)", t)
                          for t in labels), labels
    page.screenshot(path=str(artifacts / "ws-map-nav-signed-in.png"))
    page.goto(origin + "/embed/area/TH58")
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    assert page.locator("#site-nav, .site-nav").count() == 0  # the embed stays chrome-free
    _clean(rec)


def _overlap(a, b):
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_a_phone_reads_every_page_without_sideways_scrolling(chromium_browser, ws_server,
                                                             artifacts):
    """On a 390 px phone no page scrolls sideways (wide tables scroll in their own box); on
    the map the site menu sits behind a menu button that drops it down, and the collapsed
    "Controls" button never covers the map's title."""
    from conftest import PageRecorder

    origin = ws_server[0]
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844},
                                           locale="th-TH", is_mobile=True, has_touch=True)
    rec = PageRecorder(context.new_page(), origin)
    page = rec.page
    try:
        sign_in(rec, origin, "nat")
        for start in NAV_PAGES:
            page.goto(origin + start)
            _settle(page, start)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 391, (start, width)
        page.goto(origin + "/maps/area/TH58")
        _settle(page, "/maps/")
        menu = page.locator("#site-nav .site-nav")
        button = page.locator("#site-nav .nav-toggle")
        assert button.is_visible() and not menu.is_visible()
        title = page.locator(".chipao-title").bounding_box()
        toggle = page.locator(".chipao-toggle").bounding_box()
        assert title and toggle and not _overlap(title, toggle), (title, toggle)
        button.click()
        assert button.get_attribute("aria-expanded") == "true"
        links = menu.locator("a")
        assert links.count() == len(NAV_TARGETS)
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 391, (i, box)
        page.screenshot(path=str(artifacts / "ws-phone-map-menu.png"))
        menu.get_by_role("link", name=re.compile("ข้อมูลพื้นที่")).click()
        page.wait_for_url(origin + "/areas/")
        _clean(rec)
    finally:
        context.close()
