"""Household roster (every household of an area, one row each) from scored persons.

Used only by ``GET /api/v1/areas/{level}/{code}/households`` (service.api.areas). Target
lists are not made here: the household and village lists that planners export (API
``/api/v1/exports/...``, ``chipao export``) and read (``/api/v1/targets/...``) come from
service.analysis.targets via service.export.targets.

Personal data: only national users and the provincial user of that province may receive it,
and every read or export is audited by the caller (service.api.auth.audit). Rows carry the
household pseudonym, never a national ID or a name.
"""

from __future__ import annotations

import re

import pandas as pd
import polars as pl

from service.errors import InvalidInput
from service.vocabulary import level_of

#: admin level -> person column holding that level's code (from the record)
LEVEL_COLUMN = {"province": "province_code", "amphoe": "amphoe_code", "tambon": "tambon_code",
                "village": "village_id"}
#: never lon/lat: a household's point is its home; one coordinates rule for every
#: household-level route (target lists and exports refuse them too, docs/security.md)
_FIRST = ("village_id", "tambon_code", "amphoe_code", "province_code")
_ANY = ("hh_mpi_poor", "hh_crossgen", "tpmap_target_poor", "tpmap_deprived_any",
        "welfare_card")
_ELIG = re.compile(r"^elig_(\w+)$")


def level_of_admin_code(code: str) -> str:
    level = level_of(code)
    if level in LEVEL_COLUMN:
        return level
    raise InvalidInput(f"{code!r} is not a province, amphoe, tambon or village code "
                       "/ รหัสพื้นที่ไม่ถูกต้อง", column="area")


def household_list(persons: pl.DataFrame, area: str) -> pd.DataFrame:
    """One row per household of ``area`` (admin code at any level), sorted by village, hh_id.

    Columns (those whose inputs exist): hh_id, village/tambon/amphoe/province codes (never
    lon/lat),
    n_members, n_children, n_elderly, n_disabled, max_mpi_c, hh_mpi_poor, hh_crossgen,
    tpmap_target_poor, tpmap_deprived_any, welfare_card, n_excl_<programme> (members eligible
    but not covered, ตกหล่น).
    """
    level = level_of_admin_code(area)
    col = LEVEL_COLUMN[level]
    if col not in persons.columns or "hh_id" not in persons.columns:
        raise InvalidInput(f"person table lacks column {col!r} or 'hh_id'", column=col)
    cols = set(persons.columns)
    aggs: list[pl.Expr] = [pl.col(c).first() for c in _FIRST if c in cols]
    aggs.append(pl.len().cast(pl.Int64).alias("n_members"))
    if "age" in cols:
        aggs += [(pl.col("age") < 18).sum().cast(pl.Int64).alias("n_children"),
                 (pl.col("age") >= 60).sum().cast(pl.Int64).alias("n_elderly")]
    if "disabled" in cols:
        aggs.append(pl.col("disabled").fill_null(False).sum().cast(pl.Int64)
                    .alias("n_disabled"))
    if "mpi_c" in cols:
        aggs.append(pl.col("mpi_c").max().cast(pl.Float64).round(4).alias("max_mpi_c"))
    aggs += [pl.col(c).fill_null(False).any().alias(c) for c in _ANY if c in cols]
    for c in persons.columns:
        m = _ELIG.match(c)
        if m and f"cov_{m.group(1)}" in cols:
            p = m.group(1)
            aggs.append((pl.col(c).fill_null(False) & ~pl.col(f"cov_{p}").fill_null(False))
                        .sum().cast(pl.Int64).alias(f"n_excl_{p}"))
    from service.analysis.targets import area_filter

    out = (persons.lazy().filter(area_filter(persons.columns, area))
           .group_by("hh_id").agg(aggs)
           .sort([c for c in ("village_id", "hh_id") if c in cols or c == "hh_id"])
           .collect())
    return out.to_pandas()
