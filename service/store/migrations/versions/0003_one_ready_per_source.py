"""At most one ready version per (dataset, source file): two builds of the same source that
publish at once (two processes, two machines on one PostgreSQL) cannot both win.

Revision ID: 0003_one_ready_per_source
Revises: 0002_audit_append_only
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_one_ready_per_source"
down_revision = "0002_audit_append_only"
branch_labels = None
depends_on = None


def upgrade() -> None:
    where = sa.text("status = 'ready'")
    op.create_index("ux_versions_ready_source", "dataset_versions",
                    ["dataset", "source_sha256"], unique=True,
                    sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ux_versions_ready_source", table_name="dataset_versions")
