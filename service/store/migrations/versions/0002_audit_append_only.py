"""The audit log is append-only in the database itself: UPDATE, DELETE (and on PostgreSQL
TRUNCATE) of ``audit_log`` raise an error whatever the client, not only in Python.

Revision ID: 0002_audit_append_only
Revises: 0001_catalog_users_audit
"""

from __future__ import annotations

from alembic import op

revision = "0002_audit_append_only"
down_revision = "0001_catalog_users_audit"
branch_labels = None
depends_on = None

MESSAGE = "audit_log is append-only / บันทึกการเข้าถึงแก้ไขหรือลบไม่ได้"

_SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]

_POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$",
    "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}.get(dialect)
    if statements is None:
        raise RuntimeError(f"no append-only audit triggers for database {dialect!r}: "
                           "use SQLite or PostgreSQL")
    for ddl in statements:
        op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
