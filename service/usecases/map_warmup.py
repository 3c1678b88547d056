"""Cold start of the maps: what the first map requests after a restart need is built in the
background as the server starts, so the first person waits no longer than the second.

The work, in the order people ask for it: boundary names and bounds, the simplified national
and per-province admin geometry (kept on disk across restarts by the geometry cache), the
public suppression decisions of every level of the current version (service.access.views,
country-wide, the slow part of the first public H3 request), and the default values payload
of the national maps. No Flask: :func:`warm` takes the app's Services.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from service.errors import ChipaoError
from service.geo import boundaries
from service.render import geometry

if TYPE_CHECKING:
    from service.services import Services

log = logging.getLogger(__name__)

#: national pages warmed with their default values payload (public), in this order
NATIONAL_LEVELS = ("province", "tambon", "amphoe", "h3_r7", "h3_r6")
#: levels whose public suppression decisions are computed once per version
DECISION_LEVELS = ("tambon", "amphoe", "village", "h3_r7", "h3_r8", "h3_r9")


def warm(s: Services, *, dataset: str | None = None) -> dict[str, float]:
    """Build the caches of the current version of ``dataset``; returns seconds per step."""
    from service.render.catalogue import load_catalogue
    from service.usecases import map_values

    took: dict[str, float] = {}

    def step(name: str, fn) -> None:
        t0 = time.perf_counter()
        try:
            fn()
        except ChipaoError as exc:  # a level this dataset has not computed: nothing to warm
            log.debug("map warm-up %s skipped: %s", name, exc)
        took[name] = time.perf_counter() - t0

    bdir = str(s.settings.boundaries_dir)
    step("boundaries", lambda: (boundaries.hierarchy(bdir), geometry.bounds_of(bdir, None)))
    load_catalogue()
    for level in geometry.ADMIN_LEVELS:
        key = geometry.cache_key(level, "all", geometry.tolerance_for(level, None),
                                 geometry.source_version(bdir, level), bdir)
        step(f"geometry {level}", lambda key=key, level=level: s.geometry.get_or_build(
            key, lambda: geometry.admin_geojson(bdir, level, None)))
    dataset = dataset or s.settings.default_dataset
    params = map_values.MapParams.parse({}, default_dataset=dataset)
    if not s.source.rounds(dataset):
        return took
    for level in NATIONAL_LEVELS:
        def national(level=level) -> None:
            req = map_values.values_request(s, None, level, None, params, public=True)
            map_values.map_values(s, None, req, params, public=True)
            map_values.map_geometry(s, _public(), level, None, {"dataset": dataset})
        step(f"national {level}", national)
    step("page html", lambda: _render_page(s, None, "province", params))
    step("cell places", lambda: geometry.simplified_level(bdir, "tambon", 0.0005))
    provinces = _provinces(s, dataset)
    province = provinces[0] if provinces else None
    if province:
        for level in DECISION_LEVELS:
            if level == "village":
                continue  # villages are never public: no decisions to warm for the public
            def provincial(level=level) -> None:
                req = map_values.values_request(s, None, level, province, params, public=True)
                map_values.map_values(s, None, req, params, public=True)
                map_values.map_geometry(s, _public(), level, province, {"dataset": dataset})
            step(f"{province} {level}", provincial)
    # every province page as it first opens (tambons, default measure), most households
    # first; then each province's public H3 r8/r9 (covers and place names are per province)
    for levels in (("tambon",), ("h3_r9", "h3_r8")):
        for code in provinces:
            for level in levels:
                def province_page(code=code, level=level) -> None:
                    req = map_values.values_request(s, None, level, code, params, public=True)
                    map_values.map_values(s, None, req, params, public=True)
                    map_values.map_geometry(s, _public(), level, code, {"dataset": dataset})
                if f"{code} {level}" not in took:
                    step(f"{code} {level}", province_page)
    log.info("maps warmed in %.1f s (%s)", sum(took.values()),
             ", ".join(f"{k} {v:.1f}s" for k, v in took.items()))
    return took


def _public():
    from service.access.principal import PUBLIC

    return PUBLIC


def _provinces(s: Services, dataset: str) -> list[str]:
    """Provinces with data, most households first (the first one's H3 tables prime the
    country-wide public decisions)."""
    version = s.source.rounds(dataset)[-1].id
    try:
        frame = s.source.read_areas(dataset, "province", version=version)
    except ChipaoError:
        return []
    frame = frame[frame["n_households"].fillna(0) > 0]
    return [str(c) for c in frame.sort_values("n_households", ascending=False)["code"]]


def _render_page(s: Services, scope: str | None, level: str, params) -> None:
    """Render one page (the first folium render of a process compiles its templates)."""
    from service.render.builders import render_page
    from service.usecases import map_values

    render_page(map_values.map_page(s, None, scope, level, params))


def start(s: Services) -> threading.Thread:
    """Warm the maps in a daemon thread (the server answers meanwhile, just more slowly)."""
    def run() -> None:
        try:
            warm(s)
        except Exception:
            log.exception("map warm-up failed (maps still work, the first loads are slower)")

    thread = threading.Thread(target=run, name="chipao-map-warmup", daemon=True)
    thread.start()
    return thread
