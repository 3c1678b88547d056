"""A portal on another origin embeds a Chipao map: the iframe loads (CSP frame-ancestors
allows the portal), folds its panel and legend at 400x300, speaks the language asked for,
tells the portal which area was clicked (postMessage), and the portal reads the public
GeoJSON across origins (CORS)."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

THAI = re.compile(r"[\u0e00-\u0e7f]")

PORTAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portal</title>
<link rel="icon" href="data:,"></head><body>
<h1>Provincial portal</h1>
<iframe id="map" src="{chipao}/embed/area/TH50?level=tambon&measure=h&lang=en"
        width="400" height="300" style="border:0"></iframe>
<pre id="msg"></pre><pre id="geo"></pre>
<script>
window.addEventListener("message", function (e) {{
  if (e.data && e.data.type === "chipao:area-click") {{
    document.getElementById("msg").textContent = e.origin + " " + JSON.stringify(e.data);
  }}
}});
fetch("{chipao}/maps/geo/province.geojson").then(function (r) {{ return r.json(); }})
  .then(function (g) {{ document.getElementById("geo").textContent = "features " + g.features.length; }});
</script></body></html>
"""


@pytest.fixture(scope="module")
def two_origins(tmp_path_factory):
    from maps_fixtures import frame_source  # tests/ is on sys.path (its conftest)
    from werkzeug.serving import make_server

    from service import create_app

    root = tmp_path_factory.mktemp("portal")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    portal = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    portal_origin = f"http://localhost:{portal.server_port}"
    app = create_app({"testing": True, "data_dir": str(root / "var"), "secret_key": "e",
                      "pseudonym_key": "k", "rate_limit": "",
                      "embed_allowed_origins": portal_origin}, source=frame_source())
    chipao = make_server("127.0.0.1", 0, app, threaded=True)
    chipao_origin = f"http://127.0.0.1:{chipao.server_port}"
    (root / "portal.html").write_text(PORTAL_PAGE.format(chipao=chipao_origin),
                                      encoding="utf-8")
    for srv in (portal, chipao):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield portal_origin, chipao_origin
    portal.shutdown()
    portal.server_close()
    chipao.shutdown()
    chipao.server_close()


def test_a_portal_on_another_origin_embeds_the_map(chromium_browser, two_origins, artifacts):
    portal_origin, chipao_origin = two_origins
    context = chromium_browser.new_context(viewport={"width": 900, "height": 700})
    page = context.new_page()
    hosts: set[str] = set()
    errors: list[str] = []
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(portal_origin + "/portal.html")
        page.wait_for_function("() => document.getElementById('geo').textContent"
                               " === 'features 77'", timeout=30_000)  # CORS
        frame = next(f for f in page.frames if "/embed/area/TH50" in f.url)
        frame.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)
        # a small iframe: panel and legend folded, the map visible
        assert frame.locator(".chipao-panel.chipao-collapsed").count() == 1
        assert frame.locator(".chipao-legend.chipao-collapsed").count() == 1
        assert not frame.locator(".chipao-legend-row").first.is_visible()
        # lang=en: the legend speaks English only
        frame.locator(".chipao-legend-toggle").click()
        legend = frame.locator(".chipao-legend").inner_text()
        assert "Headcount ratio" in legend and not THAI.search(legend), legend
        page.screenshot(path=str(artifacts / "embed-cross-origin.png"))
        # a click on an area tells the portal (postMessage)
        box = page.locator("#map").bounding_box()
        for x, y in frame.evaluate("window.chipaoProbe(30)"):
            page.mouse.click(box["x"] + x, box["y"] + y)
            if page.locator("#msg").inner_text():
                break
        msg = page.locator("#msg").inner_text()
        assert msg.startswith(chipao_origin + " "), msg
        assert re.search(r'"code":"TH50\d{4}"', msg) and '"level":"tambon"' in msg
        assert '"measure":"h"' in msg
        assert hosts <= {urlsplit(portal_origin).netloc, urlsplit(chipao_origin).netloc}, hosts
        assert errors == [], errors
    finally:
        context.close()


def test_embed_code_page_options_and_copy(chromium_browser, two_origins, artifacts):
    _, chipao_origin = two_origins
    context = chromium_browser.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=chipao_origin)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(chipao_origin + "/embed-code?scope=TH50&level=tambon&measure=h")
        snippet = page.locator("#snippet").input_value()
        assert "round=v2" in snippet and "aspect-ratio" in snippet  # responsive by default
        page.select_option("select[name=size]", "400x300")
        page.uncheck("input[name=legend]")
        page.select_option("select[name=lang]", "th")
        snippet = page.locator("#snippet").input_value()
        assert 'width="400" height="300"' in snippet
        assert "legend=0" in snippet and "lang=th" in snippet and "round=v2" in snippet
        assert "lang=th" in page.locator("#preview").get_attribute("src")
        page.get_by_role("button", name=re.compile("คัดลอก")).click()
        page.locator("#copied", has_text="Copied").wait_for(timeout=5000)
        assert page.evaluate("navigator.clipboard.readText()") == snippet
        page.screenshot(path=str(artifacts / "embed-code-options.png"))
        assert errors == []
    finally:
        context.close()
