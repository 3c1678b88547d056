"""Catalog (datasets, versions), users, API tokens and the audit log: the wave-1 schema.

Databases created before migrations existed (by ``metadata.create_all``) already hold some or
all of these tables: each is created only when absent, so such a database is adopted as is.

Revision ID: 0001_catalog_users_audit
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_catalog_users_audit"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _tables() -> dict[str, tuple]:
    return {
        "datasets": (
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("created_at", TS, nullable=False),
            sa.Column("current_version", sa.String(64), nullable=True),
        ),
        "dataset_versions": (
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("dataset", sa.String(64), sa.ForeignKey("datasets.name"), nullable=False),
            sa.Column("round", sa.Integer, nullable=False),
            sa.Column("source_sha256", sa.String(64), nullable=False),
            sa.Column("created_at", TS, nullable=False),
            sa.Column("finished_at", TS, nullable=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("path", sa.String(1024), nullable=False),
            sa.Column("n_persons", sa.BigInteger, nullable=True),
            sa.Column("n_households", sa.BigInteger, nullable=True),
            sa.Column("meta", sa.Text, nullable=False),
        ),
        "users": (
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("username", sa.String(64), nullable=False, unique=True),
            sa.Column("password_hash", sa.String(256), nullable=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("province", sa.String(4), nullable=True),
            sa.Column("active", sa.Boolean, nullable=False),
            sa.Column("created_at", TS, nullable=False),
        ),
        "api_tokens": (
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
            sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
            sa.Column("label", sa.String(128), nullable=False),
            sa.Column("created_at", TS, nullable=False),
            sa.Column("revoked_at", TS, nullable=True),
        ),
        "audit_log": (
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("at", TS, nullable=False),
            sa.Column("username", sa.String(64), nullable=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("province", sa.String(4), nullable=True),
            sa.Column("action", sa.String(64), nullable=False),
            sa.Column("object", sa.String(256), nullable=False),
            sa.Column("detail", sa.String(1024), nullable=False),
            sa.Column("remote_addr", sa.String(64), nullable=True),
        ),
    }


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns in _tables().items():
        if name in existing:
            continue
        op.create_table(name, *columns)
        if name == "dataset_versions":
            op.create_index("ix_dataset_versions_dataset", name, ["dataset"])
            op.create_index("ix_versions_dataset_sha", name, ["dataset", "source_sha256"])


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(name)
