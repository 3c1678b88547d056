"""Target lists as export frames: the village list and the household list of an area.

One implementation: the rows come from :mod:`service.analysis.targets` (the same functions
that serve ``/api/v1/targets/...``); this module only picks the rows a caller may see and adds
what a file needs. No Flask here: the API (service.api.exports) and the CLI (`chipao export`)
share it.

* Village lists are built from the village area table *as the caller may see it*: pass the
  public, disclosure-controlled table (:func:`service.analysis.disclosure.suppress`) for
  anyone without the province's detail right. Suppressed villages are ranked like
  ``/api/v1/targets/villages`` ranks them (not at all): they stay in the file, last, flagged
  ``suppressed`` with every figure and their point empty. The point of a village is the mean
  point of its surveyed households (``lon``/``lat`` of the area table, the same point the
  store's ``area_geometries("village")`` gives), taken from the visible table so a suppressed
  village never gets one.
* Household lists are personal data (authorised callers only; the caller audits every
  export). They carry pseudonymous household ids and the village code, never coordinates:
  a household point is a home location, so household lists are exported as CSV or XLSX only
  (:data:`HOUSEHOLD_FORMATS`); the village list gives the map.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import polars as pl
import shapely

from service.access.views import suppressed_mask
from service.errors import InvalidInput, NotFound
from service.vocabulary import ADMIN_CODE

log = logging.getLogger(__name__)

#: formats a household list may be exported in (no geometry: it would reveal homes)
HOUSEHOLD_FORMATS = ("csv", "xlsx")


def check_household_format(fmt: str) -> None:
    if fmt not in HOUSEHOLD_FORMATS:
        raise InvalidInput(
            f"household lists are exported as {' or '.join(HOUSEHOLD_FORMATS)} only: "
            "coordinates would reveal where people live; export the village list for a map "
            "/ รายชื่อครัวเรือนส่งออกได้เฉพาะ CSV หรือ XLSX เพื่อไม่เปิดเผยที่ตั้งบ้าน",
            column="format")




def check_area(area: str) -> str:
    """``area`` if it is a province, amphoe, tambon or village code."""
    if not ADMIN_CODE.fullmatch(area or ""):
        raise InvalidInput(f"{area!r} is not a province, amphoe, tambon or village code "
                           "/ รหัสพื้นที่ไม่ถูกต้อง", column="area")
    return area


def _in_area(frame: pd.DataFrame, area: str) -> pd.DataFrame:
    return frame[frame["code"].astype(str).str.startswith(area)]


_hidden = suppressed_mask


def village_targets(villages: pd.DataFrame, area: str, *,
                    previous: pd.DataFrame | None = None,
                    names: Mapping[str, str] | None = None,
                    config: Any = None) -> pd.DataFrame:
    """Village target list of ``area`` (province, amphoe or tambon code) as a file frame.

    ``villages``: the village area table as the caller may see it (public = suppressed).
    ``previous``: the previous round's table, seen the same way (trend component).
    Columns: those of :func:`service.analysis.targets.village_list`, then ``suppressed``,
    ``lon``, ``lat``; ordered by priority rank (suppressed villages last, unranked).
    """
    from service.analysis.rank import load_config, rank_areas
    from service.analysis.targets import village_list

    rows = _in_area(villages, area).reset_index(drop=True)
    if rows.empty:
        raise NotFound(f"no villages in {area} / ไม่พบหมู่บ้านใน {area}")
    hidden = _hidden(rows)
    visible = rows[~hidden]
    ranking = None
    if not visible.empty:
        prev = None
        if previous is not None and not previous.empty:
            prev = _in_area(previous, area)
            prev = prev[~_hidden(prev)]
        ranking = rank_areas(visible.reset_index(drop=True), config or load_config(),
                             previous=prev, explain=False)
    out = village_list(rows, ranking=ranking, names=names)
    if ranking is None:  # nothing rankable: every village suppressed
        out["priority_rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
        out["priority_score"] = np.nan
    by_code = rows.set_index(rows["code"].astype(str))
    out["suppressed"] = out["village_id"].map(hidden.set_axis(by_code.index)).astype(bool)
    for col in ("lon", "lat"):
        values = by_code[col] if col in by_code else pd.Series(np.nan, index=by_code.index)
        out[col] = out["village_id"].map(values).astype("float64")
    out.loc[out["suppressed"], ["lon", "lat"]] = np.nan
    # suppressed villages last (village_list already puts unranked rows last)
    out = out.sort_values("suppressed", kind="stable").reset_index(drop=True)
    return out


def with_points(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """``frame`` with point geometry from ``lon``/``lat`` (empty geometry where unknown)."""
    lon = frame["lon"].to_numpy("float64")
    lat = frame["lat"].to_numpy("float64")
    known = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(len(frame), None, dtype=object)
    geoms[known] = shapely.points(lon[known], lat[known])
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs="EPSG:4326")


def household_targets(persons: pl.DataFrame, area: str) -> pd.DataFrame:
    """Poor households of ``area`` nearest to exit first
    (:func:`service.analysis.targets.household_list`); personal data, no coordinates."""
    from service.analysis.targets import household_list

    frame = household_list(persons, area=check_area(area))
    return frame.drop(columns=[c for c in ("lon", "lat") if c in frame.columns])
