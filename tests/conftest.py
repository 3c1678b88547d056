"""Shared fixtures (flask tutorial style): app, client, runner on a temporary data dir."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from service import create_app

# CI runs on a fresh, possibly slower machine: no per-example deadline, no "too slow" health
# check (examples build real frames); the properties themselves are unchanged.
hypothesis_settings.register_profile(
    "chipao", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
hypothesis_settings.load_profile("chipao")


@pytest.fixture
def app(tmp_path):
    app = create_app({
        "testing": True,
        "data_dir": str(tmp_path / "var"),
        "secret_key": "test-secret",
        "pseudonym_key": "test-pseudonym-key",
    })
    yield app


@pytest.fixture
def services(app):
    """The app's :class:`service.api.services.Services` (store, users, caches, map source)."""
    from service.api.services import services as services_of

    return services_of(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- demo data (owned by the demo-data engineer) ---------------------------------------------
@pytest.fixture(scope="session")
def make_demo_persons(tmp_path_factory):
    """Factory: ``make_demo_persons(provinces=None, amphoes=None, seed=2561,
    with_identifiers=False)`` generates calibrated demo persons (TPMAP 2561) into a session
    temporary directory and returns it (``<dir>/persons/<province>.parquet`` +
    ``manifest.json``). Calls with the same arguments share one directory. Give
    ``amphoes=["TH7502"]`` (about 22 k people, < 1 s) for fast tests."""
    from service.demo.generate import generate

    cache: dict[tuple, object] = {}

    def make(provinces=None, amphoes=None, seed=2561, with_identifiers=False):
        key = (tuple(provinces or ()), tuple(amphoes or ()), seed, with_identifiers)
        if key not in cache:
            out = tmp_path_factory.mktemp("demo-persons")
            generate(list(provinces) if provinces else None, seed=seed, out=out,
                     amphoes=list(amphoes) if amphoes else None,
                     with_identifiers=with_identifiers)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture(scope="session")
def demo_persons_dir(make_demo_persons):
    """Samut Songkhram (TH75), the whole province: 43,535 households, 125,464 people, 903
    target poor, exactly as TPMAP 2561; seed 2561."""
    return make_demo_persons(provinces=["TH75"])
