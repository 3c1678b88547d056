"""Embeds (CSP allow-list, public data only) and role-dependent map data."""

from __future__ import annotations

import gzip
import json

import pytest
from maps_fixtures import frame_source

from service import create_app
from service.api.auth import user_store
from service.api.embed import allowed_origins
from service.api.services import services

PASSWORD = "correct horse battery"
PORTAL = "https://portal.example.go.th"


@pytest.fixture(scope="module")
def source():
    return frame_source()


@pytest.fixture
def app(tmp_path, source):
    app = create_app({"testing": True, "data_dir": str(tmp_path / "var"),
                      "secret_key": "s", "pseudonym_key": "k",
                      "embed_allowed_origins": f"{PORTAL} javascript:alert(1) 'unsafe-inline'"},
                     source=source)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _token(app, name, role, province=None):
    users = user_store(app)
    users.create_user(name, PASSWORD, role, province)
    secret, _ = users.create_token(name)
    return {"Authorization": f"Bearer {secret}"}


def _json(resp):
    data = resp.data
    if resp.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)


def test_origin_allow_list_is_validated():
    assert allowed_origins(f"{PORTAL} http://intranet:8080 https://*.go.th") == [
        PORTAL, "http://intranet:8080", "https://*.go.th"]
    assert allowed_origins("* 'none' https://a.th/path x;y data:") == []


def test_embed_pages_allow_only_configured_portals(client):
    for url in ("/embed/", "/embed/area/TH50?level=tambon"):
        resp = client.get(url)
        assert resp.status_code == 200
        csp = resp.headers["Content-Security-Policy"]
        assert csp.endswith(f"frame-ancestors 'self' {PORTAL}")
        assert "javascript" not in csp and "unsafe-inline' ;" not in csp
        assert "X-Frame-Options" not in resp.headers
        html = resp.get_data(as_text=True)
        assert '"embed": true' in html and "/embed/values/" in html
    for url in ("/maps/", "/embed-code?level=tambon&scope=TH50", "/embed/values/province.json"):
        resp = client.get(url)
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], url
        assert resp.headers["X-Frame-Options"] == "DENY"


def test_embed_code_page_shows_a_safe_snippet(client):
    resp = client.get("/embed-code?scope=TH50&level=tambon&measure=cov_child_grant")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "&lt;iframe src=&#34;http://localhost/embed/area/TH50?level=tambon" in html
    assert "measure=cov_child_grant" in html and PORTAL in html
    assert "Embed this map" in html and "ฝังแผนที่" in html
    bad = client.get('/embed-code?scope=TH50&measure="><script>')
    assert bad.status_code == 422
    assert client.get("/embed-code?scope=TH500101&level=village").status_code == 422


def test_embeds_are_public_even_for_signed_in_users(app, client, source):
    national = _token(app, "nat", "national")
    full = _json(client.get("/maps/values/tambon.json?scope=TH50", headers=national))
    embed = _json(client.get("/embed/values/tambon.json?scope=TH50", headers=national))
    assert full["n_suppressed"] == 0  # a national user sees everything on /maps
    assert embed["n_suppressed"] > 0
    shown = [v for v in embed["columns"]["n_households"] if v is not None]
    assert min(shown) >= 10
    assert client.get("/embed/area/TH500101").status_code in (404, 422)
    assert client.get("/embed/values/village.json?scope=TH500101").status_code in (404, 422)


def test_provincial_user_sees_own_province_only(app, client):
    cm = _token(app, "chiangmai", "provincial", "TH50")
    own = _json(client.get("/maps/values/tambon.json?scope=TH50", headers=cm))
    other = _json(client.get("/maps/values/tambon.json?scope=TH10", headers=cm))
    assert own["n_suppressed"] == 0 and other["n_suppressed"] > 0
    national_view = _json(client.get("/maps/values/tambon.json", headers=cm))
    sup = set(national_view["suppressed"])
    codes = national_view["codes"]
    assert not any(codes[i].startswith("TH50") for i in sup)
    assert any(codes[i].startswith("TH10") for i in sup)


def test_villages_for_the_province_user_are_audited(app, client):
    cm = _token(app, "chiangmai", "provincial", "TH50")
    bkk = _token(app, "bangkok", "provincial", "TH10")
    page = client.get("/maps/area/TH500101", headers=cm)
    assert page.status_code == 200 and "หมู่บ้าน" in page.get_data(as_text=True)
    values = client.get("/maps/values/village.json?scope=TH500101", headers=cm)
    assert values.status_code == 200 and values.headers["Cache-Control"] == "no-store"
    data = _json(values)
    assert len(data["codes"]) == 8 and data["n_suppressed"] == 0
    pts = client.get("/maps/geo/village.geojson?scope=TH500101&dataset=demo", headers=cm)
    assert pts.status_code == 200 and "public" not in pts.headers["Cache-Control"]
    assert len(_json(pts)["features"]) == 8
    assert client.get("/maps/values/village.json?scope=TH500101", headers=bkk).status_code == 403
    actions = [row["action"] for row in user_store(app).audit_rows()]
    assert actions.count("map.villages") == 1 and "map.village_points" in actions


def test_small_h3_cells_are_not_even_located_for_the_public(app, client, source):
    frame = source.read_areas("demo", "h3_r7")
    small = frame["code"].iloc[:5].tolist()
    frame.loc[frame["code"].isin(small), "n_households"] = 3
    src = type(source)()
    src.add("demo", "v1", "h3_r7", frame)
    services(app).use_source(src)
    nat = _token(app, "nat", "national")
    url_geo, url_val = "/maps/geo/h3_r7.geojson?dataset=demo", "/maps/values/h3_r7.json"
    pub_geo, pub_val = _json(client.get(url_geo)), _json(client.get(url_val))
    assert not set(small) & set(pub_geo["codes"]) and not set(small) & set(pub_val["codes"])
    assert len(pub_geo["codes"]) == len(frame) - 5
    assert not set(small) & set(_json(client.get("/embed/values/h3_r7.json"))["codes"])
    all_geo = _json(client.get(url_geo, headers=nat))
    assert set(small) <= set(all_geo["codes"])
    assert set(small) <= set(_json(client.get(url_val, headers=nat))["codes"])


def test_embed_code_pins_the_round_shown(client):
    html = client.get("/embed-code?scope=TH50&level=tambon&measure=h").get_data(as_text=True)
    assert "round=v2" in html  # the current round, written into the snippet
    assert "Round 2" in html or "รอบ 2" in html
    old = client.get("/embed-code?scope=TH50&level=tambon&measure=h&round=v1")
    assert "round=v1" in old.get_data(as_text=True)
    assert "chipao-embed-code.js" in old.get_data(as_text=True)  # options + copy button
    assert 'id="copy"' in old.get_data(as_text=True)


def test_snippet_says_https_behind_a_trusted_tls_proxy(tmp_path, source):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "poverty.example.go.th"}
    direct = create_app({"testing": True, "data_dir": str(tmp_path / "a"), "secret_key": "s",
                         "pseudonym_key": "k"}, source=source).test_client()
    html = direct.get("/embed-code?scope=TH50", headers=headers).get_data(as_text=True)
    assert "src=&#34;http://localhost/embed/area/TH50" in html  # not trusted by default
    proxied = create_app({"testing": True, "data_dir": str(tmp_path / "b"), "secret_key": "s",
                          "pseudonym_key": "k", "trusted_proxies": 1},
                         source=source).test_client()
    html = proxied.get("/embed-code?scope=TH50", headers=headers).get_data(as_text=True)
    assert "src=&#34;https://poverty.example.go.th/embed/area/TH50" in html


def test_public_geojson_and_embed_values_allow_other_origins(app, client):
    geo = client.get("/maps/geo/province.geojson")
    assert geo.headers["Access-Control-Allow-Origin"] == "*"
    cells = client.get("/maps/geo/h3_r6.geojson?scope=TH50")
    assert cells.headers["Access-Control-Allow-Origin"] == "*"
    vals = client.get("/embed/values/tambon.json?scope=TH50")
    assert vals.status_code == 200 and vals.headers["Access-Control-Allow-Origin"] == "*"
    # a signed-in user's H3 geometry is neither shared nor cached by proxies
    own = client.get("/maps/geo/h3_r6.geojson?scope=TH50",
                     headers=_token(app, "cm-cors", "provincial", "TH50"))
    assert "Access-Control-Allow-Origin" not in own.headers
    assert "public" not in own.headers.get("Cache-Control", "")
