"""Target lists for planners and field teams.

* :func:`village_list` - one row per village: identity, parents, households, poor people,
  the indicators failed most by poor people, people excluded per programme, priority rank.
* :func:`household_list` - for authorised users only (the API and CLI check the role and
  audit every read): the poor households of an area, *nearest to exit first* (fewest distinct
  deprivations to fix, then the lowest deprivation score, then the pseudonymous id), with their
  failing indicators, missed programmes and a suggested plan horizon per need.
* :func:`village_needs` - per village, poor households deprived in each indicator
  (``n_hh_cdep_<ind>``), the input of the budget selection's cost model.

These follow the household process the ministry runs (9 steps): the household list is the
output of step 3 (filter the data to find the households), the order of step 4 (home visits)
and a first draft of step 6 (plans in three horizons: urgent = goods, cash, access to rights;
medium = skills, jobs, environment; long = housing, land, local-government plans; the mapping
is data in ``presets/ranking/plan_horizons.json``). Lists carry pseudonymous household ids
only; names and national IDs never enter the scored tables.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from service import vocabulary

log = logging.getLogger(__name__)

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
HORIZONS_FILE = PRESETS_DIR / "ranking" / "plan_horizons.json"
HORIZONS = ("urgent", "medium", "long")
PROGRAMMES = tuple(vocabulary.PROGRAMMES)


@functools.lru_cache(maxsize=4)
def plan_horizons(path: str | None = None) -> dict[str, Any]:
    return json.loads(Path(path or HORIZONS_FILE).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def indicator_labels() -> dict[str, tuple[str, str]]:
    """Indicator -> (label_th, label_en) from the TPMAP preset (the codes if it is absent)."""
    path = PRESETS_DIR / "tpmap.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {i["name"]: (i.get("label_th", i["name"]), i.get("label_en", i["name"]))
            for i in spec.get("indicators", []) if "name" in i}


def _label(ind: str, lang: str = "th") -> str:
    th, en = indicator_labels().get(ind, (ind, ind))
    return th if lang == "th" else en


def _dep_indicators(columns: list[str]) -> list[str]:
    return [c[4:] for c in columns if c.startswith("dep_")]


def _programmes(columns: list[str]) -> list[str]:
    cols = set(columns)
    return [c[5:] for c in columns if c.startswith("elig_") and f"cov_{c[5:]}" in cols]


def area_filter(columns: list[str], area: str) -> pl.Expr:
    """Rows of persons counted in ``area`` (province, amphoe, tambon or village code).

    Areas are those the aggregation counts a person in: the located tambon
    (``tambon_located``, from the point, else the village or tambon code) and its prefixes, so
    a list always holds the households behind the area's published figures — including
    municipal records that carry no tambon or village code of their own.
    """
    cols = set(columns)
    if len(area) >= 10:
        return pl.col("village_id") == area
    keys = [pl.col(c) for c in ("tambon_located", "tambon_code") if c in cols]
    if not keys:
        keys = [pl.col("village_id").str.slice(0, 8)]
    keys += [pl.col(c) for c in ("amphoe_code", "province_code") if c in cols]
    return pl.coalesce(keys).str.starts_with(area).fill_null(False)


def _households(persons: pl.DataFrame) -> pl.DataFrame:
    """One row per household: identity, poverty flags, any-member deprivation per indicator,
    members excluded per programme."""
    cols = persons.columns
    for col in ("hh_id", "village_id", "mpi_c", "mpi_poor"):
        if col not in cols:
            raise ValueError(f"scored person table lacks column {col!r}")
    inds = _dep_indicators(cols)
    progs = _programmes(cols)
    poor_hh = (pl.col("hh_mpi_poor").first() if "hh_mpi_poor" in cols
               else pl.col("mpi_poor").any())
    aggs = [
        pl.col("village_id").first(),
        *[pl.col(c).first() for c in ("tambon_code", "amphoe_code", "province_code")
          if c in cols],
        pl.len().alias("n_members"),
        pl.col("mpi_poor").cast(pl.Int32).sum().alias("n_poor_members"),
        pl.col("mpi_c").max().alias("max_c"),
        poor_hh.alias("hh_poor"),
        *[(pl.col(f"dep_{i}").fill_null(0) > 0).any().alias(f"hh_dep_{i}") for i in inds],
        *[(pl.col(f"elig_{p}") & ~pl.col(f"cov_{p}")).cast(pl.Int32).sum().alias(f"n_excl_{p}")
          for p in progs],
    ]
    if "hh_crossgen" in cols:
        aggs.append(pl.col("hh_crossgen").first())
    if "tpmap_target_poor" in cols:
        aggs.append(pl.col("tpmap_target_poor").fill_null(False).any().alias("hh_target_poor"))
    for g in ("grp_child", "grp_elderly", "grp_disabled"):
        if g in cols:
            aggs.append(pl.col(g).cast(pl.Int32).sum().alias(f"n_{g[4:]}"))
    return persons.group_by("hh_id").agg(aggs)


def village_needs(persons: pl.DataFrame) -> pd.DataFrame:
    """Per village: MPI-poor households and those deprived in each indicator
    (``n_hh_poor``, ``n_hh_cdep_<ind>``); with the TPMAP flag, the same for households with
    a target-poor member (``n_hh_target_poor``, ``n_hh_tdep_<ind>``)."""
    hh = _households(persons)
    inds = _dep_indicators(persons.columns)
    poor = pl.col("hh_poor")
    aggs = [poor.cast(pl.Int64).sum().alias("n_hh_poor"),
            *[(poor & pl.col(f"hh_dep_{i}")).cast(pl.Int64).sum().alias(f"n_hh_cdep_{i}")
              for i in inds]]
    if "hh_target_poor" in hh.columns:
        tp = pl.col("hh_target_poor")
        aggs += [tp.cast(pl.Int64).sum().alias("n_hh_target_poor"),
                 *[(tp & pl.col(f"hh_dep_{i}")).cast(pl.Int64).sum().alias(f"n_hh_tdep_{i}")
                   for i in inds]]
    out = hh.group_by("village_id").agg(aggs).sort("village_id")
    return out.rename({"village_id": "code"}).to_pandas()


def _listed_by(hh: pd.DataFrame) -> list[str]:
    mpi = hh["hh_poor"].to_numpy(bool)
    tpmap = (hh["hh_target_poor"].to_numpy(bool) if "hh_target_poor" in hh
             else np.zeros(len(hh), bool))
    return ["both" if m and t else "mpi" if m else "tpmap" for m, t in zip(mpi, tpmap, strict=True)]


def household_list(persons: pl.DataFrame, *, area: str | None = None,
                   horizons: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Poor households to visit, nearest to exit first.

    A household is listed when it is MPI-poor (``hh_poor``) or has a TPMAP target-poor member
    (``hh_target_poor``: deprived in a BMN dimension and a validated welfare-card holder) —
    step 3 of the ministry's household process filters on TPMAP and the registries, so a
    household the TPMAP rule flags must reach the field team even when its MPI score is below
    k. ``listed_by`` says which rule(s) put it on the list (``mpi``, ``tpmap``, ``both``).

    ``area`` restricts to a village, tambon, amphoe or province code (see
    :func:`area_filter`: where the aggregation counts the person). Order: fewest distinct deprivations to fix (``n_deprivations``), then lowest
    ``max_c``, then ``hh_id``; ``visit_order`` numbers the rows.
    """
    if area:
        persons = persons.filter(area_filter(persons.columns, area))
    horizons = horizons or plan_horizons()
    ind_horizon: Mapping[str, str] = horizons.get("indicators", {})
    prog_horizon = str(horizons.get("programmes", "urgent"))
    hh_all = _households(persons)
    listed = pl.col("hh_poor")
    if "hh_target_poor" in hh_all.columns:
        listed = listed | pl.col("hh_target_poor")
    hh = hh_all.filter(listed).to_pandas()
    inds = _dep_indicators(persons.columns)
    progs = _programmes(persons.columns)
    dep = hh[[f"hh_dep_{i}" for i in inds]].to_numpy(bool) if inds else np.zeros((len(hh), 0))
    failing = [[inds[j] for j in np.flatnonzero(row)] for row in dep]
    missed = [[p for p in progs if row[f"n_excl_{p}"] > 0] for _, row in hh.iterrows()] \
        if progs else [[] for _ in range(len(hh))]
    out = pd.DataFrame({
        "hh_id": hh["hh_id"],
        "village_id": hh["village_id"],
        **{c: hh[c] for c in ("tambon_code", "amphoe_code", "province_code") if c in hh},
        "n_members": hh["n_members"].astype("int64"),
        "n_poor_members": hh["n_poor_members"].astype("int64"),
        "max_c": hh["max_c"].astype("float64").round(4),
        "n_deprivations": [len(f) for f in failing],
        "failing_indicators": [", ".join(f) for f in failing],
        "failing_labels_th": ["; ".join(_label(i, "th") for i in f) for f in failing],
        "failing_labels_en": ["; ".join(_label(i, "en") for i in f) for f in failing],
        "missed_programmes": [", ".join(m) for m in missed],
        "listed_by": _listed_by(hh),
    })
    for extra in ("hh_crossgen", "n_child", "n_elderly", "n_disabled"):
        if extra in hh:
            out[extra] = hh[extra]
    for h in HORIZONS:
        out[f"plan_{h}"] = [
            ", ".join([i for i in f if ind_horizon.get(i, "medium") == h]
                      + ([f"rights:{p}" for p in m] if prog_horizon == h else []))
            for f, m in zip(failing, missed, strict=True)
        ]
    out = out.sort_values(["n_deprivations", "max_c", "hh_id"], kind="stable")
    out = out.reset_index(drop=True)
    out.insert(0, "visit_order", np.arange(1, len(out) + 1, dtype="int64"))
    return out


def names_from_areas(*tables: pd.DataFrame) -> dict[str, str]:
    """code -> Thai name (English when Thai is missing) from area tables of any level."""
    names: dict[str, str] = {}
    for t in tables:
        if t is None or "code" not in t:
            continue
        th = t["name_th"] if "name_th" in t else pd.Series(index=t.index, dtype="object")
        en = t["name_en"] if "name_en" in t else pd.Series(index=t.index, dtype="object")
        for code, a, b in zip(t["code"], th, en, strict=True):
            name = a if isinstance(a, str) and a else b
            if isinstance(name, str) and name:
                names[str(code)] = name
    return names


def village_list(villages: pd.DataFrame, *, ranking: pd.DataFrame | None = None,
                 names: Mapping[str, str] | None = None, top_indicators: int = 3,
                 ) -> pd.DataFrame:
    """Village target list from the village area table (docs/CONTRACT.md section 3).

    ``ranking``: :func:`service.analysis.rank.rank_areas` output for these villages (adds
    ``priority_rank``/``priority_score`` and orders the list; else most poor people first).
    ``names``: code -> name for tambons, amphoes and provinces (:func:`names_from_areas`).
    ``top_failing_indicators`` lists the indicators most poor people fail (censored
    headcounts ``n_cdep_<ind>``), with the count.
    """
    names = names or {}
    v = villages.reset_index(drop=True)
    code = v["code"].astype(str)
    out = pd.DataFrame({"village_id": code})
    for col in ("name_th", "name_en"):
        if col in v:
            out[col] = v[col]
    for level, width in (("tambon", 8), ("amphoe", 6), ("province", 4)):
        parent = code.str[:width]
        out[f"{level}_code"] = parent
        out[f"{level}_name"] = parent.map(lambda c: names.get(c, ""))
    for col in ("n_households", "n_persons", "n_poor", "n_target_poor", "n_poor_households",
                "n_severe", "m0"):
        if col in v:
            out[col] = v[col]
    cdep = [c for c in v.columns if c.startswith("n_cdep_")]
    if not cdep:  # published tables (TPMAP): the target poor failing each indicator
        cdep = [c for c in v.columns if re.fullmatch(r"n_tp_ind\d+", c)
                and c[len("n_tp_"):] in indicator_labels()]  # the rule's indicators
    if cdep:
        counts = v[cdep].fillna(0).to_numpy("float64")
        inds = [c.rsplit("_", 1)[1] for c in cdep]
        tops = []
        for row in counts:
            order = np.lexsort((np.arange(len(row)), -row))[:top_indicators]
            tops.append("; ".join(f"{inds[j]} {_label(inds[j])} ({int(row[j]):,})"
                                  for j in order if row[j] > 0))
        out["top_failing_indicators"] = tops
    for p in PROGRAMMES:
        if f"n_excl_{p}" in v:
            out[f"n_excl_{p}"] = v[f"n_excl_{p}"]
    if ranking is not None:
        r = ranking.set_index("code")
        out["priority_rank"] = code.map(r["priority_rank"]).astype("Int64")
        out["priority_score"] = code.map(r["priority_score"]).round(2)
        out = out.sort_values(["priority_rank", "village_id"], na_position="last")
    else:
        key = out["n_poor"] if "n_poor" in out else pd.Series(0, index=out.index)
        out = out.assign(_k=-key.fillna(0)).sort_values(["_k", "village_id"]).drop(columns="_k")
    return out.reset_index(drop=True)
