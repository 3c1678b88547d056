"""Map pages and their data routes (Flask test client, fixture area tables)."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pandas as pd
import pytest
import shapely
from maps_fixtures import BDIR, frame_source

from service.render import assets, geometry, legend
from service.render.builders import MapPage, render_page
from service.render.catalogue import compute, format_value, load_catalogue, parse_catalogue
from service.render.payload import values_payload


@pytest.fixture(scope="module")
def source():
    return frame_source()


@pytest.fixture
def map_client(app, services, source):
    services.use_source(source)
    return app.test_client()


def _json(resp):
    data = resp.data
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)


# -- catalogue, legend, payload ---------------------------------------------------------------
def test_catalogue_expands_every_family():
    cat = load_catalogue()
    ids = set(cat.measures)
    assert {"h", "m0", "a", "n_poor", "priority_rank"} <= ids
    assert {f"dep_ind{i}" for i in (1, 4, 22, 28)} <= ids
    assert {f"dim_{d}" for d in ("health", "living", "education", "income",
                                 "accessibility")} <= ids
    for p in ("welfare_card", "elderly_allowance", "disability_allowance", "child_grant",
              "social_security"):
        assert {f"cov_{p}", f"excl_{p}", f"n_excl_{p}"} <= ids
    for m in cat.measures.values():
        assert m.th and m.en and m.unit_th and m.unit_en
        assert re.search(r"[\u0e00-\u0e7f]", m.th), m.id  # Thai label really is Thai


def test_catalogue_rejects_bad_entries():
    raw = {"default": "x", "groups": {}, "measures": [
        {"id": "x", "th": "ก", "en": "x", "format": "percent", "unit_th": "", "unit_en": "",
         "scheme": "Reds", "column": "a", "num": "b", "den": "c"}]}
    with pytest.raises(ValueError, match="either 'column' or both"):
        parse_catalogue(raw)
    raw["measures"][0].pop("num")
    raw["measures"][0].pop("den")
    raw["measures"][0]["format"] = "weird"
    with pytest.raises(ValueError, match="format"):
        parse_catalogue(raw)


def test_ratio_is_computed_from_sums_and_groups():
    cat = load_catalogue()
    frame = pd.DataFrame({"code": ["a", "b"], "n_poor": [5, 0], "n_persons": [20, 0],
                          "n_poor_child": [2, 0], "n_child": [4, 0]})
    h = compute(frame, cat.get("h"))
    assert h.iloc[0] == pytest.approx(0.25) and np.isnan(h.iloc[1])
    assert compute(frame, cat.get("h"), group="child").iloc[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="n_target_poor"):
        compute(frame, cat.get("n_target_poor"))
    with pytest.raises(ValueError, match="no target-group"):
        compute(frame, cat.get("a"), group="child")


def test_format_value_for_people():
    assert format_value(0.1234, "percent") == "12.3%"
    assert format_value(1234567, "count") == "1,234,567"
    assert format_value(0.05, "percent", signed=True) == "+5.0%"
    assert format_value(float("nan"), "count", "th") == "ไม่มีข้อมูล"


def test_legend_classes_cover_values():
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 1, 500)
    for classifier in legend.CLASSIFIERS:
        lg = legend.classify(values, k=5, classifier=classifier)
        assert lg is not None and len(lg.colours) == len(lg.breaks) == len(lg.labels) <= 5
        assert lg.breaks == sorted(lg.breaks) and lg.breaks[-1] == pytest.approx(values.max())
        assert {legend.colour_of(v, lg) for v in values} <= set(lg.colours)
    assert legend.classify([np.nan, np.nan]) is None
    tied = legend.classify([1, 1, 1, 2], k=5)
    assert tied is not None and len(tied.breaks) <= 2
    with pytest.raises(ValueError):
        legend.classify(values, k=12)


def test_legend_class_of_one_value_is_labelled_once():
    """QA regression: a class of only zeros read "0.0% – 0.0%" on the national r9 map."""
    from service.render.legend import classify

    legend = classify([0.0] * 60 + [0.01, 0.02, 0.05, 0.1, 0.3], k=5, fmt="percent")
    assert legend is not None
    assert legend.labels[0] == "0.0%"
    assert all(" – " in label for label in legend.labels[1:])
    assert len(set(legend.labels)) == len(legend.labels)


def test_values_payload_change_and_suppression(source):
    frame = source.read_areas("demo", "tambon", version="v2", province="TH50")
    before = source.read_areas("demo", "tambon", version="v1", province="TH50")
    frame = frame.assign(suppressed=frame["n_households"] < 10)
    m = load_catalogue().get("h")
    payload = values_payload(frame, m, previous=before)
    i = payload["codes"].index(frame["code"].iloc[3])
    expected = (frame["n_poor"].iloc[3] / frame["n_persons"].iloc[3]
                - before.set_index("code").loc[frame["code"].iloc[3], "h"])
    assert payload["columns"]["value"][i] == pytest.approx(expected, rel=1e-4)
    assert payload["change"] is True and payload["legend"]["labels"][0].startswith(("+", "-"))
    small = np.flatnonzero(frame["n_households"].to_numpy() < 10).tolist()
    assert small and payload["suppressed"] == small
    for j in small:  # nothing about a suppressed area leaves the server
        assert all(col[j] is None for col in payload["columns"].values())
    json.dumps(payload, allow_nan=False)


# -- geometry ---------------------------------------------------------------------------------
def test_simplified_geometry_keeps_topology_and_is_smaller():
    full = geometry.simplified_level(BDIR, "tambon", 0.0)
    simple = geometry.simplified_level(BDIR, "tambon", 0.005)
    assert len(simple) == 7425
    assert shapely.get_num_coordinates(simple.geometry.values).sum() < \
        0.9 * shapely.get_num_coordinates(full.geometry.values).sum()
    assert shapely.is_valid(simple.geometry.values).all()
    # neighbours still share edges: the union's area equals the sum of areas (no overlaps)
    sample = simple[simple["code"].str.startswith("TH50")].geometry.values
    assert shapely.union_all(sample).area == pytest.approx(shapely.area(sample).sum(), rel=1e-3)


def test_admin_geojson_ids_and_rounding():
    data = json.loads(geometry.admin_geojson(BDIR, "tambon", "TH5001"))
    ids = [f["id"] for f in data["features"]]
    assert ids and all(i.startswith("TH5001") for i in ids)
    coord = data["features"][0]["geometry"]["coordinates"]
    while isinstance(coord[0], list):
        coord = coord[0]
    assert all(len(str(c).split(".")[-1]) <= geometry.DECIMALS for c in coord)


def test_geometry_cache_builds_once(tmp_path):
    cache = geometry.GeometryCache(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return b'{"type":"FeatureCollection","features":[]}'

    a = cache.get_or_build("k", build)
    b = geometry.GeometryCache(tmp_path).get_or_build("k", build)  # from disk
    assert a == b and len(calls) == 1 and gzip.decompress(a).startswith(b'{"type"')


# -- offline pages ----------------------------------------------------------------------------
def test_page_names_no_other_host():
    page = MapPage("ก", "A", "tambon", "/g", "/v", [[5, 97], [21, 106]], {}, [], [])
    html = render_page(page)
    assert "cdn" not in html and "https://" not in html and "http://" not in html
    assert "/assets/leaflet/leaflet.js" in html and "/assets/maps/chipao-map.js" in html
    with pytest.raises(assets.ExternalResourceError):
        assets.assert_offline('<script src="https://cdn.jsdelivr.net/x.js"></script>')
    with pytest.raises(assets.ExternalResourceError):
        assets.assert_offline("<style>@import '//fonts.example/x.css';</style>")


def test_config_cannot_break_out_of_script():
    page = MapPage("</script><script>alert(1)</script>", "A", "tambon", "/g", "/v",
                   [[5, 97], [21, 106]], {}, [], [])
    html = render_page(page)
    assert "</script><script>alert(1)" not in html


def test_asset_route_serves_packages_and_refuses_traversal(client):
    js = client.get("/assets/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert js.status_code == 200 and js.headers["Content-Encoding"] == "gzip"
    assert b"Leaflet" in gzip.decompress(js.data)[:400]
    assert "immutable" in js.headers["Cache-Control"]
    font = client.get("/assets/fonts/Sarabun-Regular.ttf")
    assert font.status_code == 200 and font.mimetype == "font/ttf" and len(font.data) > 50_000
    assert b"Open Font License" in client.get("/assets/fonts/LICENSE").data
    for bad in ("/assets/fonts/Sarabun-Thin.ttf", "/assets/leaflet/../__init__.py",
                "/assets/maps/..%2Fmeasures.json", "/assets/nope/x.js",
                "/assets/maps/.hidden.js"):
        assert client.get(bad).status_code == 404, bad
    again = client.get("/assets/leaflet/leaflet.css", headers={"If-None-Match": js.headers["ETag"]})
    assert again.status_code == 200


# -- routes ----------------------------------------------------------------------------------
def test_national_and_area_pages(map_client):
    for url in ("/maps/", "/maps/?level=tambon", "/maps/area/TH50", "/maps/area/TH5001",
                "/maps/?level=h3_r6&measure=cov_child_grant"):
        resp = map_client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        assert "chipaoMap(" in html and "https://" not in html
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    html = map_client.get("/maps/area/TH50").get_data(as_text=True)
    assert "เชียงใหม่" in html and "Chiang Mai" in html


def test_bad_parameters_are_clear_errors(map_client):
    cases = {
        "/maps/?measure=nope": "unknown measure",
        "/maps/?classes=12": "classes",
        "/maps/?level=village": "level",
        "/maps/values/tambon.json?group=martians": "group",
        "/maps/values/tambon.json?measure=a&group=child": "no target-group",
        "/maps/area/TH99": None,
        "/maps/area/XX": "not a Thai admin code",
    }
    for url, text in cases.items():
        resp = map_client.get(url)
        assert 400 <= resp.status_code < 500, url
        if text:
            assert text in resp.get_json()["detail"], url


def test_bad_parameter_errors_are_thai_and_english(map_client):
    """QA regression: the map pages' 422 messages were English only."""
    for url in ("/maps/?measure=nope", "/maps/?classes=12", "/maps/?classes=x",
                "/maps/?level=village", "/maps/?k=abc", "/maps/?k=2",
                "/maps/?classifier=zz", "/maps/?dataset=a%20b",
                "/maps/values/tambon.json?group=martians",
                "/maps/values/tambon.json?measure=a&group=child", "/maps/area/XX",
                "/maps/values/tambon.json?scope=TH50010101"):
        resp = map_client.get(url)
        assert resp.status_code == 422, url
        detail = resp.get_json()["detail"]
        assert " / " in detail and any("\u0e00" <= ch <= "\u0e7f" for ch in detail), (url, detail)


def test_values_route_suppresses_for_the_public(map_client, source):
    data = _json(map_client.get("/maps/values/tambon.json?scope=TH50&measure=h"))
    frame = source.read_areas("demo", "tambon", province="TH50").set_index("code")
    hh = frame.loc[data["codes"], "n_households"].to_numpy()
    shown = [v for v in data["columns"]["n_households"] if v is not None]
    assert min(shown) >= 10
    assert all(data["columns"]["n_households"][i] is None for i in np.flatnonzero(hh < 10))
    assert data["n_suppressed"] >= int((hh < 10).sum()) > 0


def test_values_route_change_and_rounds(map_client):
    now = _json(map_client.get("/maps/values/province.json?measure=n_poor"))
    old = _json(map_client.get("/maps/values/province.json?measure=n_poor&round=v1"))
    diff = _json(map_client.get("/maps/values/province.json?measure=n_poor&change=1"))
    assert now["version"] == "v2" and old["version"] == "v1"
    for i, code in enumerate(diff["codes"]):
        a, b = now["columns"]["value"][i], old["columns"]["value"][old["codes"].index(code)]
        if a is not None and b is not None:
            assert diff["columns"]["value"][i] == pytest.approx(a - b)
    resp = map_client.get("/maps/values/province.json?measure=h&change=1&round=v1")
    assert resp.status_code == 422 and "earlier round" in resp.get_json()["detail"]


def test_priority_rank_measure(map_client):
    data = _json(map_client.get("/maps/values/tambon.json?scope=TH50&measure=priority_rank"))
    ranks = sorted(v for v in data["columns"]["value"] if v is not None)
    assert ranks[0] == 1 and ranks == list(range(1, len(ranks) + 1))


def test_geometry_route_gzip_etag_and_cache(map_client):
    resp = map_client.get("/maps/geo/tambon.geojson?scope=TH50",
                          headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert "max-age" in resp.headers["Cache-Control"]
    assert len(_json(resp)["features"]) == 204
    again = map_client.get("/maps/geo/tambon.geojson?scope=TH50",
                           headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    plain = map_client.get("/maps/geo/tambon.geojson?scope=TH50")
    assert "Content-Encoding" not in plain.headers and json.loads(plain.data)["features"]
    cells = _json(map_client.get("/maps/geo/h3_r6.geojson?dataset=demo"))
    assert cells["type"] == "chipao.cells" and len(cells["codes"]) == len(cells["nverts"])
    assert len(cells["xy"]) == sum(2 + 2 * n for n in cells["nverts"])


def test_compact_cells_decode_to_h3_boundaries():
    import h3

    codes = [h3.latlng_to_cell(18.79, 98.98, 7), h3.latlng_to_cell(13.75, 100.5, 9)]
    data = json.loads(geometry.h3_compact(codes))
    xy, scale, pos = data["xy"], data["scale"], 0
    for code, n in zip(data["codes"], data["nverts"], strict=True):
        cx, cy = xy[pos], xy[pos + 1]
        got = [((cy + xy[pos + 3 + 2 * k]) / scale, (cx + xy[pos + 2 + 2 * k]) / scale)
               for k in range(n)]
        assert np.allclose(got, h3.cell_to_boundary(code), atol=1.5 / scale)
        pos += 2 + 2 * n


def test_villages_need_a_signed_in_user_of_the_province(map_client):
    assert map_client.get("/maps/area/TH500101").status_code == 401
    assert map_client.get("/maps/values/village.json?scope=TH500101").status_code == 401
    assert map_client.get("/maps/geo/village.geojson?scope=TH500101&dataset=demo"
                          ).status_code == 401


def test_basemap_must_be_local(tmp_path, source):
    from service import create_app

    for basemap, expected in (("/tiles/{z}/{x}/{y}.png", '"basemap": "/tiles/{z}/{x}/{y}.png"'),
                              ("https://tile.example.org/{z}/{x}/{y}.png", '"basemap": null'),
                              ("none", '"basemap": null')):
        app = create_app({"testing": True, "data_dir": str(tmp_path / "v"), "basemap": basemap},
                         source=source)
        html = app.test_client().get("/maps/").get_data(as_text=True)
        assert expected in html and "tile.example.org" not in html


def test_h_and_m0_divide_by_persons_scored():
    import pandas as pd

    from service.render.catalogue import compute, load_catalogue

    cat = load_catalogue()
    frame = pd.DataFrame({"n_persons": [100], "n_scored": [80], "n_poor": [20],
                          "sum_c_poor": [8.0], "n_child": [40], "n_poor_child": [10],
                          "sum_c_poor_child": [4.0]})
    assert compute(frame, cat.get("h")).iloc[0] == 20 / 80
    assert compute(frame, cat.get("m0")).iloc[0] == 8.0 / 80
    assert compute(frame, cat.get("h"), group="child").iloc[0] == 10 / 40
    # tables from before n_scored existed scored everyone
    assert compute(frame.drop(columns="n_scored"), cat.get("h")).iloc[0] == 20 / 100


# -- wave 2: honest legends --------------------------------------------------------------------
def test_change_legend_has_a_neutral_class_and_the_classes_asked_for():
    rng = np.random.default_rng(3)
    for k in (3, 4, 5, 7):
        lg = legend.classify(rng.normal(0.01, 0.04, 200), k=k, signed=True, scheme="RdYlGn_r")
        assert lg is not None and len(lg.breaks) == len(lg.colours) == len(lg.labels) == k
        n = lg.neutral
        assert n is not None and "no change" in lg.labels[n]
        assert lg.breaks[n] > 0 and (n == 0 or lg.breaks[n - 1] < 0)
        assert legend.colour_of(0.0, lg) == lg.colours[n]  # 0.0 is not an "improvement"
        assert len(set(lg.labels)) == k
    # all areas unchanged: still 5 classes, every area in the neutral one
    flat = legend.classify(np.zeros(40), k=5, signed=True, scheme="RdYlGn_r", fmt="count")
    assert flat is not None and len(flat.breaks) == 5 and flat.labels[flat.neutral].startswith("0")


def test_legend_labels_never_repeat_and_narrow_ranges_get_few_light_classes():
    rng = np.random.default_rng(4)
    many_zeros = np.concatenate([np.zeros(300), rng.uniform(0, 0.25, 100)])
    lg = legend.classify(many_zeros, k=5, fmt="percent")
    assert lg is not None and lg.labels[0] == "0.0%" and len(lg.labels) == 5
    assert len(set(lg.labels)) == 5 and lg.labels[1].startswith("> 0.0%")
    tiny = legend.classify(np.linspace(0.00001, 0.0004, 50), k=5, fmt="percent")
    assert tiny is not None and len(set(tiny.labels)) == len(tiny.labels)
    narrow = legend.classify(rng.uniform(0.359, 0.369, 77), k=5, fmt="percent")
    assert narrow is not None and len(narrow.breaks) <= 2 and narrow.note_en
    full = legend.classify(rng.uniform(0, 1, 77), k=5, fmt="percent")
    assert full is not None and narrow.colours[-1] in full.colours[:3]  # light, not the darkest


def test_fixed_breaks_reuse_the_national_classes():
    rng = np.random.default_rng(5)
    national = legend.classify(rng.uniform(0, 0.6, 500), k=5)
    assert national is not None
    page = legend.classify(rng.uniform(0.1, 0.3, 40), k=5, fixed=national)
    assert page is not None and page.colours == national.colours
    assert page.breaks[:-1] == national.breaks[:-1] and page.note_en == "national classes"


def test_measure_without_columns_is_not_available_not_an_error(source):
    frame = source.read_areas("demo", "tambon", version="v2", province="TH50")
    m = load_catalogue().get("dep_ind1")
    payload = values_payload(frame.drop(columns=["n_dep_ind1"]), m)
    assert payload["available"] is False and payload["legend"] is None
    assert all(v is None for v in payload["columns"]["value"])


def test_change_payload_carries_from_and_to(source):
    frame = source.read_areas("demo", "tambon", version="v2", province="TH50")
    before = source.read_areas("demo", "tambon", version="v1", province="TH50")
    payload = values_payload(frame, load_catalogue().get("h"), previous=before)
    cols = payload["columns"]
    i = next(j for j, v in enumerate(cols["value"]) if v is not None)
    assert cols["after"][i] - cols["before"][i] == pytest.approx(cols["value"][i], abs=1e-5)


def test_measures_are_grouped_by_family():
    cat = load_catalogue()
    families = {m.family for m in cat.measures.values()}
    assert {"poverty", "dimensions", "indicators", "coverage", "exclusion"} <= families
    assert cat.get("cov_child_grant").to_json()["family_en"] == "Programme coverage"


def test_country_is_not_a_map_layer(map_client):
    """Regression (property test found a 500 ValueError: 'TH' read as an H3 cell): the
    country geometry route answers 404, like any unknown layer."""
    assert map_client.get("/maps/geo/country.geojson").status_code == 404
    assert map_client.get("/maps/geo/nowhere.geojson").status_code == 404
