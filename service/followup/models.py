"""Follow-up tables in the catalog database (SQLAlchemy Core; SQLite and PostgreSQL).

* ``followup_cases``      one row per target household of a round (or a missed household
                          registered in the field); its current status.
* ``followup_history``    append-only status history (who, when, from, to).
* ``followup_plan``       household plan items (horizon, action, responsible agency, due date).
* ``followup_assistance`` one row per help given (household, date, agency, action, THB).
* ``followup_imports``    agency files imported (SHA-256: the same file is imported once).
* ``followup_missed``     households found in the field but absent from the survey.
* ``followup_syncs``      which (dataset, version, province) case lists have been opened.

Cases hold pseudonymous household ids and area codes only: no names, no national IDs.
History and assistance rows are never updated or deleted by this package (corrections are
new rows); triggers refuse UPDATE/DELETE of the history (SQLite and PostgreSQL). The tables
are created by the alembic migration ``0004_followup_cases`` (service/store/migrations).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

cases = sa.Table(
    "followup_cases", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("version_id", sa.String(64), nullable=True),
    sa.Column("hh_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False, default="survey"),
    sa.Column("province_code", sa.String(4), nullable=False),
    sa.Column("amphoe_code", sa.String(6), nullable=True),
    sa.Column("tambon_code", sa.String(8), nullable=True),
    sa.Column("village_id", sa.String(10), nullable=True),
    sa.Column("mpi_poor", sa.Boolean, nullable=False, default=False),
    sa.Column("target_poor", sa.Boolean, nullable=False, default=False),
    sa.Column("excluded", sa.String(256), nullable=False, default=""),
    sa.Column("failing", sa.String(512), nullable=False, default=""),
    sa.Column("n_members", sa.Integer, nullable=True),
    sa.Column("household_type", sa.String(64), nullable=False, default=""),
    sa.Column("max_c", sa.Float, nullable=True),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("dataset", "round", "hh_id", name="uq_followup_case"),
    sa.Index("ix_followup_cases_area", "dataset", "round", "province_code", "amphoe_code",
             "status"),
    sa.Index("ix_followup_cases_hh", "dataset", "hh_id"),
)

history = sa.Table(
    "followup_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("followup_cases.id"), nullable=False,
              index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("username", sa.String(64), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("from_status", sa.String(24), nullable=True),
    sa.Column("to_status", sa.String(24), nullable=False),
    sa.Column("note", sa.String(500), nullable=False, default=""),
)

plan = sa.Table(
    "followup_plan", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("followup_cases.id"), nullable=False,
              index=True),
    sa.Column("horizon", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("indicator", sa.String(16), nullable=True),
    sa.Column("agency", sa.String(64), nullable=False),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("note", sa.String(500), nullable=False, default=""),
    sa.Column("cancelled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
)

imports = sa.Table(
    "followup_imports", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(256), nullable=False),
    sa.Column("province", sa.String(4), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("n_records", sa.Integer, nullable=False, default=0),
    sa.Column("n_accepted", sa.Integer, nullable=False, default=0),
    sa.Column("n_flagged", sa.Integer, nullable=False, default=0),
    sa.UniqueConstraint("dataset", "sha256", name="uq_followup_import_sha"),
)

assistance = sa.Table(
    "followup_assistance", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("followup_cases.id"), nullable=False,
              index=True),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("hh_id", sa.String(64), nullable=False),
    sa.Column("province_code", sa.String(4), nullable=False),
    sa.Column("amphoe_code", sa.String(6), nullable=True),
    sa.Column("tambon_code", sa.String(8), nullable=True),
    sa.Column("given_on", sa.Date, nullable=False),
    sa.Column("agency", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("horizon", sa.String(16), nullable=False),
    sa.Column("amount_thb", sa.Float, nullable=False, default=0.0),
    sa.Column("note", sa.String(500), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("followup_imports.id"), nullable=True),
    sa.Column("source_row", sa.Integer, nullable=True),
    sa.Column("duplicate_of", sa.Integer, nullable=True),
    sa.Index("ix_followup_assist_hh", "dataset", "hh_id", "action"),
    # covers "helped, how often, how much" and "help of this action given" per case
    sa.Index("ix_followup_assist_case", "case_id", "action", "amount_thb"),
    sa.Index("ix_followup_assist_area", "dataset", "province_code", "amphoe_code"),
)

missed = sa.Table(
    "followup_missed", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("followup_cases.id"), nullable=False),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("province_code", sa.String(4), nullable=False),
    sa.Column("amphoe_code", sa.String(6), nullable=True),
    sa.Column("tambon_code", sa.String(8), nullable=True),
    sa.Column("village_id", sa.String(10), nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("n_members", sa.Integer, nullable=False),
    sa.Column("n_children", sa.Integer, nullable=False, default=0),
    sa.Column("n_elderly", sa.Integer, nullable=False, default=0),
    sa.Column("n_disabled", sa.Integer, nullable=False, default=0),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("house_key", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("matched_round", sa.Integer, nullable=True),
    sa.Column("matched_hh_id", sa.String(64), nullable=True),
    sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_followup_missed_area", "dataset", "province_code"),
)

syncs = sa.Table(
    "followup_syncs", metadata,
    sa.Column("dataset", sa.String(64), primary_key=True),
    sa.Column("version_id", sa.String(64), primary_key=True),
    sa.Column("province_code", sa.String(4), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("n_cases", sa.Integer, nullable=False),
)
