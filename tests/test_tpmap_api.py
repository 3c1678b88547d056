"""TPMAP published tables over HTTP: the national-only upload route, and the dataset served
by the area API, maps and exports (numbers equal the published ones for authorised callers,
disclosure-controlled for the public)."""

from __future__ import annotations

import io
import zipfile

import pytest
from test_tpmap import PUBLISHED

from service.api.auth import user_store

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.skipif(not PUBLISHED.exists(), reason="TPMAP published tables absent")


def _token(app, name, role, province=None):
    store = user_store(app)
    store.create_user(name, PASSWORD, role, province)
    return {"Authorization": f"Bearer {store.create_token(name)[0]}"}


def _zip58(edit=None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(PUBLISHED.glob("61_58_*.csv")):
            data = path.read_bytes()
            if edit and path.name == edit[0]:
                data = data.replace(edit[1], edit[2], 1)
            z.writestr(path.name, data)
    return buf.getvalue()


def _post(client, headers, content: bytes, name="tpmap", filename="tpmap58.zip", round="2561"):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"round": round, "file": FileStorage(
        io.BytesIO(content), filename=filename, content_type="application/zip")})
    return client.post(f"/api/v1/datasets/{name}/tpmap-uploads", data=body, headers=headers,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_upload_is_for_national_users_only(app, client):
    body = _zip58()
    assert _post(client, {}, body).status_code == 401
    provincial = _token(app, "mhs", "provincial", "TH58")
    assert _post(client, provincial, body).status_code == 403
    national = _token(app, "nat", "national")
    created = _post(client, national, body)
    assert created.status_code == 201, created.get_json()
    report = created.get_json()
    assert report["status"] == "created" and report["kind"] == "published"
    assert report["areas"]["tambon"] == 44  # 47 tambol rows, 3 municipal pseudo-tambons
    again = _post(client, national, body)
    assert again.status_code == 200 and again.get_json()["status"] == "existing"
    assert again.get_json()["version"] == report["version"]


def test_bad_upload_gives_422_with_file_row_column(app, client):
    national = _token(app, "nat", "national")
    r = _post(client, national, _zip58(("61_58_amphur_common.csv", b"\n5801,13324,",
                                        b"\n5801,13x24,")))
    assert r.status_code == 422
    problems = r.get_json()["report"]["problems"]
    assert problems[0]["file"] == "61_58_amphur_common.csv"
    assert problems[0]["row"] == 2 and problems[0]["column"] == "household.CNT"
    assert not (app.config["CHIPAO"]["data_dir"] and list(
        __import__("pathlib").Path(app.config["CHIPAO"]["data_dir"]).glob("datasets/tpmap/r*")))
    assert _post(client, national, b"not a zip").status_code == 422
    assert _post(client, national, _zip58(), round="61").status_code == 422
