"""`chipao info`: what this installation holds, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from service.settings import settings_from_env


@click.command("info")
def command() -> None:
    """Print boundary counts, settings paths and datasets as JSON."""
    from service import __version__
    from service.geo.boundaries import hierarchy

    settings = settings_from_env()
    h = hierarchy(settings.boundaries_dir)
    out = {"version": __version__, **h.counts(), "data_dir": settings.data_dir}
    try:
        from service.store.catalog import Catalog

        # The embedded store lives in data_dir; a fresh checkout has none yet.
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)

        out["datasets"] = Catalog.from_settings(settings).summary()
    except ModuleNotFoundError:
        pass
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))
