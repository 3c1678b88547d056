"""Upload endpoint: authentication, province scoping, reports, hostile files -> fast 4xx."""

from __future__ import annotations

import io
import os
import time
import zipfile

import pytest
from ingest_support import (
    good_rows,
    nid,
    replace_zip_member,
    seed_round,
    store_build,
    write_csv,
    write_xlsx,
)

from service.api.auth import user_store

URL = "/api/v1/datasets/survey/uploads"
PASSWORD = "correct horse battery"


def _token(app, name, role, province=None):
    store = user_store(app)
    store.create_user(name, PASSWORD, role, province)
    return {"Authorization": f"Bearer {store.create_token(name)[0]}"}


@pytest.fixture
def national(app):
    return _token(app, "nat", "national")


@pytest.fixture
def fast_build(monkeypatch):
    # the pipeline itself is exercised in test_ingest_store.py; here only the HTTP layer
    import service.pipeline

    monkeypatch.setattr(service.pipeline, "build_version", store_build)


def _post(client, headers, content: bytes, filename="data.csv", url=URL, **form):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    # encoded in memory: the test client's own spooling leaves temp files open on 413
    boundary, body = encode_multipart({"round": "2567", **form, "file": FileStorage(
        io.BytesIO(content), filename=filename, content_type="application/octet-stream")})
    t = time.perf_counter()
    r = client.post(url, data=body, headers=headers,
                    content_type=f"multipart/form-data; boundary={boundary}")
    r.elapsed = time.perf_counter() - t
    return r


def test_anonymous_and_bad_token_are_refused(app, client, tmp_path):
    body = write_csv(tmp_path / "a.csv", good_rows(2)).read_bytes()
    assert _post(client, {}, body).status_code == 401
    assert _post(client, {"Authorization": "Bearer chp_nonsense"}, body).status_code == 401
    assert not list((tmp_path / "var").glob("datasets/survey/*"))


def test_national_upload_creates_then_is_idempotent(app, client, national, tmp_path,
                                                    fast_build):
    body = write_csv(tmp_path / "a.csv", good_rows(4)).read_bytes()
    r = _post(client, national, body, filename="จปฐ-2567.csv")
    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    assert report["accepted"] == 4 and report["files"][0]["file"] == "จปฐ-2567.csv"
    assert r.headers["Location"].endswith(report["version"])
    again = _post(client, national, body)
    assert again.status_code == 200 and again.get_json()["status"] == "existing"
    assert again.get_json()["version"] == report["version"]


def test_provincial_user_only_own_province(app, client, tmp_path, fast_build):
    # the round exists (created by a national user): provincial users only update it
    seed_round(app.config["CHIPAO"], dataset="survey")
    body = write_csv(tmp_path / "a.csv", good_rows(3)).read_bytes()  # rows in TH75
    other = _token(app, "cm", "provincial", "TH50")
    r = _post(client, other, body, policy="quarantine")
    assert r.status_code == 403
    assert r.get_json()["report"]["problem_counts"][0]["code"] == "wrong_province"
    own = _token(app, "ssk", "provincial", "TH75")
    assert _post(client, own, body).status_code == 201


def test_bad_rows_give_422_with_row_and_column_and_no_raw_id(client, national, tmp_path):
    rows = good_rows(4)
    rows[2][8] = "999"
    rows[3][0] = "1234"
    r = _post(client, national, write_csv(tmp_path / "b.csv", rows).read_bytes())
    assert r.status_code == 422
    problems = r.get_json()["report"]["problems"]
    assert {(p["row"], p["column"], p["code"]) for p in problems} == {
        (4, "age", "bad_age"), (5, "national_id", "bad_national_id")}
    assert nid(3).encode() not in r.data and b"1234" not in r.data.replace(b"12345", b"")


def test_invalid_form_fields(client, national, tmp_path):
    body = write_csv(tmp_path / "a.csv", good_rows(2)).read_bytes()
    assert _post(client, national, body, round="25x7").status_code == 422
    assert _post(client, national, body, policy="ignore").status_code == 422
    r = _post(client, national, body, url="/api/v1/datasets/Bad..Name/uploads")
    assert r.status_code in (404, 422)


def test_cp874_upload_with_invalid_byte_names_the_row(client, national, tmp_path):
    body = write_csv(tmp_path / "t.csv", good_rows(3), encoding="cp874").read_bytes()
    lines = body.split(b"\r\n")
    lines[3] = lines[3] + b"\xff"          # 0xFF is not a TIS-620 character
    r = _post(client, national, b"\r\n".join(lines))
    assert r.status_code == 422 and "row 4" in r.get_json()["detail"]


# ----------------------------------------------------------------------- hostile inputs


def test_binary_garbage_upload(client, national):
    r = _post(client, national, os.urandom(500_000), filename="x.csv")
    assert r.status_code in (415, 422) and r.elapsed < 5


def test_oversize_upload_is_413(tmp_path):
    from service import create_app

    app = create_app({"testing": True, "data_dir": str(tmp_path / "v"), "max_upload_mb": 1,
                      "pseudonym_key": "k", "secret_key": "s"})
    headers = _token(app, "nat", "national")
    r = _post(app.test_client(), headers, b"a,b\n" + b"1,2\n" * 600_000)
    assert r.status_code == 413 and r.elapsed < 5


def test_zip_bomb_xlsx_is_refused_before_parsing(client, national, tmp_path):
    path = write_xlsx(tmp_path / "bomb.xlsx", good_rows(2))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/padding.bin", b"\0" * (64 * 2**20))  # 64 MiB -> ~64 KiB
    assert path.stat().st_size < 2**20
    r = _post(client, national, path.read_bytes(), filename="bomb.xlsx")
    assert r.status_code == 413 and "zip bomb" in r.get_json()["detail"]
    assert r.elapsed < 5


def test_xml_bomb_xlsx_is_refused(client, national, tmp_path):
    path = write_xlsx(tmp_path / "lol.xlsx", good_rows(2))
    lol = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;")
                                                  * 10) for i in range(1, 10))
           + b']>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
           + b"</sheetData></worksheet>")
    replace_zip_member(path, "xl/worksheets/sheet1.xml", lol)
    r = _post(client, national, path.read_bytes(), filename="lol.xlsx")
    assert r.status_code == 422 and "unsafe XML" in r.get_json()["detail"]
    assert r.elapsed < 5


def test_huge_line_is_refused_quickly(client, national):
    body = b"a,b\n" + b"x" * (3 * 2**20) + b",1\n"
    r = _post(client, national, body)
    assert r.status_code == 422 and "longer than" in r.get_json()["detail"] and r.elapsed < 5


def test_too_many_columns(client, national):
    header = ",".join(f"c{i}" for i in range(600)).encode()
    r = _post(client, national, header + b"\n" + b",".join([b"1"] * 600) + b"\n")
    assert r.status_code == 422 and "too many columns" in r.get_json()["detail"]


def test_huge_shared_strings_table_is_refused(tmp_path):
    from service.errors import PayloadTooLarge
    from service.ingest.readers import Limits, sniff

    path = write_xlsx(tmp_path / "ss.xlsx", good_rows(2))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        text = os.urandom(750_000).hex().encode()  # 1.5 MB, incompressible: not a bomb
        zf.writestr("xl/sharedStrings.xml", b"<sst><si><t>" + text + b"</t></si></sst>")
    with pytest.raises(PayloadTooLarge, match="shared-strings"):
        sniff(path, limits=Limits(max_uncompressed_bytes=4 * 2**20))


def test_municipal_rows_are_notices_in_the_upload_response(app, client, tmp_path, fast_build):
    headers = _token(app, "p75m", "provincial", "TH75")
    seed_round(app.config["CHIPAO"], dataset="survey")
    rows = good_rows(3)
    for r in rows:
        r[4] = "750151"                         # municipal pseudo-tambon of amphoe TH7501
    rows[2][6], rows[2][7] = "", ""             # cannot be placed without coordinates
    r = _post(client, headers, write_csv(tmp_path / "m.csv", rows).read_bytes(),
              policy="quarantine")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["accepted"] == 2 and body["quarantined"] == 1
    assert [(c["column"], c["code"], c["count"]) for c in body["notice_counts"]] == [
        ("tambon_code", "municipal_tambon", 2)]
    assert body["notice_counts"][0]["reason_th"] and body["notice_counts"][0]["reason_en"]
    assert [n["row"] for n in body["notices"]] == [2, 3]
    assert [(p["row"], p["code"]) for p in body["problems"]] == [(4, "municipal_unlocated")]
