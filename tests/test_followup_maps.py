"""Follow-up progress as map measures (family ``followup`` of maps/measures.json): values from
the case tables of the map's round; provincial users see their province exactly, everybody
else the public's disclosure-controlled figures (service.usecases.cases.public_progress);
never a case. Property test: no case data of a province reaches, through the map values, a
caller who may not see that province."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FU_MEASURES = ("fu_visited", "fu_with_plan", "fu_helped", "fu_resolved", "fu_cases",
               "fu_overdue", "fu_missed", "fu_assist", "fu_assist_thb")
#: measure -> (numerator, denominator) of CaseStore.progress columns (None: a count)
FORMULA = {"fu_visited": ("n_visited", "n_cases"), "fu_with_plan": ("n_with_plan", "n_cases"),
           "fu_helped": ("n_helped", "n_cases"), "fu_resolved": ("n_resolved", "n_cases"),
           "fu_cases": ("n_cases", None), "fu_overdue": ("n_overdue", None),
           "fu_missed": ("n_missed", None), "fu_assist": ("n_assist", None),
           "fu_assist_thb": ("assist_thb", None)}
PUBLIC_COLUMN = {"fu_visited": "share_visited", "fu_with_plan": "share_with_plan",
                 "fu_helped": "share_helped", "fu_resolved": "share_resolved",
                 "fu_cases": "n_cases", "fu_assist": "n_assist", "fu_assist_thb": "assist_thb"}
ROLES = {None: ("public", None), "nat": ("national", None), "cm": ("provincial", "TH50"),
         "bkk": ("provincial", "TH10")}


def _json(resp):
    data = resp.data
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)


def _h(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"} if who else {}


def _second_amphoe_tambon(app) -> str:
    from service.geo import boundaries

    tambons = boundaries.load_level(app.config["CHIPAO"]["boundaries_dir"], "tambon")
    return sorted(c for c in tambons["code"] if c.startswith("TH5002"))[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Both provinces opened; in Chiang Mai one village's cases visited, helped and one
    resolved, a plan item past due; one missed household in a second amphoe (a small
    area: 1 target household)."""
    import api_dataset

    from service.access.principal import Principal
    from service.api.services import services
    from service.usecases import cases as uc

    app, tokens, ids = api_dataset.build_app(tmp_path_factory.mktemp("fumaps"),
                                             pseudonym_key="k")
    c = app.test_client()
    nat = _h(tokens, "nat")
    assert c.post("/api/v1/cases/open", json={}, headers=nat).status_code == 200
    cm = _h(tokens, "cm")
    rows = c.get("/api/v1/cases?province=TH50&limit=500", headers=cm).json["cases"]
    by_village: dict[str, list[dict]] = {}
    for r in rows:
        by_village.setdefault(r["village_id"], []).append(r)
    village = max(by_village, key=lambda v: len(by_village[v]))
    vc = by_village[village]
    for r in vc[:3]:
        assert c.post(f"/api/v1/cases/{r['id']}/status", json={"status": "visited"},
                      headers=cm).status_code == 200
    for r in vc[:2]:
        assert c.post(f"/api/v1/cases/{r['id']}/assistance", headers=cm, json={
            "given_on": "2026-10-01", "agency": "pmj", "action": "cash_aid",
            "amount_thb": 3000}).status_code == 201
    c.post(f"/api/v1/cases/{vc[3]['id']}/plan", headers=cm, json={
        "action": "job_training", "agency": "dsd", "due_date": "2026-01-31"})
    for status in ("plan_agreed", "in_progress", "helped", "resolved"):
        c.post(f"/api/v1/cases/{vc[0]['id']}/status", json={"status": status}, headers=cm)
    # a second agency: the Skill Development Office helps 7 Bangkok households (the public
    # sees 5 records, rounded) and one Chiang Mai household outside the village above
    for r in c.get("/api/v1/cases?province=TH10&limit=7", headers=nat).json["cases"]:
        assert c.post(f"/api/v1/cases/{r['id']}/assistance", headers=nat, json={
            "given_on": "2026-09-01", "agency": "dsd", "action": "job_training",
            "amount_thb": 1500}).status_code == 201
    other = next(r for r in rows if r["village_id"] != village)
    assert c.post(f"/api/v1/cases/{other['id']}/assistance", headers=cm, json={
        "given_on": "2026-09-02", "agency": "dsd", "action": "job_training",
        "amount_thb": 1500}).status_code == 201
    uc.register_missed(services(app), Principal("provincial", "TH50", "cm"), dataset=None,
                       village_id=_second_amphoe_tambon(app), n_members=3,
                       reason="not_surveyed")
    secrets = {p: {r["hh_id"] for r in c.get(f"/api/v1/cases?province={p}&limit=500",
                                              headers=nat).json["cases"]}
               for p in ("TH50", "TH10")}
    return app, tokens, village, len(vc), secrets


def _values(app, tokens, who, level, scope="", measure="fu_visited", **extra):
    q = "&".join(f"{k}={v}" for k, v in {"scope": scope, "measure": measure, **extra}.items()
                 if v)
    return app.test_client().get(f"/maps/values/{level}.json?{q}", headers=_h(tokens, who))


def _truth(app, level, scope=None, agency=None):
    """Exact progress per area (the national view of the store): code -> row."""
    from service.api.services import services
    from service.usecases import cases as uc

    s = services(app)
    frame = uc.case_store(s).progress("demo", uc.current_round(s, "demo").round, level=level,
                                      provinces=None, area=scope, agency=agency)
    return {r["code"]: r for r in frame.to_dict("records") if isinstance(r["code"], str)}


def _public(app, level, agency=None):
    from service.api.services import services
    from service.usecases import cases as uc

    frame = uc.public_progress(services(app), dataset="demo", level=level, agency=agency)
    return {r["code"]: r for r in frame.to_dict("records")}


def _expected(row, measure):
    num, den = FORMULA[measure]
    if den is None:
        return float(row[num])
    return row[num] / row[den] if row[den] else None


# -- the measures -----------------------------------------------------------------------------
def test_progress_measures_are_one_family_of_the_selector(world):
    from service.render.catalogue import load_catalogue

    app, *_ = world
    cat = load_catalogue()
    fam = [m for m in cat.measures.values() if m.family == "followup"]
    assert {m.id for m in fam} == set(FU_MEASURES)
    assert {m.family_en for m in fam} == {"Household follow-up"}
    page = app.test_client().get("/maps/area/TH50?level=amphoe").get_data(as_text=True)
    assert '"fu_visited"' in page and "การติดตามครัวเรือนเป้าหมาย" in page


def test_provincial_user_sees_the_exact_share_of_a_village(world):
    app, tokens, village, n_village, _ = world
    for measure in FU_MEASURES:
        body = _json(_values(app, tokens, "cm", "village", "TH50", measure))
        truth = _truth(app, "village", "TH50")
        assert body["available"] and set(body["codes"]) == set(truth), measure
        for code, value in zip(body["codes"], body["columns"]["value"], strict=True):
            want = _expected(truth[code], measure)
            assert value == (None if want is None else pytest.approx(want, abs=1e-4)), \
                (measure, code)
    body = _json(_values(app, tokens, "cm", "village", "TH50", "fu_visited"))
    got = dict(zip(body["codes"], body["columns"]["value"], strict=True))
    assert got[village] == pytest.approx(3 / n_village, abs=1e-4)
    helped = _json(_values(app, tokens, "cm", "village", "TH50", "fu_helped"))
    assert dict(zip(helped["codes"], helped["columns"]["value"], strict=True))[village] == \
        pytest.approx(2 / n_village, abs=1e-4)
    assert body["names"]["th"][body["codes"].index(village)].startswith("หมู่ ")
    # the amphoe map of the province: the small amphoe is shown in full to its own officers
    amphoes = _json(_values(app, tokens, "cm", "amphoe", "TH50", "fu_cases"))
    assert amphoes["suppressed"] == [] and len(amphoes["codes"]) == 2
    assert amphoes["columns"]["value"][amphoes["codes"].index("TH5002")] == 1


def test_figures_follow_the_case_tables_at_once(world):
    """No stale cache: a status change shows on the next request, signed in or public."""
    app, tokens, *_ = world
    c = app.test_client()
    nat = _h(tokens, "nat")
    bkk = c.get("/api/v1/cases?province=TH10&status=not_visited&limit=500",
                headers=nat).json["cases"]
    before = _json(_values(app, tokens, "bkk", "province", "", "fu_visited"))
    public_before = _json(_values(app, tokens, None, "province", "", "fu_cases"))
    for r in bkk[:12]:
        c.post(f"/api/v1/cases/{r['id']}/status", json={"status": "visited"}, headers=nat)
    after = _json(_values(app, tokens, "bkk", "province", "", "fu_visited"))
    i = after["codes"].index("TH10")
    truth = _truth(app, "province")["TH10"]
    assert after["columns"]["value"][i] == pytest.approx(
        truth["n_visited"] / truth["n_cases"], abs=1e-4)
    assert after["columns"]["value"][i] != before["columns"]["value"][i]
    public = _json(_values(app, tokens, None, "province", "", "fu_visited"))
    want = _public(app, "province")["TH10"]["share_visited"]
    assert public["columns"]["value"][public["codes"].index("TH10")] == pytest.approx(want)
    assert public_before["codes"] == public["codes"]


def test_public_sees_rounded_figures_and_small_areas_suppressed(world):
    app, tokens, *_ = world
    min_hh = app.config["CHIPAO"]["min_cell_households"]
    body = _json(_values(app, tokens, None, "amphoe", "TH50", "fu_cases"))
    truth = _truth(app, "amphoe", "TH50")
    assert truth["TH5002"]["n_cases"] < min_hh
    small = body["codes"].index("TH5002")
    assert small in body["suppressed"] and body["columns"]["value"][small] is None
    # the other amphoe would give the small one away (province total minus it): withheld too
    assert body["codes"].index("TH5001") in body["suppressed"]
    provinces = _json(_values(app, tokens, None, "province", "", "fu_visited"))
    pub = _public(app, "province")
    for code, value in zip(provinces["codes"], provinces["columns"]["value"], strict=True):
        assert value == pytest.approx(pub[code]["share_visited"])
        assert round(value * 20, 6) == round(value * 20)  # 5-point steps
    # no public figure below the amphoe, none for H3 cells, no village at all
    for level, scope in (("tambon", ""), ("tambon", "TH50"), ("h3_r7", "TH50")):
        got = _json(_values(app, tokens, None, level, scope))
        assert got["available"] is False and got["codes"] == [], (level, scope)
    assert _values(app, tokens, None, "village", "TH50").status_code in (401, 403)
    # an embedded map is public whoever looks at it
    embed = app.test_client().get("/embed/values/amphoe.json?scope=TH50&measure=fu_cases",
                                  headers=_h(tokens, "cm"))
    assert _json(embed)["suppressed"] == body["suppressed"]


def test_other_provinces_are_seen_as_the_public_sees_them(world):
    app, tokens, *_ = world
    mine = _json(_values(app, tokens, "cm", "province", "", "fu_helped"))
    pub = _public(app, "province")
    truth = _truth(app, "province")
    got = dict(zip(mine["codes"], mine["columns"]["value"], strict=True))
    assert got["TH50"] == pytest.approx(truth["TH50"]["n_helped"] / truth["TH50"]["n_cases"],
                                        abs=1e-4)
    assert got["TH10"] == pytest.approx(pub["TH10"]["share_helped"])
    other = _json(_values(app, tokens, "cm", "tambon", "TH10", "fu_visited"))
    assert other["available"] is False and other["codes"] == []


def test_change_maps_and_group_are_refused_for_progress(world):
    app, tokens, *_ = world
    r = _values(app, tokens, "cm", "tambon", "TH50", "fu_visited", change="1")
    assert r.status_code == 422 and "no change map" in r.json["detail"]
    r = _values(app, tokens, "cm", "tambon", "TH50", "fu_visited", group="child")
    assert r.status_code == 422


# -- one agency's help ----------------------------------------------------------------------------
AGENCY_MEASURES = ("fu_helped", "fu_assist", "fu_assist_thb")


def test_agency_choice_gives_that_agencys_help_only(world):
    app, tokens, village, n_village, _ = world
    for measure in AGENCY_MEASURES:
        mine = {}
        for agency in ("pmj", "dsd", None):
            body = _json(_values(app, tokens, "cm", "village", "TH50", measure,
                                 agency=agency))
            assert body["agency"] == agency
            truth = _truth(app, "village", "TH50", agency=agency)
            got = dict(zip(body["codes"], body["columns"]["value"], strict=True))
            assert set(got) == set(truth)
            for code, value in got.items():
                want = _expected(truth[code], measure)
                assert value == (None if want is None else pytest.approx(want, abs=1e-4))
            mine[agency] = got
        # the village of the fixture had cash aid from the provincial office only
        assert mine["pmj"][village] == mine[None][village] > 0
        assert mine["dsd"][village] == 0
        assert sum(mine["pmj"].values()) + sum(mine["dsd"].values()) == pytest.approx(
            sum(mine[None].values()))   # no household was helped by both
    thb = _json(_values(app, tokens, "nat", "province", "", "fu_assist_thb", agency="dsd"))
    assert dict(zip(thb["codes"], thb["columns"]["value"], strict=True))["TH10"] == 7 * 1500


def test_agency_is_refused_for_other_measures_and_unknown_agencies(world):
    app, tokens, *_ = world
    r = _values(app, tokens, "cm", "tambon", "TH50", "fu_visited", agency="dsd")
    assert r.status_code == 422 and "agency" in r.json["detail"]
    r = _values(app, tokens, "cm", "tambon", "TH50", "fu_assist", agency="nobody")
    assert r.status_code == 422 and "ไม่มีหน่วยงาน" in r.json["detail"]
    r = _values(app, tokens, "cm", "tambon", "TH50", "h", agency="dsd")
    assert r.status_code == 422


def test_another_provinces_agency_figures_are_the_publics(world):
    """Chiang Mai's officer sees Bangkok's Skill Development Office help as the public does
    (7 records rounded to 5), the national user the exact 7."""
    app, tokens, *_ = world
    pub = _public(app, "province", agency="dsd")
    for who, want in (("nat", 7.0), ("cm", pub["TH10"]["n_assist"]), (None, 5.0)):
        body = _json(_values(app, tokens, who, "province", "", "fu_assist", agency="dsd"))
        got = dict(zip(body["codes"], body["columns"]["value"], strict=True))
        assert got["TH10"] == want, who
    assert pub["TH10"]["n_assist"] == 5.0
    page = app.test_client().get("/maps/area/TH50?level=amphoe").get_data(as_text=True)
    assert '"agency_measures"' in page and "สำนักงานพัฒนาฝีมือแรงงาน" in page


# -- property: no case data of a province the caller may not see --------------------------------
def _visible(who, province):
    role, own = ROLES[who]
    return role == "national" or (role == "provincial" and own == province)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_map_values_carry_no_case_data_of_provinces_the_caller_may_not_see(world, data):
    """Every figure of an area in a province the caller may not see equals the public
    figure (rounded, disclosure-controlled over the whole country) or is withheld; an area
    with fewer than the minimum target households has no figure; no household id, no case
    id, nothing below the amphoe; a public request reads no case (no audit row)."""
    from service.api.auth import user_store

    app, tokens, _village, _n, secrets = world
    who = data.draw(st.sampled_from(list(ROLES)), label="who")
    level, scope = data.draw(st.sampled_from([
        ("province", ""), ("amphoe", ""), ("tambon", ""), ("amphoe", "TH50"),
        ("amphoe", "TH10"), ("tambon", "TH50"), ("tambon", "TH10"), ("village", "TH50"),
        ("village", "TH10"), ("village", "TH5001"), ("tambon", "TH5001"),
        ("h3_r7", "TH50")]), label="map")
    measure = data.draw(st.sampled_from(FU_MEASURES), label="measure")
    agency = data.draw(st.sampled_from([None, "pmj", "dsd"]), label="agency") if (
        measure in AGENCY_MEASURES) else None
    embed = data.draw(st.booleans(), label="embed")
    path = "/embed/values" if embed else "/maps/values"
    audit_before = len(user_store(app).audit_rows(limit=100000))
    resp = app.test_client().get(f"{path}/{level}.json?scope={scope}&measure={measure}"
                                 + (f"&agency={agency}" if agency else ""),
                                 headers=_h(tokens, who))
    assert resp.status_code < 500, resp.get_data()[:300]
    text = gzip.decompress(resp.data).decode() if resp.headers.get(
        "Content-Encoding") == "gzip" else resp.get_data(as_text=True)
    viewer = None if embed else who
    assert not [hh for p, hhs in secrets.items() if not _visible(viewer, p)
                for hh in hhs if hh in text]
    assert '"hh_id"' not in text and '"case_id"' not in text
    if viewer is None:
        assert len(user_store(app).audit_rows(limit=100000)) == audit_before
    if resp.status_code != 200:
        assert resp.status_code in (401, 403, 404), resp.status_code
        return
    body = json.loads(text)
    min_hh = app.config["CHIPAO"]["min_cell_households"]
    truth = _truth(app, level, agency=agency) if level in (
        "province", "amphoe", "tambon", "village") else {}
    public = _public(app, level, agency=agency) if level in ("province", "amphoe") else {}
    sup = set(body["suppressed"])
    for i, (code, value) in enumerate(zip(body["codes"], body["columns"]["value"],
                                          strict=True)):
        if _visible(viewer, code[:4]):
            want = _expected(truth[code], measure)
            assert value == (None if want is None else pytest.approx(want, abs=1e-4))
            continue
        assert level in ("province", "amphoe"), (level, code)  # nothing finer
        assert truth[code]["n_cases"] >= min_hh or i in sup, code
        if i in sup:
            assert value is None
        elif measure in PUBLIC_COLUMN:
            assert value == pytest.approx(public[code][PUBLIC_COLUMN[measure]]), code
        else:
            assert value is None, (measure, code)  # past due, missed: never public
