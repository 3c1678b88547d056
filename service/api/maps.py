"""/maps/: interactive choropleth pages (folium + chipao-map.js) and their two data routes.

* ``GET /maps/`` national map (``level`` = province, amphoe, tambon, h3_r6, h3_r7);
* ``GET /maps/area/<code>`` map inside a province/amphoe/tambon (its amphoes, tambons,
  villages or H3 cells); clicking an area drills down to the next page;
* ``GET /maps/geo/<level>.geojson?scope=`` geometry, simplified and gzipped once, cached;
* ``GET /maps/values/<level>.json?scope=&measure=&group=&round=&change=&classes=&classifier=``
  one value row per area and the classed legend.

Public callers (and provincial users outside their province) get figures that passed
disclosure control; villages need a signed-in user of that province (audited).
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from flask import Blueprint, Flask, Response, current_app, request

from service.access.principal import visibility_key
from service.access.views import protect_rows
from service.api.assets import accepts_gzip, gzip_response, precompressed_json
from service.api.services import services
from service.errors import InvalidInput, NotFound
from service.geo import boundaries
from service.render import geometry
from service.render.builders import MapPage, render_page
from service.render.catalogue import GROUPS, load_catalogue
from service.render.legend import CLASSIFIERS
from service.render.payload import values_payload
from service.render.sources import AreaSource
from service.vocabulary import LEVEL_LABELS, check_dataset_name

log = logging.getLogger(__name__)

bp = Blueprint("maps", __name__)

#: level -> (Thai, English) label of the map's areas
LEVELS: dict[str, tuple[str, str]] = {lv: tuple(label) for lv, label in  # type: ignore[misc]
                                      LEVEL_LABELS.items() if lv != "country"}
#: levels a page of each scope offers (first = default)
SCOPE_LEVELS: dict[str, tuple[str, ...]] = {
    "country": ("province", "amphoe", "tambon", "h3_r6", "h3_r7"),
    "province": ("tambon", "amphoe", "village", "h3_r7", "h3_r8", "h3_r9"),
    "amphoe": ("tambon", "village", "h3_r8", "h3_r9"),
    "tambon": ("village", "h3_r9"),
}


#: the order chipao-map.js writes its query string in (so the preloaded URL is reused)
JS_QUERY_ORDER = ("measure", "group", "round", "change", "classes", "classifier", "dataset",
                  "k")
#: area key of each level in the scored person table, for re-counting at another k
PERSON_KEYS = {"tambon": 8, "amphoe": 6, "province": 4}


# -- helpers shared with service.api.embed ---------------------------------------------------
def settings() -> dict[str, Any]:
    return current_app.config["CHIPAO"]


#: the poverty cut-offs a map can be re-counted at (any other k: 422)
K_CHOICES = (0.2, 0.26, 0.33, 0.4, 0.5)


def source() -> AreaSource:
    return services().source


def geometry_cache() -> geometry.GeometryCache:
    return services().geometry


def principal():
    from service.api.auth import current_principal

    return current_principal()


def _hierarchy():
    return boundaries.hierarchy(settings()["boundaries_dir"])


def check_scope(scope: str | None) -> str:
    """Level of the scope (``country`` for None); NotFound for codes not in the boundaries."""
    if not scope:
        return "country"
    try:
        level = boundaries.level_of(scope)
    except ValueError as exc:
        raise InvalidInput(f"{exc} / รหัสพื้นที่ไม่ถูกต้อง", column="scope") from None
    if level not in ("province", "amphoe", "tambon"):
        raise InvalidInput(f"{scope} is not a province, amphoe or tambon code "
                           f"/ {scope} ไม่ใช่รหัสจังหวัด อำเภอ หรือตำบล", column="scope")
    try:
        _hierarchy().name(scope)
    except KeyError:
        raise NotFound(f"no area {scope} / ไม่พบพื้นที่ {scope}") from None
    return level


def check_level(scope: str | None, level: str | None) -> str:
    allowed = SCOPE_LEVELS[check_scope(scope)]
    if not level:
        return allowed[0]
    if level not in allowed:
        raise InvalidInput(
            f"level {level!r} is not offered here; choose one of {', '.join(allowed)} "
            f"/ ไม่มีระดับ {level!r} ในแผนที่นี้",
            column="level")
    return level


@dataclass(frozen=True)
class MapParams:
    dataset: str
    measure: str
    group: str | None
    round: str | None
    change: bool
    classes: int
    classifier: str
    k: float | None = None

    @classmethod
    def from_args(cls, args) -> MapParams:
        cat = load_catalogue()
        measure = args.get("measure") or cat.default
        if measure not in cat.measures:
            raise InvalidInput(f"unknown measure {measure!r}; see /api/v1/measures "
                               f"/ ไม่มีตัวชี้วัด {measure!r}", column="measure")
        group = args.get("group") or None
        if group is not None and group not in GROUPS:
            raise InvalidInput(f"group must be one of {', '.join(GROUPS)} "
                               "/ กลุ่มเป้าหมายไม่ถูกต้อง", column="group")
        if group is not None and not cat.get(measure).grouped:
            raise InvalidInput(f"measure {measure!r} has no target-group breakdown "
                               "/ ตัวชี้วัดนี้แยกตามกลุ่มเป้าหมายไม่ได้",
                               column="group")
        try:
            classes = int(args.get("classes", 5))
        except ValueError:
            raise InvalidInput("classes must be a whole number 2-9 / จำนวนชั้นต้องเป็น 2-9",
                               column="classes") from None
        if not 2 <= classes <= 9:
            raise InvalidInput("classes must be between 2 and 9 / จำนวนชั้นต้องเป็น 2-9",
                               column="classes")
        classifier = args.get("classifier") or "quantiles"
        if classifier not in CLASSIFIERS:
            raise InvalidInput(f"classifier must be one of {', '.join(CLASSIFIERS)} "
                               "/ วิธีแบ่งชั้นไม่ถูกต้อง",
                               column="classifier")
        change = str(args.get("change", "")).lower() in {"1", "true", "yes", "on"}
        dataset = check_dataset_name(args.get("dataset") or settings()["default_dataset"])
        k = None
        if args.get("k"):
            try:
                k = float(args["k"])
            except ValueError:
                raise InvalidInput("k (poverty cut-off) must be a number such as 0.33 "
                                   "/ ค่า k (เกณฑ์ความยากจน) ต้องเป็นตัวเลข เช่น 0.33",
                                   column="k") from None
            if not 0 < k <= 1:
                raise InvalidInput("k (poverty cut-off) must be in (0, 1] "
                                   "/ ค่า k ต้องมากกว่า 0 และไม่เกิน 1", column="k")
            # only the offered cut-offs: each is re-counted from persons once and cached, so
            # the cost per version and area is bounded (SEC: availability, docs/security.md)
            offered = [c for c in K_CHOICES if abs(k - c) < 1e-9]
            if not offered:
                values = ", ".join(f"{c:g}" for c in K_CHOICES)
                raise InvalidInput(f"k (poverty cut-off) must be one of {values} "
                                   f"/ ค่า k ต้องเป็นค่าใดค่าหนึ่งต่อไปนี้ {values}", column="k")
            k = offered[0]
        return cls(dataset, measure, group, args.get("round") or None, change, classes,
                   classifier, k)

    def query(self) -> dict[str, Any]:
        q: dict[str, Any] = {"measure": self.measure, "classes": self.classes,
                             "classifier": self.classifier}
        if self.group:
            q["group"] = self.group
        if self.round:
            q["round"] = self.round
        if self.change:
            q["change"] = 1
        if self.dataset != settings()["default_dataset"]:
            q["dataset"] = self.dataset
        if self.k is not None:
            q["k"] = self.k
        return q


def _basemap() -> str | None:
    value = settings()["basemap"].strip()
    if not value or value.lower() == "none":
        return None
    if not value.startswith("/") or value.startswith("//"):
        log.warning("basemap %r is not a local path on this server: ignored (maps stay "
                    "offline)", value)
        return None
    return value


def _resolve_round(params: MapParams) -> tuple[str | None, str | None, list]:
    """(version, previous version, rounds) for the requested round."""
    rounds = source().rounds(params.dataset)
    if not rounds:
        return params.round, None, []
    ids = [r.id for r in rounds]
    current = getattr(source(), "current_id", lambda _d: None)(params.dataset)
    if params.round is None:
        # the catalog's current version (roll-back with `chipao datasets use` included)
        idx = ids.index(current) if current in ids else len(ids) - 1
    elif params.round in ids:
        idx = ids.index(params.round)
    else:
        by_number = [i for i, r in enumerate(rounds) if str(r.round) == params.round]
        if not by_number:
            raise NotFound(f"no round {params.round!r} in dataset {params.dataset!r} / "
                           f"ไม่พบรอบข้อมูล {params.round}")
        idx = by_number[-1]
    previous = ids[idx - 1] if idx > 0 else None
    return ids[idx], previous, rounds


def can_see_villages(p, scope: str | None) -> bool:
    from service.api.auth import can_see_province

    return p.is_authenticated and scope is not None and can_see_province(p, scope)


def build_page(scope: str | None, level: str | None, params: MapParams, *,
               embed: bool = False) -> MapPage:
    """The :class:`MapPage` for a scope/level (shared by /maps and /embed)."""
    scope_level = check_scope(scope)
    level = check_level(scope, level)
    p = None if embed else principal()
    if level == "village" and (embed or not can_see_villages(p, scope)):
        from service.api.auth import require_province

        if embed:
            raise NotFound("villages are never embedded / ไม่เผยแพร่ระดับหมู่บ้าน")
        require_province(scope)
    h = _hierarchy()
    cat = load_catalogue()
    base = "/embed" if embed else "/maps"
    query = params.query()
    scope_q = f"?scope={scope}" if scope else ""
    data_q = ""
    if level.startswith("h3_") or level == "village":
        version, _, _ = _resolve_round(params)
        data_q = ("&" if scope_q else "?") + f"dataset={params.dataset}"
        if version:
            data_q += f"&round={version}"
    if scope:
        title_th = f"{h.name(scope, 'th')}: {LEVELS[level][0]}"
        title_en = f"{h.name(scope, 'en')}: {LEVELS[level][1]}"
    else:
        title_th = f"ประเทศไทย: {LEVELS[level][0]}"
        title_en = f"Thailand: {LEVELS[level][1]}"
    crumbs = [{"th": "ประเทศไทย · Thailand", "url": f"{base}/"}]
    code = scope
    chain = []
    while code:
        chain.append(code)
        code = boundaries.parent_code(code)
    for c in reversed(chain):
        crumbs.append({"th": f"{h.name(c, 'th')} · {h.name(c, 'en')}", "url": f"{base}/area/{c}"})
    # drill-down: province -> its amphoes -> their tambons -> villages (signed-in users)
    drill = None
    if level == "province":
        drill = f"{base}/area/{{code}}?level=amphoe"
    elif level == "amphoe":
        drill = f"{base}/area/{{code}}"
    elif level == "tambon" and not embed and p is not None and p.is_authenticated and (
            p.role == "national" or can_see_villages(p, scope)):
        drill = f"{base}/area/{{code}}"
    outline_level = {"tambon": "amphoe", "amphoe": "province"}.get(level)
    if level.startswith("h3_") or level == "village":
        outline_level = {"country": "province", "province": "amphoe",
                         "amphoe": "tambon", "tambon": "tambon"}[scope_level]
    outline_url = None
    if outline_level and not (scope_level == "country" and outline_level == "amphoe"):
        outline_scope = scope if scope_level != "tambon" else scope
        if outline_level == "province" and scope:
            outline_scope = None
        outline_url = f"/maps/geo/{outline_level}.geojson" + (
            f"?scope={outline_scope}" if outline_scope else "")
    if scope_level == "country" and level in ("amphoe", "tambon") and not outline_url:
        outline_url = "/maps/geo/province.geojson"
    levels = [
        {"id": lv, "th": LEVELS[lv][0], "en": LEVELS[lv][1],
         "url": f"{base}/area/{scope}" if scope else f"{base}/"}
        for lv in SCOPE_LEVELS[scope_level]
        if lv != "village" or (not embed and can_see_villages(p, scope))
    ]
    rounds = [] if embed else [
        {"id": r.id, "label": r.label} for r in source().rounds(params.dataset)
    ]
    if rounds and not query.get("round"):
        query["round"] = _resolve_round(params)[0]  # the round selector shows the current one
    measures = [m.to_json() for m in cat.measures.values()]
    groups = [{"id": g, "th": th, "en": en} for g, (th, en) in cat.groups.items()]
    bounds = geometry.bounds_of(settings()["boundaries_dir"], scope)
    page = MapPage(
        title_th=title_th, title_en=title_en, level=level,
        geometry_url=f"/maps/geo/{level}.geojson{scope_q}{data_q}",
        values_url=f"{base}/values/{level}.json{scope_q}",
        bounds=bounds,
        max_bounds=geometry.bounds_of(settings()["boundaries_dir"], None),
        params={**query, "scope": scope, "level": level},
        measures=measures, groups=groups, rounds=rounds, levels=levels,
        breadcrumbs=crumbs, drill=drill, outline_url=outline_url,
        outline_name={"province": "ขอบเขตจังหวัด · Province boundaries",
                      "amphoe": "ขอบเขตอำเภอ · District boundaries",
                      "tambon": "ขอบเขตตำบล · Sub-district boundaries"}.get(
                          outline_level or "", "ขอบเขต · Boundaries"),
        layer_name=f"{LEVELS[level][0]} · {LEVELS[level][1]}",
        feature_label_th=LEVELS[level][0], feature_label_en=LEVELS[level][1],
        basemap=_basemap(), min_households=settings()["min_cell_households"],
        embed=embed,
        embed_code_url=None if embed else "/embed-code?" + urlencode(
            [("level", level)] + ([("scope", scope)] if scope else [])),
        values_first=f"{base}/values/{level}.json{scope_q}" + ("&" if scope_q else "?")
        + urlencode([(k, query[k]) for k in JS_QUERY_ORDER if query.get(k) not in (None, "")]),
        # another poverty cut-off is re-counted per province from the scored persons
        k_choices=list(K_CHOICES) if (
            scope and not embed and (level in PERSON_KEYS or level == "village")) else [],
        line_weight=0.2 if level.startswith("h3_") or (level == "tambon" and not scope)
        else 0.6,
    )
    return page


def page_response(page: MapPage) -> Response:
    html = render_page(page)
    return gzip_response(Response(html, mimetype="text/html"))


# -- data --------------------------------------------------------------------------------------
def protect(frame: pd.DataFrame, p, *, dataset: str, version: str, level: str,
            public: bool = False) -> pd.DataFrame:
    """Disclosure control of the rows ``p`` may not see unsuppressed (all of them for
    public callers), with the country-wide decisions of service.access.views."""
    s = services()
    return protect_rows(s.source, dataset, version, level, frame, None if public else p,
                        min_households=s.min_households, cache=s.views)


def _h3_in_scope(frame: pd.DataFrame, scope: str) -> pd.DataFrame:
    """H3 rows whose centre lies in an amphoe/tambon (provinces filter by province_code)."""
    import h3
    import shapely

    level = boundaries.level_of(scope)
    bnd = boundaries.load_level(settings()["boundaries_dir"], level)
    poly = bnd.loc[bnd["code"] == scope, "geometry"]
    if poly.empty or frame.empty:
        return frame.iloc[0:0]
    centres = [h3.cell_to_latlng(c) for c in frame["code"]]
    pts = shapely.points([c[1] for c in centres], [c[0] for c in centres])
    inside = shapely.contains_xy(poly.iloc[0], shapely.get_x(pts), shapely.get_y(pts))
    return frame[np.asarray(inside, dtype=bool)]


def read_scope(dataset: str, level: str, scope: str | None, version: str | None
               ) -> pd.DataFrame:
    province = scope[:4] if scope else None
    frame = source().read_areas(dataset, level, version=version, province=province)
    if scope and len(scope) > 4:
        if level.startswith("h3_"):
            frame = _h3_in_scope(frame, scope)
        else:
            frame = frame[frame["code"].astype(str).str.startswith(scope)]
    return frame.reset_index(drop=True)


def values_response(level: str, *, public: bool) -> Response:
    scope = request.args.get("scope") or None
    level = check_level(scope, level)
    params = MapParams.from_args(request.args)
    p = None if public else principal()
    if level == "village":
        if public:
            raise NotFound("villages are never embedded / ไม่เผยแพร่ระดับหมู่บ้าน")
        from service.api.auth import require_province

        require_province(scope)
    version, previous_id, _ = _resolve_round(params)
    visibility = visibility_key(p)
    key = (params.dataset, version, previous_id if params.change else None, level, scope,
           params.measure, params.group, params.classes, params.classifier, params.k,
           visibility)
    if level == "village":
        from service.api.auth import audit

        audit("map.villages", f"{params.dataset}/{version}/{scope}", params.measure)
    cache = services().map_values
    cached = cache.get(key) if version else None
    if cached is None:
        cached = _values_body(level, scope, params, version, previous_id, p, public)
        if version:
            cache.put(key, cached)
    body, packed = cached
    return precompressed_json(body, packed)


def at_cutoff(frame: pd.DataFrame, params: MapParams, level: str, scope: str | None,
              version: str | None) -> pd.DataFrame:
    """The area table re-counted at poverty cut-off ``params.k`` from the scored persons.

    Counts that depend on k (poor, intensity, vulnerable, censored deprivations, group poor)
    are summed again with service.analysis.mpi.area_counts; the rest (households, coverage)
    are kept; ratios are recomputed from the sums.
    """
    if params.k is None or frame.empty:
        return frame
    import polars as pl

    from service.analysis import mpi
    from service.analysis.spec import load_spec

    spec = load_spec(source().spec_name(params.dataset, version))
    if abs(params.k - spec.k) < 1e-9:
        return frame
    if not scope or level not in PERSON_KEYS and level != "village":
        raise InvalidInput(
            f"a cut-off k other than {spec.k:g} is computed per province: open a province, "
            "amphoe or tambon map at tambon, amphoe or village level / "
            "เปลี่ยนค่า k ได้ในแผนที่ระดับจังหวัด อำเภอ หรือตำบล", column="k")
    persons = source().read_persons(params.dataset, scope[:4], version=version)
    if level == "village":
        key = pl.col("village_id")
    else:
        key = pl.col("tambon_located").str.slice(0, PERSON_KEYS[level])
    try:
        counts = mpi.area_counts(persons.with_columns(key.alias("_area")), spec, by="_area",
                                 k=params.k).to_pandas().set_index("_area")
    except pl.exceptions.ColumnNotFoundError as exc:
        raise InvalidInput(f"this dataset cannot be re-counted at another k: {exc}".split(
            "\n")[0], column="k") from None
    out = frame.copy()
    k_free = {"n_persons", "n_households", "n_scored", "n_deprived_any"} | {
        c for c in counts.columns if c.startswith(("n_dep_", "n_elig_", "n_cov_", "n_excl_",
                                                    "n_incl_err_"))}
    for col in counts.columns:
        if col in out.columns and col not in k_free:
            out[col] = out["code"].map(counts[col]).astype("float64")
    ratio_cols = [c for c in ("h", "a", "m0") if c in out.columns] + [
        c for c in out.columns if c.startswith(("h_", "m0_"))]
    return mpi.ratios_from_counts(out.drop(columns=ratio_cols))


def without_small_cells(frame: pd.DataFrame, p, *, public: bool = False) -> pd.DataFrame:
    """H3 cells with fewer than ``min_cell_households`` households, dropped for callers who
    may not see them: an H3 code is a location, so even a hatched cell would tell that a
    household lives there (CONTRACT §3a nulls the location of suppressed areas)."""
    if frame.empty or "n_households" not in frame.columns:
        return frame
    minimum = settings()["min_cell_households"]
    small = pd.to_numeric(frame["n_households"], errors="coerce").fillna(0) < minimum
    if not small.any():
        return frame
    if public or p is None or not p.is_authenticated:
        hidden = small
    else:
        from service.api.auth import needs_suppression

        provinces = frame["province_code"].astype(str) if "province_code" in frame.columns \
            else pd.Series([None] * len(frame), index=frame.index)
        hidden = small & provinces.map(lambda c: needs_suppression(p, c)).astype(bool)
    return frame.loc[~hidden].reset_index(drop=True)


def _values_body(level: str, scope: str | None, params: MapParams, version: str | None,
                 previous_id: str | None, p, public: bool) -> tuple[bytes, bytes]:
    frame = at_cutoff(read_scope(params.dataset, level, scope, version), params, level,
                      scope, version)
    if level.startswith("h3_"):
        frame = without_small_cells(frame, p, public=public)
    previous = None
    if params.change:
        if previous_id is None:
            raise InvalidInput("there is no earlier round to compare with / "
                               "ไม่มีรอบข้อมูลก่อนหน้าให้เปรียบเทียบ", column="change")
        previous = protect(at_cutoff(read_scope(params.dataset, level, scope, previous_id),
                                     params, level, scope, previous_id), p,
                           dataset=params.dataset, version=previous_id, level=level,
                           public=public)
    frame = protect(frame, p, dataset=params.dataset, version=str(version), level=level,
                    public=public)
    measure = load_catalogue().get(params.measure)
    if measure.id == "priority_rank" and "priority_rank" not in frame.columns:
        frame = _with_rank(frame, previous)
        if previous is not None:
            previous = _with_rank(previous, None)
    try:
        payload = values_payload(frame, measure, group=params.group, previous=previous,
                                 classes=params.classes, classifier=params.classifier)
    except ValueError as exc:
        raise InvalidInput(str(exc), column="measure") from None
    payload["version"] = version
    payload["level"] = level
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode()
    return body, gzip.compress(body, compresslevel=6, mtime=0)


def _with_rank(frame: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Priority rank within the areas shown (service.analysis.rank), suppressed rows last."""
    from service.analysis.rank import rank_areas

    if frame.empty:
        return frame.assign(priority_rank=pd.Series(dtype="float64"))
    visible = frame
    if "suppressed" in frame.columns:
        visible = frame[~frame["suppressed"].fillna(False).astype(bool)]
    if visible.empty:
        return frame.assign(priority_rank=np.nan)
    ranked = rank_areas(visible, previous=previous, explain=False)
    ranks = ranked.set_index("code")["priority_rank"]
    return frame.assign(priority_rank=frame["code"].map(ranks).astype("float64"))


def geometry_response(level: str) -> Response:
    scope = request.args.get("scope") or None
    if level not in LEVELS:
        raise NotFound(f"no level {level!r}")
    check_scope(scope)
    bdir = str(settings()["boundaries_dir"])
    cache = geometry_cache()
    public_cache = True
    if level in geometry.ADMIN_LEVELS:
        key = geometry.cache_key(level, scope or "all", geometry.tolerance_for(level, scope),
                                 geometry.source_version(bdir, level), bdir)
        data = cache.get_or_build(key, lambda: geometry.admin_geojson(bdir, level, scope))
    else:
        params = MapParams.from_args(request.args)
        version, _, _ = _resolve_round(params)
        if level == "village":
            from service.api.auth import audit, require_province

            require_province(scope)
            frame = read_scope(params.dataset, "village", scope, version)
            pts = source().village_points(params.dataset, frame["code"].tolist(),
                                          version=version)
            data = gzip.compress(geometry.point_geojson(
                pts["code"].tolist(), pts.geometry.x.tolist(), pts.geometry.y.tolist()),
                mtime=0)
            audit("map.village_points", f"{params.dataset}/{version}/{scope}")
            public_cache = False
        else:
            p = principal()
            key = geometry.cache_key(level, scope or "all", params.dataset, version,
                                     visibility_key(p))

            def build() -> bytes:
                frame = without_small_cells(read_scope(params.dataset, level, scope, version), p)
                return geometry.h3_compact(frame["code"].astype(str).tolist())

            data = cache.get_or_build(key, build)
    if accepts_gzip():
        resp = Response(data, mimetype="application/geo+json")
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = Response(gzip.decompress(data), mimetype="application/geo+json")
    resp.vary.add("Accept-Encoding")
    resp.set_etag(geometry.cache_key("etag", len(data), data[-64:].hex()))
    if public_cache:
        resp.headers["Cache-Control"] = "public, max-age=86400"
    resp.make_conditional(request)
    return resp


# -- routes --------------------------------------------------------------------------------------
@bp.get("/maps/")
def national():
    params = MapParams.from_args(request.args)
    return page_response(build_page(None, request.args.get("level"), params))


@bp.get("/maps/area/<code>")
def area(code: str):
    params = MapParams.from_args(request.args)
    return page_response(build_page(code, request.args.get("level"), params))


@bp.get("/maps/geo/<level>.geojson")
def geo(level: str):
    return geometry_response(level)


@bp.get("/maps/values/<level>.json")
def values(level: str):
    return values_response(level, public=False)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
