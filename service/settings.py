"""Settings declared once, as the typed, frozen :class:`Settings` (name, type, default, help).

Every setting can be set by environment variable ``CHIPAO_<NAME>`` (upper case) or by the
``overrides`` mapping given to :func:`service.create_app`. Unknown keys, in any case, are
rejected (``{"MIN_CELL_HOUSEHOLDS": 3}`` or ``{"Port": 1}`` raise) so a typo never silently
falls back to a default (datasette's SETTINGS pattern). Code reads attributes
(``settings.min_cell_households``); a :class:`Settings` is also a read-only mapping for code
that passes a Settings on as a mapping (``{**settings}``); no code reads ``settings["name"]``
(tests/test_settings_reads.py). :func:`as_settings` turns a partial mapping (tests,
callers of the core) into a full, checked :class:`Settings`, so no use site repeats a default.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "CHIPAO_"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_boundaries() -> str:
    """The boundaries folder of the checkout, or of the installed package (wheel)."""
    here = REPO_ROOT / "boundaries"
    if (here / "provinces.parquet").exists():
        return str(here)
    installed = Path(__file__).resolve().parent / "_data" / "boundaries"
    return str(installed if installed.exists() else here)


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str


@dataclass(frozen=True)
class Settings(Mapping[str, Any]):
    """Every setting of the service, resolved and typed."""

    data_dir: str = _setting("var",
        "Directory of the embedded store: SQLite catalog, dataset versions (Parquet), caches.")
    datasets_url: str = _setting("",
        "Where dataset versions are kept: empty = <data_dir>/datasets; an object-storage "
        "URL (s3://bucket/prefix, fsspec) shared by the servers and builds of several "
        "machines, each keeping a verified local copy under <data_dir>/datasets.")
    s3_endpoint_url: str = _setting("",
        "Endpoint of an S3-compatible object store (MinIO, Ceph, an intranet appliance), "
        "e.g. https://s3.example.go.th; empty = AWS. Credentials: AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY (or an AWS profile), never in this URL.")
    database_url: str = _setting("",
        "SQLAlchemy URL of the catalog; empty = sqlite:///<data_dir>/chipao.db. "
        "PostgreSQL works too, e.g. postgresql+psycopg://user@host/chipao.")
    boundaries_dir: str = _setting(_default_boundaries(),
        "Directory holding the compact admin boundaries (GeoParquet) shipped in the repo.")
    secret_key: str = _setting("",
        "Flask session/CSRF signing key. Empty = a random key per process (dev only).")
    pseudonym_key: str = _setting("",
        "Key of the keyed HMAC that pseudonymises national IDs and names at ingest. Keep it "
        "outside the data directory; without it pseudonyms cannot be recomputed.")
    min_cell_households: int = _setting(10,
        "Disclosure control: public cells with fewer households than this are suppressed.")
    population_raster: str = _setting("",
        "Population GeoTIFF (e.g. WorldPop) summed per tambon and H3 cell when a dataset "
        "version is built (pop_raster, survey_gap); empty = none.")
    embed_allowed_origins: str = _setting("",
        "Space-separated portal origins allowed to frame /embed/ pages (CSP frame-ancestors).")
    max_upload_mb: int = _setting(200,
        "Largest accepted upload body, in MiB.")
    ingest_chunk_rows: int = _setting(100_000,
        "Rows per chunk when ingesting files (bounds memory; larger is a little faster).")
    ingest_workers: int = _setting(0,
        "Processes validating and pseudonymising ingest batches: 0 = automatic (files above "
        "32 MiB on 4+ cores: one per core but one, at most 4; else 1), 1 = all in the "
        "importing process (reader and writer threads), N = N processes.")
    ingest_max_uncompressed_mb: int = _setting(1024,
        "Largest uncompressed size of an uploaded XLSX workbook, in MiB (zip-bomb guard).")
    rate_limit: str = _setting("600 per minute",
        "Default Flask-Limiter rate limit per client for API routes.")
    rate_limit_storage_uri: str = _setting("memory://",
        "Flask-Limiter storage URI (memory:// for one process, redis://... for several).")
    host: str = _setting("127.0.0.1",
        "Address `chipao serve` listens on.")
    port: int = _setting(8000,
        "Port `chipao serve` listens on.")
    threads: int = _setting(8,
        "Worker threads of the waitress server started by `chipao serve`.")
    default_dataset: str = _setting("demo",
        "Dataset shown when a request names none.")
    basemap: str = _setting("none",
        "Base map under the choropleths: 'none' (blank, fully offline) or a local tile URL "
        "template such as /tiles/{z}/{x}/{y}.png served on the intranet.")
    log_level: str = _setting("INFO",
        "Python logging level.")
    map_warmup: bool = _setting(True,
        "Build map geometry, public suppression decisions and the national maps' values "
        "in the background when the server starts (cold first loads as fast as warm).")
    trusted_proxies: int = _setting(0,
        "Reverse proxies in front of Chipao whose X-Forwarded-For/-Proto/-Host/-Port headers "
        "are trusted (werkzeug ProxyFix); 1 behind one TLS proxy, 0 = none (direct). Needed "
        "for https:// links in embed snippets; never set it when clients reach Chipao "
        "directly (they could forge the headers).")
    upload_wait_seconds: float = _setting(10.0,
        "How long an upload request waits for its import job before answering 202 "
        "Accepted with the job's address (/api/v1/jobs/<id>); the web threads are never "
        "held longer. A request with 'Prefer: respond-async' gets 202 at once.")
    job_workers: int = _setting(2,
        "Threads running background jobs (uploads, builds); one job per dataset at a "
        "time.")
    job_process: str = _setting("auto",
        "Where uploads' imports and builds run: 'on' in a separate worker process at lower "
        "priority (niceness job_nice), so a build never takes the web process's CPU or "
        "interpreter lock; 'off' in the job thread; 'auto' = on, except in testing mode.")
    job_nice: int = _setting(10,
        "Niceness added to the worker process of job_process (0-19).")
    session_cookie_secure: str = _setting("auto",
        "Secure flag of the sign-in cookie: 'auto' (set when the request came over https, "
        "also through a trusted proxy's X-Forwarded-Proto), 'on' or 'off'.")
    testing: bool = _setting(False,
        "Flask testing mode.")

    # -- read-only mapping (``settings["name"]``, ``dict(settings)``, ``{**settings}``) --------
    def __getitem__(self, key: str) -> Any:
        if key not in _BY_NAME:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_BY_NAME)

    def __len__(self) -> int:
        return len(_BY_NAME)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (checked and coerced like overrides)."""
        return load_settings({**self, **changes}, environ={})


_TYPES = {"str": str, "int": int, "bool": bool, "float": float}
#: the settings as declarations (README table, CLI help)
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.default, _TYPES[str(f.type)], f.metadata["help"])
    for f in dataclasses.fields(Settings))
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
) -> Settings:
    """Every setting resolved as default < environment < overrides; unknown override keys
    (also an upper- or mixed-case spelling of a known one) raise ValueError."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    unknown = sorted(k for k in overrides if k not in _BY_NAME)
    if unknown:
        hint = [k for k in unknown if k.lower() in _BY_NAME]
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}"
                         + (f" (setting names are lower case: {', '.join(h.lower() for h in hint)})"
                            if hint else ""))
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
    return Settings(**values)


#: what the core accepts: a :class:`Settings`, or a partial mapping completed by :func:`as_settings`
SettingsLike = Settings | Mapping[str, Any]


def as_settings(settings: Mapping[str, Any] | None) -> Settings:
    """``settings`` as a full :class:`Settings`: a Settings is returned as is; a partial
    mapping gets the defaults for what it lacks (not the environment)."""
    if isinstance(settings, Settings):
        return settings
    return load_settings(settings, environ={})


def settings_from_env() -> Settings:
    """Settings for command-line use (no Flask app)."""
    return load_settings()
