"""Server-side record of web sessions, so a signed-in session can be revoked.

The session cookie (Flask, signed with ``CHIPAO_SECRET_KEY``) carries a random session
secret; the catalog database keeps its SHA-256 with the user and a mark of the user's
password hash at sign-in. A session is valid only while its row is not revoked and the
password is unchanged: signing out revokes the row (a saved copy of the cookie no longer
works), changing the password (``chipao users passwd`` or any other way) voids every
earlier session of that user, disabling the user voids them all (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from service.store import db

metadata = sa.MetaData()

web_sessions_table = sa.Table(
    "web_sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),        # SHA-256 of the session secret
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("password_mark", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _mark(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()


class SessionStore:
    """Web sessions in the catalog database (the ``users`` table holds their users)."""

    def __init__(self, database_url: str, *, engine: sa.Engine | None = None) -> None:
        self.engine = engine or db.engine(database_url)

    def _password_mark(self, conn: sa.Connection, user_id: int) -> str | None:
        from service.store.users import users_table

        row = conn.execute(sa.select(users_table.c.password_hash, users_table.c.active)
                           .where(users_table.c.id == int(user_id))).first()
        if row is None or not row.active:
            return None
        return _mark(row.password_hash)

    def open(self, user_id: int) -> str:
        """A new session of ``user_id``; returns its secret (for the signed cookie only)."""
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            mark = self._password_mark(conn, user_id) or _mark(None)
            conn.execute(web_sessions_table.insert().values(
                id=_digest(secret), user_id=int(user_id), password_mark=mark,
                created_at=_now()))
        return secret

    def valid(self, secret: str | None, user_id: int) -> bool:
        if not secret:
            return False
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(web_sessions_table).where(
                web_sessions_table.c.id == _digest(secret))).first()
            if row is None or row.revoked_at is not None or row.user_id != int(user_id):
                return False
            return self._password_mark(conn, user_id) == row.password_mark

    def revoke(self, secret: str | None) -> None:
        if not secret:
            return
        with self.engine.begin() as conn:
            conn.execute(web_sessions_table.update().where(
                web_sessions_table.c.id == _digest(secret),
                web_sessions_table.c.revoked_at.is_(None)).values(revoked_at=_now()))

    def revoke_user(self, user_id: int) -> int:
        """Revoke every open session of a user (sign out everywhere)."""
        with self.engine.begin() as conn:
            return conn.execute(web_sessions_table.update().where(
                web_sessions_table.c.user_id == int(user_id),
                web_sessions_table.c.revoked_at.is_(None)).values(revoked_at=_now())).rowcount
