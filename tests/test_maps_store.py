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
