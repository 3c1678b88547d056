"""Every option of every map control, clicked in headless Chromium over a real store.

A person chooses a level, measure, target group, round, change, classes, breaks or cut-off k;
each choice must change the map (its legend, title or colours) and the page's own URL, so
that a reload or a shared link shows the same map. Pages: the national map, a province page
and a tambon page of a signed-in provincial user (villages).
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

LEVEL_WORDS = {"province": "จังหวัด", "amphoe": "อำเภอ", "tambon": "ตำบล", "village": "หมู่บ้าน",
               "h3_r6": "H3 r6", "h3_r7": "H3 r7", "h3_r8": "H3 r8", "h3_r9": "H3 r9"}


@pytest.fixture(scope="module")
def store_server(tmp_path_factory):
    import api_dataset  # tests/ is on sys.path (its conftest)
    from werkzeug.serving import make_server

    app, tokens, ids = api_dataset.build_app(tmp_path_factory.mktemp("controls"),
                                             rate_limit="")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tambon = api_dataset.tambons_of(app.config["CHIPAO"], "TH50")[0][0]
    yield f"http://127.0.0.1:{server.server_port}", tokens, ids, tambon
    server.shutdown()


def _page(chromium_browser, origin, token=None):
    from conftest import PageRecorder

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 860},
                                           locale="th-TH", extra_http_headers=headers)
    return context, PageRecorder(context.new_page(), origin)


def _ready(page):
    page.wait_for_selector("html[data-chipao-ready]", state="attached", timeout=60_000)


def _settled(page) -> int:
    return int(page.get_attribute("html", "data-chipao-settled") or 0)


def _wait_settled(page, before: int):
    page.wait_for_function(
        "n => Number(document.documentElement.getAttribute('data-chipao-settled')) > n",
        arg=before, timeout=30_000)


def _choose(page, name, value):
    """Select an option as a person does and wait for the map to finish reloading values."""
    before = _settled(page)
    page.select_option(f".chipao-form select[name={name}]", value)
    _wait_settled(page, before)


def _query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def _options(page, name) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        f".chipao-form select[name={name}] option", "os => os.map(o => [o.value, o.text])")


def _no_error(page):
    assert page.get_attribute("html", "data-chipao-error") is None, \
        page.locator(".chipao-error").inner_text()
    assert not page.locator(".chipao-error").is_visible()


def _every_value_control(page, level):
    """Click every option of measure, group, classes, breaks, k and round; assert screen+URL."""
    for value, text in _options(page, "measure"):
        _choose(page, "measure", value)
        q = _query(page)
        assert q.get("measure") == value and q.get("level") == level, page.url
        legend = page.locator(".chipao-legend").inner_text()
        th = text.split(" · ")[0]
        assert th in legend or "ไม่มีข้อมูลนี้" in legend, (value, legend)
    _choose(page, "measure", "h")
    _no_error(page)
    for value, text in _options(page, "group"):
        _choose(page, "group", value)
        _no_error(page)
        assert _query(page).get("group", "") == value and _query(page)["level"] == level
        if value:
            assert text.split(" · ")[0] in page.locator(".chipao-legend").inner_text()
    _choose(page, "group", "")
    for name in ("classes", "classifier", "breaks", "k"):
        if not page.locator(f".chipao-form select[name={name}]").count():
            continue
        for value, _ in _options(page, name):
            _choose(page, name, value)
            _no_error(page)
            q = _query(page)
            assert q.get(name, "") == value and q["level"] == level, (name, value, page.url)
            if name == "classes":
                rows = page.locator(".chipao-legend-row").count()
                assert rows >= 3  # classes present (<= asked: few distinct values here)
            if name == "breaks" and value == "national":
                assert "national classes" in page.locator(".chipao-legend").inner_text()
        _choose(page, name, _options(page, name)[0][0] if name in ("k", "breaks") else
                {"classes": "5", "classifier": "quantiles"}[name])


def _change_and_rounds(page, level):
    rounds = [v for v, _ in _options(page, "round")]
    assert len(rounds) == 2
    before = _settled(page)
    page.check(".chipao-form input[name=change]")
    _wait_settled(page, before)
    _no_error(page)
    assert _query(page).get("change") == "1" and _query(page)["level"] == level
    assert "เปลี่ยนแปลงจากรอบก่อน" in page.locator(".chipao-legend").inner_text()
    # the first round has nothing to compare with: a clear message, no stale colours
    _choose(page, "round", rounds[0])
    assert _query(page)["round"] == rounds[0]
    assert page.locator(".chipao-error").is_visible()
    assert "earlier round" in page.locator(".chipao-error").inner_text()
    assert "earlier round" in page.locator(".chipao-legend").inner_text()
    # ... and the next successful load clears it
    _choose(page, "round", rounds[1])
    _no_error(page)
    before = _settled(page)
    page.uncheck(".chipao-form input[name=change]")
    _wait_settled(page, before)
    _choose(page, "round", rounds[0])
    _no_error(page)
    assert "change" not in _query(page) and _query(page)["round"] == rounds[0]


def _every_level(page, path, levels):
    """Each level option navigates to that level: title and URL say so, and the map loads."""
    for level in levels:
        page.select_option(".chipao-form select[name=level]", level)
        page.wait_for_url(re.compile(rf"[?&]level={level}(&|$)"), timeout=30_000)
        _ready(page)
        _no_error(page)
        assert urlsplit(page.url).path == path
        assert LEVEL_WORDS[level] in page.locator(".chipao-title").inner_text()
        assert page.input_value(".chipao-form select[name=level]") == level
        assert _query(page)["measure"] == "m0" and _query(page)["classes"] == "4"
        # a reload of the URL shows the same map
        page.reload()
        _ready(page)
        assert LEVEL_WORDS[level] in page.locator(".chipao-title").inner_text()


PAGES = {
    "national": ("/maps/", None, ["province", "amphoe", "tambon", "h3_r6", "h3_r7"]),
    "province": ("/maps/area/TH50", None, ["tambon", "amphoe", "h3_r7", "h3_r8", "h3_r9"]),
    "tambon-signed-in": ("/maps/area/{tambon}", "cm", ["village", "h3_r9"]),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_option_of_every_control(name, chromium_browser, store_server, artifacts):
    origin, tokens, _ids, tambon = store_server
    path, account, levels = PAGES[name]
    path = path.format(tambon=tambon)
    context, rec = _page(chromium_browser, origin, tokens[account] if account else None)
    page = rec.page
    try:
        page.goto(origin + path)
        _ready(page)
        _no_error(page)
        offered = [v for v, _ in _options(page, "level")]
        assert offered == levels
        _every_value_control(page, levels[0])
        _change_and_rounds(page, levels[0])
        _choose(page, "measure", "m0")
        _choose(page, "classes", "4")
        _every_level(page, path, levels[1:] + levels[:1])
        page.screenshot(path=str(artifacts / f"controls-{name}.png"))
        assert rec.off_server() == set(), rec.off_server()
        assert rec.console_errors == [], rec.console_errors
    finally:
        context.close()


def _hover_grid(page, nx=14, ny=10):
    """Hover a grid of points over the map; yield each visible tooltip's box."""
    box = page.locator(".folium-map").bounding_box()
    points = [(box["x"] + box["width"] * (i + 0.5) / nx,
               box["y"] + box["height"] * (j + 0.5) / ny) for j in range(ny) for i in range(nx)]
    points += [(box["x"] + x, box["y"] + y) for x, y in page.evaluate("window.chipaoProbe(30)")]
    for x, y in points:
        page.mouse.move(x, y)
        seen = page.evaluate(_TIP_JS)
        if seen:
            yield box, seen[0], seen[1]


_TIP_JS = """() => {
    const t = document.querySelector('.chipao-tip');
    if (!t || !t.offsetParent) return null;
    const r = t.getBoundingClientRect();
    return [{x: r.x, y: r.y, width: r.width, height: r.height}, t.innerText];
}"""


def _inside(inner, outer, pad=1):
    return (inner["x"] >= outer["x"] - pad and inner["y"] >= outer["y"] - pad
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + pad
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + pad)


def _overlap(a, b):
    return (a["x"] < b["x"] + b["width"] and a["x"] + a["width"] > b["x"]
            and a["y"] < b["y"] + b["height"] and a["y"] + a["height"] > b["y"])


@pytest.mark.parametrize("path", ["/maps/?measure=h", "/maps/area/TH50?level=h3_r7"])
def test_tooltips_stay_inside_the_map_and_off_the_legend(path, chromium_browser,
                                                         store_server, artifacts):
    origin = store_server[0]
    context, rec = _page(chromium_browser, origin)
    page = rec.page
    try:
        page.set_viewport_size({"width": 1024, "height": 768})
        page.goto(origin + path)
        _ready(page)
        legend = page.locator(".chipao-legend").bounding_box()
        panel = page.locator(".chipao-panel").bounding_box()
        seen = 0
        for box, tip, text in _hover_grid(page):
            seen += 1
            assert _inside(tip, box), (tip, box, text)
            assert not _overlap(tip, legend), (tip, legend, text)
            assert not _overlap(tip, panel), (tip, panel, text)
        assert seen >= 3
        name = path.split("?")[0].strip("/").replace("/", "-")
        page.screenshot(path=str(artifacts / f"tooltip-{name}.png"))
        assert rec.console_errors == [] and rec.off_server() == set()
    finally:
        context.close()


def test_change_map_diverges_around_zero_and_tooltip_says_from_to(chromium_browser,
                                                                  store_server):
    origin = store_server[0]
    context, rec = _page(chromium_browser, origin)
    page = rec.page
    try:
        page.goto(origin + "/maps/?level=province&measure=h&change=1&classes=5")
        _ready(page)
        _no_error(page)
        rows = page.locator(".chipao-legend-row").all_inner_texts()
        classes = [r for r in rows if "households" not in r and "no data" not in r]
        assert len(classes) == 5, rows
        assert "no change" in classes[2] and "ไม่เปลี่ยนแปลง" in classes[2]
        assert len(set(classes)) == 5
        texts = [t for _, _, t in _hover_grid(page) if "from" in t]
        assert texts, "no change tooltip"
        assert re.search(r"จาก · from [\d.]+% → [\d.]+%", texts[0]), texts[0]
        assert rec.console_errors == []
    finally:
        context.close()


def test_priority_tooltip_shows_score_interval_and_top_reasons(chromium_browser, store_server,
                                                               artifacts):
    """#13 item 3: hovering an area of the priority map tells its score out of 100, the 95 %
    interval of score and rank, and the top reasons; the figures are the values API's."""
    import json as _json_mod

    origin = store_server[0]
    context, rec = _page(chromium_browser, origin)
    page = rec.page
    try:
        page.goto(origin + "/maps/area/TH50?measure=priority_rank")
        _ready(page)
        _no_error(page)
        api = _json_mod.loads(page.evaluate(
            "u => fetch(u).then(r => r.text())",
            "/maps/values/tambon.json?scope=TH50&measure=priority_rank"))
        cols = api["columns"]
        text = next((t for _, _, t in _hover_grid(page) if "Priority score" in t), None)
        assert text, "no priority tooltip"
        code = page.locator(".chipao-tip .chipao-code").inner_text().strip()
        m = re.search(r"Priority score: ([\d.]+) / 100 \(ช่วง 95% · 95% interval "
                      r"([\d.]+)–([\d.]+)\)", text)
        assert m, text
        score, lo, hi = (float(g) for g in m.groups())
        i = api["codes"].index(code)
        assert round(cols["priority_score"][i], 1) == score
        assert (lo, hi) == (round(cols["score_low"][i], 1), round(cols["score_high"][i], 1))
        r = re.search(r"ลำดับ · rank (\d+) \(ช่วง 95% · 95% interval (\d+)–(\d+)\)", text)
        assert r, text
        rank, rlo, rhi = (int(g) for g in r.groups())
        assert (rank, rlo, rhi) == (cols["value"][i], cols["rank_low"][i], cols["rank_high"][i])
        assert rlo <= rank <= rhi
        assert "เหตุผลหลัก · top reasons" in text
        reasons = page.locator(".chipao-tip .chipao-tip-priority li").all_inner_texts()
        assert reasons and all(re.search(r"\(\+[\d.]+\)$", x) for x in reasons), reasons
        page.screenshot(path=str(artifacts / "tooltip-priority-TH50.png"))
        assert rec.console_errors == [] and rec.off_server() == set()
    finally:
        context.close()


def test_public_r6_map_says_the_hatched_amphoes_beneath_cover_the_gaps(chromium_browser,
                                                                       store_server, artifacts):
    """#13 item 4: the public H3 r6 map draws the amphoes beneath its hexagons (no coarser
    hexagon exists) and says so in the legend and in the tooltip of an amphoe."""
    origin = store_server[0]
    context, rec = _page(chromium_browser, origin)
    page = rec.page
    try:
        page.goto(origin + "/maps/?level=h3_r6&measure=h")
        _ready(page)
        _no_error(page)
        cover = page.locator(".chipao-legend .chipao-legend-cover")
        assert cover.count() == 1
        assert "ตัวเลขของอำเภอ" in cover.inner_text() and "amphoe's figure" in cover.inner_text()
        # zoom onto the data (Chiang Mai) with the search box, then find an amphoe's tooltip
        page.fill(".chipao-search input", "เชียงใหม่")
        page.locator(".chipao-search li[data-code=TH50]").first.click()
        page.wait_for_function("() => document.documentElement.getAttribute("
                               "'data-chipao-found') === 'TH50'", timeout=10_000)
        text = None
        for _ in range(3):  # the flight takes longer on a loaded machine
            page.wait_for_timeout(900)
            text = next((t for _, _, t in _hover_grid(page, 24, 16)
                         if "ตัวเลขของทั้งอำเภอ" in t), None)
            if text:
                break
        assert text, "no amphoe tooltip beneath the hexagons"
        assert "the whole amphoe's figure" in text
        page.screenshot(path=str(artifacts / "map-h3_r6-amphoe-cover.png"))
        assert rec.console_errors == [] and rec.off_server() == set()
    finally:
        context.close()
