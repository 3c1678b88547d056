"""Shared fixtures (flask tutorial style): app, client, runner on a temporary data dir."""

from __future__ import annotations

import pytest

from service import create_app


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
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
