"""`chipao serve`: the production WSGI server (waitress) on settings host/port/threads."""

from __future__ import annotations

import logging
from typing import Any

import click

from service.settings import settings_from_env

log = logging.getLogger(__name__)


def run_server(settings: dict[str, Any], **overrides: Any) -> None:
    """Serve :func:`service.create_app` with waitress until interrupted."""
    import waitress

    from service import create_app

    settings = {**settings, **overrides}
    if not settings["secret_key"]:
        log.warning("CHIPAO_SECRET_KEY is empty: sessions end when the server restarts "
                    "(set it in production)")
    app = create_app(settings)
    waitress.serve(
        app, host=settings["host"], port=int(settings["port"]), threads=int(settings["threads"]),
        ident="chipao",
        # bodies above max_upload_mb are refused before they reach Flask
        max_request_body_size=int(settings["max_upload_mb"]) * 1024 * 1024,
    )


@click.command("serve")
@click.option("--host", default=None, help="Listen address (default: setting host).")
@click.option("--port", default=None, type=int, help="Port (default: setting port).")
@click.option("--threads", default=None, type=int, help="Worker threads (default: setting threads).")
def command(host: str | None, port: int | None, threads: int | None) -> None:
    """Serve the web pages and the API with waitress (production WSGI server)."""
    settings = settings_from_env()
    overrides = {k: v for k, v in {"host": host, "port": port, "threads": threads}.items()
                 if v is not None}
    s = {**settings, **overrides}
    click.echo(f"Chipao on http://{s['host']}:{s['port']}/ ({s['threads']} threads) — Ctrl+C stops")
    run_server(settings, **overrides)
