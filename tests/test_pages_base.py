"""Site frame (base.html), HTML error pages for browsers, Thai dates and numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from service.errors import Forbidden, InvalidInput
from service.render import thai

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_be_date_and_numbers_for_people():
    assert thai.be_date(dt.date(2026, 12, 1)) == "1 ธ.ค. 2569"
    assert thai.be_date(dt.date(2026, 1, 31), full=True) == "31 มกราคม 2569"
    # an aware UTC time late on 31 Dec is already 1 Jan in Bangkok (UTC+7)
    late = dt.datetime(2025, 12, 31, 20, 30, tzinfo=dt.UTC)
    assert thai.be_date(late) == "1 ม.ค. 2569"
    assert thai.be_datetime(late) == "1 ม.ค. 2569 03:30 น."
    assert thai.be_date("2026-04-13T01:00:00+00:00") == "13 เม.ย. 2569"
    assert thai.be_date(None) == ""
    assert thai.count(19450652) == "19,450,652"
    assert thai.percent(0.30249) == "30.2 %"
    assert thai.percent(-0.0151, signed=True) == "-1.5 %"
    assert thai.ratio(0.05249) == "0.052"
    assert thai.baht(20_000_000) == "20,000,000 บาท"
    assert thai.count(float("nan")) == thai.NO_DATA
    assert thai.number(None, "percent", na="–") == "–"


@pytest.fixture
def err_app(app):
    @app.get("/_t/forbidden")
    def _forbidden():
        raise Forbidden("household lists of TH50 are for TH50 staff / เฉพาะเจ้าหน้าที่จังหวัด")

    @app.get("/_t/invalid")
    def _invalid():
        raise InvalidInput("budget must be a number / งบประมาณต้องเป็นตัวเลข", column="budget")

    @app.get("/_t/boom")
    def _boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.mark.parametrize("path,status,th,en", [
    ("/no-such-page", 404, "ไม่พบหน้าที่ขอ", "Page not found"),
    ("/_t/forbidden", 403, "ไม่มีสิทธิ์เข้าถึง", "Not allowed"),
    ("/_t/invalid", 422, "ข้อมูลที่กรอกไม่ถูกต้อง", "Invalid input"),
    ("/_t/boom", 500, "ระบบขัดข้อง", "Something went wrong"),
])
def test_browsers_get_html_error_pages(err_app, path, status, th, en):
    client = err_app.test_client()
    resp = client.get(path, headers={**HTML, "Referer": "http://localhost/maps/"})
    assert resp.status_code == status
    assert resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert th in page and en in page
    assert 'href="/maps/"' in page and 'id="error-home"' in page and 'id="error-back"' in page
    assert "Sarabun" in client.get("/assets/maps/chipao-page.css").get_data(as_text=True)
    assert 'href="/assets/maps/chipao-page.css"' in page
    assert "secret internals" not in page  # no internals on a 500
    if status == 422:
        assert "column budget" in page and "งบประมาณต้องเป็นตัวเลข" in page
    # the same address asked by an API client stays problem+json
    api = client.get(path)
    assert api.status_code == status and api.mimetype == "application/problem+json"


def test_api_paths_keep_problem_json_even_for_browsers(app):
    resp = app.test_client().get("/api/v1/no-such", headers=HTML)
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"


def test_error_page_back_link_only_to_this_site(err_app):
    client = err_app.test_client()
    page = client.get("/no-such", headers={**HTML, "Referer": "https://evil.example/x"}
                      ).get_data(as_text=True)
    assert "evil.example" not in page and 'id="error-back"' not in page


def test_navigation_and_sign_in_on_every_page(err_app):
    from service.api.auth import user_store

    client = err_app.test_client()
    page = client.get("/no-such", headers=HTML).get_data(as_text=True)
    for href, th in (("/", "หน้าแรก"), ("/maps/", "แผนที่")):
        assert f'href="{href}"' in page and th in page
    assert "เข้าสู่ระบบ · Sign in" in page and "สาธารณะ · public" in page
    users = user_store(err_app)
    users.create_user("cm", "correct horse battery", "provincial", "TH50")
    secret, _ = users.create_token("cm")
    page = client.get("/no-such", headers={**HTML, "Authorization": f"Bearer {secret}"}
                      ).get_data(as_text=True)
    assert "ออกจากระบบ · Sign out" in page and "ระดับจังหวัด · provincial · TH50" in page
