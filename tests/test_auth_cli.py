"""`chipao users` and `chipao export` commands."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from service.cli import main
from service.settings import settings_from_env
from service.store.users import UserStore

PASSWORD = "correct horse battery"


pytestmark = pytest.mark.both_databases  # SQLite and PostgreSQL catalogs (conftest.py)


@pytest.fixture
def env(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("CHIPAO_DATA_DIR", str(tmp_path / "var"))
    if database_url:
        monkeypatch.setenv("CHIPAO_DATABASE_URL", database_url)
    (tmp_path / "var").mkdir()
    return tmp_path


def run(*args, input=None):
    result = CliRunner().invoke(main, list(args), input=input)
    return result


def test_users_lifecycle(env):
    r = run("users", "create", "cm", "--role", "provincial", "--province", "TH50",
            "--password-stdin", input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = run("users", "create", "xy", "--role", "provincial", "--password-stdin",
            input=PASSWORD + "\n")
    assert r.exit_code != 0 and "province" in r.output
    r = run("users", "token", "cm", "--label", "laptop")
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[-1]
    assert secret.startswith("chp_")
    store = UserStore(settings_from_env()["database_url"])
    assert store.user_for_token(secret).province == "TH50"
    listing = run("users", "tokens").output
    assert "laptop" in listing and secret not in listing
    tid = listing.split("\t")[0]
    assert run("users", "revoke", tid).exit_code == 0
    assert store.user_for_token(secret) is None
    assert run("users", "revoke", tid).exit_code != 0
    assert "cm\tprovincial\tTH50\tactive" in run("users", "list").output
    assert run("users", "disable", "cm").exit_code == 0
    assert store.authenticate("cm", PASSWORD) is None


def test_export_command_public_and_households(env):
    import api_dataset
    import geopandas as gpd
    from openpyxl import load_workbook

    from service.analysis.targets import household_list
    from service.settings import load_settings
    from service.store import open_store

    settings = load_settings({"data_dir": str(env / "var")})
    api_dataset.build(settings)
    out = env / "out"
    r = run("export", "--level", "village", "--province", "TH50", "--public", "--out", str(out))
    assert r.exit_code == 0, r.output
    (path,) = out.glob("*.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 8
    assert all(row["n_households"] == "" or int(row["n_households"]) >= 10 for row in rows)
    # village target list: public = suppressed, suppressed villages last and unranked
    r = run("export", "--villages", "TH5001", "--public", "--out", str(out / "v"))
    assert r.exit_code == 0, r.output
    (path,) = (out / "v").glob("*หมู่บ้านเป้าหมาย*public.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 8 and rows[-1]["suppressed"] == "True"
    assert all(row["n_households"] == "" or int(row["n_households"]) >= 10 for row in rows)
    shown = [row for row in rows if row["suppressed"] == "False"]
    assert [int(row["priority_rank"]) for row in shown] == list(range(1, len(shown) + 1))
    r = run("export", "--villages", "TH5001", "--format", "gpkg", "--out", str(out / "g"))
    assert r.exit_code == 0, r.output
    (path,) = (out / "g").glob("*.gpkg")
    back = gpd.read_file(path)
    assert len(back) == 8 and (back.geom_type == "Point").all()
    assert not back["suppressed"].any()
    # household target list: poor households nearest to exit first, audited, csv/xlsx only
    r = run("export", "--households", "TH50", "--format", "xlsx", "--out", str(out))
    assert r.exit_code == 0, r.output
    (path,) = out.glob("*ครัวเรือน*.xlsx")
    ws = load_workbook(path).active
    persons = open_store(settings).read_persons("demo", "TH50")
    expected = household_list(persons, area="TH50")
    assert [c.value for c in ws["B"][1:]] == list(expected["hh_id"]) and len(expected) > 0
    assert "lon" not in [c.value for c in ws[1]]
    rows = UserStore(settings_from_env()["database_url"]).audit_rows()
    assert rows[0]["action"] == "export_households" and rows[0]["username"].startswith("cli:")
    assert f"rows={len(expected)}" in rows[0]["detail"]
    assert run("export", "--households", "TH50", "--public").exit_code != 0
    r = run("export", "--households", "TH50", "--format", "geojson", "--out", str(out))
    assert r.exit_code != 0 and "CSV" in r.output
    assert run("export", "--households", "TH5", "--out", str(out)).exit_code != 0
    assert run("export", "--out", str(out)).exit_code != 0


def test_serve_uses_waitress_with_settings(env, monkeypatch):
    import waitress

    seen = {}

    def fake_serve(app, **kwargs):
        seen.update(kwargs, app=app)

    monkeypatch.setattr(waitress, "serve", fake_serve)
    monkeypatch.setenv("CHIPAO_THREADS", "6")
    monkeypatch.setenv("CHIPAO_MAX_UPLOAD_MB", "50")
    r = run("serve", "--port", "8123")
    assert r.exit_code == 0, r.output
    assert (seen["host"], seen["port"], seen["threads"]) == ("127.0.0.1", 8123, 6)
    assert seen["max_request_body_size"] == 50 * 1024 * 1024
    # 200 keep-alive clients are all served (waitress' default of 100 left half waiting)
    assert seen["connection_limit"] >= 1000
    assert seen["app"].config["CHIPAO"]["port"] == 8123
