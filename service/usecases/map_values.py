"""Map use cases: the page of a scope and level, its values (one row per area and the classed
legend) and the geometry of villages and H3 cells, as the principal may see them.

Plain values in, plain values out: :class:`MapParams` parsed from any mapping of strings,
the app's :class:`~service.services.Services` (source, store, caches, settings) and the
:class:`~service.access.principal.Principal`; answers are :class:`MapPage`, JSON bytes and
gzipped GeoJSON. Raises :mod:`service.errors`. No Flask.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from service.access.principal import (
    PUBLIC,
    Principal,
    can_see_province,
    needs_suppression,
    require_detail,
    visibility_key,
)
from service.access.views import protect_rows, suppressed_mask
from service.errors import InvalidInput, NotFound
from service.geo import boundaries
from service.render import geometry
from service.render.builders import MapPage
from service.render.catalogue import GROUPS, load_catalogue
from service.render.legend import CLASSIFIERS
from service.render.map_page import PERSON_KEYS, SCOPE_LEVELS, PageInputs, build_page
from service.render.payload import values_payload
from service.vocabulary import BOUNDARY_LEVELS, check_dataset_name

if TYPE_CHECKING:
    from service.services import Services

log = logging.getLogger(__name__)

TRUE = {"1", "true", "yes", "on"}
BREAKS = ("page", "national")


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
    #: "page" (classes of the areas shown) or "national" (the country's classes of this level,
    #: so two province maps on one slide share their colours)
    breaks: str = "page"
    #: follow-up help measures only: one agency's help (FOLLOWUP hook, cases.AGENCY_MEASURES)
    agency: str | None = None

    @classmethod
    def parse(cls, args: Mapping[str, Any], *, default_dataset: str) -> MapParams:
        """The map parameters of a query string; 422 (Thai and English) for bad values."""
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
        change = str(args.get("change", "")).lower() in TRUE
        dataset = check_dataset_name(args.get("dataset") or default_dataset)
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
            from service.render.map_page import K_CHOICES

            offered = [c for c in K_CHOICES if abs(k - c) < 1e-9]
            if not offered:
                values = ", ".join(f"{c:g}" for c in K_CHOICES)
                raise InvalidInput(f"k (poverty cut-off) must be one of {values} "
                                   f"/ ค่า k ต้องเป็นค่าใดค่าหนึ่งต่อไปนี้ {values}", column="k")
            k = offered[0]
        breaks = args.get("breaks") or "page"
        if breaks not in BREAKS:
            raise InvalidInput("breaks must be 'page' or 'national' / "
                               "ช่วงสีต้องเป็น page (ของแผนที่นี้) หรือ national (ระดับประเทศ)",
                               column="breaks")
        return cls(dataset, measure, group, args.get("round") or None, change, classes,
                   classifier, k, breaks, _agency(args.get("agency") or None, measure))

    def query(self, *, default_dataset: str) -> dict[str, Any]:
        q: dict[str, Any] = {"measure": self.measure, "classes": self.classes,
                             "classifier": self.classifier}
        if self.group:
            q["group"] = self.group
        if self.round:
            q["round"] = self.round
        if self.change:
            q["change"] = 1
        if self.dataset != default_dataset:
            q["dataset"] = self.dataset
        if self.k is not None:
            q["k"] = self.k
        if self.breaks != "page":
            q["breaks"] = self.breaks
        if self.agency:
            q["agency"] = self.agency
        return q


def _agency(agency: str | None, measure: str) -> str | None:
    """The ``agency`` of a follow-up help measure: an id of the agency catalogue."""
    if agency is None:
        return None
    from service.usecases.cases import AGENCY_MEASURES, check_agency

    if measure not in AGENCY_MEASURES:
        raise InvalidInput(f"agency applies to {', '.join(AGENCY_MEASURES)} only / เลือก"
                           "หน่วยงานได้เฉพาะตัวชี้วัดการช่วยเหลือ", column="agency")
    return check_agency(agency)


# -- scope, level, round -----------------------------------------------------------------------
def check_scope(s: Services, scope: str | None) -> str:
    """Level of the scope (``country`` for None); NotFound for codes not in the boundaries."""
    if not scope:
        return "country"
    try:
        level = boundaries.level_of(scope)
    except ValueError as exc:
        raise InvalidInput(f"{exc} / รหัสพื้นที่ไม่ถูกต้อง", column="scope") from None
    if level not in BOUNDARY_LEVELS:
        raise InvalidInput(f"{scope} is not a province, amphoe or tambon code "
                           f"/ {scope} ไม่ใช่รหัสจังหวัด อำเภอ หรือตำบล", column="scope")
    try:
        boundaries.hierarchy(s.settings.boundaries_dir).name(scope)
    except KeyError:
        raise NotFound(f"no area {scope} / ไม่พบพื้นที่ {scope}") from None
    return level


def check_level(s: Services, scope: str | None, level: str | None) -> str:
    """The level shown (the scope's default when None); 422 for a level not offered."""
    allowed = SCOPE_LEVELS[check_scope(s, scope)]
    if not level:
        return allowed[0]
    if level not in allowed:
        raise InvalidInput(
            f"level {level!r} is not offered here; choose one of {', '.join(allowed)} "
            f"/ ไม่มีระดับ {level!r} ในแผนที่นี้",
            column="level")
    return level


def resolve_round(s: Services, params: MapParams) -> tuple[str | None, str | None, list]:
    """(version, previous version, rounds) for the requested round."""
    rounds = s.source.rounds(params.dataset)
    if not rounds:
        return params.round, None, []
    ids = [r.id for r in rounds]
    current = getattr(s.source, "current_id", lambda _d: None)(params.dataset)
    if params.round is None:
        # the catalog's current version (roll-back with `chipao datasets use` included; SEC)
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


def can_see_villages(p: Principal | None, scope: str | None) -> bool:
    return p is not None and p.is_authenticated and scope is not None and \
        can_see_province(p, scope)


def basemap(value: str) -> str | None:
    """The base map tile URL when it is a path on this server (maps stay offline)."""
    value = value.strip()
    if not value or value.lower() == "none":
        return None
    if not value.startswith("/") or value.startswith("//"):
        log.warning("basemap %r is not a local path on this server: ignored (maps stay "
                    "offline)", value)
        return None
    return value


# -- the page ----------------------------------------------------------------------------------
def map_page(s: Services, p: Principal | None, scope: str | None, level: str | None,
             params: MapParams, *, embed: bool = False) -> MapPage:
    """The page of a scope and level. Embedded pages are public and never show villages;
    a village page needs a signed-in user of that province (401/403)."""
    scope_level = check_scope(s, scope)
    level = check_level(s, scope, level)
    viewer = None if embed else p
    if level == "village":
        if embed:
            raise NotFound("villages are never embedded / ไม่เผยแพร่ระดับหมู่บ้าน")
        if not can_see_villages(viewer, scope):
            require_detail(viewer or PUBLIC, scope)
    default = s.settings.default_dataset
    query = params.query(default_dataset=default)
    data_version = None
    if level.startswith("h3_") or level == "village":
        data_version = resolve_round(s, params)[0]
    rounds = [] if embed else [{"id": r.id, "label": r.label}
                               for r in s.source.rounds(params.dataset)]
    if rounds and not query.get("round"):
        query["round"] = resolve_round(s, params)[0]  # the round selector shows the current one
    bdir = str(s.settings.boundaries_dir)
    villages = can_see_villages(viewer, scope)
    from service.usecases.published import map_availability  # TPMAP hook

    published, unavailable = map_availability(s, params.dataset, resolve_round(s, params)[0],
                                              level)
    return build_page(PageInputs(
        scope=scope, scope_level=scope_level, level=level, query=query,
        dataset=params.dataset, data_version=data_version, rounds=rounds,
        catalogue=load_catalogue(), name=boundaries.hierarchy(bdir).name,
        bounds=geometry.bounds_of(bdir, scope), max_bounds=geometry.bounds_of(bdir, None),
        basemap=basemap(s.settings.basemap), min_households=s.min_households, embed=embed,
        villages_visible=villages,
        signed_in=viewer is not None and viewer.is_authenticated,
        village_drill=viewer is not None and viewer.is_authenticated and (
            viewer.role == "national" or villages),
        published=published, unavailable=unavailable, **_agency_choice(published)))


def _agency_choice(published: bool) -> dict[str, Any]:
    """The agency control of the follow-up help measures (FOLLOWUP hook)."""
    if published:
        return {}
    from service.followup.catalogue import load_actions
    from service.usecases.cases import AGENCY_MEASURES

    return {"agencies": [{"id": a.id, "th": a.label_th, "en": a.label_en}
                         for a in load_actions().agencies.values()],
            "agency_measures": list(AGENCY_MEASURES)}


# -- the values ----------------------------------------------------------------------------------
def read_scope(s: Services, dataset: str, level: str, scope: str | None, version: str | None
               ) -> pd.DataFrame:
    """Stored rows of ``level`` inside ``scope`` (H3 cells by their centre)."""
    province = scope[:4] if scope else None
    frame = s.source.read_areas(dataset, level, version=version, province=province)
    if scope and len(scope) > 4:
        if level.startswith("h3_"):
            frame = _h3_in_scope(s, frame, scope)
        else:
            frame = frame[frame["code"].astype(str).str.startswith(scope)]
    return frame.reset_index(drop=True)


def _h3_in_scope(s: Services, frame: pd.DataFrame, scope: str) -> pd.DataFrame:
    """H3 rows whose centre lies in an amphoe/tambon (provinces filter by province_code)."""
    import h3
    import shapely

    level = boundaries.level_of(scope)
    bnd = boundaries.load_level(s.settings.boundaries_dir, level)
    poly = bnd.loc[bnd["code"] == scope, "geometry"]
    if poly.empty or frame.empty:
        return frame.iloc[0:0]
    centres = [h3.cell_to_latlng(c) for c in frame["code"]]
    pts = shapely.points([c[1] for c in centres], [c[0] for c in centres])
    inside = shapely.contains_xy(poly.iloc[0], shapely.get_x(pts), shapely.get_y(pts))
    return frame[np.asarray(inside, dtype=bool)]


def at_cutoff(s: Services, frame: pd.DataFrame, params: MapParams, level: str,
              scope: str | None, version: str | None) -> pd.DataFrame:
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

    spec = load_spec(s.source.spec_name(params.dataset, version))
    if abs(params.k - spec.k) < 1e-9:
        return frame
    if not scope or (level not in PERSON_KEYS and level != "village"):
        raise InvalidInput(
            f"a cut-off k other than {spec.k:g} is computed per province: open a province, "
            "amphoe or tambon map at tambon, amphoe or village level / "
            "เปลี่ยนค่า k ได้ในแผนที่ระดับจังหวัด อำเภอ หรือตำบล", column="k")
    persons = s.source.read_persons(params.dataset, scope[:4], version=version)
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


def without_small_cells(frame: pd.DataFrame, p: Principal | None, *, min_households: int
                        ) -> pd.DataFrame:
    """H3 cells with fewer than ``min_households`` households, dropped for callers who may
    not see them: an H3 code is a location, so even a hatched cell would tell that a
    household lives there (CONTRACT §3a nulls the location of suppressed areas)."""
    if frame.empty or "n_households" not in frame.columns:
        return frame
    small = pd.to_numeric(frame["n_households"], errors="coerce").fillna(0) < min_households
    if not small.any():
        return frame
    if p is None or not p.is_authenticated:
        hidden = small
    else:
        provinces = frame["province_code"].astype(str) if "province_code" in frame.columns \
            else pd.Series([None] * len(frame), index=frame.index)
        viewer = p
        hidden = small & provinces.map(lambda c: needs_suppression(viewer, c)).astype(bool)
    return frame.loc[~hidden].reset_index(drop=True)


def _protect(s: Services, frame: pd.DataFrame, p: Principal | None, *, dataset: str,
             version: str, level: str) -> pd.DataFrame:
    """Disclosure control of the rows ``p`` may not see unsuppressed (all of them for the
    public), with the country-wide decisions of service.access.views."""
    return protect_rows(s.source, dataset, version, level, frame, p,
                        min_households=s.min_households, cache=s.views)


@dataclass(frozen=True)
class ValuesRequest:
    level: str
    scope: str | None
    version: str | None
    previous: str | None


def values_request(s: Services, p: Principal | None, level: str, scope: str | None,
                   params: MapParams, *, public: bool) -> ValuesRequest:
    """Check a values request (level offered in the scope, villages only for users who may
    see them) and resolve its round."""
    level = check_level(s, scope, level)
    if level == "village":
        if public:
            raise NotFound("villages are never embedded / ไม่เผยแพร่ระดับหมู่บ้าน")
        require_detail(p or PUBLIC, scope)
    version, previous, _ = resolve_round(s, params)
    return ValuesRequest(level, scope, version, previous)


def map_values(s: Services, p: Principal | None, req: ValuesRequest, params: MapParams, *,
               public: bool) -> tuple[bytes, bytes]:
    """The values payload (JSON and its gzip) of a checked request, cached per version,
    parameters and visibility (versions never change)."""
    viewer = None if public else p
    if load_catalogue().get(params.measure).family == "followup":
        return _followup_values(s, viewer, req, params)  # case tables: never cached here
    key = (params.dataset, req.version, req.previous if params.change else None, req.level,
           req.scope, params.measure, params.group, params.classes, params.classifier,
           params.k, params.breaks, visibility_key(viewer))
    if not req.version:
        return _values_body(s, req, params, viewer)
    stored = first_open_artefact(s, viewer, req, params)
    if stored is None:
        return s.map_values.get_or_build(key, lambda: _values_body(s, req, params, viewer))
    artefacts, name = stored

    def load_or_build() -> tuple[bytes, bytes]:
        data = artefacts.read_bytes(params.dataset, req.version, name)
        if data is not None:
            return gzip.decompress(data), data
        body, data = _values_body(s, req, params, viewer)
        artefacts.write_bytes(params.dataset, req.version, name, data)
        return body, data

    return s.map_values.get_or_build(key, load_or_build)


def first_open_artefact(s: Services, viewer: Principal | None, req: ValuesRequest,
                        params: MapParams) -> tuple[Any, str] | None:
    """(artefacts, file name) when this values payload is kept on disk across restarts:
    the public payload of a map as it first opens (default measure, classes, classifier,
    no group, change, k or fixed breaks) of a version of the app's store; else None (other
    payloads are built on demand from the stored public decisions, and kept in memory)."""
    from dataclasses import replace

    from service.render.artefacts import values_name

    artefacts = getattr(s, "artefacts", None)
    if artefacts is None or getattr(s.source, "store", None) is not s.store or \
            visibility_key(viewer) != "public" or not req.version:
        return None
    if replace(params, round=None) != MapParams.parse({}, default_dataset=params.dataset):
        return None
    bdir = str(s.settings.boundaries_dir)
    context = "|".join([str(s.min_households), *(geometry.source_version(bdir, lv)
                                                 for lv in BOUNDARY_LEVELS)])
    if req.level == f"h3_r{COARSEST_H3}":  # payloads stored before the amphoe cover differ
        context += "|amphoe-cover"
    return artefacts, values_name(req.level, req.scope, context)


def _values_body(s: Services, req: ValuesRequest, params: MapParams, p: Principal | None
                 ) -> tuple[bytes, bytes]:
    level, scope, version, previous_id = req.level, req.scope, req.version, req.previous
    frame = at_cutoff(s, read_scope(s, params.dataset, level, scope, version), params, level,
                      scope, version)
    covers = None
    if level.startswith("h3_"):
        frame, covers = cells_with_cover(s, p, frame, params.dataset, level, scope, version)
    previous = None
    if params.change:
        if previous_id is None:
            raise InvalidInput("there is no earlier round to compare with / "
                               "ไม่มีรอบข้อมูลก่อนหน้าให้เปรียบเทียบ", column="change")
        previous = _protect(s, at_cutoff(s, read_scope(s, params.dataset, level, scope,
                                                       previous_id),
                                         params, level, scope, previous_id), p,
                            dataset=params.dataset, version=previous_id, level=level)
    frame = _protect(s, frame, p, dataset=params.dataset, version=str(version), level=level)
    if covers is not None and not covers.empty:
        frame = pd.concat([covers, frame], ignore_index=True)
    measure = load_catalogue().get(params.measure)
    if measure.id == "priority_rank" and "priority_rank" not in frame.columns:
        frame = _with_rank(frame, previous, intervals=not params.change)
        if previous is not None:
            previous = _with_rank(previous, None)
    fixed = None
    if params.breaks == "national" and scope:
        fixed = _national_legend(s, p, req, params, measure)
    try:
        payload = values_payload(frame, measure, group=params.group, previous=previous,
                                 classes=params.classes, classifier=params.classifier,
                                 fixed=fixed)
    except ValueError as exc:
        raise InvalidInput(str(exc), column="measure") from None
    payload["version"] = version
    payload["level"] = level
    payload["k"] = params.k if params.k is not None else _dataset_k(s, params.dataset, version)
    payload["breaks"] = "national" if fixed is not None else "page"
    if "cover_resolution" in frame.columns and frame["cover_resolution"].notna().any():
        payload["covered"] = True
        payload["cover_resolution"] = [None if pd.isna(v) else int(v)
                                       for v in frame["cover_resolution"]]
    if "cover_level" in frame.columns and frame["cover_level"].notna().any():
        payload["covered"] = True  # r6: the amphoes beneath the hexagons
        payload["cover_level"] = [v if isinstance(v, str) else None
                                  for v in frame["cover_level"]]
    if level.startswith("h3_") and payload["codes"]:
        from service.render.places import cell_places
        from service.vocabulary import ADMIN_CODE

        def is_admin_code(code: str) -> bool:
            return ADMIN_CODE.fullmatch(code) is not None

        codes = payload["codes"]
        admin = [is_admin_code(c) for c in codes]  # the amphoes beneath an r6 map
        found = cell_places(s.settings.boundaries_dir, [c for c, a in zip(codes, admin,
                                                                          strict=True)
                                                        if not a])
        if any(admin):
            it = {lang: iter(v) for lang, v in found.items()}
            found = {lang: ["" if a else next(it[lang]) for a in admin] for lang in it}
        payload["places"] = found
    if "priority_score" in frame.columns:
        _priority_extras(frame, payload)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode()
    return body, gzip.compress(body, compresslevel=6, mtime=0)


def _followup_values(s: Services, p: Principal | None, req: ValuesRequest, params: MapParams
                     ) -> tuple[bytes, bytes]:
    """Values of a follow-up measure (family ``followup``): progress of the cases of the
    map's round from the catalog (service.usecases.cases.map_progress: exact for the
    provinces ``p`` may see, the public's disclosure-controlled figures elsewhere)."""
    from service.usecases.cases import map_progress

    if params.change:
        raise InvalidInput("follow-up measures have no change map: choose a round instead / "
                           "ตัวชี้วัดการติดตามครัวเรือนไม่มีแผนที่การเปลี่ยนแปลง เลือกรอบข้อมูลแทน",
                           column="change")
    round_no = s.store.version(params.dataset, req.version).round if req.version else None
    frame = map_progress(s, p or PUBLIC, dataset=params.dataset, level=req.level,
                         scope=req.scope, round=round_no, agency=params.agency)
    payload = values_payload(frame, load_catalogue().get(params.measure),
                             classes=params.classes, classifier=params.classifier)
    payload.update(version=req.version, level=req.level, round=round_no, k=None,
                   breaks="page", agency=params.agency)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode()
    return body, gzip.compress(body, compresslevel=6, mtime=0)


def _dataset_k(s: Services, dataset: str, version: str | None) -> float | None:
    """The poverty cut-off the version was scored with (shown in legends and prints)."""
    from service.analysis.spec import load_spec
    from service.usecases.published import is_published

    if is_published(s.store, dataset, version):  # TPMAP hook: published tables have no k
        return None
    try:
        return float(load_spec(s.source.spec_name(dataset, version)).k)
    except Exception:
        log.debug("no spec k for %s/%s", dataset, version, exc_info=True)
        return None


def _national_legend(s: Services, p: Principal | None, req: ValuesRequest, params: MapParams,
                     measure: Any):
    """Classes of the whole country's table of this level, as ``p`` may see it."""
    from service.render.payload import national_legend

    level, version = req.level, req.version
    frame = read_scope(s, params.dataset, level, None, version)
    if level.startswith("h3_"):
        frame = without_small_cells(frame, p, min_households=s.min_households)
    frame = _protect(s, frame, p, dataset=params.dataset, version=str(version), level=level)
    previous = None
    if params.change and req.previous:
        previous = _protect(s, read_scope(s, params.dataset, level, None, req.previous), p,
                            dataset=params.dataset, version=req.previous, level=level)
    if measure.id == "priority_rank" and "priority_rank" not in frame.columns:
        frame = _with_rank(frame, previous)
    return national_legend(frame, measure, group=params.group, previous=previous,
                           classes=params.classes, classifier=params.classifier)


def cells_with_cover(s: Services, p: Principal | None, frame: pd.DataFrame, dataset: str,
                     level: str, scope: str | None, version: str | None
                     ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(H3 cells ``p`` may see located, their published coarser ancestors drawn beneath).

    Cells with fewer than min households are not even located for callers who may not see
    them; the published cells one and two resolutions coarser are drawn beneath instead
    (service.analysis.disclosure.cover_with_parents), so that the gaps do not read as
    "nobody lives here" and no gap tells where a small household group lives.
    """
    from service.analysis.disclosure import cover_with_parents

    visible = without_small_cells(frame, p, min_households=s.min_households)
    res = int(level.rsplit("r", 1)[1])
    if res == COARSEST_H3:
        return _r6_with_amphoe_cover(s, p, visible, len(frame), dataset, scope, version)
    if len(visible) == len(frame):
        return visible, None
    parents: dict[str, pd.DataFrame] = {}
    for r in range(res - 1, max(6, res - 2) - 1, -1):
        lv = f"h3_r{r}"
        try:
            table = read_scope(s, dataset, lv, scope, version)
        except NotFound:
            continue
        table = without_small_cells(table, p, min_households=s.min_households)
        parents[lv] = _protect(s, table, p, dataset=dataset, version=str(version), level=lv)
    covers = cover_with_parents(frame, parents, resolution=res)
    return visible, covers


#: the coarsest H3 resolution published: no coarser hexagon covers its gaps
COARSEST_H3 = 6
#: the area whose public figures cover the gaps of the coarsest H3 map
R6_COVER_LEVEL = "amphoe"


def _r6_with_amphoe_cover(s: Services, p: Principal | None, visible: pd.DataFrame,
                          n_cells: int, dataset: str, scope: str | None, version: str | None
                          ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """H3 r6 has no published coarser hexagon: its gaps are covered by the amphoes.

    For a caller who may not see every cell, the r6 map keeps the published cells only
    (neither the cells of fewer than min households nor the complementary suppressed ones are
    located) and draws beneath them every published amphoe of the scope with the public
    amphoe map's own figures (``cover_level`` = "amphoe"; no new sum). Every amphoe is drawn,
    not only those holding a hidden cell, so the cover says nothing about where a small
    household group lives; the legend says so.
    """
    shown = _protect(s, visible, p, dataset=dataset, version=str(version), level="h3_r6")
    if "suppressed" in shown.columns:
        published = ~suppressed_mask(shown).to_numpy()
        visible = visible.loc[published].reset_index(drop=True)
    if len(visible) == n_cells:
        return visible, None
    try:
        table = read_scope(s, dataset, R6_COVER_LEVEL, scope, version)
    except NotFound:
        return visible, None
    table = _protect(s, table, p, dataset=dataset, version=str(version),
                     level=R6_COVER_LEVEL)
    if "suppressed" in table.columns:
        table = table[~suppressed_mask(table)]
    return visible, table.assign(cover_resolution=np.nan, cover_level=R6_COVER_LEVEL
                                 ).reset_index(drop=True)


def _priority_extras(frame: pd.DataFrame, payload: dict) -> None:
    """Priority score (0-100) and the three largest contributions per area, for tooltips."""
    from service.analysis.rank import load_config
    from service.render.payload import _column

    labels = {c.id: (c.label_th or c.id, c.label_en or c.id)
              for c in load_config().components}
    contrib = [c for c in frame.columns if c.startswith("contrib_")]
    suppressed = suppressed_mask(frame).to_numpy()
    score = pd.to_numeric(frame["priority_score"], errors="coerce").to_numpy("float64")
    payload["columns"]["priority_score"] = _column(np.where(suppressed, np.nan, score))
    reasons: list[list[str] | None] = []
    values = frame[contrib].apply(pd.to_numeric, errors="coerce").to_numpy("float64") \
        if contrib else np.zeros((len(frame), 0))
    for i in range(len(frame)):
        if suppressed[i] or not contrib:
            reasons.append(None)
            continue
        row = values[i]
        order = [j for j in np.argsort(-np.nan_to_num(row, nan=-1.0))[:3] if row[j] > 0]
        reasons.append([f"{labels.get(contrib[j][8:], (contrib[j][8:],) * 2)[0]} · "
                        f"{labels.get(contrib[j][8:], (contrib[j][8:],) * 2)[1]} "
                        f"(+{row[j]:.1f})" for j in order])
    payload["reasons"] = reasons
    if "rank_lo" in frame.columns:  # 95 % intervals of the rank and the score
        for src, dst in (("rank_lo", "rank_low"), ("rank_hi", "rank_high"),
                         ("score_lo", "score_low"), ("score_hi", "score_high")):
            v = pd.to_numeric(frame[src], errors="coerce").to_numpy("float64")
            payload["columns"][dst] = _column(np.where(suppressed, np.nan, v))
        payload["interval"] = {"n_boot": MAP_RANK_REPLICATES, "level": 0.95,
                               "method": "binomial resampling of the area table shown "
                                         "(service.analysis.uncertainty.resample_areas)"}


#: replicates of the rank interval on priority maps: the ranking page's "resampling of the
#: visible area table" (a lower bound on the uncertainty; the household bootstrap needs the
#: persons and is on the ranking page for users who may see them)
MAP_RANK_REPLICATES = 50


def _with_rank(frame: pd.DataFrame, previous: pd.DataFrame | None, *,
               intervals: bool = False) -> pd.DataFrame:
    """Priority rank within the areas shown (service.analysis.rank), suppressed rows last;
    with ``intervals`` also the 95 % interval of each rank and score (same ranks: the
    resampling ranks the point estimate with rank_areas)."""
    from service.analysis.rank import rank_areas
    from service.analysis.uncertainty import resample_areas

    if frame.empty:
        return frame.assign(priority_rank=pd.Series(dtype="float64"))
    visible = frame
    if "suppressed" in frame.columns:
        visible = frame[~suppressed_mask(frame)]
    if visible.empty:
        return frame.assign(priority_rank=np.nan)
    if intervals and len(visible) > 1:
        ranked = resample_areas(visible.reset_index(drop=True), previous=previous,
                                n_boot=MAP_RANK_REPLICATES, explain=False).set_index("code")
    else:
        ranked = rank_areas(visible, previous=previous, explain=False).set_index("code")
    keep = ["priority_rank", "priority_score", "rank_lo", "rank_hi", "score_lo",
            "score_hi"] + [c for c in ranked.columns if c.startswith("contrib_")]
    return frame.assign(**{c: frame["code"].map(ranked[c]).astype("float64")
                           for c in keep if c in ranked.columns})


# -- geometry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    data: bytes               # gzipped GeoJSON
    public_cache: bool        # may be cached by browsers and proxies
    audit: str | None = None  # object to audit (village points: personal locations)


def map_geometry(s: Services, p: Principal, level: str, scope: str | None,
                 args: Mapping[str, Any]) -> Geometry:
    """Geometry of ``level`` in ``scope``: simplified admin polygons (cached on disk), village
    points (signed-in users of that province) or compact H3 cells (small cells dropped for
    callers who may not see them)."""
    from service.vocabulary import H3_LEVELS

    # the country is one area, not a map layer: only boundary, village and H3 layers exist
    if level not in (*geometry.ADMIN_LEVELS, "village", *H3_LEVELS):
        raise NotFound(f"no map layer {level!r}")
    check_scope(s, scope)
    bdir = str(s.settings.boundaries_dir)
    if level in geometry.ADMIN_LEVELS:
        key = geometry.cache_key(level, scope or "all", geometry.tolerance_for(level, scope),
                                 geometry.source_version(bdir, level), bdir)
        return Geometry(s.geometry.get_or_build(
            key, lambda: geometry.admin_geojson(bdir, level, scope)), True)
    params = MapParams.parse(args, default_dataset=s.settings.default_dataset)
    version, _, _ = resolve_round(s, params)
    if level == "village":
        require_detail(p, scope)
        frame = read_scope(s, params.dataset, "village", scope, version)
        pts = s.source.village_points(params.dataset, frame["code"].tolist(), version=version)
        data = gzip.compress(geometry.point_geojson(
            pts["code"].tolist(), pts.geometry.x.tolist(), pts.geometry.y.tolist()), mtime=0)
        return Geometry(data, False, audit=f"{params.dataset}/{version}/{scope}")
    key = geometry.cache_key(level, scope or "all", params.dataset, version, visibility_key(p),
                             *(["amphoe-cover"] if level == f"h3_r{COARSEST_H3}" else []))

    def build() -> bytes:
        frame, covers = cells_with_cover(s, p, read_scope(s, params.dataset, level, scope,
                                                          version),
                                         params.dataset, level, scope, version)
        groups: list[int] = []
        codes: list[str] = []
        rings: list[tuple[str, list[tuple[float, float]]]] = []
        if covers is not None and not covers.empty and "cover_level" in covers.columns:
            # r6: the amphoe outlines beneath the hexagons (one ring per polygon part)
            rings = geometry.admin_rings(s.settings.boundaries_dir, R6_COVER_LEVEL,
                                         covers["code"].astype(str).tolist(), scope)
            groups.append(len(rings))
        elif covers is not None and not covers.empty:
            for _res, rows in covers.groupby("cover_resolution", sort=True):
                groups.append(len(rows))
                codes.extend(rows["code"].astype(str))
        codes.extend(frame["code"].astype(str))
        return geometry.h3_compact(codes, cover_groups=groups, rings=rings)

    # only the public geometry may be kept by shared caches and read by other origins
    return Geometry(s.geometry.get_or_build(key, build), not p.is_authenticated)
