"""Attacks on sign-in and sessions (issue 16, Medium): open redirect after sign-in, saved
cookies after sign-out or a password change, Secure cookies, rate limits behind a proxy,
denied household-level attempts audited, no coordinates in household rosters."""

from __future__ import annotations

import re

import pytest

from service import create_app
from service.api.auth import user_store

PASSWORD = "correct horse battery"


def _app(tmp_path, **extra):
    return create_app({"testing": True, "data_dir": str(tmp_path / "var"), "secret_key": "s",
                       **extra})


def _csrf(client, url="/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text).group(1)


def _sign_in(client, username="nat", next_=None, base_url=None):
    kw = {"base_url": base_url} if base_url else {}
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/login", **kw).text).group(1)
    data = {"username": username, "password": PASSWORD, "csrf_token": token}
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data, **kw)


@pytest.mark.parametrize("target", ["/\t/evil.example", "/%09/evil.example", "/\n/evil.example",
                                    "/\r\n/evil.example", " //evil.example", "/\\evil.example",
                                    "https://evil.example", "//evil.example", "/\x00/x",
                                    "/ok\nSet-Cookie: x=1"])
def test_sign_in_never_redirects_off_site_and_never_500(tmp_path, target):
    app = _app(tmp_path)
    user_store(app).create_user("nat", PASSWORD, "national")
    client = app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    r = _sign_in(client, next_=target)
    assert r.status_code == 303, r.text
    location = r.headers["Location"]
    # what a browser does with the header: tabs and newlines dropped, then resolved
    cleaned = re.sub(r"[\t\n\r]", "", location)
    assert cleaned.startswith("/") and not cleaned.startswith("//") and "\\" not in cleaned
    assert "\n" not in location and "\r" not in location


def test_relative_next_is_kept(tmp_path):
    app = _app(tmp_path)
    user_store(app).create_user("nat", PASSWORD, "national")
    r = _sign_in(app.test_client(), next_="/maps/area/TH50?level=village")
    assert r.headers["Location"] == "/maps/area/TH50?level=village"


def _saved_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _who(app, cookie_value: str) -> str:
    fresh = app.test_client()
    fresh.set_cookie("session", cookie_value)
    return fresh.get("/api/v1/me").get_json()["role"]


def test_a_saved_cookie_is_dead_after_sign_out(tmp_path):
    app = _app(tmp_path)
    user_store(app).create_user("nat", PASSWORD, "national")
    client = app.test_client()
    _sign_in(client)
    saved = _saved_cookie(client)
    assert _who(app, saved) == "national"
    token = _csrf(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert _who(app, saved) == "public"


def test_a_password_change_ends_every_earlier_session(tmp_path):
    app = _app(tmp_path)
    users = user_store(app)
    users.create_user("nat", PASSWORD, "national")
    client = app.test_client()
    _sign_in(client)
    saved = _saved_cookie(client)
    users.set_password("nat", "a brand new password")
    assert _who(app, saved) == "public"


@pytest.mark.parametrize(("setting", "base_url", "secure"), [
    ("auto", "https://chipao.example", True), ("auto", "http://localhost", False),
    ("on", "http://localhost", True), ("off", "https://chipao.example", False)])
def test_secure_cookie_setting(tmp_path, setting, base_url, secure):
    app = _app(tmp_path, session_cookie_secure=setting)
    user_store(app).create_user("nat", PASSWORD, "national")
    r = _sign_in(app.test_client(), base_url=base_url)
    cookie = r.headers["Set-Cookie"]
    assert ("; Secure" in cookie) is secure, cookie


def test_secure_cookie_behind_a_trusted_tls_proxy(tmp_path):
    app = _app(tmp_path, trusted_proxies=1)
    user_store(app).create_user("nat", PASSWORD, "national")
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/login", headers=headers).text).group(1)
    r = client.post("/login", data={"username": "nat", "password": PASSWORD,
                                    "csrf_token": token}, headers=headers)
    assert "; Secure" in r.headers["Set-Cookie"]


def _hits(client, n, addr):
    return [client.get("/api/v1/datasets", headers={"X-Forwarded-For": addr}).status_code
            for _ in range(n)]


def test_rate_limit_per_real_client_behind_a_trusted_proxy(tmp_path):
    app = _app(tmp_path, rate_limit="3 per minute", trusted_proxies=1)
    client = app.test_client()
    assert _hits(client, 4, "203.0.113.1")[-1] == 429
    # another client behind the same proxy is not locked out by the first
    assert _hits(client, 1, "203.0.113.2") == [200]


def test_forwarded_for_is_ignored_without_trusted_proxies(tmp_path):
    app = _app(tmp_path, rate_limit="3 per minute")
    client = app.test_client()
    # a client cannot escape its limit by inventing X-Forwarded-For values
    codes = [client.get("/api/v1/datasets", headers={"X-Forwarded-For": f"198.51.100.{i}"}
                        ).status_code for i in range(4)]
    assert codes[-1] == 429


def test_denied_household_level_attempts_are_audited(tmp_path):
    from api_dataset import build_app

    app, tokens, _ids = build_app(tmp_path)
    client = app.test_client()
    cm = {"Authorization": f"Bearer {tokens['cm']}"}
    assert client.get("/api/v1/areas/province/TH10/households", headers=cm).status_code == 403
    assert client.get("/api/v1/areas/province/TH10/households").status_code == 401
    rows = user_store(app).audit_rows(limit=10)
    denied = [r for r in rows if r["action"].startswith("denied")]
    assert {(r["username"], r["object"]) for r in denied} >= {("cm", "TH10"), (None, "TH10")}


def test_household_roster_has_no_coordinates(tmp_path):
    from api_dataset import build_app

    app, tokens, _ids = build_app(tmp_path)
    r = app.test_client().get("/api/v1/areas/province/TH50/households",
                              headers={"Authorization": f"Bearer {tokens['cm']}"})
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert items and not {"lon", "lat"} & set(items[0])
