"""The released (public) version of each round of a dataset (SEC, issue 16): the public,
maps, embeds and exports see one version per round, never a superseded one.

Revision ID: 0006_round_releases
Revises: 0005_followup_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_round_releases"
down_revision = "0005_followup_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "round_releases",
        sa.Column("dataset", sa.String(64), sa.ForeignKey("datasets.name"), primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("round_releases")
