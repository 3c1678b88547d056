"""`chipao db`: the catalog database's schema (alembic migrations, applied on open anyway)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from service.settings import settings_from_env


@click.group("db")
def command() -> None:
    """Catalog database schema: upgrade, current revision, new migration."""


@command.command("upgrade")
def upgrade() -> None:
    """Migrate the database of CHIPAO_DATABASE_URL to the newest revision."""
    from service.store import db

    url = settings_from_env().database_url
    eng = db.engine(url)
    with eng.connect() as conn:
        click.echo(f"{eng.url.render_as_string(hide_password=True)}: "
                   f"{', '.join(sorted(db.current_revisions(conn)))}")


@command.command("current")
def current() -> None:
    """Print the database's revision and the newest one (without migrating)."""
    import sqlalchemy as sa

    from service.store import db

    eng = sa.create_engine(settings_from_env().database_url)
    with eng.connect() as conn:
        have = sorted(db.current_revisions(conn))
    eng.dispose()
    click.echo(f"database: {', '.join(have) or '(empty)'}")
    click.echo(f"newest:   {', '.join(sorted(db.head_revisions()))}")


@command.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does, e.g. 'jobs table'.")
@click.option("--autogenerate/--empty", default=True,
              help="Fill in the difference between the Table objects and the migrated schema.")
def revision(message: str, autogenerate: bool) -> None:
    """Write a new migration file into service/store/migrations/versions/ (review it!)."""
    import re

    from alembic import command as alembic

    from service.store import db

    heads = sorted(db.head_revisions())
    number = max(int(h.split("_", 1)[0]) for h in heads) + 1 if heads else 1
    rev_id = f"{number:04d}_" + re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:27]
    with tempfile.TemporaryDirectory() as tmp:
        # autogenerate compares against a scratch SQLite database at the newest revision
        eng = db.engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        with eng.connect() as conn:
            alembic.revision(db.alembic_config(conn), message=message, rev_id=rev_id,
                             autogenerate=autogenerate, head="heads" if len(heads) < 2 else
                             heads[-1])
        eng.dispose()
    click.echo(f"wrote service/store/migrations/versions/{rev_id}.py (down_revision "
               f"{', '.join(heads)}): check it, then add the test data it needs")
