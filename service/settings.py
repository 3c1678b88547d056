"""Settings declared once: name, default, type, help.

Every setting can be set by environment variable ``CHIPAO_<NAME>`` (upper case) or by the
``overrides`` mapping given to :func:`service.create_app`. Unknown keys are rejected so a typo
never silently falls back to a default (datasette's SETTINGS pattern).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "CHIPAO_"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "var", str,
            "Directory of the embedded store: SQLite catalog, dataset versions (Parquet), caches."),
    Setting("database_url", "", str,
            "SQLAlchemy URL of the catalog; empty = sqlite:///<data_dir>/chipao.db. "
            "PostgreSQL works too, e.g. postgresql+psycopg://user@host/chipao."),
    Setting("boundaries_dir", str(REPO_ROOT / "boundaries"), str,
            "Directory holding the compact admin boundaries (GeoParquet) shipped in the repo."),
    Setting("secret_key", "", str,
            "Flask session/CSRF signing key. Empty = a random key per process (dev only)."),
    Setting("pseudonym_key", "", str,
            "Key of the keyed HMAC that pseudonymises national IDs and names at ingest. Keep it "
            "outside the data directory; without it pseudonyms cannot be recomputed."),
    Setting("min_cell_households", 10, int,
            "Disclosure control: public cells with fewer households than this are suppressed."),
    Setting("population_raster", "", str,
            "Population GeoTIFF (e.g. WorldPop) summed per tambon and H3 cell when a dataset "
            "version is built (pop_raster, survey_gap); empty = none."),
    Setting("map_warmup", True, bool,
            "Build map geometry, public suppression decisions and the national maps' values "
            "in the background when the server starts (cold first loads as fast as warm)."),
    Setting("trusted_proxies", 0, int,
            "Reverse proxies in front of Chipao whose X-Forwarded-For/-Proto/-Host/-Port headers "
            "are trusted (werkzeug ProxyFix); 1 behind one TLS proxy, 0 = none (direct). Needed "
            "for https:// links in embed snippets; never set it when clients reach Chipao "
            "directly (they could forge the headers)."),
    Setting("embed_allowed_origins", "", str,
            "Space-separated portal origins allowed to frame /embed/ pages (CSP frame-ancestors)."),
    Setting("max_upload_mb", 200, int, "Largest accepted upload body, in MiB."),
    Setting("ingest_chunk_rows", 100_000, int,
            "Rows per chunk when ingesting files (bounds memory; larger is a little faster)."),
    Setting("ingest_max_uncompressed_mb", 1024, int,
            "Largest uncompressed size of an uploaded XLSX workbook, in MiB (zip-bomb guard)."),
    Setting("rate_limit", "600 per minute", str,
            "Default Flask-Limiter rate limit per client for API routes."),
    Setting("rate_limit_storage_uri", "memory://", str,
            "Flask-Limiter storage URI (memory:// for one process, redis://... for several)."),
    Setting("host", "127.0.0.1", str, "Address `chipao serve` listens on."),
    Setting("port", 8000, int, "Port `chipao serve` listens on."),
    Setting("threads", 8, int, "Worker threads of the waitress server started by `chipao serve`."),
    Setting("default_dataset", "demo", str, "Dataset shown when a request names none."),
    Setting("basemap", "none", str,
            "Base map under the choropleths: 'none' (blank, fully offline) or a local tile URL "
            "template such as /tiles/{z}/{x}/{y}.png served on the intranet."),
    Setting("upload_wait_seconds", 10.0, float,
            "How long an upload request waits for its import job before answering 202 "
            "Accepted with the job's address (/api/v1/jobs/<id>); the web threads are never "
            "held longer. A request with 'Prefer: respond-async' gets 202 at once."),
    Setting("job_workers", 2, int,
            "Threads running background jobs (uploads, builds); one job per dataset at a "
            "time."),
    Setting("session_cookie_secure", "auto", str,
            "Secure flag of the sign-in cookie: 'auto' (set when the request came over https, "
            "also through a trusted proxy's X-Forwarded-Proto), 'on' or 'off'."),
    Setting("trusted_proxies", 0, int,
            "Number of reverse proxies in front of the server whose X-Forwarded-For/-Proto/"
            "-Host headers are trusted (werkzeug ProxyFix): the real client address then keys "
            "the rate limits and the audit log, and https is seen behind a TLS proxy. 0 = "
            "none (headers ignored: a client could forge them)."),
    Setting("log_level", "INFO", str, "Python logging level."),
    Setting("testing", False, bool, "Flask testing mode."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any) -> Any:
    if setting.type is bool and isinstance(value, str):
        low = value.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"setting {setting.name}: {value!r} is not a boolean")
    try:
        return setting.type(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"setting {setting.name}: {value!r} is not a valid {setting.type.__name__}"
        ) from exc


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return every setting resolved as default < environment < overrides."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    unknown = sorted(k for k in overrides if k.lower() not in _BY_NAME and not k.isupper())
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for s in SETTINGS:
        value: Any = s.default
        env_name = ENV_PREFIX + s.name.upper()
        if env_name in environ:
            value = environ[env_name]
        if s.name in overrides:
            value = overrides[s.name]
        values[s.name] = _coerce(s, value)
    if not values["database_url"]:
        db = Path(values["data_dir"]).resolve() / "chipao.db"
        values["database_url"] = f"sqlite:///{db}"
    return values


def settings_from_env() -> dict[str, Any]:
    """Settings for command-line use (no Flask app)."""
    return load_settings()
