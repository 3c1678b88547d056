"""A district officer's follow-up in headless Chromium: open the round, visit, plan, log
help and close a case; import an agency CSV with a bad row, then with a duplicate. What is
on screen is checked against the API; no console error, no request to another host."""

from __future__ import annotations

import re
import threading

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fu_server(tmp_path_factory):
    import api_dataset  # tests/ is on sys.path
    from werkzeug.serving import make_server

    app, tokens, _ids = api_dataset.build_app(tmp_path_factory.mktemp("fu-browser"),
                                              pseudonym_key="k", rate_limit="")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app, tokens
    server.shutdown()


@pytest.fixture
def fu_page(chromium_browser, fu_server):
    from conftest import PageRecorder

    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900},
                                           locale="th-TH")
    rec = PageRecorder(context.new_page(), fu_server[0])
    yield rec
    context.close()


def _clean(rec):
    # a form refused with 422 is an expected answer, not a page error
    errors = [e for e in rec.console_errors if "status of 422" not in e]
    assert errors == [], errors
    assert rec.off_server() == set(), rec.off_server()


def _sign_in(page, origin, user="cm"):
    page.goto(origin + "/login?next=/cases")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "correct horse battery")
    page.get_by_role("button", name="เข้าสู่ระบบ · Sign in").click()
    page.wait_for_load_state()


def _set_status(page, label):
    page.select_option("#new-status", label=label)
    page.get_by_role("button", name="บันทึกสถานะ · Save status").click()
    page.wait_for_selector("#case-status")


def test_district_officer_visits_plans_helps_and_closes(fu_page, fu_server, artifacts):
    origin, app, tokens = fu_server
    rec, page = fu_page, fu_page.page
    _sign_in(page, origin)
    assert page.url.endswith("/cases")
    page.get_by_role("button", name="เปิดการติดตาม · Open the follow-up").click()
    page.wait_for_selector("#case-table tbody tr[data-case]")
    api = app.test_client().get("/api/v1/cases?province=TH50&limit=500",
                                headers={"Authorization": f"Bearer {tokens['cm']}"}).json
    assert f"พบ {api['total']:,} ครัวเรือน" in page.locator("p.note").first.inner_text()
    assert page.locator("#case-table tbody tr[data-case]").count() == min(api["total"], 50)
    # filter by status: everybody is still "not yet visited"
    page.select_option("select[name=status]", "not_visited")
    page.get_by_role("button", name="กรอง · Filter").click()
    page.wait_for_selector("#case-table")
    first = page.locator("#case-table tbody tr[data-case]").first
    case_id = first.get_attribute("data-case")
    first.get_by_role("link").click()
    page.wait_for_selector("#case-status")
    assert page.locator("#case-status").inner_text() == "ยังไม่ได้เยี่ยม"

    _set_status(page, "เยี่ยมบ้านแล้ว · visited")
    assert page.locator("#case-status").inner_text() == "เยี่ยมบ้านแล้ว"

    # plan: a catalogue action with its agency and a due date
    page.select_option("#plan-action", "job_training")
    page.select_option("#plan-agency", "dsd")
    page.fill("#plan-due", "2027-03-31")
    page.get_by_role("button", name="เพิ่มในแผน · Add to plan").click()
    page.wait_for_selector("#plan-table")
    row = page.locator("#plan-table tbody tr").first.inner_text()
    assert "ฝึกอาชีพ" in row and "31 มี.ค. 2570" in row
    _set_status(page, "ตกลงแผนครัวเรือนแล้ว · plan agreed")

    # a note naming the person is refused with the reason on the page
    page.fill("#help-date", "2026-11-15")
    page.select_option("#help-agency", "dsd")
    page.select_option("#help-action", "job_training")
    page.fill("#help-amount", "5000")
    page.fill("#help-note", "มอบให้นายสมชาย")
    page.get_by_role("button", name="บันทึกการช่วยเหลือ · Record help").click()
    page.wait_for_selector("#form-error")
    assert "names a person" in page.locator("#form-error").inner_text()
    assert "ยังไม่มีการช่วยเหลือ" in page.locator("#assistance-table").inner_text()
    page.fill("#help-date", "2026-11-15")
    page.select_option("#help-agency", "dsd")
    page.select_option("#help-action", "job_training")
    page.fill("#help-amount", "5000")
    page.fill("#help-note", "อบรม 5 วัน")
    page.get_by_role("button", name="บันทึกการช่วยเหลือ · Record help").click()
    page.wait_for_selector("#assistance-table")
    help_row = page.locator("#assistance-table tbody tr").first.inner_text()
    assert "5,000" in help_row and "15 พ.ย. 2569" in help_row
    assert "ช่วยเหลือแล้ว · done" in page.locator("#plan-table").inner_text()

    for label, shown in (("อยู่ระหว่างดำเนินการ · in progress", "อยู่ระหว่างดำเนินการ"),
                         ("ช่วยเหลือแล้ว · helped", "ช่วยเหลือแล้ว"),
                         ("แก้ไขปัญหาได้แล้ว · resolved", "แก้ไขปัญหาได้แล้ว")):
        _set_status(page, label)
        assert page.locator("#case-status").inner_text() == shown
    assert page.locator("#history li").count() == 5
    assert "cm" in page.locator("#history li").last.inner_text()
    page.screenshot(path=str(artifacts / "followup-case.png"), full_page=True)
    case = app.test_client().get(f"/api/v1/cases/{case_id}",
                                 headers={"Authorization": f"Bearer {tokens['cm']}"}).json
    assert case["status"] == "resolved" and len(case["assistance"]) == 1
    assert [h["to_status"] for h in case["history"]] == [
        "visited", "plan_agreed", "in_progress", "helped", "resolved"]
    # progress of the province shows the resolved case
    page.goto(origin + "/cases/progress?level=province&area=TH50")
    cells = page.locator("#followup-progress tr[data-code=TH50] td").all_inner_texts()
    assert cells[1] == f"{api['total']:,}"
    _clean(rec)


def test_agency_csv_with_a_bad_row_then_a_duplicate(fu_page, fu_server, artifacts, tmp_path):
    origin, app, tokens = fu_server
    rec, page = fu_page, fu_page.page
    h = {"Authorization": f"Bearer {tokens['cm']}"}
    c = app.test_client()
    c.post("/api/v1/cases/open", json={}, headers=h)
    cases = c.get("/api/v1/cases?province=TH50&limit=500", headers=h).json["cases"]
    a, b = cases[3], cases[4]
    c.post(f"/api/v1/cases/{a['id']}/assistance", headers=h, json={
        "given_on": "2026-10-01", "agency": "lao", "action": "housing_repair",
        "amount_thb": 20000})
    header = "รหัสครัวเรือน,วันที่,หน่วยงาน,กิจกรรม,จำนวนเงิน (บาท),หมายเหตุ\n"
    bad = tmp_path / "pmj-2569.csv"
    bad.write_text(header + f"{a['hh_id']},15/10/2569,พมจ.,ซ่อมแซมบ้าน,\"15,000\",ซ่อมหลังคา\n"
                   f"{b['hh_id']},31/02/2569,พมจ.,ถุงยังชีพ / สิ่งของจำเป็น,500,\n",
                   encoding="utf-8-sig")
    _sign_in(page, origin)
    page.goto(origin + "/cases/import")
    page.set_input_files("#import-file", str(bad))
    page.get_by_role("button", name="นำเข้า · Import").click()
    page.wait_for_selector("#import-report")
    assert page.locator("#import-report").get_attribute("data-status") == "rejected"
    cells = page.locator("#problems tbody tr").first.locator("td").all_inner_texts()
    assert cells[:3] == ["pmj-2569.csv", "3", "date"]
    assert "วันที่ไม่ถูกต้อง" in cells[3] and "invalid date" in cells[3]
    # nothing of the file was recorded
    assert len(c.get(f"/api/v1/cases/{a['id']}", headers=h).json["assistance"]) == 1

    fixed = tmp_path / "pmj-2569-fixed.csv"
    fixed.write_text(header + f"{a['hh_id']},15/10/2569,พมจ.,ซ่อมแซมบ้าน,\"15,000\",ซ่อมหลังคา\n"
                     f"{b['hh_id']},28/02/2569,พมจ.,ถุงยังชีพ / สิ่งของจำเป็น,500,\n",
                     encoding="utf-8-sig")
    page.set_input_files("#import-file", str(fixed))
    page.get_by_role("button", name="นำเข้า · Import").click()
    page.wait_for_selector("#import-report")
    assert page.locator("#import-report").get_attribute("data-status") == "created"
    assert page.locator("#n-flagged").inner_text() == "อาจซ้ำซ้อน 1"
    page.screenshot(path=str(artifacts / "followup-import.png"), full_page=True)
    # the same file again adds nothing
    page.set_input_files("#import-file", str(fixed))
    page.get_by_role("button", name="นำเข้า · Import").click()
    page.wait_for_selector("#import-report")
    assert page.locator("#import-report").get_attribute("data-status") == "existing"
    # the household's page shows both records and flags the second, not merged
    page.goto(f"{origin}/cases/{a['id']}")
    rows = page.locator("#assistance-table tbody tr")
    assert rows.count() == 2
    assert re.search(r"อาจซ้ำซ้อนกับรายการ #\d+", rows.nth(1).inner_text())
    _clean(rec)


def _open_map(page, url):
    page.goto(url)
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    assert page.get_attribute("html", "data-chipao-error") is None


def _table_cell(page, code):
    return page.locator(f".chipao-table tr[data-code={code}] td").nth(1).inner_text()


def test_progress_on_the_map_for_the_officer_and_the_public(fu_page, fu_server, artifacts,
                                                            chromium_browser):
    """An officer visits two households of a village, records help for one and registers a
    missed household in another amphoe; the progress measures of the map show the
    village's shares; the public sees rounded province shares and the small amphoe (one
    target household) withheld."""
    from conftest import PageRecorder

    origin, app, tokens = fu_server
    rec, page = fu_page, fu_page.page
    h = {"Authorization": f"Bearer {tokens['cm']}"}
    c = app.test_client()
    c.post("/api/v1/cases/open", json={}, headers=h)
    listed = c.get("/api/v1/cases?province=TH50&status=not_visited&limit=500", headers=h)
    by_village: dict[str, int] = {}
    for r in listed.json["cases"]:
        by_village[r["village_id"]] = by_village.get(r["village_id"], 0) + 1
    village = max(by_village, key=lambda v: by_village[v])
    _sign_in(page, origin)
    # from the progress table to the village's case list
    page.goto(origin + "/cases/progress?level=village&area=TH50")
    page.locator(f"#followup-progress tr[data-code={village}] a").click()
    page.wait_for_selector("#case-table tbody tr[data-case]")
    list_url = page.url
    opened = []
    for n in range(2):
        row = page.locator("#case-table tbody tr[data-case]").filter(
            has_text="ยังไม่ได้เยี่ยม").first
        opened.append(row.get_attribute("data-case"))
        row.get_by_role("link").click()
        page.wait_for_selector("#case-status")
        _set_status(page, "เยี่ยมบ้านแล้ว · visited")
        if n == 1:
            page.fill("#help-date", "2026-11-20")
            page.select_option("#help-agency", "pmj")
            page.select_option("#help-action", "cash_aid")
            page.fill("#help-amount", "3000")
            page.get_by_role("button", name="บันทึกการช่วยเหลือ · Record help").click()
            page.wait_for_selector("#assistance-table tbody tr")
        page.goto(list_url)
        page.wait_for_selector("#case-table tbody tr[data-case]")
    # a household the survey missed, found in another amphoe
    from service.geo import boundaries

    tambons = boundaries.load_level(app.config["CHIPAO"]["boundaries_dir"], "tambon")
    small_tambon = sorted(t for t in tambons["code"] if t.startswith("TH5002"))[0]
    page.goto(origin + "/cases/missed")
    page.fill("input[name=village_id]", small_tambon)
    page.fill("input[name=n_members]", "3")
    page.get_by_role("button", name="ลงทะเบียน · Register").click()
    page.wait_for_load_state()

    truth = c.get(f"/api/v1/followup/progress?level=village&area={village}", headers=h).json
    row = next(r for r in truth["areas"] if r["code"] == village)
    assert row["n_visited"] >= 2 and row["n_helped"] >= 1

    # the officer's map: villages of the province, the follow-up measure chosen in the list
    _open_map(page, origin + "/maps/area/TH50?level=village")
    group = page.locator("select[name=measure] optgroup",
                         has_text="เยี่ยมบ้านแล้ว").get_attribute("label")
    assert group == "การติดตามครัวเรือนเป้าหมาย · Household follow-up"
    for measure, share in (("fu_visited", "share_visited"), ("fu_helped", "share_helped")):
        page.select_option("select[name=measure]", measure)
        page.wait_for_function(
            "m => new URL(location.href).searchParams.get('measure') === m", arg=measure)
        page.wait_for_selector(f".chipao-table tr[data-code={village}]")
        page.wait_for_function(
            "([c, v]) => { const r = document.querySelector(`.chipao-table tr[data-code=${c}]`);"
            " return r && r.children[1].innerText === v; }",
            arg=[village, f"{100 * row[share]:.1f}%"], timeout=10_000)
        assert _table_cell(page, village) == f"{100 * row[share]:.1f}%"
    page.screenshot(path=str(artifacts / "followup-map-officer.png"), full_page=True)
    _clean(rec)

    # the public: rounded province shares; the one-household amphoe withheld
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900},
                                           locale="th-TH")
    public = PageRecorder(context.new_page(), origin)
    try:
        pp = public.page
        _open_map(pp, origin + "/maps/?level=province&measure=fu_visited")
        shown = c.get("/api/v1/followup/progress?level=province").json["areas"]
        th50 = next(r for r in shown if r["code"] == "TH50")
        assert _table_cell(pp, "TH50") == f"{100 * th50['share_visited']:.1f}%"
        assert round(th50["share_visited"] * 20, 6).is_integer()
        _open_map(pp, origin + "/maps/area/TH50?level=amphoe&measure=fu_visited")
        assert _table_cell(pp, "TH5002").startswith("< 10")
        assert pp.locator(".chipao-table tr[data-code=TH5002]").count() == 1
        pp.screenshot(path=str(artifacts / "followup-map-public.png"), full_page=True)
        _clean(public)
    finally:
        context.close()
