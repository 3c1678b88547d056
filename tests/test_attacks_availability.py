"""Availability (issue 16, Medium): uploads build in background jobs, so web threads are never
held by a build (the review: 9 concurrent uploads blocked /healthz for 10.5 s); the poverty
cut-off k is limited to the offered values (a free float recounted a province per value)."""

from __future__ import annotations

import io
import threading
import time

import pytest
from ingest_support import good_rows, store_build, write_csv
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from service.api.auth import user_store

PASSWORD = "correct horse battery"


@pytest.fixture
def gate(monkeypatch):
    """The pipeline build waits for ``gate.release`` (a slow build)."""
    import service.pipeline

    class Gate:
        started = threading.Event()
        release = threading.Event()

        def __call__(self, settings, **kw):
            self.started.set()
            assert self.release.wait(30)
            return store_build(settings, **kw)

    g = Gate()
    monkeypatch.setattr(service.pipeline, "build_version", g)
    yield g
    g.release.set()


def _tokens(app):
    users = user_store(app)
    users.create_user("nat", PASSWORD, "national")
    users.create_user("p75", PASSWORD, "provincial", "TH75")
    return ({"Authorization": f"Bearer {users.create_token('nat')[0]}"},
            {"Authorization": f"Bearer {users.create_token('p75')[0]}"})


def _post(client, headers, tmp_path, n=4, **extra_headers):
    body = write_csv(tmp_path / f"u{n}.csv", good_rows(n)).read_bytes()
    boundary, data = encode_multipart({"round": "2567", "file": FileStorage(
        io.BytesIO(body), filename="u.csv")})
    return client.post("/api/v1/datasets/survey/uploads", data=data,
                       headers={**headers, **extra_headers},
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_upload_is_a_background_job_with_status(app, tmp_path, gate):
    nat, other = _tokens(app)
    client = app.test_client()
    r = _post(client, nat, tmp_path, Prefer="respond-async")
    assert r.status_code == 202, r.get_json()
    url = r.headers["Location"]
    assert url.startswith("/api/v1/jobs/")
    assert gate.started.wait(30)
    job = client.get(url, headers=nat).get_json()
    assert job["status"] == "running" and job["kind"] == "upload" and job["dataset"] == "survey"
    # the web server answers while the build runs (no request thread is held by it)
    t = time.perf_counter()
    assert client.get("/healthz").status_code == 200
    assert time.perf_counter() - t < 2
    # another (non-national) user cannot read the job (it names the dataset and the report)
    assert client.get(url, headers=other).status_code == 404
    assert client.get(url).status_code == 401
    gate.release.set()
    for _ in range(300):
        job = client.get(url, headers=nat).get_json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "done" and job["progress"] == 1
    assert job["result"]["status"] == 201 and job["result"]["report"]["accepted"] == 4


def test_upload_waits_at_most_the_setting_then_answers_202(tmp_path, gate):
    from service import create_app

    app = create_app({"testing": True, "data_dir": str(tmp_path / "var"), "secret_key": "s",
                      "pseudonym_key": "k", "upload_wait_seconds": 0.5})
    nat, _ = _tokens(app)
    t = time.perf_counter()
    r = _post(app.test_client(), nat, tmp_path)
    assert r.status_code == 202 and time.perf_counter() - t < 5


def test_a_quick_upload_still_answers_with_its_result(app, tmp_path, monkeypatch):
    import service.pipeline

    monkeypatch.setattr(service.pipeline, "build_version", store_build)
    nat, _ = _tokens(app)
    r = _post(app.test_client(), nat, tmp_path)
    assert r.status_code == 201 and r.get_json()["accepted"] == 4
    assert r.headers["X-Chipao-Job"]


def test_failed_job_keeps_the_error_status(app, tmp_path, monkeypatch):
    import service.pipeline

    monkeypatch.setattr(service.pipeline, "build_version", store_build)
    _nat, p75 = _tokens(app)
    r = _post(app.test_client(), p75, tmp_path)  # dataset does not exist: national only
    assert r.status_code == 403 and "national" in r.get_json()["detail"]
