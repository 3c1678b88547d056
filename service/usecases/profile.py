"""Area profile: everything a committee reads about one area (country, province, amphoe,
tambon or village), as the principal may see it.

:func:`area_profile` returns plain values (dicts, lists, numbers; no formatting): identity and
links up and down the hierarchy, headline figures, the five dimensions and 17 indicators, the
programmes with their eligibility rule in words, the trend across rounds, the sub-areas ranked
with their explanation, a small map (SVG paths) and the provenance.

Data access goes through :class:`AreaSource`: ``read(version_id, level, province)`` returns
the rows the principal may see (disclosure control applied in one place: the route passes
the access view), so nothing here decides who sees what. No Flask here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from service.access.views import suppressed_mask
from service.errors import InvalidInput, NotFound
from service.vocabulary import GROUP_DEFINITIONS

#: admin level by code length
LEVEL_BY_LEN = {2: "country", 4: "province", 6: "amphoe", 8: "tambon", 10: "village"}
CHILD = {"country": "province", "province": "amphoe", "amphoe": "tambon", "tambon": "village"}
LEVEL_WORDS = {"country": ("ประเทศ", "Country"), "province": ("จังหวัด", "Province"),
               "amphoe": ("อำเภอ", "District (amphoe)"), "tambon": ("ตำบล", "Subdistrict (tambon)"),
               "village": ("หมู่บ้าน", "Village")}
#: target groups with their H column: id -> (Thai, English)
GROUP_WORDS = {g: (label.th, label.en) for g, label in GROUP_DEFINITIONS.items()}


@dataclass(frozen=True)
class AreaSource:
    """Where a use case reads area tables from, as one principal may see them."""

    store: Any
    dataset: str
    principal: Any
    read: Callable[[str, str, str | None], pd.DataFrame]  # (version, level, province)
    min_households: int = 10
    #: may the principal see this province's detail (household bootstrap, lists)?
    can_see: Callable[[str | None], bool] = lambda code: False
    #: finished results of slow pages (a service.lru.LRU; None = no caching)
    cache: Any = None


def cached(src: AreaSource, kind: str, version: Any, params: tuple, build: Callable[[], Any]
           ) -> Any:
    """``build()`` once per (page, dataset, version, released versions, parameters, what the
    principal may see): versions never change, so a repeated load gives the same answer
    without recomputing (the household bootstrap of a ranking, the MILP of a selection).
    The released versions are in the key because a trend compares with the previous round."""
    if src.cache is None:
        return build()
    from service.access.principal import visibility_key

    try:
        released = tuple(sorted(v.id for v in src.store.versions(src.dataset)))
    except Exception:  # a store without a catalog (tests): the version alone
        released = ()
    key = (kind, src.dataset, version.id, released, params, visibility_key(src.principal))
    return src.cache.get_or_build(key, build)


def admin_level(code: str | None) -> str:
    """``TH`` country, ``TH58`` province, ... ``TH58010101`` village (422 otherwise)."""
    code = code or "TH"
    level = LEVEL_BY_LEN.get(len(code))
    if level is None or not code.startswith("TH") or not (code[2:].isdigit() or code == "TH"):
        raise InvalidInput(f"{code!r} is not an area code such as TH58 or TH580101 "
                           "/ รหัสพื้นที่ไม่ถูกต้อง", column="area")
    return level


def rows_of(src: AreaSource, version: str, level: str, code: str) -> pd.DataFrame:
    """The visible rows of ``level`` inside ``code`` (children or the area itself)."""
    province = code[:4] if len(code) >= 4 and level not in ("country", "province") else None
    frame = src.read(version, level, province)
    if code != "TH" and level != "country":
        frame = frame[frame["code"].astype(str).str.startswith(code)]
    return frame.reset_index(drop=True)


def area_row(src: AreaSource, version: str, code: str) -> pd.Series:
    level = admin_level(code)
    frame = rows_of(src, version, level, code)
    frame = frame[frame["code"] == code]
    if frame.empty:
        raise NotFound(f"no area {code} in this dataset / ไม่พบพื้นที่ {code} ในชุดข้อมูลนี้")
    return frame.iloc[0]


def is_hidden(row: pd.Series | dict) -> bool:
    value = row.get("suppressed")
    return bool(value) if value is not None and not pd.isna(value) else False


def _val(row: Any, col: str) -> float | None:
    v = row.get(col) if hasattr(row, "get") else None
    if v is None or pd.isna(v):
        return None
    return float(v)


def _ratio(row: Any, num: str, den: str) -> float | None:
    a, b = _val(row, num), _val(row, den)
    if a is None or b is None or b <= 0:
        return None
    return a / b


def previous_version(store: Any, dataset: str, version: Any) -> Any | None:
    earlier = [v for v in store.versions(dataset) if v.round < version.round]
    return max(earlier, key=lambda v: (v.round, v.created_at)) if earlier else None


def round_versions(store: Any, dataset: str) -> list[Any]:
    """The newest ready version of each round, oldest round first."""
    by_round: dict[int, Any] = {}
    for v in sorted(store.versions(dataset), key=lambda v: (v.round, v.created_at)):
        by_round[v.round] = v
    return [by_round[r] for r in sorted(by_round)]


def headline(row: Any) -> list[dict[str, Any]]:
    """Headline cards: (id, th, en, value, format)."""
    cards = [
        ("n_households", "ครัวเรือนที่สำรวจ", "Surveyed households", _val(row, "n_households"),
         "count"),
        ("n_persons", "คนที่สำรวจ", "Surveyed people", _val(row, "n_persons"), "count"),
        ("n_target_poor", "คนจนเป้าหมาย (TPMAP)", "Target poor (TPMAP)",
         _val(row, "n_target_poor"), "count"),
        ("target_poor_rate", "สัดส่วนคนจนเป้าหมาย", "Target-poor rate",
         _ratio(row, "n_target_poor", "n_persons"), "percent"),
        ("n_poor", "คนจนหลายมิติ", "MPI poor people", _val(row, "n_poor"), "count"),
        ("h", "สัดส่วนคนจนหลายมิติ (H)", "Headcount ratio H", _val(row, "h"), "percent"),
        ("a", "ความรุนแรงเฉลี่ย (A)", "Intensity A", _val(row, "a"), "percent"),
        ("m0", "ดัชนีความยากจนหลายมิติ (M0)", "MPI M0", _val(row, "m0"), "ratio"),
    ]
    for g, (th, en) in GROUP_WORDS.items():
        if f"h_{g}" in row:
            cards.append((f"h_{g}", f"สัดส่วนคนจน: {th}", f"Poor share: {en}",
                          _val(row, f"h_{g}"), "percent"))
    needs = {"target_poor_rate": ("n_target_poor", "n_persons")}
    return [{"id": i, "th": th, "en": en, "value": v, "format": f,
             # a column the dataset does not have (e.g. a published TPMAP table) is "not
             # available", never 0 and never "no data"
             "available": all(c in row for c in needs.get(i, (i,)))}
            for i, th, en, v, f in cards]


def dimensions(row: Any, spec: Any) -> dict[str, Any]:
    """The five dimensions and their indicators.

    Per indicator: people deprived (``n_dep_<ind>``) as a share of surveyed people, and the
    MPI-poor people deprived (censored, ``n_cdep_<ind>``). Per dimension: its contribution to
    M0 (sum of weight x censored headcount / people / M0, Alkire-Foster) and the target poor
    deprived in it (``n_target_poor_<dim>``, TPMAP).
    """
    n = _val(row, "n_persons")
    m0 = _val(row, "m0")
    # published tables (TPMAP hook): persons failing each indicator among those it applies
    # to (n_fail_/n_app_), target poor failing it (n_tp_); no censored counts, no M0
    published = "n_persons" in row and not any(f"n_dep_{i.name}" in row
                                               for i in spec.indicators)
    dims = []
    for d in spec.dimensions:
        inds = []
        contrib = 0.0
        known = False
        for ind in spec.indicators:
            if ind.dimension != d.name:
                continue
            dep, cdep = _val(row, f"n_dep_{ind.name}"), _val(row, f"n_cdep_{ind.name}")
            share = dep / n if dep is not None and n else None
            if published:
                dep, cdep = _val(row, f"n_fail_{ind.name}"), _val(row, f"n_tp_{ind.name}")
                app = _val(row, f"n_app_{ind.name}")
                share = dep / app if dep is not None and app else None
            if cdep is not None and n:
                contrib += ind.weight * cdep / n
                known = True
            inds.append({"id": ind.name, "th": ind.label_th, "en": ind.label_en,
                         "deprived": dep, "share": share, "poor_deprived": cdep})
        tp = _val(row, f"n_target_poor_{d.name}")
        tp_all = _val(row, "n_target_poor")
        dims.append({"id": d.name, "th": d.label_th, "en": d.label_en, "indicators": inds,
                     "contribution": (contrib / m0) if known and m0 else None,
                     "target_poor": tp,
                     "target_poor_share": tp / tp_all if tp is not None and tp_all else None})
    return {"dimensions": dims, "published": published,
            "radar": radar([(d["th"], d["en"], d["target_poor_share"]) for d in dims])}


def radar(axes: list[tuple[str, str, float | None]], *, size: float = 260.0,
          ) -> dict[str, Any]:
    """SVG geometry of a radar chart with values in 0-1: axis ends, label points, the value
    polygon and the 25/50/75/100 % rings."""
    c, r = size / 2, size / 2 - 48
    k = len(axes)
    out_axes, pts = [], []
    rings = []
    for frac in (0.25, 0.5, 0.75, 1.0):
        ring = []
        for i in range(k):
            ang = -math.pi / 2 + 2 * math.pi * i / k
            ring.append(f"{c + r * frac * math.cos(ang):.1f},{c + r * frac * math.sin(ang):.1f}")
        rings.append(" ".join(ring))
    for i, (th, en, v) in enumerate(axes):
        ang = -math.pi / 2 + 2 * math.pi * i / k
        x, y = c + r * math.cos(ang), c + r * math.sin(ang)
        lx, ly = c + (r + 22) * math.cos(ang), c + (r + 16) * math.sin(ang)
        frac = min(max(v or 0.0, 0.0), 1.0)
        pts.append(f"{c + r * frac * math.cos(ang):.1f},{c + r * frac * math.sin(ang):.1f}")
        anchor = "middle" if abs(math.cos(ang)) < 0.3 else ("start" if math.cos(ang) > 0
                                                             else "end")
        out_axes.append({"th": th, "en": en, "value": v, "x": round(x, 1), "y": round(y, 1),
                         "lx": round(lx, 1), "ly": round(ly, 1), "anchor": anchor})
    return {"size": size, "cx": c, "cy": c, "axes": out_axes, "polygon": " ".join(pts),
            "rings": rings, "empty": all(v is None for _, _, v in axes)}


def line_chart(rounds: list[int], series: list[dict[str, Any]], *, width: float = 520,
               height: float = 200, fmt: str = "percent") -> dict[str, Any]:
    """SVG geometry of a small line chart: one polyline per series over the rounds; values
    0-1 (shares) on a shared axis from 0 to the largest value."""
    left, right, top, bottom = 48.0, 16.0, 12.0, 28.0
    values = [v for s in series for v in s["values"] if v is not None]
    vmax = max(values) if values else 1.0
    vmax = vmax * 1.1 if vmax > 0 else 1.0
    n = len(rounds)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / vmax)

    lines = []
    for s in series:
        pts = [(x(i), y(v)) for i, v in enumerate(s["values"]) if v is not None]
        lines.append({**s, "points": " ".join(f"{a:.1f},{b:.1f}" for a, b in pts),
                      "dots": [{"x": round(a, 1), "y": round(b, 1)} for a, b in pts]})
    ticks = [{"y": round(y(vmax * f / 1.1), 1), "value": vmax * f / 1.1} for f in (0, .55, 1.1)]
    return {"width": width, "height": height, "lines": lines, "ticks": ticks, "left": left,
            "fmt": fmt,
            "bottom": height - bottom,
            "xlabels": [{"x": round(x(i), 1), "round": r} for i, r in enumerate(rounds)]}


def trend(src: AreaSource, code: str) -> dict[str, Any]:
    """The area's figures in every round (newest version per round), same view."""
    rows = []
    for v in round_versions(src.store, src.dataset):
        try:
            r = area_row(src, v.id, code)
        except NotFound:
            continue
        hidden = is_hidden(r)
        rows.append({"round": int(v.round), "version": v.id, "hidden": hidden,
                     "n_persons": None if hidden else _val(r, "n_persons"),
                     "n_target_poor": None if hidden else _val(r, "n_target_poor"),
                     "target_poor_rate": None if hidden else _ratio(r, "n_target_poor",
                                                                     "n_persons"),
                     "h": None if hidden else _val(r, "h"),
                     "m0": None if hidden else _val(r, "m0"),
                     "exit_rate": None if hidden else _val(r, "pnl_exit_rate"),
                     "hh_exited": None if hidden else _val(r, "pnl_hh_exited"),
                     "hh_entered": None if hidden else _val(r, "pnl_hh_entered")})
    chart = None
    if len(rows) >= 2:
        chart = line_chart([r["round"] for r in rows], [
            {"id": "h", "th": "สัดส่วนคนจน H", "en": "Headcount H",
             "values": [r["h"] for r in rows], "color": "#c0392b"},
            {"id": "target_poor_rate", "th": "สัดส่วนคนจนเป้าหมาย", "en": "Target-poor rate",
             "values": [r["target_poor_rate"] for r in rows], "color": "#1f6feb"}])
    return {"rows": rows, "chart": chart,
            "panel": any(r["exit_rate"] is not None for r in rows)}


RANKABLE = ("province", "amphoe", "tambon", "village")


def visible_level(src: AreaSource, version: str, level: str, province: str | None,
                  ) -> tuple[pd.DataFrame, int]:
    """(rows of ``level`` the principal may see, suppressed rows dropped; how many dropped)
    in one province or the whole country, as ``/api/v1/rankings`` ranks them."""
    frame = src.read(version, level, province)
    if province:
        frame = frame[frame["province_code"] == province]
    hidden = suppressed_mask(frame)
    return frame[~hidden].reset_index(drop=True), int(hidden.sum())


def rank_level(src: AreaSource, version: Any, level: str, province: str | None, *,
               config: Any = None, n_boot: int = 0, top_n: int = 10) -> pd.DataFrame:
    """The priority ranking of ``level`` in ``province`` (None: the country), exactly as
    ``GET /api/v1/rankings`` computes it for this principal: suppressed areas left out, the
    previous round for change components, and with ``n_boot`` the household bootstrap when
    the principal may see the province's detail, else resampling of the visible table.
    ``attrs``: notes, config, bootstrap, n_hidden, previous_version."""
    from service.analysis.rank import rank_areas

    if level not in RANKABLE:
        raise InvalidInput(f"level must be one of {', '.join(RANKABLE)} / ระดับพื้นที่ไม่ถูกต้อง",
                           column="level")
    if level == "village" and not province:
        raise InvalidInput("village rankings need a province / การจัดลำดับหมู่บ้านต้องระบุจังหวัด",
                           column="area")
    areas, n_hidden = visible_level(src, version.id, level, province)
    if areas.empty:
        raise NotFound(f"no {level} areas to rank / ไม่มีพื้นที่ระดับ {level} ให้จัดลำดับ")
    prev_v = previous_version(src.store, src.dataset, version)
    previous = None
    if prev_v is not None:
        try:
            previous, _ = visible_level(src, prev_v.id, level, province)
        except NotFound:
            previous = None
    if n_boot and province and src.can_see(province):
        from service.analysis.uncertainty import bootstrap_ranking

        persons = src.store.read_persons(src.dataset, province, version=version.id)
        ranked = bootstrap_ranking(persons, level=level, config=config, areas=areas,
                                   previous=previous, n_boot=n_boot, top_n=top_n)
        ranked = ranked[ranked["code"].isin(areas["code"])]
    elif n_boot:
        from service.analysis.uncertainty import resample_areas

        ranked = resample_areas(areas, config=config, previous=previous, n_boot=n_boot,
                                top_n=top_n)
    else:
        ranked = rank_areas(areas, config, previous=previous)
    names = areas.set_index("code")
    for col in ("name_th", "name_en", "n_target_poor", "n_persons", "n_poor", "m0"):
        if col in names and col not in ranked:
            ranked[col] = ranked["code"].map(names[col])
    ranked.attrs["n_hidden"] = n_hidden
    ranked.attrs["previous_version"] = prev_v.id if prev_v is not None else None
    return ranked


def ranking_items(ranked: pd.DataFrame, within: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of a ranking for a page (optionally only the areas inside ``within``)."""
    if within and within != "TH":
        ranked = ranked[ranked["code"].astype(str).str.startswith(within)]
    if limit is not None:
        ranked = ranked.head(limit)
    items = []
    for r in ranked.to_dict("records"):
        items.append({"code": r["code"], "rank": int(r["priority_rank"]),
                      "score": float(r["priority_score"]),
                      "name_th": r.get("name_th") or r["code"], "name_en": r.get("name_en") or "",
                      "n_target_poor": _val(r, "n_target_poor"),
                      "target_poor_rate": _ratio(r, "n_target_poor", "n_persons"),
                      "m0": _val(r, "m0"), "n_poor": _val(r, "n_poor"),
                      "score_lo": _val(r, "score_lo"), "score_hi": _val(r, "score_hi"),
                      "rank_lo": _val(r, "rank_lo"), "rank_hi": _val(r, "rank_hi"),
                      "p_top_n": _val(r, "p_top_n"),
                      "explanation_th": r.get("explanation_th", ""),
                      "explanation_en": r.get("explanation_en", "")})
    return items


def ranked_children(src: AreaSource, version: Any, code: str, level: str,
                    config: Any = None, limit: int = 15) -> dict[str, Any]:
    """The sub-areas in priority order: the ranking of the child level across the province
    (across the country for provinces; ``scope``), the same as the API's, shown for the
    sub-areas of ``code``; suppressed ones are counted, not ranked."""
    child = CHILD.get(level)
    if child is None:
        return {"level": None, "items": [], "n_hidden": 0, "total": 0, "rows": pd.DataFrame(),
                "scope": None}
    province = None if child == "province" else code[:4]
    kids = rows_of(src, version.id, child, code)
    kids = kids[kids["code"].astype(str).str.len() == len(code) + 2].reset_index(drop=True)
    n_hidden = int(kids.apply(is_hidden, axis=1).sum()) if len(kids) else 0
    try:
        ranked = rank_level(src, version, child, province, config=config)
    except NotFound:
        ranked = pd.DataFrame(columns=["code", "priority_rank", "priority_score"])
    inside = ranked[ranked["code"].astype(str).str.startswith(code if code != "TH" else "TH")]
    return {"level": child, "items": ranking_items(inside, limit=limit), "n_hidden": n_hidden,
            "total": len(inside), "rows": kids,
            "scope": "country" if province is None else "province"}


def ranking_page(src: AreaSource, area: str | None, level: str | None, *,
                 version_id: str | None = None, weights: dict[str, float] | None = None,
                 n_boot: int = 0, top_n: int = 10) -> dict[str, Any]:
    """The ranking page: ``level`` areas of ``area``'s province (the country when ``area``
    is TH) ranked as the API ranks them, shown for those inside ``area``; the weights used
    (defaults overridden by ``weights``) for the form."""
    from service.analysis.rank import load_config

    area = area or "TH"
    area_level = admin_level(area)
    if area_level == "village":
        raise InvalidInput("choose a province, amphoe or tambon to rank its sub-areas "
                           "/ เลือกจังหวัด อำเภอ หรือตำบล", column="area")
    level = level or CHILD[area_level]
    order = ("country", *RANKABLE)
    if level not in RANKABLE or order.index(level) <= order.index(area_level):
        raise InvalidInput(f"{level} is not below {area_level} / ระดับต้องต่ำกว่าพื้นที่ที่เลือก",
                           column="level")
    config = load_config(None, weights or None)
    version = src.store.version(src.dataset, version_id)
    province = None if level == "province" else (area[:4] if area != "TH" else None)
    ranked = cached(src, "ranking", version, (level, province, tuple(sorted(
        (weights or {}).items())), n_boot, top_n), lambda: rank_level(
            src, version, level, province, config=config, n_boot=n_boot, top_n=top_n))
    default = {c.id: c.weight for c in load_config().components}
    components = [{"id": c.id, "th": c.label_th, "en": c.label_en, "weight": c.weight,
                   "default": default.get(c.id), "used": True}
                  for c in config.components]
    used = {c["id"] for c in (ranked.attrs.get("config") or {}).get("components", [])}
    if used:
        for c in components:
            c["used"] = c["id"] in used
    name_row = area_row(src, version.id, area) if area != "TH" else {}
    return {"area": area, "area_level": area_level, "level": level, "province": province,
            "name_th": (name_row.get("name_th") if area != "TH" else "ประเทศไทย") or area,
            "name_en": (name_row.get("name_en") if area != "TH" else "Thailand") or "",
            "level_words": LEVEL_WORDS[level], "items": ranking_items(ranked, area),
            # published tables (TPMAP) have no M0: "not available", never "no data"
            "m0_available": "m0" in ranked.columns,
            "n_ranked": len(ranked), "n_hidden": ranked.attrs.get("n_hidden", 0),
            "notes": ranked.attrs.get("notes", []), "components": components,
            "bootstrap": ranked.attrs.get("bootstrap"), "n_boot": n_boot, "top_n": top_n,
            "levels": [lv for lv in RANKABLE if order.index(lv) > order.index(area_level)
                       and not (lv == "village" and area == "TH")],
            "version": version.id, "round": int(version.round),
            "previous_version": ranked.attrs.get("previous_version")}


def small_map(src: AreaSource, version: Any, code: str, child: str | None,
              kids: pd.DataFrame, *, width: float = 420, height: float = 320,
              ) -> dict[str, Any] | None:
    """SVG of the sub-areas shaded by target-poor rate (villages: points); withheld areas
    grey. None when there is nothing to draw."""
    if child is None or kids.empty:
        return None
    rate = (kids["n_target_poor"] / kids["n_persons"].where(kids["n_persons"] > 0)
            if {"n_target_poor", "n_persons"} <= set(kids.columns)
            else pd.Series(np.nan, index=kids.index)).astype("float64")  # pd.NA -> NaN
    finite = rate[np.isfinite(rate.astype("float64"))]
    top = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    names = dict(zip(kids["code"], kids.get("name_th", kids["code"]), strict=True))
    shade: dict[str, tuple[str, float | None]] = {}
    for c, v, row in zip(kids["code"], rate, kids.to_dict("records"), strict=True):
        if is_hidden(row) or v is None or not np.isfinite(v):
            shade[c] = ("#d9dde3", None)
        else:
            t = float(v) / top
            shade[c] = (f"rgb({255 - int(92 * t)},{235 - int(178 * t)},{225 - int(182 * t)})",
                        float(v))
    shapes: list[dict[str, Any]] = []
    if child == "village":
        if not {"lon", "lat"} <= set(kids.columns):
            return None
        pts = kids[["code", "lon", "lat"]].dropna()
        if pts.empty:
            return None
        xs, ys = pts["lon"].to_numpy(float), pts["lat"].to_numpy(float)
        proj = _projector(xs.min(), ys.min(), xs.max(), ys.max(), width, height)
        for c, lo, la in zip(pts["code"], xs, ys, strict=True):
            px, py = proj(lo, la)
            shapes.append({"code": c, "name": names.get(c, c), "circle": True,
                           "x": round(px, 1), "y": round(py, 1), "fill": shade[c][0],
                           "value": shade[c][1]})
    else:
        geoms = src.store.area_geometries(child, list(kids["code"]), dataset=src.dataset,
                                          version=version.id)
        if geoms is None or geoms.empty:
            return None
        minx, miny, maxx, maxy = geoms.total_bounds
        tol = max(maxx - minx, maxy - miny) / 400
        proj = _projector(minx, miny, maxx, maxy, width, height)
        for c, g in zip(geoms["code"], geoms.geometry.simplify(tol), strict=True):
            if g is None or g.is_empty:
                continue
            shapes.append({"code": c, "name": names.get(c, c), "circle": False,
                           "d": _path(g, proj), "fill": shade.get(c, ("#d9dde3", None))[0],
                           "value": shade.get(c, (None, None))[1]})
    return {"width": width, "height": height, "shapes": shapes, "level": child,
            "max_rate": top}


def _projector(minx: float, miny: float, maxx: float, maxy: float, width: float,
               height: float) -> Callable[[float, float], tuple[float, float]]:
    kx = math.cos(math.radians((miny + maxy) / 2))
    w = max((maxx - minx) * kx, 1e-6)
    h = max(maxy - miny, 1e-6)
    pad = 8
    s = min((width - 2 * pad) / w, (height - 2 * pad) / h)
    ox = (width - w * s) / 2
    oy = (height - h * s) / 2

    def proj(x: float, y: float) -> tuple[float, float]:
        return ox + (x - minx) * kx * s, oy + (maxy - y) * s
    return proj


def _path(geom: Any, proj: Callable[[float, float], tuple[float, float]]) -> str:
    polys = getattr(geom, "geoms", [geom])
    parts = []
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            coords = [proj(x, y) for x, y in ring.coords]
            parts.append("M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in coords) + "Z")
    return "".join(parts)


def crumbs(src: AreaSource, version: str, code: str) -> list[dict[str, Any]]:
    """Links up the hierarchy: country, province, amphoe, tambon (the area itself last)."""
    out = [{"code": "TH", "name_th": "ประเทศไทย", "name_en": "Thailand", "level": "country"}]
    for n in (4, 6, 8, 10):
        if len(code) < n:
            break
        c = code[:n]
        try:
            r = area_row(src, version, c)
            name_th, name_en = r.get("name_th") or c, r.get("name_en") or ""
        except NotFound:
            name_th, name_en = c, ""
        out.append({"code": c, "name_th": name_th, "name_en": name_en,
                    "level": LEVEL_BY_LEN[n]})
    return out


def area_profile(src: AreaSource, code: str | None, *, version_id: str | None = None,
                 config: Any = None) -> dict[str, Any]:
    """Everything the profile page shows (plain values, unformatted)."""
    from service.analysis.spec import load_spec
    from service.usecases.exclusion import programme_rows

    code = code or "TH"
    level = admin_level(code)
    version = src.store.version(src.dataset, version_id)
    row = area_row(src, version.id, code)
    hidden = is_hidden(row)
    meta = version.meta or {}
    spec = load_spec(str(meta.get("spec") or "tpmap"))
    ranked = ranked_children(src, version, code, level, config)
    view = str(row.get("view") or ("public" if "suppressed" in row else "detail"))
    return {
        "code": code, "level": level, "level_words": LEVEL_WORDS[level],
        "name_th": row.get("name_th") or ("ประเทศไทย" if level == "country" else code),
        "name_en": row.get("name_en") or ("Thailand" if level == "country" else ""),
        "hidden": hidden, "view": view,
        "suppression_reason": row.get("suppression_reason") or row.get("dc_reason"),
        "crumbs": crumbs(src, version.id, code) if level != "country" else [],
        "headline": [] if hidden else headline(row),
        "dims": None if hidden else dimensions(row, spec),
        "programmes": [] if hidden else programme_rows(row, meta.get("programmes")),
        "trend": trend(src, code),
        "children": ranked,
        "child_words": LEVEL_WORDS.get(ranked["level"] or "", ("", "")),
        "map": small_map(src, version, code, ranked["level"], ranked["rows"]),
        "provenance": {"dataset": src.dataset, "round": int(version.round),
                       "version": version.id, "created_at": version.created_at,
                       "k": float(spec.k), "spec_th": spec.title_th, "spec_en": spec.title_en,
                       "min_households": int(meta.get("min_cell_households")
                                             or src.min_households),
                       "view": view},
    }
