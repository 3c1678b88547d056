"""Follow-up help on the map by agency, in headless Chromium: a provincial officer opens the
help measure of the province's tambons, chooses an agency (หน่วยงาน · Agency) and sees the
map's table change to that agency's figures, the same as the map values API gives; the
legend names the agency and the address keeps it. No console error, no other host."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def agency_server(tmp_path_factory):
    """Chiang Mai's cases opened; help in two tambons by two agencies: cash aid by the
    provincial social development office (pmj) to 3 households of the first tambon, job
    training by the Skill Development Office (dsd) to 2 of the last and 1 of the first."""
    import api_dataset  # tests/ is on sys.path
    from werkzeug.serving import make_server

    app, tokens, _ids = api_dataset.build_app(tmp_path_factory.mktemp("fu-agency"),
                                              pseudonym_key="k", rate_limit="")
    c = app.test_client()
    nat = {"Authorization": f"Bearer {tokens['nat']}"}
    assert c.post("/api/v1/cases/open", json={}, headers=nat).status_code == 200
    rows = c.get("/api/v1/cases?province=TH50&limit=500", headers=nat).json["cases"]
    by_tambon: dict[str, list[dict]] = {}
    for r in rows:
        by_tambon.setdefault(r["tambon_code"], []).append(r)
    first, last = sorted(by_tambon)[0], sorted(by_tambon)[-1]
    helps = [(r, "pmj", "cash_aid") for r in by_tambon[first][:3]]
    helps += [(r, "dsd", "job_training") for r in by_tambon[last][:2]]
    helps.append((by_tambon[first][3], "dsd", "job_training"))
    for r, agency, action in helps:
        assert c.post(f"/api/v1/cases/{r['id']}/assistance", headers=nat, json={
            "given_on": "2026-10-01", "agency": agency, "action": action,
            "amount_thb": 2000}).status_code == 201
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app, tokens, (first, last)
    server.shutdown()


def _api(app, tokens, agency=None) -> dict[str, float]:
    import gzip
    import json

    q = "scope=TH50&measure=fu_assist" + (f"&agency={agency}" if agency else "")
    resp = app.test_client().get(f"/maps/values/tambon.json?{q}",
                                 headers={"Authorization": f"Bearer {tokens['cm']}"})
    assert resp.status_code == 200
    data = gzip.decompress(resp.data) if resp.headers.get("Content-Encoding") else resp.data
    body = json.loads(data)
    return dict(zip(body["codes"], body["columns"]["value"], strict=True))


def _table(page) -> dict[str, float]:
    """code -> number of the map's table (the help records column)."""
    rows = page.eval_on_selector_all(
        ".chipao-table tr[data-code]",
        "rs => rs.map(r => [r.dataset.code, r.querySelectorAll('td')[1].textContent])")
    return {code: float(text.replace(",", "")) for code, text in rows}


def _settled(page) -> int:
    return int(page.get_attribute("html", "data-chipao-settled") or 0)


def _choose(page, name, value):
    before = _settled(page)
    page.select_option(f".chipao-form select[name={name}]", value)
    page.wait_for_function(
        "n => Number(document.documentElement.getAttribute('data-chipao-settled')) > n",
        arg=before, timeout=30_000)


def test_officer_chooses_an_agency_and_sees_its_help(chromium_browser, agency_server,
                                                     artifacts):
    from conftest import PageRecorder

    origin, app, tokens, (first, last) = agency_server
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900},
                                           locale="th-TH")
    rec = PageRecorder(context.new_page(), origin)
    page = rec.page
    page.goto(origin + "/login?next=/maps/area/TH50")
    page.fill("input[name=username]", "cm")
    page.fill("input[name=password]", "correct horse battery")
    page.get_by_role("button", name="เข้าสู่ระบบ · Sign in").click()
    page.wait_for_load_state()
    page.goto(origin + "/maps/area/TH50?level=tambon")
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    agency = page.locator(".chipao-form select[name=agency]")
    assert not agency.is_visible()                 # not for measures without help
    _choose(page, "measure", "fu_assist")
    assert agency.is_visible() and agency.is_enabled()
    label = page.locator(".chipao-form label", has=page.locator("select[name=agency]")).inner_text()
    assert "หน่วยงาน · Agency" in label
    assert agency.locator("option:checked").inner_text() == "ทุกหน่วยงาน · All agencies"
    everyone = _table(page)
    assert everyone == _api(app, tokens) and everyone[first] == 4 and everyone[last] == 2
    _choose(page, "agency", "dsd")
    dsd = _table(page)
    assert dsd == _api(app, tokens, "dsd") and dsd != everyone
    assert dsd[first] == 1 and dsd[last] == 2
    legend = page.locator(".chipao-legend").inner_text()
    assert "สำนักงานพัฒนาฝีมือแรงงาน · Skill Development Office" in legend
    assert parse_qs(urlsplit(page.url).query)["agency"] == ["dsd"]
    page.screenshot(path=str(artifacts / "followup-map-agency.png"))
    _choose(page, "agency", "pmj")
    pmj = _table(page)
    assert pmj == _api(app, tokens, "pmj") and pmj[first] == 3 and pmj[last] == 0
    # a measure the agency does not apply to: the control goes away, the address forgets it
    _choose(page, "measure", "fu_visited")
    assert not agency.is_visible()
    assert "agency" not in parse_qs(urlsplit(page.url).query)
    # the address with an agency opens the map with it chosen
    page.goto(origin + "/maps/area/TH50?level=tambon&measure=fu_assist_thb&agency=dsd")
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
    assert page.locator(".chipao-form select[name=agency]").input_value() == "dsd"
    thb = _table(page)
    assert thb[last] == 4000 and thb[first] == 2000
    assert page.get_attribute("html", "data-chipao-error") is None
    assert rec.console_errors == [], rec.console_errors
    assert rec.off_server() == set(), rec.off_server()
    context.close()
