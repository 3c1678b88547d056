"""The response cache of page views (service.api.page_cache, issue 16 availability): the
attacks first. User A's page never reaches user B or the public (names, CSRF tokens,
unsuppressed figures); a release, a roll-back or a follow-up case change is seen at once;
personal, cookie-setting and error answers are never stored; then that it does cache."""

from __future__ import annotations

import gzip
import re

import pytest
from pages_fixtures import PASSWORD, build_pages_app, count_calls

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    from service.api.auth import user_store

    app, tokens, ids = build_pages_app(tmp_path_factory.mktemp("page-cache"))
    users = user_store(app)
    for name in ("somchai_mhs", "malee_mhs"):  # two staff of one province (TH58)
        users.create_user(name, PASSWORD, "provincial", "TH58")
    return app, tokens, ids


def _cache(app):
    from service.api.services import services

    return services(app).page_views


def _login(app, username):
    c = app.test_client()
    token = TOKEN.search(c.get("/login").get_data(as_text=True)).group(1)
    r = c.post("/login", data={"username": username, "password": PASSWORD,
                               "csrf_token": token})
    assert r.status_code == 303
    return c


def _page(client, url, **headers):
    r = client.get(url, headers={"Accept": "text/html", **headers})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.get_data(as_text=True)



def test_a_users_name_and_csrf_token_never_reach_another_user_or_the_public(pages,
                                                                           monkeypatch):
    from service.usecases import profile

    app, _, _ = pages
    _cache(app).clear()
    calls = count_calls(monkeypatch, profile, "area_profile")
    a, b = _login(app, "somchai_mhs"), _login(app, "malee_mhs")
    page_a = _page(a, "/areas/TH5802")
    page_b = _page(b, "/areas/TH5802")
    assert calls == [1]  # one province's staff share the entry ...
    assert "somchai_mhs" in page_a and "malee_mhs" not in page_a
    assert "malee_mhs" in page_b and "somchai_mhs" not in page_b  # ... never the name
    token_a, token_b = TOKEN.search(page_a).group(1), TOKEN.search(page_b).group(1)
    assert token_a != token_b and token_a not in page_b
    assert "chipao-hole" not in page_a + page_b
    public = _page(app.test_client(), "/areas/TH5802")
    assert "somchai_mhs" not in public and "malee_mhs" not in public
    assert token_a not in public and token_b not in public and "csrf_token" not in public
    # the filled-in token is B's own: B's sign-out form works, A stays signed in
    assert b.post("/logout", data={"csrf_token": token_b}).status_code == 303
    assert "malee_mhs" not in _page(b, "/areas/TH5802")
    assert "somchai_mhs" in _page(a, "/areas/TH5802")


def test_provincial_detail_never_reaches_the_public(pages):
    app, tokens, _ = pages
    _cache(app).clear()
    public_fresh = _page(app.test_client(), "/areas/TH5802")
    _cache(app).clear()
    mhs = _page(app.test_client(), "/areas/TH5802", Authorization=f"Bearer {tokens['mhs']}")
    public = _page(app.test_client(), "/areas/TH5802")
    assert public == public_fresh
    strip = re.compile(r'<div class="site-account">.*?</div>', re.S)
    assert strip.sub("", mhs) != strip.sub("", public)  # the province's staff see detail
    # and a Chiang Mai user gets the public figures of Mae Hong Son, not the detail
    cm = _page(app.test_client(), "/areas/TH5802", Authorization=f"Bearer {tokens['cm']}")
    assert strip.sub("", cm) == strip.sub("", public)


def test_a_roll_back_and_a_new_release_are_seen_at_once(pages):
    from service.api.services import services

    app, _, ids = pages
    store = services(app).store
    c = app.test_client()
    before = _page(c, "/areas/TH58")
    assert len(_cache(app)) >= 1
    try:
        store.catalog.set_current("demo", ids[0])  # chipao datasets use <older version>
        rolled = _page(c, "/areas/TH58")
        assert rolled != before and "2561" in rolled
        _cache(app).clear()
        assert _page(c, "/areas/TH58") == rolled  # what a fresh render says
    finally:
        store.catalog.set_current("demo", ids[1])  # the later round released again
    assert _page(c, "/areas/TH58") == before


def test_catalog_stamp_changes_with_every_release_not_with_a_build(tmp_path):
    from service.store.catalog import Catalog

    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    empty = catalog.stamp("demo")
    catalog.begin_version(version_id="v1", dataset="demo", round=2561, source_sha256="a",
                          path=str(tmp_path / "v1"))
    building = catalog.stamp("demo")
    catalog.publish_version("v1", n_persons=10, n_households=3, meta={})
    one = catalog.stamp("demo")
    catalog.begin_version(version_id="v2", dataset="demo", round=2562, source_sha256="b",
                          path=str(tmp_path / "v2"))
    catalog.fail_version("v2", "broken")
    assert catalog.stamp("demo") == one  # a failed build changes nothing people read
    catalog.begin_version(version_id="v3", dataset="demo", round=2562, source_sha256="c",
                          path=str(tmp_path / "v3"))
    catalog.publish_version("v3", n_persons=12, n_households=4, meta={})
    two = catalog.stamp("demo")
    catalog.set_current("demo", "v1")
    back = catalog.stamp("demo")
    assert len({one, two, back}) == 3 and one != building
    assert empty != one


def test_a_follow_up_case_change_is_seen_at_once(pages):
    app, tokens, _ = pages
    h = {"Authorization": f"Bearer {tokens['mhs']}"}
    c = app.test_client()
    before = _page(c, "/areas/TH5802", **h)
    assert _page(c, "/areas/TH5802", **h) == before  # cached
    r = c.post("/api/v1/cases/open", json={}, headers={
        "Authorization": f"Bearer {tokens['nat']}"})
    assert r.status_code == 200 and r.json["opened"].get("TH58", 0) > 0
    opened = _page(c, "/areas/TH5802", **h)
    assert opened != before
    cases = c.get("/api/v1/cases?province=TH58&limit=5", headers=h).json["cases"]
    r = c.post(f"/api/v1/cases/{cases[0]['id']}/status", json={"status": "visited"},
               headers=h)
    assert r.status_code == 200
    visited = _page(c, "/areas/TH5802", **h)
    _cache(app).clear()
    assert _page(c, "/areas/TH5802", **h) == visited  # a fresh render, not the stale one


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A bare app with probe routes registered as cached endpoints: each counts its calls."""
    from flask import session

    from service import create_app
    from service.api import page_cache
    from service.api.auth import current_principal, no_store, user_store

    app = create_app({"testing": True, "secret_key": "t", "pseudonym_key": "k",
                      "rate_limit": "", "data_dir": str(tmp_path / "var")})
    calls: dict[str, int] = {}

    def route(name, make):
        def view():
            calls[name] = calls.get(name, 0) + 1
            return make()

        app.add_url_rule(f"/probe/{name}", f"probe_{name}", view)
        monkeypatch.setitem(page_cache.CACHED, f"probe_{name}", ("dataset",))

    route("plain", lambda: "the same for everyone")
    route("no_store", lambda: (no_store(), "household rows")[1])
    route("cookie", lambda: ("hello", 200, {"Set-Cookie": "x=1; Path=/"}))
    route("session", lambda: (session.__setitem__("seen", 1), "hello")[1])
    route("missing", lambda: ("not here", 404))
    route("name", lambda: f"signed in as {current_principal().username}")
    route("big", lambda: "x" * (page_cache.MAX_ENTRY_BYTES + 1))
    user_store(app).create_user("probe_user", PASSWORD, "provincial", "TH58")
    token = user_store(app).create_token("probe_user")[0]
    return app, calls, {"Authorization": f"Bearer {token}"}


def test_personal_cookie_session_error_named_and_huge_answers_are_never_stored(probe):
    app, calls, auth = probe
    c = app.test_client()
    for name in ("plain", "no_store", "cookie", "session", "missing", "big"):
        c.get(f"/probe/{name}")
        c.get(f"/probe/{name}")
    c.get("/probe/name", headers=auth)
    assert c.get("/probe/name", headers=auth).get_data(as_text=True) == \
        "signed in as probe_user"
    assert calls == {"plain": 1, "no_store": 2, "cookie": 2, "session": 2, "missing": 2,
                     "big": 2, "name": 2}
    assert c.get("/probe/no_store").headers["Cache-Control"] == "no-store"


def test_repeat_loads_answer_304_and_each_encoding_is_its_own_entry(pages):
    app, _, _ = pages
    c = app.test_client()
    first = c.get("/maps/area/TH58", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(first.data).lstrip().lower().startswith(b"<!doctype")
    plain = c.get("/maps/area/TH58")
    assert "Content-Encoding" not in plain.headers
    assert plain.data.lstrip().lower().startswith(b"<!doctype")
    etag = plain.headers["ETag"]
    again = c.get("/maps/area/TH58", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert "Content-Security-Policy" in again.headers  # security headers on cached answers
    export = c.get("/api/v1/exports/areas/tambon.csv?province=TH58")
    assert export.status_code == 200 and "Content-Disposition" in export.headers
    assert c.get("/api/v1/exports/areas/tambon.csv?province=TH58").data == export.data
