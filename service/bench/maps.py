"""`chipao bench maps`: load times and payload sizes of map pages in headless Chromium.

Three maps, each drawn two ways in the same run on the same synthetic figures (drawing cost
depends on geometry and feature count, not on the values):

* **chipao**: the /maps page: folium shell + geometry (coverage-simplified, gzipped, cached)
  and values fetched separately, styled in JavaScript on one canvas;
* **naive**: folium.GeoJson of the full geometry with a per-feature ``style_function`` and a
  GeoJsonTooltip, everything inline in one HTML page (folium's CDN links rewritten to the
  local assets so it can load offline).

Load time = navigation start until the choropleth is painted (two animation frames after the
layer is added; for the naive page, after the load event). Each page is opened in a fresh
browser context (cold browser cache) after one warm-up request has filled the server caches.
"""

from __future__ import annotations

import gzip
import logging
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass

import click

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage"]
PROVINCE = "TH30"  # Nakhon Ratchasima: the province with the most tambons


@dataclass
class Result:
    case: str
    variant: str
    features: int
    load_s: list[float]
    html_bytes: int
    html_gzip: int
    json_bytes: int
    json_gzip: int
    heap_mb: float
    build_s: float = 0.0

    def row(self) -> str:
        med = statistics.median(self.load_s) if self.load_s else float("nan")
        json_cell = (f"{self.json_bytes / 1e6:,.2f} MB ({self.json_gzip / 1e6:,.2f} MB gzip)"
                     if self.json_bytes else "–")
        build = f"{self.build_s:,.1f} s" if self.build_s else "–"
        return (f"| {self.case} | {self.variant} | {self.features:,} | {med:,.2f} s | "
                f"{self.html_bytes / 1e6:,.2f} MB ({self.html_gzip / 1e6:,.2f} MB gzip) | "
                f"{json_cell} | {self.heap_mb:,.0f} MB | {build} |")


def _sources(bdir: str, with_h3: bool):
    from service.render import synthetic
    from service.render.sources import FrameSource

    src = FrameSource()
    for level in ("province", "amphoe", "tambon"):
        src.add("bench", "v1", level, synthetic.admin_areas(bdir, level, small_every=23))
    if with_h3:
        t = time.perf_counter()
        src.add("bench", "v1", "h3_r7", synthetic.h3_areas(bdir, 7))
        log.info("synthetic H3 r7 cells in %.1f s", time.perf_counter() - t)
    return src


def naive_html(frame, geoms, measure_col: str) -> str:
    """folium the naive way: full geometry, per-feature style_function, inline GeoJSON."""
    import folium
    import geopandas as gpd

    from service.render import assets
    from service.render.legend import classify, colour_of

    legend = classify(frame[measure_col].to_numpy(), scheme="YlOrRd", k=5)
    assert legend is not None
    gdf = gpd.GeoDataFrame(
        frame[["code", "name_th", "name_en", measure_col]].reset_index(drop=True),
        geometry=list(geoms), crs="EPSG:4326")
    m = folium.Map(location=[13.0, 101.0], zoom_start=6, tiles=None)
    js, css = assets.offline_links()
    m.default_js = js
    m.default_css = css

    def style(feature):
        value = feature["properties"][measure_col]
        return {"fillColor": colour_of(value if value is not None else float("nan"), legend),
                "color": "#ffffff", "weight": 0.5, "fillOpacity": 0.85}

    folium.GeoJson(
        gdf, style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["name_th", "name_en", measure_col]),
    ).add_to(m)
    html = m.get_root().render()
    # folium's GeoJson template binds tooltips with jQuery-free code but names no CDN once
    # default links are replaced; refuse to measure a page that would leave the machine
    return assets.assert_offline(html)


def _measure(browser, url: str, *, ready: str, runs: int) -> tuple[list[float], dict]:
    times = []
    info: dict = {}
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: errors.append(m.text)
                if m.type == "error" else None)
        page.goto(url, wait_until="commit", timeout=300_000)
        if ready == "chipao":
            page.wait_for_selector("html[data-chipao-ready]", timeout=300_000, state="attached")
            timing = page.evaluate("window.chipaoTimings")
            log.info("%s: %s", url, timing)
            elapsed = timing["page_ms"] / 1000
        else:
            page.wait_for_load_state("load", timeout=300_000)
            elapsed = page.evaluate(
                "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                "() => r(performance.now()))))") / 1000
        times.append(elapsed)
        info = page.evaluate("""() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource');
            const json = res.filter(r => /geojson|values/.test(r.name));
            return {
              html: nav.decodedBodySize, html_transfer: nav.encodedBodySize,
              json: json.reduce((a, r) => a + r.decodedBodySize, 0),
              json_transfer: json.reduce((a, r) => a + r.encodedBodySize, 0),
              heap: performance.memory ? performance.memory.usedJSHeapSize : 0,
            };
        }""")
        info["errors"] = errors
        context.close()
    return times, info


@click.command("maps")
@click.option("--runs", type=int, default=3, show_default=True, help="Page loads per case.")
@click.option("--h3/--no-h3", "with_h3", default=True, show_default=True,
              help="Include the national H3 r7 layer (~100,000 cells).")
@click.option("--naive-h3/--no-naive-h3", default=False, show_default=True,
              help="Also time naive folium for H3 r7 (minutes: per-feature styles).")
@click.option("--chromium", default="/usr/bin/chromium", show_default=True)
def command(runs: int, with_h3: bool, naive_h3: bool, chromium: str) -> None:
    """Headless Chromium load times and payload sizes: chipao vs naive folium."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from service import create_app
    from service.geo import boundaries
    from service.settings import load_settings

    settings = load_settings()
    bdir = settings.boundaries_dir
    t = time.perf_counter()
    src = _sources(bdir, with_h3)
    click.echo(f"synthetic area tables: {time.perf_counter() - t:.1f} s", err=True)
    naive_pages: dict[str, str] = {}
    app = create_app({"data_dir": tempfile.mkdtemp(prefix="chipao-bench-"),
                      "default_dataset": "bench", "rate_limit": ""}, source=src)

    def naive_view(name: str):
        from flask import Response

        from service.api.assets import gzip_response

        return gzip_response(Response(naive_pages[name], mimetype="text/html"))

    app.add_url_rule("/bench/naive/<name>", "bench_naive", naive_view)
    cases = [
        ("province tambon map (Nakhon Ratchasima)", "tambon", PROVINCE,
         f"/maps/area/{PROVINCE}?level=tambon"),
        ("national tambon map", "tambon", None, "/maps/?level=tambon"),
    ]
    if with_h3:
        cases.append(("national H3 r7 map", "h3_r7", None, "/maps/?level=h3_r7"))
    results: list[Result] = []
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            client = app.test_client()
            for name, level, scope, path in cases:
                # warm the server caches (simplified geometry) once, as a running server has
                client.get(path)
                geo = f"/maps/geo/{level}.geojson" + (f"?scope={scope}" if scope else "")
                if level.startswith("h3_"):
                    geo += ("&" if scope else "?") + "dataset=bench&round=v1"
                client.get(geo)
                times, info = _measure(browser, base + path, ready="chipao", runs=runs)
                feats = len(src.read_areas("bench", level, province=scope))
                results.append(Result(name, "chipao", feats, times, info["html"],
                                      info["html_transfer"], info["json"], info["json_transfer"],
                                      info["heap"] / 1e6))
                if info["errors"]:
                    click.echo(f"console errors on {path}: {info['errors'][:3]}", err=True)
                if level.startswith("h3_") and not naive_h3:
                    continue
                t = time.perf_counter()
                frame = src.read_areas("bench", level, province=scope)
                frame = frame.assign(h=frame["n_poor"] / frame["n_persons"])
                if level.startswith("h3_"):
                    import h3
                    import shapely

                    from service.render.geometry import h3_geojson  # noqa: F401

                    geoms = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
                             for c in frame["code"]]
                else:
                    full = boundaries.load_level(bdir, level).set_index("code")
                    geoms = full.loc[frame["code"], "geometry"].to_numpy()
                key = level + (scope or "")
                naive_pages[key] = naive_html(frame, geoms, "h")
                build = time.perf_counter() - t
                html = naive_pages[key].encode()
                times, info = _measure(browser, f"{base}/bench/naive/{key}", ready="load",
                                       runs=runs)
                results.append(Result(name, "naive folium", len(frame), times, len(html),
                                      len(gzip.compress(html, 6)), 0, 0, info["heap"] / 1e6,
                                      build))
            browser.close()
    finally:
        server.shutdown()
    click.echo("| map | variant | features | load (median of "
               f"{runs}) | HTML | JSON (geometry + values) | JS heap | Python build |")
    click.echo("|---|---|---|---|---|---|---|---|")
    for r in results:
        click.echo(r.row())
    for name in {r.case for r in results}:
        pair = {r.variant: r for r in results if r.case == name}
        if len(pair) == 2:
            ours, naive = pair["chipao"], pair["naive folium"]
            ratio = statistics.median(naive.load_s) / statistics.median(ours.load_s)
            size = (naive.html_gzip) / max(ours.html_gzip + ours.json_gzip, 1)
            click.echo(f"{name}: {ratio:,.1f}x faster, {size:,.1f}x fewer bytes on the wire")
