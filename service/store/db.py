"""The catalog database: engines, and the schema kept by alembic migrations.

Every table of the catalog database (datasets and versions, users, tokens, the audit log,
and the tables later modules add) is created and changed only by the migrations in
``service/store/migrations/versions/``. :func:`engine` opens a URL and brings its schema to
the newest revision ("upgrade heads") before anything reads it: SQLite and PostgreSQL alike,
and safely when several processes open a fresh database at the same moment (a file lock on
SQLite, an advisory lock on PostgreSQL). The SQLAlchemy ``Table`` objects in the modules of
:data:`MODEL_MODULES` describe the same schema for queries; a test checks that the two agree.

How to add a migration: docs/CONTRACT-WAVE2.md §4.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger(__name__)
# alembic logs a few lines at every open; upgrade() logs one line when it migrates
for _name in ("alembic.runtime.plugins", "alembic.runtime.migration"):
    logging.getLogger(_name).setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: modules whose ``metadata`` (sqlalchemy.MetaData) the migrations must match
MODEL_MODULES = ("service.store.catalog", "service.store.users", "service.followup.models",
                 "service.store.sessions", "service.jobs")

_PG_LOCK_KEY = 0x43484950  # "CHIP": advisory lock serialising migrations
_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def all_metadata() -> list[sa.MetaData]:
    return [importlib.import_module(m).metadata for m in MODEL_MODULES]


def alembic_config(connection: sa.Connection | None = None):
    """An alembic Config on the shipped migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(rev)s")  # versions/0004_jobs.py
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> set[str]:
    return set(_script().get_heads())


def current_revisions(conn: sa.Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(conn).get_current_heads())


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection holding the lock that serialises migrations of this database."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        lock_path = Path(database + ".migrate.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
        else:
            yield conn


def upgrade(engine: sa.Engine) -> bool:
    """Bring the database to the newest revision; True when a migration ran."""
    heads = head_revisions()
    with engine.connect() as conn:
        if current_revisions(conn) == heads:
            return False
    from alembic import command

    with _migration_lock(engine) as conn:
        if current_revisions(conn) == heads:  # another process did it meanwhile
            return False
        before = current_revisions(conn)
        command.upgrade(alembic_config(conn), "heads")
        conn.commit()
    log.info("catalog database migrated from %s to %s", sorted(before) or "empty",
             sorted(heads))
    return True


def _create_engine(url: str) -> sa.Engine:
    eng = sa.create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    if eng.dialect.name == "sqlite" and eng.url.database not in (None, "", ":memory:"):
        Path(str(eng.url.database)).parent.mkdir(parents=True, exist_ok=True)
    return eng


def engine(url: str) -> sa.Engine:
    """The engine of a catalog URL, its schema migrated to the newest revision.

    Server databases get one engine (one connection pool) per URL per process; SQLite files
    get a fresh engine each time (they are cheap, and tests open thousands of them).
    """
    if url.startswith("sqlite"):
        eng = _create_engine(url)
        upgrade(eng)
        return eng
    with _lock:
        cached = _engines.get(url)
        if cached is None:
            cached = _create_engine(url)
            upgrade(cached)
            _engines[url] = cached
    return cached


def dispose(url: str) -> None:
    """Close the pooled connections of a URL (tests dropping their database call this)."""
    with _lock:
        eng = _engines.pop(url, None)
    if eng is not None:
        eng.dispose()
