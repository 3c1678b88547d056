"""Plain pages (home, sign-in, API docs) render Thai with the served Sarabun font, offline."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/docs"])
def test_plain_page_offline_with_thai_font(path, recorded_page, live_server, artifacts):
    origin, _ = live_server
    page = recorded_page.page
    page.goto(origin + path, wait_until="networkidle")
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate(
        "[...document.fonts].some(f => f.family.includes('Sarabun') && f.status === 'loaded')")
    assert loaded, "the Thai font was not loaded"
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith(('"Sarabun"', "Sarabun"))
    assert recorded_page.console_errors == []
    assert recorded_page.off_server() == set()
    assert recorded_page.failed == []
    name = path.strip("/").replace("/", "-") or "home"
    page.screenshot(path=str(artifacts / f"page-{name}.png"))


def test_home_page_with_figures_offline(chromium_browser, tmp_path, artifacts):
    """The home page over a real store (headline, programmes, top provinces) loads only from
    its own server, with the Thai font and no script errors."""
    import threading
    from urllib.parse import urlsplit

    import api_dataset  # tests/ is on sys.path (its conftest)
    from werkzeug.serving import make_server

    app, _, _ = api_dataset.build_app(tmp_path, rate_limit="")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 860},
                                           locale="th-TH")
    try:
        page = context.new_page()
        hosts: set[str] = set()
        errors: list[str] = []
        page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(origin + "/", wait_until="networkidle")
        page.evaluate("document.fonts.ready")
        assert page.locator("#headline tr[data-measure]").count() >= 7
        assert page.locator("#top-provinces tr[data-code]").count() == 2
        assert page.locator("#top-provinces a[href^='/maps/area/']").count() == 2
        assert hosts == {urlsplit(origin).netloc}
        assert errors == []
        page.screenshot(path=str(artifacts / "page-home-figures.png"), full_page=True)
    finally:
        context.close()
        server.shutdown()
