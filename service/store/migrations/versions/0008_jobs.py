"""Background jobs (SEC, issue 16): uploads and builds run off the request threads; their
status, progress and result are kept here.

Revision ID: 0008_jobs
Revises: 0007_web_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_jobs"
down_revision = "0007_web_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_json", sa.Text, nullable=True),
    )
    op.create_index("ix_jobs_dataset", "jobs", ["dataset"])


def downgrade() -> None:
    op.drop_index("ix_jobs_dataset", table_name="jobs")
    op.drop_table("jobs")
