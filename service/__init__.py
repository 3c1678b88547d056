"""Chipao (ชี้เป้า): geospatial poverty targeting service.

No app and no configuration exist at import time: call :func:`create_app`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def create_app(overrides: Mapping[str, Any] | None = None, *, source: Any = None):
    """Build the Flask application.

    ``overrides`` maps setting names (see :mod:`service.settings`) to values and wins over
    ``CHIPAO_*`` environment variables. ``source`` serves the map pages' area tables instead
    of the store (a :class:`service.render.sources.FrameSource` in tests and benchmarks).
    The app's resources are one :class:`service.services.Services` object.
    """
    from flask import Flask

    from service.settings import load_settings

    settings = load_settings(overrides)
    app = Flask(__name__, static_folder=None)
    app.config["CHIPAO"] = settings
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.config["TESTING"] = settings.testing
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Thai stays readable
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    from service.ingest.run import remove_stale_work_dirs

    remove_stale_work_dirs(settings)  # raw uploads left by a crash never linger (SEC)
    logging.getLogger("service").setLevel(settings.log_level.upper())

    from service.api import init_app
    from service.services import Services

    Services.create(settings, source=source).init_app(app)
    init_app(app)
    if settings.trusted_proxies > 0:
        # behind the TLS proxy: request.scheme/host/remote_addr are the client's (embed
        # snippets say https://portal-facing-host, not http://127.0.0.1:8000)
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n,  # type: ignore[method-assign]
                                x_port=n)
    return app
