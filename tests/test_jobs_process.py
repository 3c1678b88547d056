"""Imports and builds of upload jobs run in a separate, lower-priority worker process
(service.jobs.in_process, setting job_process): a build never takes the web process's CPU or
interpreter lock (issue 16 availability: the load test with uploads running)."""

from __future__ import annotations

import io
import os

import pytest
from ingest_support import good_rows, write_csv
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from service.settings import as_settings


def test_job_process_setting():
    from service.jobs import uses_process

    assert uses_process(as_settings({"job_process": "auto"}))
    assert not uses_process(as_settings({"job_process": "auto", "testing": True}))
    assert uses_process(as_settings({"job_process": "on", "testing": True}))
    assert not uses_process(as_settings({"job_process": "off"}))
    with pytest.raises(ValueError, match="job_process"):
        uses_process(as_settings({"job_process": "sometimes"}))


def test_work_runs_in_another_process_at_lower_priority():
    from service.jobs import in_process

    settings = as_settings({"job_process": "on"})
    assert in_process(settings, os.getpid) != os.getpid()
    assert in_process(settings, os.nice, 0) == min(os.nice(0) + settings.job_nice, 19)


def test_an_upload_is_imported_and_built_in_the_worker_process(tmp_path):
    from service import create_app
    from service.api.auth import user_store

    app = create_app({"testing": True, "job_process": "on", "data_dir": str(tmp_path / "var"),
                      "secret_key": "s", "pseudonym_key": "k", "upload_wait_seconds": 120})
    users = user_store(app)
    users.create_user("nat", "correct horse battery", "national")
    auth = {"Authorization": f"Bearer {users.create_token('nat')[0]}"}
    body = write_csv(tmp_path / "u.csv", good_rows(4)).read_bytes()
    boundary, data = encode_multipart({"round": "2567", "file": FileStorage(
        io.BytesIO(body), filename="u.csv")})
    r = app.test_client().post("/api/v1/datasets/survey/uploads", data=data, headers=auth,
                               content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["accepted"] == 4
    # the parent sees the version the worker published
    r = app.test_client().get("/api/v1/datasets/survey", headers=auth)
    assert r.status_code == 200 and len(r.get_json()["versions"]) == 1


@pytest.mark.skipif(not os.sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_the_worker_process_ends_when_its_server_is_killed(tmp_path):
    """A web process killed with SIGKILL (no atexit) leaves no build process behind."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "server.py"
    script.write_text(
        "import os, sys, time\n"
        "from service.jobs import in_process\n"
        "from service.settings import as_settings\n"
        "if __name__ == '__main__':\n"
        "    pid = in_process(as_settings({'job_process': 'on'}), os.getpid)\n"
        "    print(pid, flush=True)\n"
        "    time.sleep(120)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env,
                              text=True)
    try:
        worker = int(server.stdout.readline())
        os.kill(worker, 0)  # alive while its server runs
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(worker, signal.SIGKILL)
            pytest.fail(f"worker {worker} outlived its killed server")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        server.stdout.close()
