"""Points -> H3 cells (vectorised), parents, children, cell polygons for maps.

Cells are ``uint64`` integers (0 = no cell: missing or invalid coordinates); APIs and maps
show them as hex strings (:func:`to_str`). Assignment runs in polars-h3 (Rust), about 4x
faster than a per-point ``h3.latlng_to_cell`` loop; parents are pure bit arithmetic on the
H3 index layout, so they cost one numpy pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import polars as pl
import polars_h3 as plh3
import shapely

log = logging.getLogger(__name__)

#: resolutions Chipao stores (h3_r6 ... h3_r9)
RESOLUTIONS = (6, 7, 8, 9)

# H3 index layout (h3geo.org/docs/library/index/cell): bits 52-55 resolution, then 15
# 3-bit digits from bit 44 down; digits below the cell's resolution are 7.
_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF) << _RES_SHIFT


def _check_res(res: int) -> int:
    if not isinstance(res, int | np.integer) or not 0 <= int(res) <= 15:
        raise ValueError(f"H3 resolution must be an integer 0-15, not {res!r}")
    return int(res)


def cells(lon: Any, lat: Any, res: int) -> np.ndarray:
    """H3 cell (uint64) of each point at ``res``; 0 where lon/lat are missing or invalid."""
    res = _check_res(res)
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in length: {lon_a.shape} vs {lat_a.shape}")
    ok = np.isfinite(lon_a) & np.isfinite(lat_a) & (np.abs(lat_a) <= 90) & (np.abs(lon_a) <= 180)
    if ok.all():
        df = pl.DataFrame({"lat": lat_a, "lng": lon_a})
    else:
        df = pl.DataFrame({
            "lat": pl.Series(np.where(ok, lat_a, np.nan)).fill_nan(None),
            "lng": pl.Series(np.where(ok, lon_a, np.nan)).fill_nan(None),
        })
    out = df.select(plh3.latlng_to_cell("lat", "lng", res).fill_null(0)).to_series()
    return out.to_numpy().astype(np.uint64, copy=False)


def _as_cells(cell_ids: Any) -> np.ndarray:
    """uint64 array of cells; floats are refused (they cannot hold a 64-bit H3 index)."""
    a = np.asarray(cell_ids)
    if a.dtype.kind == "f":
        raise TypeError("H3 cells must be integers (uint64), not floats: precision is lost")
    return a.astype(np.uint64, copy=False)


def cell_columns(lon: Any, lat: Any,
                 resolutions: Iterable[int] = RESOLUTIONS) -> dict[str, np.ndarray]:
    """``{"h3_r6": ..., "h3_r9": ...}``: the finest resolution from the points, the coarser
    ones as its parents.

    H3 children do not tile their parent exactly, so a point's own r6 cell differs from the
    r6 parent of its r9 cell for ~6-7 % of points. Deriving coarser levels from parents keeps
    the hierarchy consistent: the households of an r6 cell are exactly those of its r9
    children, which aggregation and the parent-minus-children disclosure audit rely on.
    """
    res = sorted({_check_res(r) for r in resolutions})
    if not res:
        raise ValueError("no resolutions given")
    finest = cells(lon, lat, res[-1])
    out = {f"h3_r{r}": parents(finest, r) for r in res[:-1]}
    out[f"h3_r{res[-1]}"] = finest
    return {f"h3_r{r}": out[f"h3_r{r}"] for r in res}


def resolution(cell_ids: Any) -> np.ndarray:
    """Resolution of each cell (uint64 array)."""
    c = _as_cells(cell_ids)
    return ((c & _RES_MASK) >> _RES_SHIFT).astype(np.int8)


def parents(cell_ids: Any, res: int) -> np.ndarray:
    """Parent at ``res`` of each cell (uint64); 0 stays 0.

    Raises ValueError when a cell is coarser than ``res``.
    """
    res = _check_res(res)
    c = _as_cells(cell_ids)
    valid = c != 0
    cres = resolution(c)
    if (cres[valid] < res).any():
        bad = int(np.flatnonzero(valid & (cres < res))[0])
        raise ValueError(
            f"cell at position {bad} ({int(c[bad]):x}) has resolution {int(cres[bad])} < {res}"
        )
    low = np.uint64((1 << ((15 - res) * 3)) - 1)  # digits below res set to 7 (binary 111)
    p = (c & ~_RES_MASK) | (np.uint64(res) << _RES_SHIFT) | low
    return np.where(valid, p, np.uint64(0)).astype(np.uint64)


def children(cell: int, res: int) -> np.ndarray:
    """All children of one cell at ``res`` (uint64, sorted)."""
    res = _check_res(res)
    kids = h3.cell_to_children(h3.int_to_str(int(cell)), res)
    return np.sort(np.array([h3.str_to_int(k) for k in kids], dtype=np.uint64))


def to_str(cell_ids: Iterable[int] | np.ndarray) -> list[str]:
    """Hex strings (as ``h3.int_to_str``) of uint64 cells; 0 becomes ''."""
    return [format(int(c), "x") if c else "" for c in _as_cells(cell_ids)]


def to_int(codes: Iterable[str]) -> np.ndarray:
    """uint64 cells from hex strings; raises ValueError naming the first invalid code."""
    out = []
    for i, code in enumerate(codes):
        if not isinstance(code, str) or not h3.is_valid_cell(code):
            raise ValueError(f"not an H3 cell at position {i}: {code!r}")
        out.append(h3.str_to_int(code))
    return np.array(out, dtype=np.uint64)


def cell_polygons(cell_ids: Any) -> gpd.GeoDataFrame:
    """GeoDataFrame (EPSG:4326) with ``code`` (hex string), ``h3`` (uint64) and the cell
    polygon as ``geometry``, one row per distinct non-zero cell, in input order."""
    arr = _as_cells(cell_ids)
    c = pl.Series("c", arr).filter(pl.Series(arr) != 0).unique(maintain_order=True)
    if len(c) == 0:
        return gpd.GeoDataFrame({"code": [], "h3": np.array([], np.uint64)},
                                geometry=[], crs="EPSG:4326")
    bounds = pl.DataFrame({"c": c}).select(plh3.cell_to_boundary("c")).to_series()
    if bounds.null_count():
        bad = int(np.flatnonzero(bounds.is_null().to_numpy())[0])
        raise ValueError(f"not a valid H3 cell: {int(c[bad]):x}")
    flat = bounds.explode()
    lat = flat.list.get(0).to_numpy()
    lng = flat.list.get(1).to_numpy()
    nverts = bounds.list.len().to_numpy().astype(np.int64)
    ring = np.repeat(np.arange(len(nverts)), nverts)
    xy = np.column_stack([lng, lat])
    rings = shapely.linearrings(xy, indices=ring)  # closes each ring itself
    polys = shapely.polygons(rings)
    ids = c.to_numpy().astype(np.uint64)
    return gpd.GeoDataFrame({"code": to_str(ids), "h3": ids}, geometry=polys, crs="EPSG:4326")
