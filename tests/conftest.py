"""Shared fixtures (flask tutorial style): app, client, runner on a temporary data dir.

Catalog databases: a test (or module, with ``pytestmark = pytest.mark.both_databases``) that
uses ``database_url`` (the ``app`` fixture does) runs once on SQLite and once on PostgreSQL
(``CHIPAO_TEST_DATABASE_URL``, started by ``eval "$(.ci/services start)"``). Each test gets its
own PostgreSQL schema. Without the URL the PostgreSQL runs are skipped locally, and fail in CI.
"""

from __future__ import annotations

import os
import secrets

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from service import create_app

# CI runs on a fresh, possibly slower machine: no per-example deadline, no "too slow" health
# check (examples build real frames); the properties themselves are unchanged.
hypothesis_settings.register_profile(
    "chipao", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
hypothesis_settings.load_profile("chipao")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "both_databases: run the test on SQLite and on PostgreSQL (database_url)")


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
            "both_databases"):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True,
                             scope="module")


@pytest.fixture(scope="module")
def database(request):
    """Which catalog database this test runs on ("sqlite" unless parametrised)."""
    return getattr(request, "param", "sqlite")


def server_url(variable: str, what: str) -> str:
    """A test server's URL from the environment; skip (locally) or fail (CI) without it."""
    url = os.environ.get(variable, "")
    if not url:
        reason = (f"{what} tests need {variable} (eval \"$(.ci/services start)\" starts "
                  f"PostgreSQL and Redis and prints it)")
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the {what} tests: {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture(scope="module")
def make_database_url(database):
    """Factory: a fresh, empty catalog database URL for ``database`` ('' = the default SQLite
    file in the data dir). PostgreSQL: a new schema per call, dropped at the end."""
    made: list[str] = []
    base = server_url("CHIPAO_TEST_DATABASE_URL", "PostgreSQL") if database == "postgresql" \
        else ""

    def make() -> str:
        if database == "sqlite":
            return ""
        import sqlalchemy as sa

        schema = "t_" + secrets.token_hex(6)
        engine = sa.create_engine(base, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        made.append(schema)
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}options=-csearch_path%3D{schema}"

    yield make
    if made:
        import sqlalchemy as sa

        from service.store import db

        engine = sa.create_engine(base, poolclass=sa.NullPool)
        for schema in made:
            db.dispose(f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}")
        with engine.begin() as conn:
            for schema in made:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.dispose()


@pytest.fixture
def redis_url():
    """The test Redis (CHIPAO_TEST_REDIS_URL), emptied first; skipped locally without it."""
    url = server_url("CHIPAO_TEST_REDIS_URL", "Redis")
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def database_url(make_database_url):
    return make_database_url()


@pytest.fixture
def app(tmp_path, database_url):
    app = create_app({
        "testing": True,
        "data_dir": str(tmp_path / "var"),
        "secret_key": "test-secret",
        "pseudonym_key": "test-pseudonym-key",
        **({"database_url": database_url} if database_url else {}),
    })
    yield app


@pytest.fixture
def services(app):
    """The app's :class:`service.api.services.Services` (store, users, caches, map source)."""
    from service.api.services import services as services_of

    return services_of(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- demo data (owned by the demo-data engineer) ---------------------------------------------
@pytest.fixture(scope="session")
def make_demo_persons(tmp_path_factory):
    """Factory: ``make_demo_persons(provinces=None, amphoes=None, seed=2561,
    with_identifiers=False)`` generates calibrated demo persons (TPMAP 2561) into a session
    temporary directory and returns it (``<dir>/persons/<province>.parquet`` +
    ``manifest.json``). Calls with the same arguments share one directory. Give
    ``amphoes=["TH7502"]`` (about 22 k people, < 1 s) for fast tests."""
    from service.demo.generate import generate

    cache: dict[tuple, object] = {}

    def make(provinces=None, amphoes=None, seed=2561, with_identifiers=False):
        key = (tuple(provinces or ()), tuple(amphoes or ()), seed, with_identifiers)
        if key not in cache:
            out = tmp_path_factory.mktemp("demo-persons")
            generate(list(provinces) if provinces else None, seed=seed, out=out,
                     amphoes=list(amphoes) if amphoes else None,
                     with_identifiers=with_identifiers)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture(scope="session")
def demo_panel_dir(tmp_path_factory):
    """Demo panel of Samut Songkhram (TH75), rounds 2561, 2562, 2565, seed 2561:
    ``<dir>/r<round>/persons/TH75.parquet`` (service.demo.panel)."""
    from service.demo.panel import generate_panel

    out = tmp_path_factory.mktemp("demo-panel")
    generate_panel([2561, 2562, 2565], seed=2561, out=out, provinces=["TH75"])
    return out


@pytest.fixture(scope="session")
def demo_panel_store(tmp_path_factory, demo_panel_dir):
    """(store, {round: version}) of the demo panel's three rounds built into one store (the
    later rounds carry the panel columns)."""
    from service.demo.panel import round_dir
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator
    from service.pipeline import build_version
    from service.settings import load_settings
    from service.store import open_store

    settings = load_settings({"data_dir": str(tmp_path_factory.mktemp("panel-var"))},
                             environ={})
    locator = TambonLocator(load_level(settings["boundaries_dir"], "tambon"))
    store = open_store(settings)
    versions = {r: build_version(settings, dataset="demo", round=r, store=store,
                                 persons_dir=round_dir(demo_panel_dir, r), progress=False,
                                 locator=locator) for r in (2561, 2562, 2565)}
    return store, versions


@pytest.fixture(scope="session")
def demo_persons_dir(make_demo_persons):
    """Samut Songkhram (TH75), the whole province: 43,535 households, 125,464 people, 903
    target poor, exactly as TPMAP 2561; seed 2561."""
    return make_demo_persons(provinces=["TH75"])


# --- object storage (S3): moto's server mode on a free port ------------------------------------
@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A local S3-compatible server (moto, server mode) for the whole session, enforcing
    credentials like a real store: ``{"endpoint", "key", "secret"}`` of a user allowed s3:*.
    The first three (unauthenticated) calls create that user."""
    import json
    import socket
    import subprocess
    import sys
    import time

    import boto3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], env=env, stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, "moto server exited"
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.1)
    root = {"endpoint_url": endpoint, "region_name": "us-east-1",
            "aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
    iam = boto3.client("iam", **root)
    iam.create_user(UserName="chipao")
    key = iam.create_access_key(UserName="chipao")["AccessKey"]
    iam.put_user_policy(UserName="chipao", PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    yield {"endpoint": endpoint, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh bucket on the test S3 server and this process's credentials for it:
    ``{"url": "s3://<bucket>/chipao", "bucket", "endpoint", "key", "secret", "client"}``
    (``client``: a boto3 S3 client to inspect or damage objects)."""
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "HTTP_PROXY", "HTTPS_PROXY",
                 "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client = boto3.client("s3", endpoint_url=s3_server["endpoint"], region_name="us-east-1",
                          aws_access_key_id=s3_server["key"],
                          aws_secret_access_key=s3_server["secret"])
    bucket = "chipao-" + secrets.token_hex(4)
    client.create_bucket(Bucket=bucket)
    return {**s3_server, "bucket": bucket, "url": f"s3://{bucket}/chipao", "client": client}
