"""Alembic environment of the catalog database (run by service.store.db, not by alembic.ini).

The connection comes from ``config.attributes["connection"]`` (service.store.db.upgrade) or,
for the ``alembic`` command line, from ``-x url=...`` / ``CHIPAO_DATABASE_URL``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from service.store.db import all_metadata

config = context.config
target_metadata = all_metadata()


def _run(connection: sa.Connection) -> None:
    # render_as_batch: ALTER TABLE on SQLite goes through alembic's copy-and-move batch mode
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "CHIPAO_DATABASE_URL", "")
    if not url:
        raise SystemExit("give -x url=<SQLAlchemy URL> or set CHIPAO_DATABASE_URL")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
