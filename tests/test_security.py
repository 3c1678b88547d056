"""Security headers, framing, CORS, body limits and rate limits."""

from __future__ import annotations

from flask import g, jsonify

from service import create_app
from service.api.auth import user_store
from service.api.core import allow_large_body

PASSWORD = "correct horse battery"


def _app(tmp_path, **overrides):
    return create_app({"testing": True, "data_dir": str(tmp_path / "var"), "secret_key": "s",
                       **overrides})


def test_every_response_has_security_headers(client):
    for url in ("/", "/healthz", "/login", "/api/v1/openapi.json", "/api/v1/docs",
                "/no-such-page"):
        r = client.get(url)
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp, url
        assert "default-src 'self'" in csp and "object-src 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/no-such-page").content_type == "application/problem+json"


def test_embed_frame_ancestors_are_respected(tmp_path):
    app = _app(tmp_path)

    @app.get("/embed/_test")
    def embed():
        g.csp_frame_ancestors = "https://portal.example.go.th"
        return "<p>map</p>"

    @app.get("/embed/_own")
    def own():
        resp = app.make_response("<p>x</p>")
        resp.headers["Content-Security-Policy"] = "frame-ancestors https://a.example"
        return resp

    c = app.test_client()
    r = c.get("/embed/_test")
    assert "frame-ancestors https://portal.example.go.th" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" not in r.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in r.headers
    r = c.get("/embed/_own")
    assert r.headers["Content-Security-Policy"] == "frame-ancestors https://a.example"
    assert "X-Frame-Options" not in r.headers


def test_no_wildcard_cors_on_authenticated_responses(tmp_path):
    app = _app(tmp_path)
    users = user_store(app)
    users.create_user("nat", PASSWORD, "national")
    secret, _ = users.create_token("nat")
    c = app.test_client()
    anon = c.get("/api/v1/me")
    assert anon.headers.get("Access-Control-Allow-Origin") == "*"
    assert "Cache-Control" not in anon.headers or "no-store" not in anon.headers["Cache-Control"]
    auth = c.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}",
                                        "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in auth.headers
    assert auth.headers["Cache-Control"] == "no-store"
    assert "Authorization" in auth.headers["Vary"]
    # pages are never CORS-enabled
    assert "Access-Control-Allow-Origin" not in c.get("/").headers


def test_request_body_limits(tmp_path):
    app = _app(tmp_path, max_upload_mb=3)

    @app.post("/api/v1/_echo")
    def echo():
        from flask import request

        return jsonify({"n": len(request.get_data())})

    @app.post("/api/v1/_upload")
    @allow_large_body
    def upload():
        from flask import request

        return jsonify({"n": len(request.get_data())})

    c = app.test_client()
    assert c.post("/api/v1/_echo", data=b"x" * 1000).json == {"n": 1000}
    r = c.post("/api/v1/_echo", data=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413 and r.content_type == "application/problem+json"
    assert c.post("/api/v1/_upload", data=b"x" * (2 * 1024 * 1024)).json["n"] == 2 * 1024 * 1024
    assert c.post("/api/v1/_upload", data=b"x" * (3 * 1024 * 1024 + 1)).status_code == 413


def test_api_rate_limit_from_settings(tmp_path):
    app = _app(tmp_path, rate_limit="5 per minute")
    c = app.test_client()
    codes = [c.get("/api/v1/me").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    r = c.get("/api/v1/me")
    assert r.content_type == "application/problem+json" and "X-RateLimit-Limit" in r.headers
    # health checks are not limited
    assert {c.get("/healthz").status_code for _ in range(10)} == {200}


def test_login_cookie_flags(tmp_path):
    app = _app(tmp_path)
    user_store(app).create_user("nat", PASSWORD, "national")
    c = app.test_client()
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": "nat", "password": PASSWORD, "csrf_token": token})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert PASSWORD not in cookie


def test_audit_and_logs_never_hold_passwords_or_tokens(tmp_path, caplog):
    app = _app(tmp_path)
    users = user_store(app)
    with caplog.at_level("DEBUG"):
        users.create_user("nat", PASSWORD, "national")
        secret, _ = users.create_token("nat")
        app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer chp_wrong"})
    assert PASSWORD not in caplog.text and secret not in caplog.text
    assert "chp_wrong" not in caplog.text


def test_unexpected_errors_are_problem_details_without_internals(tmp_path):
    app = create_app({"testing": False, "data_dir": str(tmp_path / "var"), "secret_key": "s"})

    @app.get("/api/v1/_boom")
    def boom():
        raise RuntimeError("secret internal path /srv/chipao/var/x.parquet")

    app.logger.disabled = True  # the traceback is logged server-side; keep test output clean
    r = app.test_client().get("/api/v1/_boom")
    assert r.status_code == 500 and r.content_type == "application/problem+json"
    assert r.json["status"] == 500 and "/srv/chipao" not in r.text
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
