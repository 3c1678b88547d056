"""Users, tokens, sessions, CSRF and the append-only audit log."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import jsonify

from service.api.auth import (
    Principal,
    audit,
    can_see_province,
    current_principal,
    require_province,
    require_role,
    user_store,
)
from service.errors import Conflict, InvalidInput
from service.store.users import UserStore

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.both_databases  # SQLite and PostgreSQL catalogs (conftest.py)


@pytest.fixture
def users(app):
    return user_store(app)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def test_user_roles_validated(users):
    with pytest.raises(InvalidInput, match="province"):
        users.create_user("p1", PASSWORD, "provincial")
    with pytest.raises(InvalidInput, match="national user has no province"):
        users.create_user("n1", PASSWORD, "national", "TH50")
    with pytest.raises(InvalidInput, match="role"):
        users.create_user("x1", PASSWORD, "public")
    with pytest.raises(InvalidInput, match="10 characters"):
        users.create_user("n1", "short", "national")
    u = users.create_user("p1", PASSWORD, "provincial", "th50")
    assert u.province == "TH50"
    with pytest.raises(Conflict):
        users.create_user("p1", PASSWORD, "provincial", "TH50")


def test_password_hashed_and_token_hashed(app, users):
    users.create_user("nat", PASSWORD, "national")
    secret, tid = users.create_token("nat", "laptop")
    with users.engine.connect() as conn:
        dump = " ".join(str(v) for table in ("users", "api_tokens")
                        for row in conn.exec_driver_sql(f"select * from {table}")
                        for v in row)
    assert PASSWORD not in dump and secret not in dump
    assert users.authenticate("nat", PASSWORD).role == "national"
    assert users.authenticate("nat", PASSWORD + "x") is None
    assert users.authenticate("nobody", PASSWORD) is None
    assert users.user_for_token(secret).username == "nat"
    users.revoke_token(tid)
    assert users.user_for_token(secret) is None


def test_bearer_token_and_revocation(client, users):
    users.create_user("chiangmai", PASSWORD, "provincial", "TH50")
    secret, tid = users.create_token("chiangmai")
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.json == {"role": "provincial", "province": "TH50", "username": "chiangmai"}
    assert r.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in r.headers
    assert client.get("/api/v1/me").json["role"] == "public"
    users.revoke_token(tid)
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    assert r.content_type == "application/problem+json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ("Basic abc", "Bearer", "Bearer chp_nonsense"):
        assert client.get("/api/v1/me", headers={"Authorization": bad}).status_code == 401


def test_login_needs_csrf_and_sets_session(client, users):
    users.create_user("nat", PASSWORD, "national")
    page = client.get("/login")
    assert "เข้าสู่ระบบ" in page.text and "Sign in" in page.text
    token = _csrf(page.text)
    # no CSRF token: refused even with the right password
    r = client.post("/login", data={"username": "nat", "password": PASSWORD})
    assert r.status_code == 400
    r = client.post("/login", data={"username": "nat", "password": "wrong-password",
                                    "csrf_token": token})
    assert r.status_code == 401 and "Wrong username or password" in r.text
    r = client.post("/login", data={"username": "nat", "password": PASSWORD,
                                    "csrf_token": token, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert client.get("/api/v1/me").json["username"] == "nat"
    # the session token was renewed at login; the old one no longer works
    assert client.post("/logout", data={"csrf_token": token}).status_code == 400
    home = client.get("/")
    assert client.post("/logout", data={"csrf_token": _csrf(home.text)}).status_code == 303
    assert client.get("/api/v1/me").json["role"] == "public"


def test_deactivated_user_loses_session_and_tokens(client, users):
    users.create_user("nat", PASSWORD, "national")
    secret, _ = users.create_token("nat")
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "nat", "password": PASSWORD, "csrf_token": token})
    assert client.get("/api/v1/me").json["role"] == "national"
    users.deactivate_user("nat")
    assert client.get("/api/v1/me").json["role"] == "public"
    assert client.get("/api/v1/me",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_logout_is_not_a_get(client, users):
    # a GET (an <img src=/logout> on another site) must not sign anyone out
    users.create_user("nat", PASSWORD, "national")
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "nat", "password": PASSWORD, "csrf_token": token})
    assert client.get("/logout").status_code == 405
    assert client.get("/api/v1/me").json["username"] == "nat"


def test_login_is_rate_limited(client, users):
    token = _csrf(client.get("/login").text)
    codes = [client.post("/login", data={"username": "x", "password": "y" * 12,
                                         "csrf_token": token}).status_code
             for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[-1] == 429


def test_scoping_helpers():
    nat = Principal("national", None, "n")
    cm = Principal("provincial", "TH50", "p")
    pub = Principal("public")
    assert can_see_province(nat, "TH10")
    assert can_see_province(cm, "TH50") and can_see_province(cm, "TH50010101")
    assert not can_see_province(cm, "TH10") and not can_see_province(cm, "TH5")
    assert not can_see_province(cm, None)
    assert not can_see_province(pub, "TH50")


def test_require_role_and_province(app):
    @require_role("national")
    def national_only():
        return "ok"

    with pytest.raises(ValueError):
        require_role("admin")
    with app.test_request_context("/"):
        from service.errors import Unauthorized

        with pytest.raises(Unauthorized):
            national_only()
        with pytest.raises(Unauthorized):
            require_province("TH50")
    secret, _ = _token(app, "cm", "provincial", "TH50")
    with app.test_request_context("/", headers={"Authorization": f"Bearer {secret}"}):
        from service.errors import Forbidden

        assert current_principal().province == "TH50"
        with pytest.raises(Forbidden):
            national_only()
        with pytest.raises(Forbidden):
            require_province("TH10")
        assert require_province("TH5001").username == "cm"


def _token(app, name, role, province=None):
    store = user_store(app)
    store.create_user(name, PASSWORD, role, province)
    return store.create_token(name)


def test_audit_log_append_only(app, users):
    @app.get("/_test/hh")
    def hh():
        audit("read_households", "demo/TH5001", "rows=3")
        return jsonify([])

    secret, _ = _token(app, "cm", "provincial", "TH50")
    r = app.test_client().get("/_test/hh", headers={"Authorization": f"Bearer {secret}"})
    assert r.headers["Cache-Control"] == "no-store"
    rows = users.audit_rows()
    assert len(rows) == 1
    row = rows[0]
    assert (row["username"], row["role"], row["action"], row["object"]) == (
        "cm", "provincial", "read_households", "demo/TH5001")
    assert row["at"] is not None
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), users.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET username='x'")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), users.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")
    assert len(users.audit_rows()) == 1


def test_user_store_reopens_same_database(tmp_path, database_url):
    url = database_url or f"sqlite:///{tmp_path / 'c.db'}"
    UserStore(url).create_user("nat", PASSWORD, "national")
    assert [u.username for u in UserStore(url).list_users()] == ["nat"]


def test_account_page_tokens_need_session_and_csrf(client, users):
    users.create_user("cm", PASSWORD, "provincial", "TH50")
    users.create_user("other", PASSWORD, "national")
    _, other_tid = users.create_token("other")
    assert client.get("/account").status_code == 401
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "cm", "password": PASSWORD, "csrf_token": token})
    page = client.get("/account")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "โทเคน API" in page.text and "API tokens" in page.text
    assert "ระดับจังหวัด · provincial" in page.text  # the role in Thai and English
    csrf = _csrf(page.text)
    assert client.post("/account/tokens", data={"label": "qgis"}).status_code == 400
    r = client.post("/account/tokens", data={"label": "<b>qgis</b>", "csrf_token": csrf})
    assert r.status_code == 200 and "&lt;b&gt;qgis" in r.text  # escaped, not markup
    secret = re.search(r'class="secret">(chp_[^<]+)<', r.text).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}
                      ).json["province"] == "TH50"
    (mine,) = users.list_tokens("cm")
    # another user's token cannot be revoked from this account
    assert client.post(f"/account/tokens/{other_tid}/revoke",
                       data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/account/tokens/{mine.id}/revoke").status_code == 400
    assert client.post(f"/account/tokens/{mine.id}/revoke",
                       data={"csrf_token": csrf}).status_code == 303
    assert users.user_for_token(secret) is None
    # a token cannot reach the account pages (no token minting with a stolen token)
    assert client.get("/account", headers={"Authorization": "Bearer " + users.create_token(
        "cm")[0]}).status_code == 401
