"""Cold start of the maps: what the public maps of a version need is built once and kept
on disk (service.render.artefacts), so the first request after a restart is as fast as a
warm one.

:func:`prepare` runs the start-up steps that only warm this process (boundary names and
bounds, the simplified admin geometry, one page render that compiles the templates: a few
seconds). :func:`build` writes the artefacts of one version: the public suppression
decisions of every level (country-wide: the slow part of the first public H3 request), the
first-open values payload and geometry of every national map, then of every province map
(tambons first, then H3 r9, r8, r7 and amphoes), skipping what is already on disk. It runs
from ``chipao maps warm`` (an existing version), at the end of ``chipao build`` (a new
one) and in the server's background at start-up (:func:`start`: a version built before the
artefacts existed, or artefacts of older code). No Flask: both take the app's Services.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from service.errors import ChipaoError
from service.geo import boundaries
from service.render import geometry

if TYPE_CHECKING:
    from service.services import Services

log = logging.getLogger(__name__)

#: levels whose public suppression decisions are computed once per version (each level's
#: decisions need its parent's: coarse first)
DECISION_LEVELS = ("province", "amphoe", "tambon", "village", "h3_r6", "h3_r7", "h3_r8",
                   "h3_r9")
#: province map levels in the order their artefacts are built (the page as it opens first)
PROVINCE_ORDER = ("tambon", "h3_r9", "h3_r8", "h3_r7", "amphoe", "h3_r6")


def prepare(s: Services) -> dict[str, float]:
    """Warm this process: boundaries, admin geometry (on disk), templates."""
    from service.render.catalogue import load_catalogue
    from service.usecases import map_values

    took: dict[str, float] = {}
    bdir = str(s.settings.boundaries_dir)
    _step(took, "boundaries", lambda: (boundaries.hierarchy(bdir),
                                       geometry.bounds_of(bdir, None)))
    load_catalogue()
    for level in geometry.ADMIN_LEVELS:
        key = geometry.cache_key(level, "all", geometry.tolerance_for(level, None),
                                 geometry.source_version(bdir, level), bdir)
        _step(took, f"geometry {level}", functools.partial(
            s.geometry.get_or_build, key,
            functools.partial(geometry.admin_geojson, bdir, level, None)))
    params = map_values.MapParams.parse({}, default_dataset=s.settings.default_dataset)
    _step(took, "page html", lambda: _render_page(s, None, "province", params))
    _step(took, "cell places", lambda: geometry.simplified_level(bdir, "tambon", 0.0005))
    return took


def build(s: Services, *, dataset: str | None = None, version: str | None = None,
          provinces: Sequence[str] | None = None, levels: Sequence[str] | None = None,
          progress: Callable[[str, float], None] | None = None) -> dict[str, float]:
    """Write the map artefacts of ``version`` (default: the current version of ``dataset``)
    that are not on disk yet; returns seconds per step. ``provinces``/``levels`` narrow the
    province maps built (default: every province with data, :data:`PROVINCE_ORDER`)."""
    from service.access.views import public_mask
    from service.render.map_page import SCOPE_LEVELS
    from service.usecases import map_values

    took: dict[str, float] = {}
    dataset = dataset or s.settings.default_dataset
    if not s.source.rounds(dataset):
        return took
    if version is None:
        params = map_values.MapParams.parse({}, default_dataset=dataset)
        version = map_values.resolve_round(s, params)[0]
    if version is None:
        return took
    params = map_values.MapParams.parse({"round": version}, default_dataset=dataset)

    def step(name: str, fn: Callable[[], Any]) -> None:
        _step(took, name, fn)
        if progress is not None:
            progress(name, took[name])

    for level in DECISION_LEVELS:
        step(f"decisions {level}", functools.partial(
            public_mask, s.source, dataset, version, level, min_households=s.min_households,
            cache=s.views))
    for level in SCOPE_LEVELS["country"]:
        step(f"national {level}", functools.partial(_map, s, level, None, params))
    order = [lv for lv in (levels or PROVINCE_ORDER) if lv in SCOPE_LEVELS["province"]
             and lv != "village"]  # villages are never public
    codes = list(provinces) if provinces is not None else _provinces(s, dataset, version)
    for level in order:
        for code in codes:
            step(f"{code} {level}", functools.partial(_map, s, level, code, params))
    log.info("map artefacts of %s/%s built in %.1f s", dataset, version, sum(took.values()))
    return took


def build_version_artefacts(settings: Any, dataset: str, version: str, *,
                            progress: Callable[[str, float], None] | None = None
                            ) -> dict[str, float]:
    """:func:`build` for a version just published by a command (``chipao aggregate``,
    ``chipao demo``), with the command's settings: the pipeline's last step."""
    from service.services import Services

    return build(Services.create(settings), dataset=dataset, version=version,
                 progress=progress)


def warm(s: Services, *, dataset: str | None = None) -> dict[str, float]:
    """What the server does in the background after start-up: :func:`prepare`, then
    :func:`build` for the current version (fast when its artefacts are on disk)."""
    took = prepare(s)
    took.update(build(s, dataset=dataset))
    return took


def _map(s: Services, level: str, scope: str | None, params: Any) -> None:
    """The public values and geometry of one map as it first opens (read from disk when
    built before; the values route then serves the same bytes)."""
    from service.usecases import map_values

    req = map_values.values_request(s, None, level, scope, params, public=True)
    stored = map_values.first_open_artefact(s, None, req, params)
    if stored is None or not stored[0].exists(params.dataset, str(req.version), stored[1]):
        map_values.map_values(s, None, req, params, public=True)
    map_values.map_geometry(s, _public(), level, scope,
                            {"dataset": params.dataset, "round": req.version})


def _step(took: dict[str, float], name: str, fn: Callable[[], Any]) -> None:
    t0 = time.perf_counter()
    try:
        fn()
    except ChipaoError as exc:  # a level this dataset has not computed: nothing to build
        log.debug("map warm-up %s skipped: %s", name, exc)
    took[name] = time.perf_counter() - t0


def _public():
    from service.access.principal import PUBLIC

    return PUBLIC


def _provinces(s: Services, dataset: str, version: str) -> list[str]:
    """Provinces with data, most households first."""
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
