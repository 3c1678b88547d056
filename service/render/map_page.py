"""The map page of a scope and level as plain values (:class:`MapPage`): titles, breadcrumbs,
URLs of geometry and values, level and round selectors, drill-down, outline. A pure function
of what the use case gathered (service.usecases.map_values.map_page); no Flask, no store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from service.geo import boundaries
from service.render.builders import MapPage
from service.render.catalogue import Catalogue
from service.vocabulary import LEVEL_LABELS

#: level -> (Thai, English) label of the map's areas
LEVELS: dict[str, tuple[str, str]] = {lv: (label.th, label.en) for lv, label in
                                      LEVEL_LABELS.items() if lv != "country"}
#: levels a page of each scope offers (first = default)
SCOPE_LEVELS: dict[str, tuple[str, ...]] = {
    "country": ("province", "amphoe", "tambon", "h3_r6", "h3_r7"),
    "province": ("tambon", "amphoe", "village", "h3_r7", "h3_r8", "h3_r9"),
    "amphoe": ("tambon", "village", "h3_r8", "h3_r9"),
    "tambon": ("village", "h3_r9"),
}
#: the order chipao-map.js writes its query string in (so the preloaded URL is reused)
JS_QUERY_ORDER = ("measure", "group", "round", "change", "classes", "classifier", "breaks",
                  "dataset", "k", "agency")
#: area key of each level in the scored person table, for re-counting at another k
PERSON_KEYS = {"tambon": 8, "amphoe": 6, "province": 4}
#: poverty cut-offs offered on maps that can be re-counted from the scored persons
K_CHOICES = [0.2, 0.26, 0.33, 0.4, 0.5]
OUTLINE_NAMES = {"province": "ขอบเขตจังหวัด · Province boundaries",
                 "amphoe": "ขอบเขตอำเภอ · District boundaries",
                 "tambon": "ขอบเขตตำบล · Sub-district boundaries"}


@dataclass(frozen=True)
class PageInputs:
    """What a map page shows, gathered by the use case."""

    scope: str | None
    scope_level: str
    level: str
    query: dict[str, Any]          # the map parameters as the page's query string
    dataset: str
    data_version: str | None       # version of the village/H3 geometry (None: admin areas)
    rounds: Sequence[dict[str, Any]]
    catalogue: Catalogue
    name: Callable[[str, str], str]  # (code, "th"/"en") -> area name
    bounds: list[list[float]]
    max_bounds: list[list[float]]
    basemap: str | None
    min_households: int
    embed: bool
    #: the viewer may open villages of this scope (signed in, of this province or national)
    villages_visible: bool
    #: the viewer may drill from tambons to their villages
    village_drill: bool
    #: the viewer is signed in
    signed_in: bool = False
    #: a published dataset (TPMAP tables, no persons): measures it lacks (ids), no k, no
    #: target groups, no H3 levels, the dimension-combination selector (TPMAP hook)
    published: bool = False
    unavailable: frozenset[str] = frozenset()
    #: the agency control of follow-up help measures: agencies ({id, th, en}) and the
    #: measures it applies to (FOLLOWUP hook)
    agencies: Sequence[dict[str, str]] = ()
    agency_measures: Sequence[str] = ()


def build_page(inp: PageInputs) -> MapPage:
    """The :class:`MapPage` for a scope/level (shared by /maps and /embed)."""
    scope, level, query = inp.scope, inp.level, dict(inp.query)
    base = "/embed" if inp.embed else "/maps"
    scope_q = f"?scope={scope}" if scope else ""
    data_q = ""
    if level.startswith("h3_") or level == "village":
        data_q = ("&" if scope_q else "?") + f"dataset={inp.dataset}"
        if inp.data_version:
            data_q += f"&round={inp.data_version}"
    place_th, place_en = (inp.name(scope, "th"), inp.name(scope, "en")) if scope else (
        "ประเทศไทย", "Thailand")
    return MapPage(
        title_th=f"{place_th}: {LEVELS[level][0]}", title_en=f"{place_en}: {LEVELS[level][1]}",
        level=level,
        geometry_url=f"/maps/geo/{level}.geojson{scope_q}{data_q}",
        values_url=f"{base}/values/{level}.json{scope_q}",
        bounds=inp.bounds, max_bounds=inp.max_bounds,
        params={**query, "scope": scope, "level": level},
        measures=[{**m.to_json(), **({"available": False} if m.id in inp.unavailable else {})}
                  for m in inp.catalogue.measures.values()],
        groups=[] if inp.published else [{"id": g, "th": th, "en": en}
                                         for g, (th, en) in inp.catalogue.groups.items()],
        rounds=list(inp.rounds), levels=_levels(inp, base),
        breadcrumbs=_breadcrumbs(inp, base), drill=_drill(inp, base),
        outline_url=_outline_url(inp), outline_name=OUTLINE_NAMES.get(
            _outline_level(inp) or "", "ขอบเขต · Boundaries"),
        layer_name=f"{LEVELS[level][0]} · {LEVELS[level][1]}",
        feature_label_th=LEVELS[level][0], feature_label_en=LEVELS[level][1],
        basemap=inp.basemap, min_households=inp.min_households, embed=inp.embed,
        embed_code_url=None if inp.embed else "/embed-code?" + urlencode(
            [("level", level)] + ([("scope", scope)] if scope else [])),
        values_first=f"{base}/values/{level}.json{scope_q}" + ("&" if scope_q else "?")
        + urlencode([(k, query[k]) for k in JS_QUERY_ORDER if query.get(k) not in (None, "")]),
        # another poverty cut-off is re-counted per province from the scored persons
        k_choices=K_CHOICES if (scope and not inp.embed and not inp.published and (
            level in PERSON_KEYS or level == "village")) else [],
        dimension_masks=_dimension_masks() if inp.published and not inp.embed else None,
        line_weight=0.2 if level.startswith("h3_") or (level == "tambon" and not scope)
        else 0.6,
        signed_in=inp.signed_in and not inp.embed,
        agencies=[] if inp.embed else list(inp.agencies),
        agency_measures=list(inp.agency_measures),
    )


def _breadcrumbs(inp: PageInputs, base: str) -> list[dict[str, str]]:
    crumbs = [{"th": "ประเทศไทย · Thailand", "url": f"{base}/"}]
    chain = []
    code = inp.scope
    while code:
        chain.append(code)
        code = boundaries.parent_code(code)
    for c in reversed(chain):
        crumbs.append({"th": f"{inp.name(c, 'th')} · {inp.name(c, 'en')}",
                       "url": f"{base}/area/{c}"})
    return crumbs


def _drill(inp: PageInputs, base: str) -> str | None:
    """Drill-down: province -> its amphoes -> their tambons -> villages (signed-in users)."""
    if inp.level == "province":
        return f"{base}/area/{{code}}?level=amphoe"
    if inp.level == "amphoe" or (inp.level == "tambon" and not inp.embed and inp.village_drill):
        return f"{base}/area/{{code}}"
    return None


def _outline_level(inp: PageInputs) -> str | None:
    if inp.level.startswith("h3_") or inp.level == "village":
        return {"country": "province", "province": "amphoe", "amphoe": "tambon",
                "tambon": "tambon"}[inp.scope_level]
    if inp.scope_level == "country" and inp.level in ("amphoe", "tambon"):
        return "province"  # 928 amphoe outlines over 7,425 tambons would hide the map
    return {"tambon": "amphoe", "amphoe": "province"}.get(inp.level)


def _outline_url(inp: PageInputs) -> str | None:
    outline_level = _outline_level(inp)
    if not outline_level:
        return None
    outline_scope = None if outline_level == "province" and inp.scope else inp.scope
    return f"/maps/geo/{outline_level}.geojson" + (
        f"?scope={outline_scope}" if outline_scope else "")


def _levels(inp: PageInputs, base: str) -> list[dict[str, str]]:
    url = f"{base}/area/{inp.scope}" if inp.scope else f"{base}/"
    return [{"id": lv, "th": LEVELS[lv][0], "en": LEVELS[lv][1], "url": url}
            for lv in SCOPE_LEVELS[inp.scope_level]
            if (lv != "village" or (not inp.embed and inp.villages_visible))
            and not (inp.published and lv.startswith("h3_"))]


def _dimension_masks() -> dict[str, Any]:
    """The dimension checkboxes of a published dataset's map: each composes the measure
    ``tp_m<mask>`` (target poor deprived in any checked dimension, bits in this order)."""
    from service.vocabulary import DIMENSIONS

    return {"prefix": "tp_m", "dimensions": [{"id": d, "th": lab.th, "en": lab.en}
                                             for d, lab in DIMENSIONS.items()]}
