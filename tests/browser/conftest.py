"""Browser fixtures: a live Chipao server on 127.0.0.1 (fixture data) and Debian's headless
Chromium through playwright. Every request the page makes is recorded so tests can assert
that nothing leaves the server."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("CHIPAO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from maps_fixtures import frame_source  # tests/ is on sys.path (its conftest)
    from werkzeug.serving import make_server

    from service import create_app

    app = create_app({"testing": True, "data_dir": str(tmp_path_factory.mktemp("var")),
                      "secret_key": "browser-test", "pseudonym_key": "k",
                      "rate_limit": ""}, source=frame_source())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()


@pytest.fixture(scope="session")
def chromium_browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} not installed (make browser installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class PageRecorder:
    def __init__(self, page, origin: str):
        self.page = page
        self.origin = origin
        self.hosts: set[str] = set()
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.failed: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.on("requestfailed", self._failed)

    def _failed(self, request):
        # Chromium aborts a page's low-priority favicon request when the page is left (or
        # loads its next page) before the icon came: not a failure a person sees. A missing
        # icon would be a 404 response, not an abort, and still shows in the server's log.
        if request.url.endswith("/assets/maps/favicon.svg") and \
                "ERR_ABORTED" in (request.failure or ""):
            return
        self.failed.append(request.url)

    def _request(self, request):
        self.requests.append(request.url)
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https"):
            self.hosts.add(parts.netloc)
        elif parts.scheme not in ("data", "blob", "about"):
            self.hosts.add(f"{parts.scheme}:")

    def _console(self, msg):
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def off_server(self) -> set[str]:
        return self.hosts - {urlsplit(self.origin).netloc}


@pytest.fixture
def recorded_page(chromium_browser, live_server):
    origin, _ = live_server
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 860}, locale="th-TH")
    page = context.new_page()
    rec = PageRecorder(page, origin)
    yield rec
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
