"""Dataset versions in object storage (CHIPAO_DATASETS_URL=s3://..., service.store.objstore)
against a local S3-compatible server (moto in server mode, tests/conftest.py ``s3``): a build
on one machine is served by a server process on another with an empty cache; a publish killed
midway, a damaged object, two racing publishers and a roll-back never show a half version;
wrong credentials, endpoint or bucket give one clear Thai/English error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests
from click.testing import CliRunner
from test_aggregate import make_scored

from service.analysis.aggregate import aggregate
from service.errors import InvalidInput, StorageUnavailable
from service.settings import load_settings
from service.store import open_store
from service.store.store import SourceAlreadyStored

pytestmark = pytest.mark.both_databases  # SQLite and PostgreSQL catalogs (conftest.py)


@pytest.fixture
def catalog_url(tmp_path, database_url):
    """One catalog shared by every "machine" of a test (SQLite file, or PostgreSQL)."""
    return database_url or f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def machine(tmp_path, catalog_url, s3):
    """Factory: the settings of one machine (its own local data directory, the shared
    catalog and bucket)."""
    def make(name: str, **changes):
        return load_settings({"data_dir": str(tmp_path / name), "database_url": catalog_url,
                              "datasets_url": s3["url"], "s3_endpoint_url": s3["endpoint"],
                              **changes}, environ={})
    return make


def _write(store, round_, sha, seed, *, before_publish=None):
    scored = make_scored(120, seed=seed)
    tables = aggregate(scored)
    with store.write_version("demo", round=round_, source_sha256=sha * 64) as w:
        scored.write_parquet(w.persons_path("TH75"))
        for level, frame in tables.items():
            frame.write_parquet(w.areas_path(level))
        if before_publish is not None:
            before_publish()
        return w.publish(n_persons=len(scored), n_households=int(scored["hh_id"].n_unique()),
                         meta={"levels": list(tables)})


def _keys(s3, prefix=""):
    pages = s3["client"].get_paginator("list_objects_v2").paginate(
        Bucket=s3["bucket"], Prefix=f"chipao/{prefix}")
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_build_is_uploaded_and_a_second_server_with_an_empty_cache_serves_it(
        machine, s3, tmp_path):
    builder = open_store(machine("build"))
    version = _write(builder, 2561, "a", seed=1)
    keys = _keys(s3, f"demo/{version.id}/")
    assert f"chipao/demo/{version.id}/manifest.json" in keys
    assert f"chipao/demo/{version.id}/areas/tambon.parquet" in keys
    assert f"chipao/demo/{version.id}/persons/TH75.parquet" in keys
    assert builder.catalog.current("demo").path == f"{s3['url']}/demo/{version.id}"
    assert version.path == str(builder.root / "demo" / version.id)  # the local copy

    # a server process on "another machine": nothing in its data directory yet
    server = machine("server")
    port = _free_port()
    env = {**os.environ, "CHIPAO_DATA_DIR": server.data_dir,
           "CHIPAO_DATABASE_URL": server.database_url, "CHIPAO_DATASETS_URL": s3["url"],
           "CHIPAO_S3_ENDPOINT_URL": s3["endpoint"], "CHIPAO_MAP_WARMUP": "0",
           "CHIPAO_THREADS": "2", "PYTHONPATH": os.getcwd()}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/api/v1/areas/tambon?dataset=demo&province=TH75"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                served = requests.get(url, timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert served.status_code == 200, served.text[:500]

    from service import create_app

    here = create_app({"testing": True, "data_dir": builder.settings.data_dir,
                       "database_url": builder.settings.database_url,
                       "datasets_url": s3["url"], "s3_endpoint_url": s3["endpoint"],
                       "map_warmup": False})
    local = here.test_client().get(url.split(str(port), 1)[1])
    assert local.status_code == 200
    assert served.json() == local.get_json()
    households = [i.get("n_households") for i in served.json()["items"]]
    assert any(h for h in households)  # real figures, not an empty table
    copy = os.path.join(server.data_dir, "datasets", "demo", version.id)
    assert sorted(os.listdir(os.path.join(copy, "areas"))) == \
        sorted(os.listdir(os.path.join(version.path, "areas")))


def test_publish_killed_midway_changes_nothing_and_is_cleaned(machine, s3):
    builder = open_store(machine("build"))
    old = _write(builder, 2561, "a", seed=1)
    settings = machine("build")
    script = textwrap.dedent(f"""
        import os
        from test_objstore import _write
        from service.settings import load_settings
        from service.store import open_store
        store = open_store(load_settings({dict(settings)!r}, environ={{}}))
        put, sent = store.remote.fs.put_file, []
        def dying_put(*args, **kwargs):
            if len(sent) == 3:
                os._exit(9)  # killed after 3 objects: no cleanup runs
            sent.append(args)
            return put(*args, **kwargs)
        store.remote.fs.put_file = dying_put
        _write(store, 2562, "b", seed=2)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              [os.getcwd(), os.path.join(os.getcwd(), "tests")])})
    assert proc.returncode == 9
    (stale,) = builder.catalog.stale_builds("demo")
    half = _keys(s3, f"demo/{stale.id}/")
    assert len(half) == 3 and not any(k.endswith("manifest.json") for k in half)

    fresh = open_store(machine("server"))  # another machine, empty cache
    assert fresh.current("demo").id == old.id
    assert [v.id for v in fresh.versions("demo", superseded=True)] == [old.id]
    assert fresh.read_areas("demo", "country")["n_persons"].iloc[0] == old.n_persons

    new = _write(builder, 2562, "c", seed=3)  # the next build removes the leftovers
    assert _keys(s3, f"demo/{stale.id}/") == []
    assert builder.catalog.stale_builds("demo") == []
    assert fresh.current("demo").id == new.id


def test_failed_upload_leaves_no_objects_and_previous_current(machine, s3, monkeypatch):
    builder = open_store(machine("build"))
    old = _write(builder, 2561, "a", seed=1)
    put, sent = builder.remote.fs.put_file, []

    def failing_put(*args, **kwargs):
        if len(sent) == 2:
            raise ConnectionResetError("connection reset by peer")
        sent.append(args)
        return put(*args, **kwargs)

    monkeypatch.setattr(builder.remote.fs, "put_file", failing_put)
    with pytest.raises(StorageUnavailable, match="uploading a version.*ConnectionResetError"):
        _write(builder, 2562, "b", seed=2)
    assert builder.current("demo").id == old.id
    assert _keys(s3) == sorted(k for k in _keys(s3) if f"/{old.id}/" in k)  # only the old one
    assert sorted(p.name for p in (builder.root / "demo").iterdir()
                  if not p.name.startswith(".")) == [old.id]


def test_damaged_object_is_never_served(machine, s3):
    builder = open_store(machine("build"))
    version = _write(builder, 2561, "a", seed=1)
    key = f"chipao/demo/{version.id}/areas/tambon.parquet"
    s3["client"].put_object(Bucket=s3["bucket"], Key=key, Body=b"truncated")
    server = open_store(machine("server"))
    with pytest.raises(StorageUnavailable, match="areas/tambon.parquet differs from the "
                                                 "manifest.*ไม่ตรงกับรายการตรวจสอบ"):
        server.read_areas("demo", "tambon")
    demo = server.root / "demo"
    assert not (demo / version.id).exists()
    assert [p.name for p in demo.iterdir() if p.name.startswith(".fetching")] == []
    # without its manifest (an upload that did not finish) it is refused too
    s3["client"].delete_object(Bucket=s3["bucket"],
                               Key=f"chipao/demo/{version.id}/manifest.json")
    with pytest.raises(StorageUnavailable, match="no manifest.json"):
        server.current("demo")


def test_two_racing_publishers_one_wins_the_other_leaves_nothing(machine, s3, monkeypatch):
    """Two build machines publish the same source at once, the build lock bypassed (the
    race the catalog itself must settle): one version is ready and complete in S3, the other
    publisher gets SourceAlreadyStored and its objects are gone."""
    import contextlib

    stores = [open_store(machine(name)) for name in ("m1", "m2")]
    both_cleaned = threading.Barrier(2)
    for store in stores:
        monkeypatch.setattr(store.catalog, "build_lock", lambda d: contextlib.nullcontext())
        # Without the build lock a machine's clean-up of interrupted builds would fail the
        # other's build in flight (the lock is what makes that clean-up safe); both clean up
        # before either begins, so the race left is the publish the catalog must settle.
        clean = store._clean_stale

        def clean_then_wait(dataset, clean=clean):
            clean(dataset)
            both_cleaned.wait(timeout=60)

        monkeypatch.setattr(store, "_clean_stale", clean_then_wait)
    both_written = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def build(i: int) -> None:
        try:
            outcomes[i] = _write(stores[i], 2561, "d", seed=4,
                                 before_publish=lambda: both_written.wait(timeout=60))
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=build, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes.values() if not isinstance(o, Exception)]
    losers = [o for o in outcomes.values() if isinstance(o, Exception)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], SourceAlreadyStored) and losers[0].version.id == winners[0].id
    ids = {k.split("/")[2] for k in _keys(s3, "demo/")}
    assert ids == {winners[0].id}
    assert f"chipao/demo/{winners[0].id}/manifest.json" in _keys(s3)
    fresh = open_store(machine("server"))
    assert fresh.current("demo").id == winners[0].id
    assert fresh.read_persons("demo", "TH75").height > 0


def test_roll_back_with_datasets_use_is_followed_over_s3(machine, s3, monkeypatch):
    builder = open_store(machine("build"))
    first = _write(builder, 2561, "a", seed=1)
    second = _write(builder, 2561, "b", seed=2)
    server = open_store(machine("server"))
    assert server.current("demo").id == second.id
    assert not (server.root / "demo" / first.id).exists()  # only what was read is fetched

    settings = machine("ops")
    for name in ("data_dir", "database_url", "datasets_url", "s3_endpoint_url"):
        monkeypatch.setenv(f"CHIPAO_{name.upper()}", str(settings[name]))
    from service.cli import main

    res = CliRunner().invoke(main, ["datasets", "use", "--dataset", "demo", first.id])
    assert res.exit_code == 0, res.output
    assert server.current("demo").id == first.id  # the same server, no restart
    n = server.read_areas("demo", "country")["n_persons"].iloc[0]
    assert n == first.n_persons != second.n_persons
    assert (server.root / "demo" / first.id / "areas" / "country.parquet").exists()


def test_wrong_credentials_endpoint_or_bucket_is_one_clear_error(machine, s3, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StorageUnavailable) as bad_key:
        open_store(machine("a"))
    text = str(bad_key.value)
    assert "SignatureDoesNotMatch" in text or "signature" in text.lower()
    assert "AWS_SECRET_ACCESS_KEY" in text and "ใช้ที่เก็บข้อมูลแบบออบเจกต์ไม่ได้" in text
    assert "not-the-secret" not in text
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["secret"])

    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="CHIPAO_S3_ENDPOINT_URL"):
        open_store(machine("b", s3_endpoint_url=f"http://127.0.0.1:{_free_port()}"))
    assert time.monotonic() - started < 60
    with pytest.raises(StorageUnavailable, match="listing the bucket"):
        open_store(machine("c", datasets_url="s3://no-such-bucket-chipao/x"))
    with pytest.raises(InvalidInput, match="CHIPAO_DATASETS_URL"):
        open_store(machine("d", data_dir="s3://bucket/var"))

    # a command says it in one line, Thai and English, exit 1, no traceback
    settings = machine("e")
    for name in ("data_dir", "database_url", "datasets_url", "s3_endpoint_url"):
        monkeypatch.setenv(f"CHIPAO_{name.upper()}", str(settings[name]))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    from service.cli import main

    res = CliRunner().invoke(main, ["datasets", "list"])
    assert res.exit_code == 1, res.output
    assert "ใช้ที่เก็บข้อมูลไม่ได้ · Storage unavailable" in res.output
    assert "Traceback" not in res.output and "not-the-secret" not in res.output


def test_threads_of_one_server_fetch_a_version_once(machine, s3, monkeypatch):
    builder = open_store(machine("build"))
    version = _write(builder, 2561, "a", seed=1)
    server = open_store(machine("server"))
    fetch, calls = server.remote._fetch, []

    def slow_fetch(url, local):
        calls.append(url)
        time.sleep(0.5)  # the other thread arrives while this fetch runs
        return fetch(url, local)

    monkeypatch.setattr(server.remote, "_fetch", slow_fetch)
    start, read = threading.Barrier(4), []

    def reader() -> None:
        start.wait(timeout=30)
        read.append(server.read_areas("demo", "tambon")["n_households"].sum())

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [f"{s3['url']}/demo/{version.id}"]
    assert len(read) == 4 and len(set(read)) == 1 and read[0] > 0
