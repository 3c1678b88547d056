"""Several server processes on one PostgreSQL catalog, one data directory and one Redis:
`chipao serve --workers 2` (gunicorn) beside a second `chipao serve` (waitress), as two
servers behind one proxy. Rate limits, sign-in sessions, token revocation and newly published
versions hold across them without a restart."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from test_aggregate import make_scored

from service.analysis.aggregate import aggregate
from service.settings import load_settings
from service.store import open_store
from service.store.users import UserStore

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def database():
    return "postgresql"  # several processes: the production catalog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _publish(settings, round_: int, seed: int) -> str:
    scored = make_scored(150, seed=seed)
    tables = aggregate(scored)
    store = open_store(settings)
    with store.write_version("demo", round=round_, source_sha256=f"{round_:064d}") as w:
        scored.write_parquet(w.persons_path("TH75"))
        for level, frame in tables.items():
            frame.write_parquet(w.areas_path(level))
        return w.publish(n_persons=len(scored), n_households=int(scored["hh_id"].n_unique()),
                         meta={"levels": list(tables)}).id


@pytest.fixture
def servers(tmp_path, database_url, redis_url):
    env = {**os.environ, "CHIPAO_DATA_DIR": str(tmp_path / "var"),
           "CHIPAO_DATABASE_URL": database_url, "CHIPAO_RATE_LIMIT_STORAGE_URI": redis_url,
           "CHIPAO_SECRET_KEY": "multi-process-test-key", "CHIPAO_RATE_LIMIT": "6 per day",
           "CHIPAO_THREADS": "2", "PYTHONPATH": os.getcwd()}
    settings = load_settings({"data_dir": env["CHIPAO_DATA_DIR"],
                              "database_url": database_url}, environ={})
    first = _publish(settings, 2561, seed=1)
    ports = [_free_port(), _free_port()]
    cmds = [[sys.executable, "-m", "service.cli", "serve", "--port", str(ports[0]),
             "--workers", "2"],
            [sys.executable, "-m", "service.cli", "serve", "--port", str(ports[1])]]
    logs = [open(tmp_path / f"server{i}.log", "w") for i in range(2)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
             for cmd, log in zip(cmds, logs, strict=True)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 120
        for url, proc in zip(urls, procs, strict=True):
            while True:
                assert proc.poll() is None, (tmp_path / "server0.log").read_text()[-3000:]
                try:
                    if requests.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    pass  # listening before its workers are ready
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        yield urls, settings, first
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def _cookies(resp: requests.Response) -> str:
    # name=value of every Set-Cookie, sent back by hand (a Secure cookie over plain http too)
    pairs = [h.split(";", 1)[0] for h in resp.raw.headers.getlist("Set-Cookie")]
    return "; ".join(pairs)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def _current(url: str) -> str:
    body = requests.get(url + "/api/v1/datasets", timeout=10).json()
    (item,) = [i for i in body["items"] if i["name"] == "demo"]
    return item["current_version"]["id"]


def test_servers_share_versions_sessions_revocations_and_limits(servers):
    (a, b), settings, first = servers
    # a version published elsewhere (a build machine) is served by both without restart
    assert _current(a) == _current(b) == first
    second = _publish(settings, 2562, seed=2)
    assert _current(a) == _current(b) == second
    tambons = requests.get(b + "/api/v1/areas/tambon?dataset=demo&province=TH75", timeout=10)
    assert tambons.status_code == 200, tambons.text

    users = UserStore(settings["database_url"])
    users.create_user("nat", PASSWORD, "national")
    # sign in on A, the session cookie works on B
    form = requests.get(a + "/login", timeout=10)
    resp = requests.post(a + "/login", timeout=10, allow_redirects=False,
                         data={"username": "nat", "password": PASSWORD,
                               "csrf_token": _csrf(form.text)},
                         headers={"Cookie": _cookies(form)})
    assert resp.status_code == 303, resp.text[:300]
    session = {"Cookie": _cookies(resp)}
    assert requests.get(b + "/api/v1/me", headers=session, timeout=10).json()["username"] == "nat"

    # a token works on both; revoked through A's account page, B refuses it at once
    secret, token_id = users.create_token("nat", "qgis")
    bearer = {"Authorization": f"Bearer {secret}"}
    for url in (a, b):
        assert requests.get(url + "/api/v1/me", headers=bearer, timeout=10).status_code == 200
    page = requests.get(a + "/account", headers=session, timeout=10)
    assert page.status_code == 200, page.text[:300]
    revoked = requests.post(a + f"/account/tokens/{token_id}/revoke", headers=session,
                            data={"csrf_token": _csrf(page.text)}, allow_redirects=False,
                            timeout=10)
    assert revoked.status_code == 303, revoked.text[:300]
    refused = requests.get(b + "/api/v1/me", headers=bearer, timeout=10)
    assert refused.status_code == 401

    # one rate limit (6 per day per client) counted across both servers via Redis
    path = "/api/v1/datasets/demo/versions"
    statuses = [requests.get(url + path, timeout=10).status_code for url in (a, b, a, b, a, b)]
    assert statuses == [200] * 6
    assert requests.get(a + path, timeout=10).status_code == 429
    assert requests.get(b + path, timeout=10).status_code == 429


def test_workers_need_a_shared_limit_store(tmp_path):
    env = {**os.environ, "CHIPAO_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": os.getcwd(),
           "CHIPAO_RATE_LIMIT_STORAGE_URI": "memory://"}
    proc = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--workers", "2",
                           "--port", str(_free_port())], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "CHIPAO_RATE_LIMIT_STORAGE_URI=redis://" in proc.stderr
