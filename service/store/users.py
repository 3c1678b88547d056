"""Users, API tokens and the append-only audit log (SQLAlchemy, same database as the catalog).

Passwords are stored as salted scrypt hashes (werkzeug.security). API tokens are random
256-bit strings shown once at creation; only their SHA-256 is stored (a fast hash is enough
for high-entropy secrets and makes the lookup an index seek). Revoking sets ``revoked_at``;
nothing is ever deleted. The audit log is append-only: the class offers no update or delete,
and database triggers (migration 0002, SQLite and PostgreSQL) refuse UPDATE and DELETE.

No Flask here: the HTTP layer (service.api.auth) and the CLI (service.commands.users) both use
:class:`UserStore`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from service.errors import Conflict, InvalidInput, NotFound
from service.vocabulary import CODE_PATTERNS
from service.vocabulary import ROLES as VOCABULARY_ROLES

log = logging.getLogger(__name__)

ROLES = tuple(VOCABULARY_ROLES)
#: role values a stored user may have (``public`` is the anonymous role, never a login)
USER_ROLES = ("national", "provincial")
TOKEN_PREFIX = "chp_"
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_PROVINCE_RE = CODE_PATTERNS["province"]

metadata = sa.MetaData()

users_table = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("province", sa.String(4), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

tokens_table = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(128), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

audit_table = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("username", sa.String(64), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("province", sa.String(4), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object", sa.String(256), nullable=False),
    sa.Column("detail", sa.String(1024), nullable=False, default=""),
    sa.Column("remote_addr", sa.String(64), nullable=True),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    province: str | None
    active: bool


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def validate_role(role: str, province: str | None) -> str | None:
    """Check a (role, province) pair for a stored user; return the normalised province."""
    if role not in USER_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(USER_ROLES)}, not {role!r}",
                           column="role")
    if role == "provincial":
        if not province or not _PROVINCE_RE.fullmatch(province.strip().upper()):
            raise InvalidInput("a provincial user needs a province code such as TH50",
                               column="province")
        return province.strip().upper()
    if province:
        raise InvalidInput("a national user has no province", column="province")
    return None


class UserStore:
    """Users, tokens and audit rows in the catalog database (own metadata, same URL)."""

    def __init__(self, database_url: str, *, engine: sa.Engine | None = None) -> None:
        from service.store import db

        # tables and the append-only triggers come from the migrations, applied on open
        self.engine = engine or db.engine(database_url)

    # -- users -------------------------------------------------------------------------
    def create_user(self, username: str, password: str | None, role: str,
                    province: str | None = None) -> User:
        if not _USERNAME_RE.fullmatch(username or ""):
            raise InvalidInput("username must be 2-64 characters of A-Z a-z 0-9 _ . @ -",
                               column="username")
        if password is not None and len(password) < 10:
            raise InvalidInput("password must have at least 10 characters", column="password")
        province = validate_role(role, province)
        row = {
            "username": username, "role": role, "province": province, "active": True,
            "password_hash": generate_password_hash(password) if password else None,
            "created_at": _now(),
        }
        try:
            with self.engine.begin() as conn:
                key = conn.execute(users_table.insert().values(**row)).inserted_primary_key
                uid = int(key[0]) if key is not None else 0
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"user {username!r} already exists") from exc
        log.info("created %s user id=%s", role, uid)
        return User(int(uid), username, role, province, True)

    def _user_from_row(self, row: Any) -> User:
        return User(int(row.id), row.username, row.role, row.province, bool(row.active))

    def get_user(self, username: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users_table).where(users_table.c.username == username)
            ).first()
        if row is None:
            raise NotFound(f"no user {username!r}")
        return self._user_from_row(row)

    def get_user_by_id(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users_table).where(users_table.c.id == user_id)
            ).first()
        return None if row is None else self._user_from_row(row)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users_table).order_by(users_table.c.username)).all()
        return [self._user_from_row(r) for r in rows]

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 10:
            raise InvalidInput("password must have at least 10 characters", column="password")
        with self.engine.begin() as conn:
            n = conn.execute(
                users_table.update().where(users_table.c.username == username)
                .values(password_hash=generate_password_hash(password))
            ).rowcount
        if not n:
            raise NotFound(f"no user {username!r}")

    def deactivate_user(self, username: str) -> None:
        """Disable a login and revoke all of its tokens (rows are kept for the audit trail)."""
        user = self.get_user(username)
        with self.engine.begin() as conn:
            conn.execute(users_table.update().where(users_table.c.id == user.id)
                         .values(active=False))
            conn.execute(tokens_table.update()
                         .where(tokens_table.c.user_id == user.id,
                                tokens_table.c.revoked_at.is_(None))
                         .values(revoked_at=_now()))

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with this password, else None (same cost whether or not it exists)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users_table).where(users_table.c.username == username)
            ).first()
        if row is None or not row.password_hash:
            # burn comparable time so response timing does not reveal which usernames exist
            check_password_hash(_dummy_hash(), password)
            return None
        if not check_password_hash(row.password_hash, password) or not row.active:
            return None
        return self._user_from_row(row)

    # -- tokens ------------------------------------------------------------------------
    def create_token(self, username: str, label: str = "") -> tuple[str, int]:
        """Create an API token; returns (secret shown once, token id)."""
        user = self.get_user(username)
        if not user.active:
            raise Conflict(f"user {username!r} is deactivated")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            key = conn.execute(tokens_table.insert().values(
                user_id=user.id, token_sha256=hash_token(secret), label=label[:128],
                created_at=_now(),
            )).inserted_primary_key
            tid = int(key[0]) if key is not None else 0
        log.info("created token id=%s for user id=%s", tid, user.id)
        return secret, int(tid)

    def user_for_token(self, secret: str) -> User | None:
        """The active user owning this unrevoked token, else None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        j = tokens_table.join(users_table, tokens_table.c.user_id == users_table.c.id)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users_table).select_from(j).where(
                    tokens_table.c.token_sha256 == hash_token(secret),
                    tokens_table.c.revoked_at.is_(None),
                    users_table.c.active.is_(True),
                )
            ).first()
        return None if row is None else self._user_from_row(row)

    def revoke_token(self, token_id: int, *, username: str | None = None) -> None:
        """Revoke a token; with ``username``, only if that user owns it."""
        cond = [tokens_table.c.id == token_id, tokens_table.c.revoked_at.is_(None)]
        if username is not None:
            cond.append(tokens_table.c.user_id == sa.select(users_table.c.id).where(
                users_table.c.username == username).scalar_subquery())
        with self.engine.begin() as conn:
            n = conn.execute(
                tokens_table.update().where(*cond).values(revoked_at=_now())
            ).rowcount
        if not n:
            raise NotFound(f"no active token with id {token_id}")

    def list_tokens(self, username: str | None = None) -> list[TokenInfo]:
        j = tokens_table.join(users_table, tokens_table.c.user_id == users_table.c.id)
        q = sa.select(tokens_table.c.id, users_table.c.username, tokens_table.c.label,
                      tokens_table.c.created_at, tokens_table.c.revoked_at).select_from(j)
        if username:
            q = q.where(users_table.c.username == username)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(tokens_table.c.id)).all()
        return [TokenInfo(int(r.id), r.username, r.label, r.created_at, r.revoked_at)
                for r in rows]

    # -- audit -------------------------------------------------------------------------
    def audit(self, *, username: str | None, role: str, province: str | None, action: str,
              object: str, detail: str = "", remote_addr: str | None = None) -> None:
        """Append one audit row (who, what, when). There is no way to change it afterwards."""
        with self.engine.begin() as conn:
            conn.execute(audit_table.insert().values(
                at=_now(), username=username, role=role, province=province,
                action=action[:64], object=object[:256], detail=detail[:1024],
                remote_addr=(remote_addr or "")[:64] or None,
            ))

    def audit_rows(self, *, limit: int = 1000) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]

    def iter_audit(self) -> Iterator[dict[str, Any]]:
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(audit_table).order_by(audit_table.c.id)):
                yield dict(r._mapping)


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))
