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
    assert family.startswith('"Sarabun"') or family.startswith("Sarabun")
    assert recorded_page.console_errors == []
    assert recorded_page.off_server() == set()
    assert recorded_page.failed == []
    name = path.strip("/").replace("/", "-") or "home"
    page.screenshot(path=str(artifacts / f"page-{name}.png"))
