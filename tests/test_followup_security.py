"""Property tests: no case data of another province reaches a provincial user, none reaches
the public, and no write lands on a case the caller may not see.

"Case data" = a household pseudonym of a case, its case id in a case record, a help record.
Every follow-up route (pages and API) is drawn with every role and with objects of both
provinces.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROLES = {None: ("public", None), "nat": ("national", None), "cm": ("provincial", "TH50"),
         "bkk": ("provincial", "TH10")}
GETS = (
    "/api/v1/cases?province={province}&area={area}&status={status}",
    "/api/v1/cases/{case_id}",
    "/cases?province={province}&area={area}",
    "/cases/{case_id}",
    "/cases/progress?level={level}&area={area}",
    "/api/v1/followup/progress?level={level}&area={area}",
    "/api/v1/followup/assistance?by={by}&area={area}",
    "/cases/import",
    "/cases/missed",
)
POSTS = (
    ("/api/v1/cases/{case_id}/status", {"status": "visited"}),
    ("/api/v1/cases/{case_id}/plan", {"action": "goods_aid", "agency": "lao"}),
    ("/api/v1/cases/{case_id}/assistance", {"given_on": "2026-10-01", "agency": "lao",
                                            "action": "goods_aid"}),
    ("/api/v1/cases/open", {"province": "{province}"}),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import api_dataset

    app, tokens, _ = api_dataset.build_app(tmp_path_factory.mktemp("fsec"), pseudonym_key="k")
    c = app.test_client()
    nat = {"Authorization": f"Bearer {tokens['nat']}"}
    assert c.post("/api/v1/cases/open", json={}, headers=nat).status_code == 200
    secrets: dict[str, set[str]] = {}
    ids: dict[int, str] = {}
    for prov in ("TH50", "TH10"):
        body = c.get(f"/api/v1/cases?province={prov}&limit=500", headers=nat).json
        secrets[prov] = {r["hh_id"] for r in body["cases"]}
        for r in body["cases"]:
            ids[r["id"]] = prov
        for r in body["cases"][:12]:  # help in every province, enough for public figures
            c.post(f"/api/v1/cases/{r['id']}/assistance", headers=nat, json={
                "given_on": "2026-10-01", "agency": "pmj", "action": "cash_aid",
                "amount_thb": 1000})
            c.post(f"/api/v1/cases/{r['id']}/status", headers=nat, json={"status": "visited"})
    amphoes = sorted({r[:6] for r in ("TH500101", "TH100101")})
    return app, tokens, secrets, ids, amphoes


def _headers(tokens, who):
    return {"Authorization": f"Bearer {tokens[who]}"} if who else {}


def _visible(who, prov):
    role, own = ROLES[who]
    return role == "national" or (role == "provincial" and own == prov)


def _leaks(text: str, secrets, who) -> list[str]:
    return [hh for prov, hhs in secrets.items() if not _visible(who, prov)
            for hh in hhs if hh in text]


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_case_data_crosses_provinces_or_reaches_the_public(world, data):
    app, tokens, secrets, ids, amphoes = world
    who = data.draw(st.sampled_from(list(ROLES)), label="who")
    template = data.draw(st.sampled_from(GETS), label="url")
    url = template.format(
        province=data.draw(st.sampled_from(["", "TH50", "TH10"]), label="province"),
        area=data.draw(st.sampled_from(["", "TH50", "TH10", *amphoes]), label="area"),
        status=data.draw(st.sampled_from(["", "visited", "not_visited"]), label="status"),
        case_id=data.draw(st.sampled_from(sorted(ids)), label="case"),
        level=data.draw(st.sampled_from(["province", "amphoe", "tambon"]), label="level"),
        by=data.draw(st.sampled_from(["agency", "action", "amphoe_code"]), label="by"))
    accept = data.draw(st.sampled_from(["application/json", "text/html"]), label="accept")
    from service.api.auth import user_store

    before = len(user_store(app).audit_rows(limit=100000))
    resp = app.test_client().get(url, headers={**_headers(tokens, who), "Accept": accept})
    assert resp.status_code < 500, (url, who, resp.get_data()[:300])
    text = resp.get_data(as_text=True)
    leaks = _leaks(text, secrets, who)
    assert not leaks, (url, who, "case data of a province the caller may not see")
    new = user_store(app).audit_rows(limit=100000)[: len(user_store(app).audit_rows(
        limit=100000)) - before]
    if who is None:
        assert not new, (url, "a public request read case data")
        assert not re.search(r'"hh_id"|href="/cases/\d+"', text), url
        if "/api/v1/followup/progress" in url and resp.status_code == 200:
            for row in resp.json["areas"]:
                assert row["n_cases"] is None or row["n_cases"] % 5 == 0
    else:
        for _row in new:
            assert resp.headers.get("Cache-Control") == "no-store", url


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_write_lands_on_a_case_the_caller_may_not_see(world, data):
    app, tokens, secrets, ids, _ = world
    who = data.draw(st.sampled_from([None, "cm", "bkk"]), label="who")
    case_id = data.draw(st.sampled_from(sorted(ids)), label="case")
    template, body = data.draw(st.sampled_from(POSTS), label="post")
    prov = ids[case_id]
    if _visible(who, prov):
        return
    nat = _headers(tokens, "nat")
    c = app.test_client()
    before = c.get(f"/api/v1/cases/{case_id}", headers=nat).json
    payload = {k: v.format(province=prov) for k, v in body.items()}
    resp = c.post(template.format(case_id=case_id), json=payload,
                  headers=_headers(tokens, who))
    assert resp.status_code in (401, 403, 404), (template, who, resp.status_code)
    after = c.get(f"/api/v1/cases/{case_id}", headers=nat).json
    for key in ("status", "plan", "assistance", "history"):
        assert after[key] == before[key], (template, who, key)
