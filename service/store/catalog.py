"""The catalog of datasets and their versions (survey rounds), in SQL via SQLAlchemy.

SQLite by default (``<data_dir>/chipao.db``) or PostgreSQL (several servers); the tables are
created and changed by the alembic migrations of service/store/migrations (service.store.db),
the ``Table`` objects here describe them for queries. A version row is inserted as ``building`` before its files are written
and becomes ``ready`` -- and the dataset's current version -- in one transaction after the
files have been renamed into place, so readers only ever see complete versions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from service.errors import Conflict, InvalidInput, NotFound
from service.settings import SettingsLike, as_settings
from service.vocabulary import DATASET_NAME

log = logging.getLogger(__name__)

STATUSES = ("building", "ready", "failed")
_NAME_RE = DATASET_NAME

metadata = sa.MetaData()

datasets_table = sa.Table(
    "datasets", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("current_version", sa.String(64), nullable=True),
)

versions_table = sa.Table(
    "dataset_versions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("dataset", sa.String(64), sa.ForeignKey("datasets.name"), nullable=False,
              index=True),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("n_persons", sa.BigInteger, nullable=True),
    sa.Column("n_households", sa.BigInteger, nullable=True),
    sa.Column("meta", sa.Text, nullable=False, default="{}"),
    sa.Index("ix_versions_dataset_sha", "dataset", "source_sha256"),
    # one ready version per source: concurrent builds of one file cannot both publish
    sa.Index("ux_versions_ready_source", "dataset", "source_sha256", unique=True,
             sqlite_where=sa.text("status = 'ready'"),
             postgresql_where=sa.text("status = 'ready'")),
)

#: the released (public) version of each round of a dataset: one per round (SEC, issue 16).
#: A round without a row here releases its newest ready version (catalogs made before the
#: table existed keep working).
releases_table = sa.Table(
    "round_releases", metadata,
    sa.Column("dataset", sa.String(64), sa.ForeignKey("datasets.name"), primary_key=True),
    sa.Column("round", sa.Integer, primary_key=True),
    sa.Column("version_id", sa.String(64), nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
)


def validate_dataset_name(name: str) -> str:
    """Dataset names become directory names: lower-case letters, digits, '-' and '_'."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"dataset name {name!r} is invalid: use 1-64 lower-case letters, digits, '-' or '_' "
            "/ ชื่อชุดข้อมูลต้องเป็นอักษรอังกฤษตัวเล็ก ตัวเลข '-' หรือ '_'",
            column="dataset")
    return name


@dataclass(frozen=True)
class Version:
    """One stored version (survey round) of a dataset."""

    id: str
    dataset: str
    round: int
    source_sha256: str
    created_at: dt.datetime
    status: str
    path: str
    n_persons: int | None = None
    n_households: int | None = None
    finished_at: dt.datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    current: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no file system path: it is an internal detail)."""
        return {
            "id": self.id, "dataset": self.dataset, "round": self.round,
            "source_sha256": self.source_sha256, "status": self.status,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "n_persons": self.n_persons, "n_households": self.n_households,
            "current": self.current, "levels": self.meta.get("levels", {}),
        }


def _insert(conn: sa.Connection) -> Any:
    """The dialect's INSERT (with ON CONFLICT) of the catalog databases we support."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands datetimes back naive; they were stored in UTC
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class Catalog:
    """Datasets and versions in the catalog database."""

    def __init__(self, database_url: str, *, engine: sa.Engine | None = None) -> None:
        from service.store import db

        # the schema is the migrations' (service/store/migrations), applied on open
        self.engine = engine or db.engine(database_url)

    @classmethod
    def from_settings(cls, settings: SettingsLike) -> Catalog:
        settings = as_settings(settings)
        return cls(settings.database_url)

    def summary(self) -> list[dict[str, Any]]:
        """Per dataset: name, current version, its round and counts, number of versions."""
        out = []
        for name in self.datasets():
            versions = self.versions(name)
            current = next((v for v in versions if v.current), None)
            out.append({
                "name": name, "versions": len(versions),
                "current_version": current.id if current else None,
                "round": current.round if current else None,
                "n_persons": current.n_persons if current else None,
                "n_households": current.n_households if current else None,
            })
        return out

    # -- reading ---------------------------------------------------------------------------
    def _version(self, row: Any, current: str | None) -> Version:
        return Version(
            id=row.id, dataset=row.dataset, round=row.round, source_sha256=row.source_sha256,
            created_at=_aware(row.created_at) or _now(), status=row.status, path=row.path,
            n_persons=row.n_persons, n_households=row.n_households,
            finished_at=_aware(row.finished_at), meta=json.loads(row.meta or "{}"),
            current=row.id == current)

    def _current_id(self, conn: sa.Connection, dataset: str) -> str | None:
        return conn.execute(sa.select(datasets_table.c.current_version)
                            .where(datasets_table.c.name == dataset)).scalar_one_or_none()

    def datasets(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(datasets_table.c.name)
                                     .order_by(datasets_table.c.name)).scalars())

    def versions(self, dataset: str, *, status: str | None = "ready") -> list[Version]:
        """Versions of a dataset, newest first (only ready ones unless ``status=None``)."""
        query = sa.select(versions_table).where(versions_table.c.dataset == dataset)
        if status is not None:
            query = query.where(versions_table.c.status == status)
        query = query.order_by(versions_table.c.created_at.desc(), versions_table.c.id.desc())
        with self.engine.connect() as conn:
            current = self._current_id(conn, dataset)
            return [self._version(r, current) for r in conn.execute(query)]

    def get(self, dataset: str, version_id: str) -> Version:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(versions_table).where(
                versions_table.c.dataset == dataset, versions_table.c.id == version_id,
                versions_table.c.status == "ready")).first()
            if row is None:
                raise NotFound(f"dataset {dataset!r} has no version {version_id!r} "
                               f"/ ไม่พบรุ่นข้อมูล {version_id!r} ของชุดข้อมูล {dataset!r}")
            return self._version(row, self._current_id(conn, dataset))

    def current(self, dataset: str) -> Version:
        with self.engine.connect() as conn:
            current = self._current_id(conn, dataset)
            row = None if current is None else conn.execute(
                sa.select(versions_table).where(versions_table.c.id == current)).first()
        if row is None:
            raise NotFound(f"dataset {dataset!r} has no ready version "
                           f"/ ชุดข้อมูล {dataset!r} ยังไม่มีข้อมูลที่พร้อมใช้")
        return self._version(row, current)

    def find_by_sha256(self, dataset: str, source_sha256: str) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(versions_table).where(
                versions_table.c.dataset == dataset,
                versions_table.c.source_sha256 == source_sha256,
                versions_table.c.status == "ready",
            ).order_by(versions_table.c.created_at.desc())).first()
            return None if row is None else self._version(row, self._current_id(conn, dataset))

    def released(self, dataset: str) -> list[Version]:
        """The one released version of each round, newest round first.

        Released = the round's row in ``round_releases``; else (older catalogs) the dataset's
        current version for its round and the newest ready version for the others. Every
        other ready version is superseded: kept for national users and roll-back only."""
        ready = self.versions(dataset)
        with self.engine.connect() as conn:
            rows = dict(conn.execute(sa.select(releases_table.c.round,
                                               releases_table.c.version_id)
                                     .where(releases_table.c.dataset == dataset)).all())
        current = next((v for v in ready if v.current), None)
        by_round: dict[int, Version] = {}
        for v in ready:  # newest first
            wanted = rows.get(v.round)
            if wanted is not None:
                if v.id == wanted:
                    by_round[v.round] = v
            elif current is not None and current.round == v.round:
                by_round[v.round] = current
            else:
                by_round.setdefault(v.round, v)
        return [by_round[r] for r in sorted(by_round, reverse=True)]

    def stamp(self, dataset: str) -> tuple[Any, ...]:
        """A value that changes whenever what the public, maps or pages read of ``dataset``
        may change (a version made ready or withdrawn, a release, a roll-back, a dataset
        created): part of the key of cached responses (service.api.page_cache). One round
        trip of aggregates over small tables."""
        v, r, d = versions_table.c, releases_table.c, datasets_table.c
        ready = (v.dataset == dataset) & (v.status == "ready")
        stamp = sa.select(
            sa.select(d.current_version).where(d.name == dataset).scalar_subquery(),
            sa.select(sa.func.count()).select_from(versions_table).where(ready)
            .scalar_subquery(),
            sa.select(sa.func.max(v.finished_at)).where(ready).scalar_subquery(),
            sa.select(sa.func.count()).select_from(releases_table)
            .where(r.dataset == dataset).scalar_subquery(),
            sa.select(sa.func.max(r.released_at)).where(r.dataset == dataset)
            .scalar_subquery(),
            sa.select(sa.func.count()).select_from(datasets_table).scalar_subquery(),
            sa.select(sa.func.max(d.created_at)).scalar_subquery())
        with self.engine.connect() as conn:
            return tuple(conn.execute(stamp).one())

    def released_of_round(self, dataset: str, round: int) -> Version | None:
        return next((v for v in self.released(dataset) if v.round == int(round)), None)

    def source_of(self, version_id: str) -> str | None:
        """The source hash of a version in any status (None when there is no such row)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(versions_table.c.source_sha256)
                                .where(versions_table.c.id == version_id)).scalar_one_or_none()

    @contextlib.contextmanager
    def build_lock(self, dataset: str) -> Iterator[None]:
        """Held while a version of ``dataset`` is built, by every process on this catalog.

        PostgreSQL: a session advisory lock (servers and build workers on other machines wait
        too; a killed build's connection ends and releases it). SQLite: a lock file beside the
        database file. Without it a second machine would take a live build for a stale one.
        """
        validate_dataset_name(dataset)
        if self.engine.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(f"chipao-build:{dataset}".encode()).digest()[:8],
                                 "big", signed=True)
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            return
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.build-{dataset}.lock", "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- writing ---------------------------------------------------------------------------
    def begin_version(self, *, version_id: str, dataset: str, round: int, source_sha256: str,
                      path: str) -> None:
        """Record a version as ``building`` (creates the dataset row when new)."""
        validate_dataset_name(dataset)
        with self.engine.begin() as conn:
            # created once even when two builds of a new dataset start at the same moment
            conn.execute(_insert(conn)(datasets_table).values(name=dataset, created_at=_now())
                         .on_conflict_do_nothing(index_elements=["name"]))
            conn.execute(versions_table.insert().values(
                id=version_id, dataset=dataset, round=int(round), source_sha256=source_sha256,
                created_at=_now(), status="building", path=path, meta="{}"))

    def publish_version(self, version_id: str, *, n_persons: int, n_households: int,
                        meta: dict[str, Any], make_current: bool = True) -> None:
        """Mark a built version ready and (by default) current, in one transaction.

        Safe against concurrent publishers (several processes or machines on one database):
        the row changes only while it is still ``building`` and a partial unique index allows
        one ready version per (dataset, source); the loser gets :class:`Conflict` and the
        catalog is unchanged by it.
        """
        try:
            with self.engine.begin() as conn:
                changed = conn.execute(
                    versions_table.update().where(versions_table.c.id == version_id,
                                                  versions_table.c.status == "building")
                    .values(status="ready", finished_at=_now(), n_persons=int(n_persons),
                            n_households=int(n_households),
                            meta=json.dumps(meta, ensure_ascii=False, default=str))).rowcount
                row = conn.execute(sa.select(versions_table.c.dataset, versions_table.c.status)
                                   .where(versions_table.c.id == version_id)).first()
                if changed != 1 or row is None:
                    state = "does not exist" if row is None else f"is already {row.status}"
                    raise Conflict(
                        f"version {version_id} {state}: another build published or ended it "
                        f"/ รุ่นข้อมูล {version_id} ถูกเผยแพร่หรือยกเลิกไปแล้วโดยอีกกระบวนการหนึ่ง")
                if make_current:
                    rnd = conn.execute(sa.select(versions_table.c.round)
                                       .where(versions_table.c.id == version_id)).scalar_one()
                    self._release(conn, row.dataset, int(rnd), version_id)
                    # the dataset's current version stays on the latest round: a correction
                    # of an earlier round releases that round without moving the maps to it
                    cur = self._current_id(conn, row.dataset)
                    cur_round = None if cur is None else conn.execute(
                        sa.select(versions_table.c.round)
                        .where(versions_table.c.id == cur)).scalar_one_or_none()
                    if cur_round is None or int(rnd) >= int(cur_round):
                        conn.execute(datasets_table.update()
                                     .where(datasets_table.c.name == row.dataset)
                                     .values(current_version=version_id))
        except sa.exc.IntegrityError as exc:
            raise Conflict(
                f"version {version_id}: the same source is already stored as a ready version "
                f"(another build published it first) / ข้อมูลต้นทางนี้ถูกเผยแพร่แล้วโดยอีกกระบวนการหนึ่ง"
            ) from exc

    def _release(self, conn: sa.Connection, dataset: str, round: int, version_id: str) -> None:
        conn.execute(releases_table.delete().where(releases_table.c.dataset == dataset,
                                                   releases_table.c.round == int(round)))
        conn.execute(releases_table.insert().values(dataset=dataset, round=int(round),
                                                    version_id=version_id,
                                                    released_at=_now()))

    def fail_version(self, version_id: str, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(versions_table.update().where(
                versions_table.c.id == version_id, versions_table.c.status == "building",
            ).values(status="failed", finished_at=_now(),
                     meta=json.dumps({"error": reason[:1000]}, ensure_ascii=False)))

    def set_current(self, dataset: str, version_id: str) -> None:
        """Make an earlier ready version current again (roll back): it becomes the released
        version of its round (the one the public, maps, embeds and exports use) and the
        dataset's current version."""
        version = self.get(dataset, version_id)
        with self.engine.begin() as conn:
            self._release(conn, dataset, version.round, version_id)
            conn.execute(datasets_table.update().where(datasets_table.c.name == dataset)
                         .values(current_version=version_id))

    def release(self, dataset: str, version_id: str) -> None:
        """Make a ready version the released one of its round, and the dataset's current
        version when it is of the current version's round or a later one."""
        version = self.get(dataset, version_id)
        with self.engine.begin() as conn:
            self._release(conn, dataset, version.round, version_id)
            cur = self._current_id(conn, dataset)
            cur_round = None if cur is None else conn.execute(
                sa.select(versions_table.c.round)
                .where(versions_table.c.id == cur)).scalar_one_or_none()
            if cur_round is None or version.round >= int(cur_round):
                conn.execute(datasets_table.update().where(datasets_table.c.name == dataset)
                             .values(current_version=version_id))

    def stale_builds(self, dataset: str | None = None) -> list[Version]:
        """Versions left ``building`` by an interrupted build."""
        query = sa.select(versions_table).where(versions_table.c.status == "building")
        if dataset is not None:
            query = query.where(versions_table.c.dataset == dataset)
        with self.engine.connect() as conn:
            return [self._version(r, None) for r in conn.execute(query)]
