"""The home page's figures as the principal may see them: headline measures of the country
(and of a provincial user's own province), programme exclusion, and the ten provinces with
the highest target-poor rate (public figures for everyone), as strings for people.

Plain values in, plain values out; no Flask."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from service.access import views
from service.access.principal import Principal
from service.errors import NotFound

if TYPE_CHECKING:
    from service.services import Services

log = logging.getLogger(__name__)

#: (measure id in maps/measures.json, also the map link) for the national map shortcuts
MAP_LINKS = ("target_poor_rate", "m0", "excl_elderly_allowance", "excl_child_grant")
#: headline rows: (measure id or None, column, format, th, en); labels from the catalogue
#: when a measure id is given
HEADLINE = (
    (None, "n_households", "count", "ครัวเรือนที่สำรวจ", "Surveyed households"),
    (None, "n_persons", "count", "คนที่สำรวจ", "Surveyed people"),
    ("n_target_poor", "n_target_poor", "count", "", ""),
    ("target_poor_rate", None, "percent", "", ""),
    ("h", "h", "percent", "", ""),
    ("a", "a", "percent", "", ""),
    ("m0", "m0", "ratio", "", ""),
)
WITHHELD = "ไม่เปิดเผย · withheld"
NO_DATA = "ไม่มีข้อมูล · no data"
#: a column the dataset does not have (published tables: the measures needing persons)
NOT_AVAILABLE = "ไม่มีในชุดข้อมูลนี้ · not available for this dataset"


def _is_na(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def _cell(row: Any, value: Any, fmt: str, columns: tuple[str, ...], public: bool) -> str:
    """A figure for people; withheld (public view, an input column nulled by disclosure
    control) is told apart from no data (a zero denominator, a missing column)."""
    from service.render.catalogue import format_value

    if not _is_na(value):
        return format_value(float(value), fmt)
    suppressed = row.get("suppressed")
    if public and ((not _is_na(suppressed) and bool(suppressed)) or
                   any(c in row and _is_na(row[c]) for c in columns)):
        return WITHHELD
    if any(c not in row for c in columns):
        return NOT_AVAILABLE
    return NO_DATA


def _programme_names() -> dict[str, tuple[str, str]]:
    from service.vocabulary import PROGRAMMES

    return {p: (label.th, label.en) for p, label in PROGRAMMES.items()}


def _spec_k(meta: dict) -> str:
    """The cut-off k of the version's indicator specification, e.g. '26 %'."""
    from service.analysis.spec import load_spec

    try:
        k = float(load_spec(str(meta.get("spec") or "tpmap")).k)
    except Exception:  # a custom spec file moved since: say so rather than fail the page
        log.warning("home: cannot load the spec of this version to show k", exc_info=True)
        return "?"
    return f"{k * 100:.0f} %" if abs(k * 100 - round(k * 100)) < 1e-9 else f"{k * 100:.1f} %"


def home_figures(s: Services, dataset: str, principal: Principal) -> dict[str, Any]:
    """Everything the home page shows, as the principal may see it (strings for people).

    Computed once per (dataset, version, role, province): a new version is a new key, so
    the page follows ``chipao datasets use`` and new imports at once.
    """
    from service.render.catalogue import load_catalogue

    cat = load_catalogue()
    out: dict[str, Any] = {"dataset": dataset, "version": None, "headline": [],
                           "programmes": [], "top": [], "columns": []}
    out["map_links"] = [{"href": f"/maps/?measure={m}", "th": cat.get(m).th,
                         "en": cat.get(m).en} for m in MAP_LINKS if m in cat.measures]
    try:
        v = s.store.current(dataset)
    except NotFound:
        return out

    def make() -> dict[str, Any]:
        _fill_figures(s, out, v, dataset, principal)
        return out

    return s.home.get_or_build((dataset, v.id, principal.role, principal.province),
                                        make)


def _fill_figures(s: Services, out: dict[str, Any], v: Any, dataset: str,
                  principal: Principal) -> None:
    from service.render.catalogue import compute, load_catalogue
    from service.render.thai import be_datetime

    def level_view(level: str) -> pd.DataFrame:
        return views.area_view(s.store, dataset, level, principal, version=v.id,
                               min_households=s.min_households, cache=s.views)

    cat = load_catalogue()
    out["version"] = v
    # Buddhist-era date and Bangkok time, as people read it ("1 ธ.ค. 2569 18:30 น.")
    out["created"] = be_datetime(v.created_at) if v.created_at else ""
    # published tables (TPMAP hook): no persons, no cut-off k
    out["k"] = None if (v.meta or {}).get("kind") == "published" else _spec_k(v.meta or {})

    # area columns: the country, and a provincial user's own province in detail
    areas = []
    try:
        country = level_view("country")
    except NotFound:
        country = None
    if country is not None and not country.empty:
        areas.append(("ประเทศไทย", "Thailand", country.iloc[0]))
    if principal.role == "provincial" and principal.province:
        try:
            provinces = level_view("province")
        except NotFound:
            provinces = None
        if provinces is not None:
            own = provinces[provinces["code"] == principal.province]
            if not own.empty:
                r = own.iloc[0]
                areas.append((str(r.get("name_th") or r["code"]),
                              str(r.get("name_en") or r["code"]), r))
    out["columns"] = [{"th": th, "en": en, "public": r.get("view") == "public"}
                      for th, en, r in areas]

    for mid, column, fmt, th, en in HEADLINE:
        m = cat.measures.get(mid) if mid else None
        cells = []
        for _, _, r in areas:
            public = r.get("view") == "public"
            cols: tuple[str, ...]
            if column is not None:
                value, cols = r.get(column), (column,)
            elif m is not None:
                try:
                    value = compute(r.to_frame().T, m).iloc[0]
                except ValueError:  # a column the measure needs is not in this table
                    value = None
                cols = m.columns()
            else:
                value, cols = None, ()
            cells.append(_cell(r, value, fmt, cols, public))
        out["headline"].append({"id": mid or column, "th": m.th if m else th,
                                "en": m.en if m else en, "cells": cells})

    names = _programme_names()
    progs = sorted({c[len("n_elig_"):] for _, _, r in areas for c in r.index
                    if str(c).startswith("n_elig_")},
                   key=lambda p: (list(names).index(p) if p in names else len(names), p))
    for p in progs:
        cells = []
        for _, _, r in areas:
            public = r.get("view") == "public"
            elig = f"n_elig_{p}"
            cells += [_cell(r, r.get(elig), "count", (elig,), public),
                      _cell(r, r.get(f"n_excl_{p}"), "count", (elig, f"n_excl_{p}"), public),
                      _cell(r, r.get(f"cov_{p}"), "percent", (elig, f"n_excl_{p}"), public)]
        th, en = names.get(p, (p, p))
        out["programmes"].append({"id": p, "th": th, "en": en, "cells": cells})

    # the ten provinces with the highest target-poor rate, public figures for everyone
    try:
        prov = views.public_view(s.store, dataset, "province", version=v.id,
                                 min_households=s.min_households, cache=s.views,
                                 whole_country=True)
    except NotFound:
        prov = None
    if prov is not None and not prov.empty:
        rate_m = cat.get("target_poor_rate")
        try:
            rate = compute(prov, rate_m)
        except ValueError:
            rate = None
        if rate is not None:
            visible = rate.notna()
            if "suppressed" in prov.columns:
                visible &= ~views.suppressed_mask(prov)
            ranked = prov[visible].assign(_rate=rate[visible])
            ranked = ranked.sort_values(["_rate", "code"], ascending=[False, True],
                                        kind="stable").head(10)
            heads = [("target_poor_rate", "_rate", "percent"),
                     ("n_target_poor", "n_target_poor", "count"),
                     (None, "n_persons", "count"), ("m0", "m0", "ratio")]
            out["top_heads"] = [
                {"th": cat.get(mid).th, "en": cat.get(mid).en} if mid else
                {"th": "คนที่สำรวจ", "en": "Surveyed people"} for mid, _, _ in heads]
            for _, r in ranked.iterrows():
                out["top"].append({
                    "code": r["code"], "name_th": r.get("name_th") or r["code"],
                    "name_en": r.get("name_en") or "",
                    "own": principal.province == r["code"],
                    "cells": [_cell(r, r.get(col), fmt, (col,), True)
                              for _, col, fmt in heads],
                })
            out["n_hidden"] = int((~visible).sum())
