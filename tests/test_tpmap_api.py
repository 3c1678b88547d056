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


def _wait_job(client, headers, location: str, timeout: float = 120.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(location, headers=headers).get_json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {location} did not finish")


def _versions(client, headers) -> list[str]:
    r = client.get("/api/v1/datasets/tpmap", headers=headers)
    return [] if r.status_code == 404 else [v["id"] for v in r.get_json()["versions"]]


def test_upload_is_a_background_job_one_build_per_dataset(app, client):
    """The request returns at once with a job (the import runs off the request thread);
    two uploads of one dataset build one after the other; the version appears when done."""
    from service.api.upload import job_runner

    national = _token(app, "nat", "national")
    body = _zip58()
    with app.app_context():
        runner = job_runner()
    lock = runner._dataset_lock("tpmap")  # a build of this dataset is running meanwhile
    lock.acquire()
    try:
        first = _post(client, {**national, "Prefer": "respond-async"}, body)
        second = _post(client, {**national, "Prefer": "respond-async"}, body)
        for r in (first, second):
            assert r.status_code == 202, r.get_json()
            assert r.headers["Location"] == f"/api/v1/jobs/{r.get_json()['job']}"
            job = client.get(r.headers["Location"], headers=national).get_json()
            assert job["status"] == "queued" and job["kind"] == "tpmap-import"
        assert _versions(client, national) == []  # nothing published yet
    finally:
        lock.release()
    done = [_wait_job(client, national, r.headers["Location"]) for r in (first, second)]
    assert [j["status"] for j in done] == ["done", "done"]
    assert all(j["progress"] == 1.0 for j in done)
    results = [j["result"] for j in done]
    assert sorted(r["status"] for r in results) == [200, 201]  # one built, one found it
    created = next(r["report"] for r in results if r["status"] == 201)
    assert created["status"] == "created" and created["areas"]["tambon"] == 44
    assert _versions(client, national) == [created["version"]]
    assert {r["report"]["version"] for r in results} == {created["version"]}
    # a rejected import as a job: 422 with the problems by file, row and column
    bad = _post(client, {**national, "Prefer": "respond-async"},
                _zip58(("61_58_amphur_common.csv", b"\n5801,13324,", b"\n5801,-3,")))
    job = _wait_job(client, national, bad.headers["Location"])
    assert job["result"]["status"] == 422
    problem = job["result"]["problem"]["report"]["problems"][0]
    assert (problem["file"], problem["row"], problem["column"]) == (
        "61_58_amphur_common.csv", 2, "household.CNT")
    # provincial users are refused before anything is saved or queued
    provincial = _token(app, "mhs", "provincial", "TH58")
    assert _post(client, {**provincial, "Prefer": "respond-async"}, body).status_code == 403


def test_upload_job_reports_progress(app):
    """The import reports its progress to the job (after each batch, before publishing)."""
    from service.access.principal import Principal
    from service.usecases.published import import_uploaded

    seen: list[float] = []
    with app.app_context():
        report = import_uploaded(app.config["CHIPAO"], Principal("national", None, "nat"),
                                 [("tpmap58.zip", io.BytesIO(_zip58()))], dataset="tpmap",
                                 round=2561, on_progress=seen.append)
    assert report.status == "created"
    assert seen == sorted(seen) and seen[-1] == 0.85 and len(seen) >= 2
