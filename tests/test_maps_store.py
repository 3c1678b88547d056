"""Map data routes over a real store (service.store + service.analysis.aggregate output)."""

from __future__ import annotations

import gzip
import json

import api_dataset
import pytest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return api_dataset.build_app(tmp_path_factory.mktemp("maps-store"))


def _get(app, url, who=None):
    headers = {"Accept-Encoding": "gzip"}
    if who:
        headers["Authorization"] = f"Bearer {who}"
    return app.test_client().get(url, headers=headers)


def _json(resp):
    data = resp.data
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)


def test_store_rounds_values_and_public_suppression(built):
    app, tokens, ids = built
    page = app.test_client().get("/maps/area/TH50").get_data(as_text=True)
    assert ids[0] in page and ids[1] in page  # both rounds offered in the round selector
    public = _json(_get(app, "/maps/values/village.json?scope=TH50"))  # not for the public
    assert public["status"] == 401
    tambons = _json(_get(app, "/maps/values/tambon.json?scope=TH50&measure=n_poor"))
    assert tambons["version"] == ids[-1] and len(tambons["codes"]) == 2
    nat = _json(_get(app, "/maps/values/village.json?scope=TH50&measure=n_poor",
                     tokens["nat"]))
    assert len(nat["codes"]) == 8 and nat["n_suppressed"] == 0
    # villages of 3 and 8 households are never shown to the public (embed view)
    shown = [v for v in _json(_get(app, "/embed/values/tambon.json?scope=TH50"))
             ["columns"].get("n_households", []) if v is not None]
    assert all(v >= 10 for v in shown)


def test_round_labels_give_the_build_date_in_the_buddhist_era(built):
    """The round selector reads "รอบ 2566 · Round 2566 (1 ธ.ค. 2569)", never "2026-12-01"."""
    import re

    from service.render.sources import StoreSource, round_label
    from service.render.thai import be_date
    from service.store import open_store

    app, _, _ = built
    store = open_store(app.config["CHIPAO"])
    rounds = StoreSource(store).rounds("demo")
    versions = {v.id: v for v in store.versions("demo")}
    assert rounds
    for r in rounds:
        built_on = versions[r.id].created_at
        assert r.label == f"รอบ {r.round} · Round {r.round} ({be_date(built_on)})"
        assert str(built_on.year + 543) in r.label and str(built_on.year) not in r.label
    page = app.test_client().get("/maps/area/TH50").get_data(as_text=True)
    assert rounds[-1].label in page and not re.search(r"\(20\d\d-\d\d-\d\d\)", page)
    assert round_label(2562, None) == "รอบ 2562 · Round 2562"


def test_store_change_between_rounds_and_h3(built):
    app, tokens, ids = built
    diff = _json(_get(app, "/maps/values/tambon.json?scope=TH50&measure=h&change=1",
                      tokens["nat"]))
    now = _json(_get(app, "/maps/values/tambon.json?scope=TH50&measure=h", tokens["nat"]))
    old = _json(_get(app, f"/maps/values/tambon.json?scope=TH50&measure=h&round={ids[0]}",
                     tokens["nat"]))
    for i, code in enumerate(diff["codes"]):
        a = now["columns"]["value"][now["codes"].index(code)]
        b = old["columns"]["value"][old["codes"].index(code)]
        assert diff["columns"]["value"][i] == pytest.approx(a - b, abs=1e-5)
    cells = _json(_get(app, "/maps/geo/h3_r8.geojson?scope=TH50&dataset=demo", tokens["nat"]))
    values = _json(_get(app, "/maps/values/h3_r8.json?scope=TH50", tokens["nat"]))
    assert cells["codes"] and set(values["codes"]) == set(cells["codes"])
    pts = _json(_get(app, "/maps/geo/village.geojson?scope=TH500101&dataset=demo",
                     tokens["cm"]))
    assert pts["features"] and all(f["geometry"]["type"] == "Point" for f in pts["features"])


@pytest.fixture(scope="module")
def pipeline_app(tmp_path_factory, make_demo_persons):
    """A real pipeline version (demo persons of one amphoe, tpmap spec) behind the app."""
    from service import create_app
    from service.api.auth import user_store
    from service.pipeline import build_version

    app = create_app({"testing": True, "secret_key": "t", "rate_limit": "",
                      "data_dir": str(tmp_path_factory.mktemp("maps-pipeline"))})
    build_version(app.config["CHIPAO"], dataset="demo", round=2561, progress=False,
                  persons_dir=make_demo_persons(amphoes=["TH7502"]))
    users = user_store(app)
    users.create_user("nat", api_dataset.PASSWORD, "national")
    return app, users.create_token("nat")[0]


def test_cut_off_k_recounts_from_persons(pipeline_app):
    app, nat = pipeline_app
    url = "/maps/values/tambon.json?scope=TH7502&measure=n_poor"
    base = _json(_get(app, url, nat))
    same = _json(_get(app, url + "&k=0.26", nat))
    # only the offered cut-offs (0.2 ... 0.5) are re-counted (SEC: bounded cost per k)
    low = _json(_get(app, url + "&k=0.2", nat))
    high = _json(_get(app, url + "&k=0.5", nat))
    assert base["codes"] and same["columns"]["value"] == base["columns"]["value"]
    for lo, mid, hi in zip(low["columns"]["value"], base["columns"]["value"],
                           high["columns"]["value"], strict=True):
        assert lo >= mid >= hi
    assert sum(low["columns"]["value"]) > sum(base["columns"]["value"])
    # households do not depend on k
    assert low["columns"]["n_households"] == base["columns"]["n_households"]
    h = _json(_get(app, url.replace("n_poor", "h") + "&k=0.2", nat))
    for i, v in enumerate(h["columns"]["value"]):
        assert v == pytest.approx(low["columns"]["value"][i] / h["columns"]["n_persons"][i],
                                  rel=1e-4)
    bad = _get(app, "/maps/values/tambon.json?measure=h&k=0.4", nat)
    assert bad.status_code == 422 and "province" in _json(bad)["detail"]
    assert _get(app, url + "&k=2", nat).status_code == 422
    for other in ("0.05", "0.27", "0.3333"):  # free floats: each would recount a province
        bad = _get(app, url + f"&k={other}", nat)
        assert bad.status_code == 422 and "0.26" in _json(bad)["detail"]


def test_public_h3_layers_cover_hidden_cells_with_published_parents(built):
    """TH58 r9 drew 249 of 26,091 cells and left the rest empty: now the published r8/r7
    cells are drawn beneath, and no fine cell with 1-9 households is located."""
    import h3

    from service.store import open_store

    app, tokens, ids = built
    store = open_store(app.config["CHIPAO"])
    r9 = store.read_areas("demo", "h3_r9", version=ids[-1], province="TH50")
    small = set(r9.loc[r9["n_households"] < 10, "code"])
    assert small, "the fixture has small r9 cells"
    geo = _json(_get(app, "/maps/geo/h3_r9.geojson?scope=TH50&dataset=demo"
                          f"&round={ids[-1]}"))
    groups = geo["cover_groups"]
    ncover = sum(groups)
    covers, fine = geo["codes"][:ncover], geo["codes"][ncover:]
    assert ncover > 0 and not small & set(fine)
    assert {h3.get_resolution(c) for c in covers} <= {7, 8}
    assert [h3.get_resolution(c) for c in covers] == sorted(h3.get_resolution(c) for c in covers)
    published = set()
    for lv in ("h3_r8", "h3_r7"):
        pub = _json(_get(app, f"/maps/values/{lv}.json?scope=TH50&measure=h"))
        hidden = set(pub["suppressed"])
        published |= {c for i, c in enumerate(pub["codes"]) if i not in hidden
                      and not (pub.get("cover_resolution") or [None] * (i + 1))[i]}
    for cell in small:  # every published ancestor of a hidden cell is drawn beneath it
        ancestors = {h3.cell_to_parent(cell, 8), h3.cell_to_parent(cell, 7)}
        assert ancestors & published <= set(covers)
    assert any({h3.cell_to_parent(c, 8), h3.cell_to_parent(c, 7)} & set(covers) for c in small)
    values = _json(_get(app, "/maps/values/h3_r9.json?scope=TH50&measure=h"))
    assert values["covered"] is True
    res = values["cover_resolution"]
    assert {r for r in res if r} <= {7, 8} and sum(1 for r in res if r) == ncover
    assert set(values["codes"]) == set(geo["codes"])
    assert all(p for p in values["places"]["th"])  # every cell says which tambon it is in
    # the province's own user sees every cell, without covers
    own = _json(_get(app, "/maps/geo/h3_r9.geojson?scope=TH50&dataset=demo"
                          f"&round={ids[-1]}", tokens["cm"]))
    assert "cover_groups" not in own and small <= set(own["codes"])


def test_public_r6_map_is_covered_by_the_amphoes_and_locates_no_suppressed_cell(built):
    """#13 item 4: H3 r6 has no coarser published hexagon, so its gaps were empty. The
    public r6 map keeps its published cells only (no cell of 1-9 households and no
    complementary suppressed cell is located, in the geometry or the values) and draws every
    published amphoe beneath them, hatched, with the public amphoe map's figures."""
    import h3

    from service.access.views import public_view
    from service.store import open_store

    app, tokens, ids = built
    settings = app.config["CHIPAO"]
    store = open_store(settings)
    k = int(settings["min_cell_households"])
    full = store.read_areas("demo", "h3_r6", version=ids[-1])
    pub = public_view(store, "demo", "h3_r6", version=ids[-1], min_households=k)
    flagged = set(pub.loc[pub["suppressed"].fillna(False).astype(bool), "code"])
    hidden = set(full.loc[full["n_households"] < k, "code"]) | flagged
    assert hidden, "the fixture has small or suppressed r6 cells"
    geo = _json(_get(app, f"/maps/geo/h3_r6.geojson?dataset=demo&round={ids[-1]}"))
    values = _json(_get(app, f"/maps/values/h3_r6.json?measure=h&round={ids[-1]}"))
    ncover = geo["cover_groups"][0]
    rings, cells = geo["codes"][:ncover], geo["codes"][ncover:]
    assert len(geo["cover_groups"]) == 1 and ncover > 0
    assert not hidden & set(geo["codes"]) and not hidden & set(values["codes"])
    assert all(h3.get_resolution(c) == 6 for c in cells)
    assert set(cells) == set(full["code"]) - hidden  # every published cell is drawn
    # the cover: every published amphoe (not only those holding a hidden cell)
    amphoes = public_view(store, "demo", "amphoe", version=ids[-1], min_households=k)
    published = set(amphoes.loc[~amphoes["suppressed"].fillna(False).astype(bool), "code"])
    assert set(rings) == published
    level = values["cover_level"]
    covered = {c for c, lv in zip(values["codes"], level, strict=True) if lv}
    assert covered == published and set(level) == {"amphoe", None}
    assert values["covered"] is True and not values["suppressed"]
    # the amphoes carry the public amphoe map's figures (no new sum)
    amph = _json(_get(app, f"/maps/values/amphoe.json?measure=h&round={ids[-1]}"))
    by_code = dict(zip(amph["codes"], amph["columns"]["value"], strict=True))
    for code, v, lv in zip(values["codes"], values["columns"]["value"], level, strict=True):
        if lv:
            assert v == by_code[code], code
    # the classes are the cells' own: amphoe figures do not move the breaks
    from service.render.catalogue import load_catalogue
    from service.render.payload import values_payload

    own = values_payload(pub[~pub["code"].isin(hidden)], load_catalogue().get("h"))["legend"]
    assert values["legend"]["breaks"] == own["breaks"]
    # a national user sees every r6 cell and no cover
    nat = _json(_get(app, f"/maps/geo/h3_r6.geojson?dataset=demo&round={ids[-1]}",
                     tokens["nat"]))
    assert "cover_groups" not in nat and set(nat["codes"]) == set(full["code"])


def test_priority_tooltip_has_score_and_reasons_and_national_breaks(built):
    app, _, _ = built
    pr = _json(_get(app, "/maps/values/tambon.json?scope=TH50&measure=priority_rank"))
    scores = [v for v in pr["columns"]["priority_score"] if v is not None]
    assert scores and all(0 <= v <= 100 for v in scores)
    assert any(r for r in pr["reasons"] if r)
    assert pr["k"] is not None
    # the 95 % interval of each rank and score (resampling of the areas shown) holds the
    # point estimate; the ranks are those of the ranking without intervals
    cols = pr["columns"]
    assert pr["interval"]["n_boot"] == 50 and pr["interval"]["level"] == 0.95
    shown = [i for i, v in enumerate(cols["value"]) if v is not None]
    assert shown
    for i in shown:
        assert cols["rank_low"][i] <= cols["value"][i] <= cols["rank_high"][i]
        assert cols["score_low"][i] <= cols["score_high"][i]
    change = _json(_get(app, "/maps/values/tambon.json?scope=TH50&measure=priority_rank"
                             "&change=1"))
    assert "rank_low" not in change["columns"]  # a change of rank has no interval here
    page = _json(_get(app, "/maps/values/tambon.json?scope=TH50&measure=h"))
    fixed = _json(_get(app, "/maps/values/tambon.json?scope=TH50&measure=h&breaks=national"))
    national = _json(_get(app, "/maps/values/tambon.json?measure=h"))
    assert fixed["breaks"] == "national" and page["breaks"] == "page"
    assert fixed["legend"]["colours"] == national["legend"]["colours"]
    assert fixed["legend"]["breaks"][:-1] == national["legend"]["breaks"][:-1]
    bad = _get(app, "/maps/values/tambon.json?scope=TH50&breaks=mine")
    assert bad.status_code == 422


def test_warm_up_builds_what_the_first_requests_need(built, monkeypatch):
    """After the start-up warm-up, the first national and province map requests are served
    from the caches (the slow path is not taken)."""
    from service.api.services import services
    from service.usecases import map_values, map_warmup

    app, _, _ = built
    took = map_warmup.warm(services(app))
    assert {"boundaries", "national province", "national h3_r7", "TH50 tambon"} <= set(took)

    def slow(*args, **kwargs):
        raise AssertionError("the warm-up should have built this")

    monkeypatch.setattr(map_values, "_values_body", slow)
    for url in ("/maps/values/province.json", "/maps/values/tambon.json",
                "/maps/values/h3_r7.json", "/maps/values/tambon.json?scope=TH50",
                "/maps/values/tambon.json?scope=TH10"):
        assert _get(app, url).status_code == 200, url
