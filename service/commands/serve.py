"""`chipao serve`: the production WSGI server on settings host/port/threads.

One process: waitress (any OS). ``--workers N`` (N > 1): gunicorn on Linux/Unix with N worker
processes of ``threads`` threads each, sharing the catalog database, the data directory and the
rate-limit store (Redis), so sign-in sessions, token revocations, rate limits and newly
published versions hold across the processes (and across servers behind one proxy).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import click

from service.settings import Settings, SettingsLike, as_settings, settings_from_env

log = logging.getLogger(__name__)


def run_server(settings: SettingsLike, **overrides: Any) -> None:
    """Serve :func:`service.create_app` with waitress until interrupted."""
    settings = as_settings(settings)
    import waitress

    from service import create_app

    settings = settings.replace(**overrides)
    if not settings.secret_key:
        log.warning("CHIPAO_SECRET_KEY is empty: sessions end when the server restarts "
                    "(set it in production)")
    app = create_app(settings)
    waitress.serve(
        app, host=settings.host, port=int(settings.port), threads=int(settings.threads),
        ident="chipao",
        # keep-alive clients beyond waitress' default of 100 connections would wait, unserved,
        # until others close (200 browsers: p99 10 s in `chipao bench load`); gunicorn's
        # worker_connections default is the same 1000
        connection_limit=CONNECTION_LIMIT,
        # bodies above max_upload_mb are refused before they reach Flask
        max_request_body_size=int(settings.max_upload_mb) * 1024 * 1024,
    )


#: open connections waitress serves at once (keep-alive clients each hold one)
CONNECTION_LIMIT = 1000


def check_multiprocess(settings: SettingsLike) -> Settings:
    """Settings for several processes: shared limits required, one session key for all."""
    settings = as_settings(settings)
    if settings.rate_limit and settings.rate_limit_storage_uri.startswith("memory"):
        raise click.UsageError(
            "several processes need a shared rate-limit store: set "
            "CHIPAO_RATE_LIMIT_STORAGE_URI=redis://HOST:6379/0 / หลายโพรเซสต้องใช้ Redis "
            "ร่วมกันสำหรับจำกัดอัตราการเรียก")
    if not settings.secret_key:
        log.warning("CHIPAO_SECRET_KEY is empty: one random key for these workers; sessions "
                    "end at restart and other servers cannot read them (set it in production)")
        settings = settings.replace(secret_key=secrets.token_hex(32))
    return settings


def run_workers(settings: SettingsLike, workers: int) -> None:
    """Serve with gunicorn: ``workers`` processes of ``threads`` threads (Linux/Unix)."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError as exc:  # Windows: no gunicorn
        raise click.UsageError("--workers needs gunicorn (Linux/Unix); on Windows run several "
                               "`chipao serve --port ...` under a process manager") from exc
    checked = check_multiprocess(settings)

    class Chipao(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{checked.host}:{checked.port}", "workers": workers,
                "threads": int(checked.threads), "worker_class": "gthread",
                "timeout": 300, "graceful_timeout": 30, "proc_name": "chipao",
                "accesslog": None, "limit_request_line": 8190,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from service import create_app

            return create_app(checked)  # in each worker, after the fork

    Chipao().run()


@click.command("serve")
@click.option("--host", default=None, help="Listen address (default: setting host).")
@click.option("--port", default=None, type=int, help="Port (default: setting port).")
@click.option("--threads", default=None, type=int, help="Worker threads (default: setting threads).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes; more than 1 runs gunicorn (needs a redis:// rate-limit store).")
def command(host: str | None, port: int | None, threads: int | None, workers: int) -> None:
    """Serve the web pages and the API (waitress; gunicorn with --workers N)."""
    settings = settings_from_env()
    overrides = {k: v for k, v in {"host": host, "port": port, "threads": threads}.items()
                 if v is not None}
    s = settings.replace(**overrides)
    click.echo(f"Chipao on http://{s.host}:{s.port}/ ({workers} × {s.threads} threads)"
               " — Ctrl+C stops")
    if workers > 1:
        run_workers(s, workers)
    else:
        run_server(settings, **overrides)
