"""REST API v1 against a real store holding a small two-province, two-round dataset."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse

import pytest
from openpyxl import load_workbook

from service import create_app
from service.api.auth import user_store

PASSWORD = "correct horse battery"
K = 10


pytestmark = pytest.mark.both_databases  # SQLite and PostgreSQL catalogs (conftest.py)


@pytest.fixture(scope="module")
def api(tmp_path_factory, make_database_url):
    """(app, tokens by role name, version ids) shared by this module's read-only tests."""
    import api_dataset

    tmp = tmp_path_factory.mktemp("api")
    url = make_database_url()
    app = create_app({"testing": True, "data_dir": str(tmp / "var"), "secret_key": "t",
                      "rate_limit": "100000 per minute", "min_cell_households": K,
                      **({"database_url": url} if url else {})})
    ids = api_dataset.build(app.config["CHIPAO"])
    users = user_store(app)
    tokens = {}
    for name, role, prov in (("nat", "national", None), ("cm", "provincial", "TH50"),
                             ("bkk", "provincial", "TH10")):
        users.create_user(name, PASSWORD, role, prov)
        tokens[name] = users.create_token(name)[0]
    return app, tokens, ids


def get(api, url, who=None):
    app, tokens, _ = api
    headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
    return app.test_client().get(url, headers=headers)


PROVINCES = ("TH10", "TH50")


def country(api, url, who=None):
    """Items of a big level (village, H3 r8/r9) over the whole fixture, one province at a
    time (the API answers 422 to a whole-country listing of those levels)."""
    sep = "&" if "?" in url else "?"
    items = []
    for prov in PROVINCES:
        resp = get(api, f"{url}{sep}province={prov}", who)
        assert resp.status_code == 200, resp.json
        items += resp.json["items"]
    return items


def test_datasets_and_rounds(api):
    _, _, ids = api
    body = get(api, "/api/v1/datasets").json
    assert [d["name"] for d in body["items"]] == ["demo"]
    assert body["items"][0]["current_version"]["id"] == ids[-1]
    versions = get(api, "/api/v1/datasets/demo/versions").json["items"]
    assert [v["round"] for v in versions] == [2562, 2561]
    assert all("path" not in v for v in versions)
    assert get(api, "/api/v1/datasets/nope").status_code == 404
    assert get(api, "/api/v1/datasets/Bad%20Name").status_code == 422


def test_public_areas_are_suppressed(api):
    items = country(api, "/api/v1/areas/village?limit=5000")
    body = {"items": items}
    assert len(items) == 16
    sizes = [a["n_households"] for a in body["items"]]
    assert all(s is None or s >= K for s in sizes)
    small = [a for a in body["items"] if a["code"].endswith("01")]  # 3-household villages
    assert small and all(a["suppressed"] and a["n_households"] is None for a in small)
    assert all(a["view"] == "public" for a in body["items"])


def test_national_sees_detail_provincial_only_own(api):
    nat = country(api, "/api/v1/areas/village?limit=5000", "nat")
    assert {a["view"] for a in nat} == {"detail"}
    assert sorted({a["n_households"] for a in nat}) == [3, 8, 14, 30]
    pub = {a["code"]: a for a in country(api, "/api/v1/areas/village?limit=5000")}
    cm = country(api, "/api/v1/areas/village?limit=5000", "cm")
    for a in cm:
        if a["province_code"] == "TH50":
            assert a["view"] == "detail" and a["n_households"] in (3, 8, 14, 30)
        else:  # another province: exactly what the public sees
            assert a == pub[a["code"]]


def test_area_detail_children_and_errors(api):
    body = get(api, "/api/v1/areas/province/TH50").json
    assert body["area"]["name_th"] == "เชียงใหม่" and body["children_level"] == "amphoe"
    assert [c["parent_code"] for c in body["children"]] == ["TH50"] * len(body["children"])
    # counts are conserved: children sum to the parent (national view, no suppression)
    nat = get(api, "/api/v1/areas/amphoe/TH5001", "nat").json
    assert sum(c["n_households"] for c in nat["children"]) == nat["area"]["n_households"]
    for url, status in (("/api/v1/areas/planet", 404), ("/api/v1/areas/province/TH99", 404),
                        ("/api/v1/areas/province/TH5001", 404),
                        ("/api/v1/areas/province?limit=0", 422),
                        ("/api/v1/areas/province?limit=abc", 422),
                        ("/api/v1/areas/province?province=Bangkok", 422),
                        ("/api/v1/areas/province?version=r0-none", 404)):
        r = get(api, url)
        assert r.status_code == status, url
        assert r.content_type == "application/problem+json"
        assert set(r.json) == {"type", "title", "status", "detail"}


def test_paging_and_filters(api):
    all_t = get(api, "/api/v1/areas/tambon").json
    page = get(api, "/api/v1/areas/tambon?limit=2&offset=1").json
    assert page["total"] == all_t["total"] == 4
    assert [a["code"] for a in page["items"]] == [a["code"] for a in all_t["items"][1:3]]
    only = get(api, "/api/v1/areas/tambon?province=TH50").json["items"]
    assert {a["province_code"] for a in only} == {"TH50"}
    parent = only[0]["parent_code"]
    kids = get(api, f"/api/v1/areas/tambon?parent={parent}").json["items"]
    assert kids and {a["parent_code"] for a in kids} == {parent}


@pytest.mark.parametrize("who", [None, "nat", "cm", "bkk"])
def test_province_filter_reads_one_province_and_answers_the_same(api, who, monkeypatch):
    """QA regression: a national /cells?province= or /areas/h3_r9?province= read the whole
    country's table (8-30 s, 7.6 GB on the national demo, which killed the server); the
    province is now pushed down to Parquet for unsuppressed reads, same answer."""
    from service.store.store import Store

    real = Store.read_areas
    calls: list[tuple[str, str | None]] = []

    def spy(self, dataset, level, **kw):
        calls.append((level, kw.get("province")))
        return real(self, dataset, level, **kw)

    monkeypatch.setattr(Store, "read_areas", spy)
    for prov in ("TH50", "TH10"):
        for url, filtered in (
                (f"/api/v1/areas/village?province={prov}&limit=4999", None),
                (f"/api/v1/cells?resolution=9&province={prov}&limit=4999", None),
                (f"/api/v1/areas/tambon?province={prov}&limit=4999", "/api/v1/areas/tambon?limit=4998"),
                (f"/api/v1/cells?resolution=7&province={prov}&limit=4999", "/api/v1/cells?resolution=7&limit=4998"),
                (f"/api/v1/areas/tambon?parent={prov}01&limit=4999", None)):
            got = get(api, url, who)
            assert got.status_code == 200
            if filtered:
                full = [a for a in get(api, filtered, who).json["items"]
                        if a["province_code"] == prov]
                assert got.json["items"] == full and full
        area = get(api, f"/api/v1/areas/amphoe/{prov}01?x=qa", who).json
        kids = [a for a in get(api, "/api/v1/areas/tambon?limit=4997", who).json["items"]
                if a["parent_code"] == f"{prov}01"]
        assert area["children"] == kids and kids
    if who == "nat":  # every unsuppressed read of the filtered requests named its province
        assert ("village", "TH50") in calls and ("h3_r9", "TH10") in calls
        assert ("amphoe", "TH50") in calls and ("tambon", "TH10") in calls


def test_generic_http_errors_are_thai_and_english(api):
    """QA regression: Werkzeug's 404/405 bodies were English only."""
    app, _, _ = api
    for resp, status in ((get(api, "/no-such-page"), 404),
                         (app.test_client().delete("/api/v1/datasets"), 405)):
        assert resp.status_code == status
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        detail = resp.json["detail"]
        assert (any("\u0e00" <= ch <= "\u0e7f" for ch in detail) and "URL" in detail) or \
            (status == 405 and "วิธีเรียก" in detail)
    # domain errors already bilingual are not given a second Thai text
    detail = get(api, "/api/v1/areas/foo").json["detail"]
    assert detail.count(" / ") == 1


@pytest.mark.parametrize("who", [None, "nat", "cm", "bkk"])
def test_cell_detail_reads_only_its_provinces_and_answers_the_same(api, who, monkeypatch):
    """QA regression: /cells/<cell> read the whole country's next-finer level (8 s for a
    national caller on the demo); rows and children must equal the cell listings."""
    from service.store.store import Store

    real = Store.read_areas
    full_reads: list[str] = []

    def spy(self, dataset, level, **kw):
        if kw.get("province") is None and kw.get("columns") is None:
            full_reads.append(level)
        return real(self, dataset, level, **kw)

    cells = {r: country(api, f"/api/v1/cells?resolution={r}&limit=4996", who)
             for r in (7, 8)}
    monkeypatch.setattr(Store, "read_areas", spy)
    with_kids = 0
    for cell in cells[7][:6]:
        body = get(api, f"/api/v1/cells/{cell['code']}?qa=1", who).json
        assert body["cell"] == cell
        kids = [c for c in cells[8] if c["parent_code"] == cell["code"]]
        # (suppressed cells are listed nowhere for the public, children included: SEC)
        assert sorted(body["children"], key=lambda c: c["code"]) == \
            sorted(kids, key=lambda c: c["code"])
        with_kids += bool(kids)
    assert with_kids
    if who == "nat":
        assert full_reads == []


def test_browser_pages_needing_sign_in_redirect_to_login(api):
    """QA regression: a browser opening /account or a village map while signed out got a
    raw JSON 401; it is now sent to the sign-in page, which returns it there after."""
    app, _, _ = api
    html = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    client = app.test_client()
    for url in ("/account", "/maps/area/TH5001?level=village"):
        resp = client.get(url, headers=html)
        assert resp.status_code == 303, url
        assert resp.headers["Location"] == "/login?next=" + url
        assert client.get(url).status_code == 401  # API clients keep the problem+json
    assert client.get("/api/v1/areas/village/TH50010101/households",
                      headers=html).status_code == 401
    assert client.get("/maps/values/village.json?scope=TH50", headers=html).status_code == 401
    form = client.get("/login?next=/account").get_data(as_text=True)
    assert 'value="/account"' in form


def test_older_round_by_version(api):
    _, _, ids = api
    old = get(api, f"/api/v1/areas/country?version={ids[0]}", "nat").json
    new = get(api, "/api/v1/areas/country", "nat").json
    assert old["round"] == 2561 and new["round"] == 2562
    assert old["items"][0]["n_persons"] != new["items"][0]["n_persons"]


def test_coverage_and_kpi(api):
    cov = get(api, "/api/v1/areas/province/TH50/coverage", "nat").json
    (p,) = cov["programmes"]
    assert p["programme"] == "elderly_allowance"
    assert p["n_covered"] + p["n_excluded"] - p["n_inclusion_error"] == p["n_eligible"]
    assert p["coverage"] == pytest.approx(1 - p["n_excluded"] / p["n_eligible"])
    kpi = get(api, "/api/v1/areas/province/TH50/kpi", "nat").json
    assert [s["round"] for s in kpi["series"]] == [2561, 2562]
    assert kpi["change"]["n_poor"] == kpi["series"][1]["n_poor"] - kpi["series"][0]["n_poor"]
    m0 = [k for k in kpi["kpis"] if k["kpi"] == "m0"]
    assert next(k["status"] for k in m0) == "baseline"


def test_measures_catalogue(api):
    body = get(api, "/api/v1/measures").json
    ids = {m["id"] for m in body["items"]}
    assert body["default"] in ids and "m0" in ids
    assert all(m["th"] and m["en"] for m in body["items"])


def test_cells(api):
    body = get(api, "/api/v1/cells?resolution=8&limit=5000&province=TH50").json
    assert body["resolution"] == 8 and body["total"] > 0
    assert all(c["n_households"] is None or c["n_households"] >= K for c in body["items"])
    nat = get(api, "/api/v1/cells?resolution=7&limit=5000", "nat").json["items"]
    cell = max(nat, key=lambda c: c["n_households"])["code"]
    detail = get(api, f"/api/v1/cells/{cell}", "nat").json
    assert detail["resolution"] == 7 and detail["parent"]
    assert sum(c["n_households"] for c in detail["children"]) == detail["cell"]["n_households"]
    assert get(api, "/api/v1/cells/zzz").status_code == 404
    assert get(api, "/api/v1/cells?resolution=12").status_code == 422
    bad = get(api, "/api/v1/cells?resolution=6&parent=8664800001fffff")
    assert bad.status_code == 422 and "ไม่มีเซลล์แม่" in bad.json["detail"]


def test_household_list_access_and_audit(api):
    app, _, _ = api
    url = "/api/v1/areas/tambon/{}/households"
    cm_tambon = get(api, "/api/v1/areas/tambon?province=TH50").json["items"][0]["code"]
    assert get(api, url.format(cm_tambon)).status_code == 401
    assert get(api, url.format(cm_tambon), "bkk").status_code == 403
    before = len(user_store(app).audit_rows())
    r = get(api, url.format(cm_tambon), "cm")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    items = r.json["items"]
    assert r.json["total"] == sum((3, 8, 14, 30)) == len(items)
    assert all(i["village_id"].startswith(cm_tambon) for i in items)
    assert all("person_id" not in i and "note" not in i for i in items)
    rows = user_store(app).audit_rows()
    assert len(rows) == before + 1
    assert (rows[0]["username"], rows[0]["action"]) == ("cm", "read_households")
    assert cm_tambon in rows[0]["object"]
    assert get(api, url.format(cm_tambon), "nat").status_code == 200
    assert get(api, "/api/v1/areas/h3_r8/abc/households", "nat").status_code == 404


def _disposition_name(header: str) -> str:
    return urllib.parse.unquote(header.split("filename*=UTF-8''", 1)[1])


def test_exports_village_list_csv_bom_thai_name_ranked_and_suppressed(api):
    r = get(api, "/api/v1/exports/villages/TH5001.csv")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    name = _disposition_name(r.headers["Content-Disposition"])
    assert "เมืองเชียงใหม่" in name and "หมู่บ้านเป้าหมาย" in name and name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert len(rows) == 8 and all(row["village_id"].startswith("TH5001") for row in rows)
    assert all(row["n_households"] == "" or int(row["n_households"]) >= K for row in rows)
    shown = [row for row in rows if row["suppressed"] == "False"]
    hidden = [row for row in rows if row["suppressed"] == "True"]
    assert shown and hidden and rows == shown + hidden  # suppressed villages last
    assert all(row["n_households"] == row["priority_rank"] == row["lon"] == "" for row in hidden)
    assert [int(row["priority_rank"]) for row in shown] == list(range(1, len(shown) + 1))
    assert all(row["tambon_name"] and row["province_name"] == "เชียงใหม่" for row in rows)
    # the same rows, in the same order, as the JSON target list
    items = get(api, "/api/v1/targets/villages?area=TH5001").json["items"]
    assert [i["village_id"] for i in items] == [row["village_id"] for row in shown]
    assert [i["n_poor"] for i in items] == [int(row["n_poor"]) for row in shown]
    # the provincial user of TH50 sees every village in detail, ranked
    rows = list(csv.DictReader(io.StringIO(
        get(api, "/api/v1/exports/villages/TH5001.csv", "cm").data.decode("utf-8-sig"))))
    assert len(rows) == 8 and all(row["suppressed"] == "False" for row in rows)
    assert sorted(int(row["priority_rank"]) for row in rows) == list(range(1, 9))


def test_exports_geojson_gpkg_xlsx(api, tmp_path):
    import geopandas as gpd

    gj = get(api, "/api/v1/exports/areas/tambon.geojson?province=TH50").json
    assert len(gj["features"]) == 2 and gj["features"][0]["geometry"]["type"] in (
        "Polygon", "MultiPolygon")
    r = get(api, "/api/v1/exports/areas/province.gpkg")
    (tmp_path / "p.gpkg").write_bytes(r.data)
    back = gpd.read_file(tmp_path / "p.gpkg")
    assert sorted(back["code"]) == ["TH10", "TH50"]
    # village list: one point per village, none for a suppressed village
    gj = get(api, "/api/v1/exports/villages/TH50.geojson").json
    feats = gj["features"]
    assert len(feats) == 8 and any(f["geometry"] is None for f in feats)
    for f in feats:
        if f["properties"]["suppressed"]:
            assert f["geometry"] is None and f["properties"]["n_households"] is None
        else:
            assert f["geometry"]["type"] == "Point"
            assert f["geometry"]["coordinates"] == [f["properties"]["lon"],
                                                    f["properties"]["lat"]]
    r = get(api, "/api/v1/exports/villages/TH5001.gpkg", "cm")
    (tmp_path / "v.gpkg").write_bytes(r.data)
    back = gpd.read_file(tmp_path / "v.gpkg")
    assert len(back) == 8 and (back.geom_type == "Point").all()
    assert back["priority_rank"].tolist() == list(range(1, 9))


def test_exports_household_list_is_the_target_list(api):
    import polars as pl

    from service.analysis.targets import household_list
    from service.api.datasets import get_store

    app, _, _ = api
    with app.app_context():
        persons = get_store().read_persons("demo", "TH50")
    expected = household_list(persons, area="TH50")
    n_poor = persons.filter(pl.col("hh_mpi_poor")).select(pl.col("hh_id").n_unique()).item()
    before = len(user_store(app).audit_rows())
    r = get(api, "/api/v1/exports/households/TH50.xlsx", "cm")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert "ครัวเรือนเป้าหมาย" in _disposition_name(r.headers["Content-Disposition"])
    ws = load_workbook(io.BytesIO(r.data)).active
    header = [c.value for c in ws[1]]
    assert "lon" not in header and "lat" not in header and "person_id" not in header
    assert header[:3] == ["visit_order", "hh_id", "village_id"]
    assert 0 < ws.max_row - 1 == n_poor == len(expected)
    assert [c.value for c in ws["A"][1:]] == list(range(1, n_poor + 1))  # numbers stay numbers
    assert [c.value for c in ws["B"][1:]] == list(expected["hh_id"])
    assert {ws.cell(1, j).value for j in range(1, ws.max_column + 1)} >= {
        "failing_labels_th", "failing_labels_en", "plan_urgent", "plan_medium", "plan_long"}
    rows = user_store(app).audit_rows()
    assert len(rows) == before + 1
    assert (rows[0]["username"], rows[0]["action"]) == ("cm", "export_households")
    assert f"rows={n_poor}" in rows[0]["detail"]
    r = get(api, "/api/v1/exports/households/TH5001.csv", "nat")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows and all(row["village_id"].startswith("TH5001") for row in rows)
    # no home locations: spatial formats are refused, even for authorised users
    for fmt in ("geojson", "gpkg"):
        r = get(api, f"/api/v1/exports/households/TH50.{fmt}", "cm")
        assert r.status_code == 422 and "CSV" in r.json["detail"]
    assert len(user_store(app).audit_rows()) == before + 2
    assert get(api, "/api/v1/exports/households/TH50.csv", "bkk").status_code == 403
    assert get(api, "/api/v1/exports/households/TH50.csv").status_code == 401
    assert get(api, "/api/v1/exports/households/TH50.geojson").status_code == 401
    assert get(api, "/api/v1/exports/areas/province.exe").status_code == 404


def test_openapi_document_and_docs_page(api):
    doc = get(api, "/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/areas/{level}/{code}" in doc["paths"]
    import schemathesis

    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(doc)))
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 15 and all(op.definition.raw["responses"] for op in ops)
    page = get(api, "/api/v1/docs")
    assert page.status_code == 200
    assert "/api/v1/exports/households/{area}.{fmt}" in page.text
    assert "<script" not in page.text and "http" not in page.text.split("</style>")[0]


def test_every_api_route_is_documented(api):
    app, _, _ = api
    doc = get(api, "/api/v1/openapi.json").json
    documented = set(doc["paths"])
    missing = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if not path.startswith("/api/v1/") or path in ("/api/v1/openapi.json", "/api/v1/docs"):
            continue
        oa = path
        for arg in rule.arguments:
            for conv in ("<" + arg + ">", "<int:" + arg + ">", "<path:" + arg + ">",
                         "<string:" + arg + ">"):
                oa = oa.replace(conv, "{" + arg + "}")
        if oa not in documented:
            missing.append(path)
    assert missing == [], f"add these routes to OPENAPI_PATHS: {missing}"


def test_large_json_is_gzipped_when_accepted(api):
    import gzip

    app, _, _ = api
    c = app.test_client()
    plain = c.get("/api/v1/areas/village?limit=5000&province=TH50")
    packed = c.get("/api/v1/areas/village?limit=5000&province=TH50",
                   headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert json.loads(gzip.decompress(packed.data)) == plain.json
    assert len(packed.data) < len(plain.data) / 3


def test_no_operation_accepts_arbitrary_geometry(api):
    """Public callers address precomputed areas only: no polygon, bbox or geometry input."""
    doc = get(api, "/api/v1/openapi.json").json
    banned = {"geometry", "polygon", "bbox", "wkt", "geojson", "geom", "shape", "coordinates"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            names = {p["name"].lower() for p in op.get("parameters", [])}
            assert not names & banned, (method, path, names & banned)
            if method == "get":
                assert "requestBody" not in op, (method, path)
            elif "requestBody" in op:  # only authenticated uploads take a body
                assert op.get("security"), (method, path)


def _reference_public(store, version_id, k):
    """Today's public tables, built the plain way: ``suppress`` over every whole level,
    parent before child (the answer a province-filtered public read must reproduce)."""
    from service.analysis.disclosure import suppress
    from service.vocabulary import LEVELS, PARENT_LEVEL

    out = {}
    for level in LEVELS:  # parents come first in LEVELS
        parent = out.get(PARENT_LEVEL.get(level))
        out[level] = suppress(store.read_areas("demo", level, version=version_id),
                              min_households=k, level=level,
                              parents=None if parent is None else parent[["code", "suppressed"]])
    return out


@pytest.mark.parametrize("k", [K, 17])
def test_province_public_rows_equal_whole_country_public_rows(api, k):
    """QA regression: a public /areas/h3_r9 built the whole country's public table (30 s,
    7.6 GB on the national demo). Public rows of one province, read with the filter pushed
    down and the country-wide suppression decisions, equal the whole-country public table
    restricted to that province, for every level, also with a threshold different from
    the one the stored flags were built with (17: more primary and complementary
    suppression crossing province borders inside H3 parents)."""
    import pandas as pd

    from service.api.areas import level_view, public_frame
    from service.api.auth import Principal
    from service.api.datasets import get_store
    from service.vocabulary import LEVELS

    base, _, ids = api
    app = create_app({"testing": True, "data_dir": base.config["CHIPAO"]["data_dir"],
                      "database_url": base.config["CHIPAO"]["database_url"],
                      "secret_key": "t", "min_cell_households": k})
    with app.app_context():
        store = get_store()
        for version_id in ids:
            ref = _reference_public(store, version_id, k)
            for level in LEVELS:
                if level in ("village", "h3_r9"):  # the test has something to check
                    assert ref[level]["suppressed"].any()
                for prov in PROVINCES:
                    want = ref[level][ref[level]["province_code"] == prov]
                    got = public_frame("demo", version_id, level, prov)
                    pd.testing.assert_frame_equal(got, want.reset_index(drop=True))
                    # another province's provincial user sees the same public rows
                    other = "TH10" if prov == "TH50" else "TH50"
                    view = level_view("demo", version_id, level,
                                      Principal("provincial", other), prov)
                    assert (view["view"] == "public").all()
                    pd.testing.assert_frame_equal(view.drop(columns="view"),
                                                  want.reset_index(drop=True))
                if level in ("province", "amphoe", "tambon", "h3_r6", "h3_r7"):
                    pd.testing.assert_frame_equal(public_frame("demo", version_id, level),
                                                  ref[level])


@pytest.mark.parametrize("who", [None, "nat", "cm"])
def test_big_levels_need_a_province_and_never_read_the_whole_country(api, who, monkeypatch):
    """A whole-country listing of village / H3 r8 / r9 (or its CSV) answers 422 in Thai
    and English for every caller; scoped reads never materialise a big level's full table
    (only narrow column reads for the country-wide suppression decisions)."""
    from service.store.store import Store

    for url in ("/api/v1/areas/village", "/api/v1/areas/h3_r9?limit=10",
                "/api/v1/areas/h3_r8", "/api/v1/cells?resolution=9",
                "/api/v1/cells", "/api/v1/exports/areas/h3_r9.csv",
                "/api/v1/exports/areas/village.xlsx"):
        resp = get(api, url, who)
        assert resp.status_code == 422, url
        detail = resp.json["detail"]
        assert "province" in detail and "ทีละจังหวัด" in detail, detail
    if who != "nat":  # rankings: the public table of a whole big level is never built
        resp = get(api, "/api/v1/rankings?level=h3_r9", who)
        assert resp.status_code == 422
        detail = resp.json["detail"]
        assert "province" in detail and "ทีละจังหวัด" in detail, detail

    real = Store.read_areas
    full_reads: list[str] = []

    def spy(self, dataset, level, **kw):
        if kw.get("province") is None and kw.get("columns") is None:
            full_reads.append(level)
        return real(self, dataset, level, **kw)

    monkeypatch.setattr(Store, "read_areas", spy)
    cells8 = get(api, "/api/v1/cells?resolution=8&province=TH50&limit=5000", who).json["items"]
    cell8 = cells8[0]["code"]
    parent7 = cells8[0]["parent_code"]
    for url in (f"/api/v1/areas/h3_r9?province=TH50&q={who}",
                f"/api/v1/areas/h3_r9?parent={cell8}&q={who}",
                f"/api/v1/cells?resolution=9&parent={cell8}&q={who}",
                f"/api/v1/cells/{cell8}?q={who}",
                f"/api/v1/areas/h3_r8/{cell8}?q={who}",
                f"/api/v1/areas/h3_r8/{cell8}/coverage?q={who}",
                f"/api/v1/areas/h3_r8/{cell8}/kpi?q={who}",
                f"/api/v1/areas/village?parent=TH500101&q={who}",
                f"/api/v1/areas/tambon/TH500101?q={who}",
                f"/api/v1/exports/areas/h3_r9.csv?province=TH10&q={who}"):
        assert get(api, url, who).status_code == 200, url
    assert not [lvl for lvl in full_reads if lvl in ("village", "h3_r8", "h3_r9")], full_reads
    # a parent listing equals the province listings filtered by parent
    by_parent = get(api, f"/api/v1/cells?resolution=8&parent={parent7}&limit=5000",
                    who).json["items"]
    every = country(api, "/api/v1/cells?resolution=8&limit=5000", who)
    assert sorted(by_parent, key=lambda c: c["code"]) == \
        sorted((c for c in every if c["parent_code"] == parent7), key=lambda c: c["code"])
    assert by_parent
