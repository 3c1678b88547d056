"""The catalog database: alembic migrations on SQLite and PostgreSQL, the append-only audit
log enforced by the database, concurrent opening and publishing."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.errors import Conflict
from service.store import db
from service.store.catalog import Catalog
from service.store.store import SourceAlreadyStored
from service.store.users import UserStore

pytestmark = pytest.mark.both_databases
PASSWORD = "correct horse battery"


@pytest.fixture
def url(database_url, tmp_path):
    return database_url or f"sqlite:///{tmp_path / 'chipao.db'}"


def test_open_migrates_to_head_and_schema_matches_models(url):
    engine = db.engine(url)
    with engine.connect() as conn:
        assert db.current_revisions(conn) == db.head_revisions()
        tables = set(sa.inspect(conn).get_table_names())
        assert {"datasets", "dataset_versions", "users", "api_tokens", "audit_log"} <= tables
        # every Table the code queries is exactly what the migrations built
        diff = compare_metadata(MigrationContext.configure(conn), db.all_metadata())
    assert diff == []
    assert db.upgrade(engine) is False  # a second open has nothing to do


def test_schema_check_catches_a_table_without_migration(url):
    engine = db.engine(url)
    extra = sa.MetaData()
    sa.Table("not_migrated", extra, sa.Column("id", sa.Integer, primary_key=True))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), [*db.all_metadata(), extra])
    assert [d[0] for d in diff] == ["add_table"]


def test_audit_log_append_only_in_database(url):
    users = UserStore(url)
    users.audit(username="nat", role="national", province=None, action="export",
                object="households/TH5001")
    for sql in ("UPDATE audit_log SET object = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with users.engine.begin() as conn:
                conn.exec_driver_sql(sql)
    if users.engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with users.engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE audit_log")
    rows = users.audit_rows()
    assert [(r["action"], r["object"]) for r in rows] == [("export", "households/TH5001")]
    # appending still works after the refusals
    users.audit(username="nat", role="national", province=None, action="read", object="o")
    assert len(users.audit_rows()) == 2


def test_legacy_database_without_migrations_is_adopted(url):
    """A wave-1 database (tables from metadata.create_all, no alembic_version) keeps its rows."""
    from service.store import catalog, users

    engine = sa.create_engine(url)
    catalog.metadata.create_all(engine)
    users.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ux_versions_ready_source")  # not in wave 1
        conn.exec_driver_sql("DROP TABLE round_releases")  # not in wave 1 (SEC, 0006)
        conn.execute(users.users_table.insert().values(
            username="old", role="national", active=True, created_at=dt.datetime.now(dt.UTC)))
    engine.dispose()
    store = UserStore(url)
    assert [u.username for u in store.list_users()] == ["old"]
    with store.engine.connect() as conn:
        assert db.current_revisions(conn) == db.head_revisions()
    store.audit(username="old", role="national", province=None, action="read", object="o")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")


def test_concurrent_first_open_migrates_once(url):
    errors: list[BaseException] = []

    def open_it():
        try:
            UserStore(url).list_users()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.engine(url).connect() as conn:
        assert db.current_revisions(conn) == db.head_revisions()


def test_concurrent_publish_of_one_version_one_wins(url):
    """Two publishers of the same version: exactly one succeeds, the other gets a clear error,
    and the catalog holds one ready, current version (no half state)."""
    catalog = Catalog(url)
    catalog.begin_version(version_id="v1", dataset="demo", round=2567, source_sha256="a" * 64,
                          path="datasets/demo/v1")
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def publish():
        other = Catalog(url)
        barrier.wait()
        try:
            other.publish_version("v1", n_persons=10, n_households=4, meta={"levels": {}})
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1, outcomes
    (error,) = [o for o in outcomes if o != "ok"]
    assert "v1" in str(error) and "already" in str(error), error
    current = catalog.current("demo")
    assert (current.id, current.status, current.n_persons) == ("v1", "ready", 10)
    assert [v.id for v in catalog.versions("demo", status=None)] == ["v1"]


def test_two_builds_of_one_source_publish_once(url):
    """Two building versions of the same source (the lock bypassed): the unique index lets
    one become ready; the other publisher gets Conflict and its row stays building."""
    catalog = Catalog(url)
    for vid in ("v1", "v2"):
        catalog.begin_version(version_id=vid, dataset="demo", round=2567,
                              source_sha256="b" * 64, path=f"datasets/demo/{vid}")
    catalog.publish_version("v1", n_persons=1, n_households=1, meta={})
    with pytest.raises(Conflict, match="same source is already stored"):
        catalog.publish_version("v2", n_persons=2, n_households=2, meta={})
    assert catalog.current("demo").id == "v1"
    assert {v.id: v.status for v in catalog.versions("demo", status=None)} == {
        "v1": "ready", "v2": "building"}


def test_two_machines_building_one_source_one_wins(url, tmp_path):
    """Two stores with their own data directories (two machines: no shared lock file) on one
    catalog build the same source at once: one version is published, the other build waits
    for the catalog's build lock, then gets SourceAlreadyStored; no files or rows left over."""
    from test_aggregate import make_scored

    from service.analysis.aggregate import aggregate
    from service.settings import load_settings
    from service.store import open_store

    scored = make_scored(120, seed=5)
    tables = aggregate(scored)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def build(machine: str) -> None:
        store = open_store(load_settings(
            {"data_dir": str(tmp_path / machine), "database_url": url}, environ={}))
        start.wait(timeout=30)
        try:
            with store.write_version("demo", round=2567, source_sha256="c" * 64) as w:
                scored.write_parquet(w.persons_path("TH75"))
                for level, frame in tables.items():
                    frame.write_parquet(w.areas_path(level))
                outcomes[machine] = w.publish(n_persons=len(scored), n_households=1, meta={})
        except Exception as exc:
            outcomes[machine] = exc

    threads = [threading.Thread(target=build, args=(m,)) for m in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = {m: o for m, o in outcomes.items() if not isinstance(o, Exception)}
    losers = {m: o for m, o in outcomes.items() if isinstance(o, SourceAlreadyStored)}
    assert len(winners) == 1 and len(losers) == 1, outcomes
    (winner_machine, winner), = winners.items()
    (loser_machine, lost), = losers.items()
    assert lost.version.id == winner.id
    catalog = Catalog(url)
    assert catalog.current("demo").id == winner.id
    assert [v.id for v in catalog.versions("demo", status=None)] == [winner.id]
    loser_dir = tmp_path / loser_machine / "datasets" / "demo"
    assert [p.name for p in loser_dir.iterdir() if p.name != ".lock"] == []
    assert (tmp_path / winner_machine / "datasets" / "demo" / winner.id / "version.json").exists()


def test_db_revision_writes_the_next_numbered_migration(tmp_path, monkeypatch):
    """`chipao db revision -m ...` (the how-to of docs/CONTRACT-WAVE2.md §4) writes
    versions/NNNN_<slug>.py on top of the newest revision; nothing to autogenerate when the
    Tables match the migrations."""
    import shutil

    from click.testing import CliRunner

    from service.cli import main

    copy = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, copy)
    monkeypatch.setattr(db, "MIGRATIONS_DIR", copy)
    (head,) = db.head_revisions()
    number = int(head.split("_", 1)[0]) + 1
    result = CliRunner().invoke(main, ["db", "revision", "-m", "Jobs table"])
    assert result.exit_code == 0, result.output
    path = copy / "versions" / f"{number:04d}_jobs_table.py"
    text = path.read_text(encoding="utf-8")
    assert f"revision = '{number:04d}_jobs_table'" in text
    assert f"down_revision = '{head}'" in text
    assert "op.create_table" not in text
