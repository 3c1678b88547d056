"""Property test: no cross-province and no public leak, over every registered GET route.

Routes are enumerated from ``app.url_map``, so endpoints added later are covered without
editing this file. For each (role, province, endpoint, object) drawn by hypothesis:

* no 5xx;
* an area-like record (a dict with ``code``, ``province_code`` and ``n_households``; JSON,
  GeoJSON properties or CSV rows) of a province the caller may not see in detail must carry
  exactly the disclosure-sensitive values the public gets for the same URL, and never a
  household count of 1-9;
* a request that wrote a household-level audit row came from a national caller, or from the
  provincial caller of the province named in the audited object, and was sent ``no-store``;
* no GET changes stored state (every catalog table except the append-only audit log);
* household-level endpoints answer the public 401 and another province 403.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.api.auth import user_store
from service.vocabulary import LEVELS

K = 10
ROLES = {None: ("public", None), "nat": ("national", None), "cm": ("provincial", "TH50"),
         "bkk": ("provincial", "TH10")}
SENSITIVE = re.compile(r"^(n_|sum_|h$|a$|m0$|h_|m0_|cov_|lon$|lat$|pop_|survey_gap)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import api_dataset

    app, tokens, ids = api_dataset.build_app(tmp_path_factory.mktemp("scope"))
    client = app.test_client()
    nat = {"Authorization": f"Bearer {tokens['nat']}"}
    codes: dict[str, list[str]] = {}
    for level in LEVELS:
        scopes = ("TH10", "TH50") if level in ("village", "h3_r8", "h3_r9") else ("",)
        items = [a for prov in scopes for a in client.get(  # big levels: one province at a time
            f"/api/v1/areas/{level}?limit=5000&province={prov}", headers=nat).json["items"]]
        by_prov: dict[str, list[str]] = {}
        for a in items:
            by_prov.setdefault(str(a["province_code"]), []).append(a["code"])
        # a few objects of every province at every level: smallest and largest
        codes[level] = sorted({c for cs in by_prov.values() for c in (cs[0], cs[-1])})
    rules = [r for r in app.url_map.iter_rules()
             if "GET" in (r.methods or ()) and not r.rule.startswith("/static")]
    return app, tokens, codes, rules


def _pools(codes: dict[str, list[str]]) -> dict[str, list[str]]:
    admin = codes["province"] + codes["amphoe"] + codes["tambon"] + codes["village"]
    cells = [c for lv in LEVELS if lv.startswith("h3_") for c in codes[lv]]
    return {
        "level": list(LEVELS),
        "code": admin + cells + ["TH", "TH99"],
        "area": admin + ["TH99"],
        "scope": admin,
        "cell": cells,
        "fmt": ["csv", "geojson", "json"],
        "dataset": ["demo"],
        "resolution": ["6", "7", "8", "9"],
        "_any": admin + ["TH", "demo"],
    }


def _records(resp) -> list[dict]:
    """Area-like records in a JSON, GeoJSON or CSV response."""
    ctype = resp.content_type or ""
    found: list[dict] = []
    if "json" in ctype:
        try:
            body = json.loads(resp.get_data(as_text=True))
        except ValueError:
            return found

        def walk(node):
            if isinstance(node, dict):
                if {"code", "province_code", "n_households"} <= set(node) and \
                        isinstance(node["code"], str):
                    found.append(node)
                props = node.get("properties")
                if isinstance(props, dict):
                    walk(props)
                for v in node.values():
                    if isinstance(v, dict | list):
                        walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(body)
    elif "text/csv" in ctype:
        rows = csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig")))
        found = [r for r in rows if {"code", "province_code", "n_households"} <= set(r)]
    return found


def _visible(who: str | None, province: str | None) -> bool:
    role, own = ROLES[who]
    return role == "national" or (role == "provincial" and province == own)


def _num(v):
    if v in (None, ""):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def _state(engine) -> int:
    """Hash of every catalog table except the append-only audit log."""
    import sqlalchemy as sa

    parts = []
    with engine.connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            if table == "audit_log":
                continue
            rows = conn.exec_driver_sql(f'SELECT * FROM "{table}"').all()
            parts.append((table, sorted(map(repr, rows))))
    return hash(repr(parts))


def _check(app, tokens, url: str, who: str | None):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
    store = user_store(app)
    before = len(store.audit_rows(limit=100000))
    state = _state(store.engine)
    resp = client.get(url, headers=headers)
    assert resp.status_code < 500, (url, who, resp.status_code, resp.get_data()[:300])
    assert _state(store.engine) == state, (url, who, "a GET changed stored state")
    rows = store.audit_rows(limit=100000)
    new = rows[: len(rows) - before]
    role, own = ROLES[who]
    for row in new:
        if row["action"].startswith("denied."):
            # a refused household-level attempt is audited too (SEC): it read nothing
            assert resp.status_code in (401, 403), (url, who, row["action"])
            continue
        assert role != "public", (url, "public caller caused a household-level read")
        assert resp.headers.get("Cache-Control") == "no-store", url
        if role == "provincial":
            provinces = {m[:4] for m in re.findall(r"TH\d{2,8}", row["object"])}
            assert provinces <= {own}, (url, who, row["object"])
    if resp.status_code != 200:
        return
    mine = _records(resp)
    foreign = [r for r in mine if not _visible(who, r.get("province_code") or None)]
    if not foreign:
        return
    public = client.get(url)
    assert public.status_code == 200, (url, who, "records the public may not see at all")
    pub = {(r.get("level"), r["code"]): r for r in _records(public)}
    for r in foreign:
        n = _num(r.get("n_households"))
        assert n is None or n >= K, (url, who, r["code"], n)
        p = pub.get((r.get("level"), r["code"]))
        assert p is not None, (url, who, r["code"], "absent from the public response")
        for key, value in r.items():
            if SENSITIVE.match(str(key)):
                assert _num(value) == _num(p.get(key)), (url, who, r["code"], key, value,
                                                         p.get(key))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_property_no_cross_province_or_public_leak(world, data):
    app, tokens, codes, rules = world
    pools = _pools(codes)
    rule = data.draw(st.sampled_from(rules), label="route")
    who = data.draw(st.sampled_from(list(ROLES)), label="who")
    values = {arg: data.draw(st.sampled_from(pools.get(arg, pools["_any"])), label=arg)
              for arg in sorted(rule.arguments)}
    query = {"province": data.draw(st.sampled_from([None, "TH50", "TH10"]), label="province")}
    if "resolution" not in rule.arguments:
        query["resolution"] = data.draw(st.sampled_from([None, "7", "9"]), label="res")
    query["level"] = data.draw(st.sampled_from([None, "tambon", "village", "h3_r8"]),
                               label="qlevel")
    query["area"] = data.draw(st.sampled_from([None, *pools["area"]]), label="qarea")
    query = {k: v for k, v in query.items() if v is not None}
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        try:
            url = adapter.build(rule.endpoint, {**values, **query}, force_external=False)
        except Exception:  # a converter refused the drawn value (e.g. int)
            return
    _check(app, tokens, url, who)


HOUSEHOLD_URLS = ("/api/v1/areas/{level}/{code}/households",
                  "/api/v1/exports/households/{code}.csv")


@pytest.mark.parametrize("template", HOUSEHOLD_URLS)
def test_household_endpoints_matrix(world, template):
    app, tokens, codes, _ = world
    client = app.test_client()
    for level in ("province", "amphoe", "tambon", "village"):
        for code in codes[level]:
            url = template.format(level=level, code=code)
            province = code[:4]
            for who in ROLES:
                headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
                status = client.get(url, headers=headers).status_code
                if who is None:
                    assert status == 401, url
                elif _visible(who, province):
                    assert status == 200, (url, who)
                else:
                    assert status == 403, (url, who)
