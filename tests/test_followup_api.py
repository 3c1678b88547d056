"""Follow-up routes: opening a round, case API, forms with CSRF, imports, public progress."""

from __future__ import annotations

import io
import re

import pytest

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import api_dataset

    app, tokens, _ids = api_dataset.build_app(tmp_path_factory.mktemp("followup"),
                                              pseudonym_key="k")
    return app, tokens


def _h(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"} if who else {}


@pytest.fixture(scope="module")
def opened(world):
    app, tokens = world
    c = app.test_client()
    r = c.post("/api/v1/cases/open", json={}, headers=_h(tokens, "nat"))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json["opened"]


def _cases(app, tokens, who, province):
    r = app.test_client().get(f"/api/v1/cases?province={province}&limit=500",
                              headers=_h(tokens, who))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def test_public_gets_no_cases(world):
    app, _ = world
    c = app.test_client()
    assert c.get("/api/v1/cases?province=TH50").status_code == 401
    assert c.get("/api/v1/cases/1").status_code == 401
    assert c.post("/api/v1/cases/open", json={}).status_code == 401
    r = c.get("/cases", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")


def test_opening_is_a_write_and_lists_only_own_province(world, opened):
    app, tokens = world
    assert set(opened) == {"TH10", "TH50"} and all(n > 0 for n in opened.values())
    body = _cases(app, tokens, "cm", "TH50")
    assert body["total"] == opened["TH50"]
    assert {c["province_code"] for c in body["cases"]} == {"TH50"}
    assert app.test_client().get("/api/v1/cases?province=TH10",
                                 headers=_h(tokens, "cm")).status_code == 403
    # opening again adds nothing
    r = app.test_client().post("/api/v1/cases/open", json={}, headers=_h(tokens, "cm"))
    assert r.json["opened"] == {"TH50": 0}


def test_other_province_case_is_not_found(world, opened):
    app, tokens = world
    bkk = _cases(app, tokens, "bkk", "TH10")["cases"][0]["id"]
    c = app.test_client()
    assert c.get(f"/api/v1/cases/{bkk}", headers=_h(tokens, "cm")).status_code == 404
    r = c.post(f"/api/v1/cases/{bkk}/status", json={"status": "visited"},
               headers=_h(tokens, "cm"))
    assert r.status_code == 404
    assert c.get(f"/api/v1/cases/{bkk}", headers=_h(tokens, "bkk")).status_code == 200


def test_status_plan_assistance_by_api_are_audited(world, opened):
    from service.api.auth import user_store

    app, tokens = world
    c = app.test_client()
    cid = _cases(app, tokens, "cm", "TH50")["cases"][1]["id"]
    h = _h(tokens, "cm")
    assert c.post(f"/api/v1/cases/{cid}/status", json={"status": "resolved"},
                  headers=h).status_code == 422
    r = c.post(f"/api/v1/cases/{cid}/status", json={"status": "visited"}, headers=h)
    assert r.status_code == 200 and r.json["to"] == "visited"
    r = c.post(f"/api/v1/cases/{cid}/plan", json={"action": "job_training",
                                                   "agency": "dsd", "due_date": "2027-01-31"},
               headers=h)
    assert r.status_code == 201
    r = c.post(f"/api/v1/cases/{cid}/assistance",
               json={"given_on": "2026-11-01", "agency": "dsd", "action": "job_training",
                     "amount_thb": 2500, "note": "อบรม 5 วัน"}, headers=h)
    assert r.status_code == 201
    r = c.get(f"/api/v1/cases/{cid}", headers=h)
    assert r.headers["Cache-Control"] == "no-store"
    case = r.json
    assert case["status"] == "visited" and case["plan"][0]["action"] == "job_training"
    assert case["assistance"][0]["amount_thb"] == 2500
    rows = user_store(app).audit_rows(limit=20)
    actions = [(r["action"], r["object"]) for r in rows if r["username"] == "cm"]
    for a in ("case.status", "case.plan", "case.assistance", "case.read"):
        assert (a, f"case:{cid}") in actions
    assert all(case["hh_id"] not in r["object"] + r["detail"] for r in rows)


def _login(c, username):
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = c.post("/login", data={"username": username, "password": PASSWORD,
                               "csrf_token": token})
    assert r.status_code == 303
    # signing in starts a fresh session with a new CSRF token
    page = c.get("/cases/missed", headers={"Accept": "text/html"}).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_forms_need_csrf_and_show_errors_on_the_page(world, opened):
    app, tokens = world
    c = app.test_client()
    _login(c, "cm")
    cid = _cases(app, tokens, "cm", "TH50")["cases"][2]["id"]
    html = {"Accept": "text/html"}
    page = c.get(f"/cases/{cid}", headers=html)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    assert c.post(f"/cases/{cid}/status", data={"status": "visited"}).status_code == 400
    r = c.post(f"/cases/{cid}/status", data={"status": "visited", "csrf_token": token,
                                             "expected": "not_visited"})
    assert r.status_code == 303
    r = c.post(f"/cases/{cid}/assistance", headers=html, data={
        "csrf_token": token, "given_on": "2026-11-01", "agency": "lao", "action": "goods_aid",
        "amount_thb": "100", "note": "มอบให้นางสมศรี"})
    assert r.status_code == 422
    assert "names a person" in r.get_data(as_text=True)
    assert "สมศรี" not in r.get_data(as_text=True).split("form-error")[1][:400]
    listing = c.get("/cases", headers=html).get_data(as_text=True)
    assert f'href="/cases/{cid}"' in listing and "เยี่ยมบ้านแล้ว" in listing


def test_import_by_api(world, opened):
    app, tokens = world
    cm = _cases(app, tokens, "cm", "TH50")["cases"]
    bkk = _cases(app, tokens, "bkk", "TH10")["cases"]
    csv = ("hh_id,date,agency,action,amount_thb\n"
           f"{cm[5]['hh_id']},2026-10-01,lao,goods_aid,300\n"
           f"{cm[5]['hh_id']},2026-10-02,pmj,goods_aid,300\n").encode()
    c = app.test_client()

    def post(body, name="a.csv", who="cm"):
        return c.post("/api/v1/cases/imports", headers=_h(tokens, who),
                      data={"file": (io.BytesIO(body), name)},
                      content_type="multipart/form-data")

    r = post(csv)
    assert r.status_code == 201 and r.json["possible_duplicates"] == 1
    assert post(csv).status_code == 200
    bad = (f"hh_id,date,agency,action\n{bkk[0]['hh_id']},2026-10-01,lao,goods_aid\n").encode()
    r = post(bad, "b.csv")
    assert r.status_code == 403
    assert r.json["report"]["problems"][0]["code"] == "wrong_province"


def test_public_progress_is_rounded_and_suppressed(world, opened):
    app, tokens = world
    c = app.test_client()
    r = c.get("/api/v1/followup/progress?level=province")
    assert r.status_code == 200 and r.json["public"] is True
    for row in r.json["areas"]:
        assert "n_overdue" not in row and "hh_id" not in row
        if row["suppressed"]:
            assert row["n_cases"] is None
        else:
            assert row["n_cases"] % 5 == 0
            assert row["share_visited"] is None or round(row["share_visited"] * 20, 6) % 1 == 0
    assert c.get("/api/v1/followup/progress?level=tambon").status_code == 422
    signed = c.get("/api/v1/followup/progress?level=amphoe", headers=_h(tokens, "cm"))
    assert signed.status_code == 200
    assert {a["code"][:4] for a in signed.json["areas"]} == {"TH50"}
    page = c.get("/cases/progress?level=province", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "followup-progress" in page.get_data(as_text=True)


def test_missed_household_form(world, opened):
    app, tokens = world
    c = app.test_client()
    token = _login(c, "cm")
    tambon = _cases(app, tokens, "cm", "TH50")["cases"][0]["tambon_code"]
    r = c.post("/cases/missed", data={"csrf_token": token, "village_id": tambon + "01",
                                      "n_members": "3", "n_children": "1",
                                      "reason": "not_surveyed", "house_id": "50010012345"})
    assert r.status_code == 303, r.get_data(as_text=True)
    cid = int(r.headers["Location"].rsplit("/", 1)[1])
    case = c.get(f"/api/v1/cases/{cid}").json
    assert case["source"] == "missed" and "50010012345" not in str(case)
    r = c.post("/cases/missed", data={"csrf_token": token, "village_id": "TH100101",
                                      "n_members": "3", "reason": "not_surveyed"},
               headers={"Accept": "text/html"})
    assert r.status_code == 403


def test_progress_on_area_profile_and_kpi_pages(world, opened):
    app, tokens = world
    c = app.test_client()
    html = {"Accept": "text/html"}
    signed = c.get("/areas/TH50", headers={**html, **_h(tokens, "cm")})
    assert signed.status_code == 200
    text = signed.get_data(as_text=True)
    assert 'id="followup-progress"' in text and "เลยกำหนด" in text  # full figures
    assert 'href="/cases?province=TH50&amp;area=TH5001' in text
    public = c.get("/areas/TH50", headers=html).get_data(as_text=True)
    assert 'id="followup-progress"' in public and "เลยกำหนด" not in public
    assert 'href="/cases?province' not in public
    # another province's user sees Chiang Mai as the public does
    other = c.get("/areas/TH50", headers={**html, **_h(tokens, "bkk")}).get_data(as_text=True)
    assert "เลยกำหนด" not in other.split('id="followup-progress"')[1]
    # below the amphoe the public gets no follow-up section
    tambon = _cases(app, tokens, "cm", "TH50")["cases"][0]["tambon_code"]
    assert 'id="followup-progress"' not in c.get(f"/areas/{tambon}", headers=html).get_data(
        as_text=True)
    kpi = c.get("/kpi?province=TH50", headers={**html, **_h(tokens, "cm")})
    assert kpi.status_code == 200 and 'id="followup-progress"' in kpi.get_data(as_text=True)


def test_country_progress_and_help_by_agency_on_kpi_and_profile(world, opened):
    """The national KPI dashboard and the country profile list provinces: exact for national
    users (with help by agency), the public figures for everyone else; a new help record
    shows on the next view (the country section is cached per case-table generation)."""
    app, tokens = world
    c = app.test_client()
    html = {"Accept": "text/html"}
    case = _cases(app, tokens, "nat", "TH10")["cases"][0]

    def section(url, who):
        text = c.get(url, headers={**html, **_h(tokens, who)}).get_data(as_text=True)
        assert 'id="followup-progress"' in text, (url, who)
        return text.split('id="followup-progress"')[1]

    before = section("/kpi", "nat")
    assert 'data-code="TH10"' in before and 'data-code="TH50"' in before
    assert "เลยกำหนด" in before  # full figures
    r = c.post(f"/api/v1/cases/{case['id']}/assistance", headers=_h(tokens, "nat"), json={
        "given_on": "2026-10-02", "agency": "lao", "action": "drinking_water", "amount_thb": 12345})
    assert r.status_code == 201, r.get_data(as_text=True)
    after = section("/kpi", "nat")
    assert "12,345" in after and 'data-agency="lao"' in after
    for who in (None, "cm", "bkk"):
        for url in ("/kpi", "/areas/TH"):
            text = section(url, who)
            assert "เลยกำหนด" not in text and 'id="agency-table"' not in text, (url, who)
            assert "12,345" not in text and 'href="/cases' not in text
    assert 'data-agency="lao"' in section("/areas/TH", "nat")
    # a province page: its own officers see help by agency, others do not
    assert 'id="agency-table"' in section("/areas/TH10", "bkk")
    assert 'id="agency-table"' not in section("/areas/TH10", "cm")


def test_progress_api_takes_an_agency_for_its_help_figures(world, opened):
    """/api/v1/followup/progress?agency=: the help columns of that agency's records only, in
    the caller's own areas (signed in) or disclosure-controlled (public); an unknown agency
    is a 422 naming the field, never an empty answer."""
    app, tokens = world
    c = app.test_client()
    cm = _cases(app, tokens, "cm", "TH50")["cases"]
    hh = cm[7]["hh_id"]
    csv = (f"hh_id,date,agency,action,amount_thb\n{hh},2026-10-05,lao,goods_aid,700\n"
           f"{hh},2026-10-06,pmj,goods_aid,1100\n{hh},2026-10-07,pmj,goods_aid,900\n").encode()
    assert c.post("/api/v1/cases/imports", headers=_h(tokens, "cm"),
                  data={"file": (io.BytesIO(csv), "agency.csv")},
                  content_type="multipart/form-data").status_code in (200, 201)

    def signed(agency=None):
        url = "/api/v1/followup/progress?level=province" + (f"&agency={agency}" if agency else "")
        r = c.get(url, headers=_h(tokens, "cm"))
        assert r.status_code == 200, r.get_data(as_text=True)
        (row,) = r.json["areas"]
        assert row["code"] == "TH50"
        return row

    every, lao, pmj = signed(), signed("lao"), signed("pmj")
    assert every["n_cases"] == lao["n_cases"] == pmj["n_cases"]  # the households are the same
    assert lao["n_assist"] + pmj["n_assist"] <= every["n_assist"]
    assert pmj["n_assist"] >= 2 and lao["n_assist"] >= 1
    assert pmj["assist_thb"] >= 2000 and lao["assist_thb"] >= 700
    assert lao["assist_thb"] + pmj["assist_thb"] <= every["assist_thb"]
    bad = c.get("/api/v1/followup/progress?level=province&agency=nosuch",
                headers=_h(tokens, "cm"))
    assert bad.status_code == 422 and "agency" in bad.get_data(as_text=True)
    public = c.get("/api/v1/followup/progress?level=province&agency=pmj")
    assert public.status_code == 200 and public.json["public"] is True
    for row in public.json["areas"]:
        assert "n_overdue" not in row and (row["suppressed"] or row["n_cases"] % 5 == 0)
    assert c.get("/api/v1/followup/progress?level=province&agency=nosuch").status_code == 422
