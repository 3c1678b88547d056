"""Zonal statistics of a raster (e.g. a WorldPop population grid) per polygon and per H3 cell.

Per polygon, the zones are computed once (:class:`ZoneRaster`): pixels that no polygon boundary
crosses belong wholly to one zone (or none); pixels a boundary crosses ("edge pixels") are
split between zones by the share of ``supersample`` x ``supersample`` sub-pixel centres that
fall in each (located exactly, see :mod:`service.geo.locate`). Sums are then two
``numpy.bincount`` calls, so a new raster or a new band costs one pass. Centre-only
rasterisation drops or double-assigns edge pixels and all-touched counts them in every
neighbour; the fractional split keeps totals (tobler's extensive rule) within a pixel's
sub-sampling error.

Pure functions over arrays and affine transforms (EPSG:4326, north-up); the caller opens the
GeoTIFF (rasterio) and passes ``band, transform``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, NamedTuple

import h3
import numpy as np
import polars as pl
import rasterio.features
import shapely
from affine import Affine

from service.geo import hexgrid
from service.geo.locate import CellIndex, GridSpec, TambonLocator

log = logging.getLogger(__name__)

#: upper bound on the cells of the fine index used to locate sub-pixel centres
_MAX_FINE_CELLS = 60_000_000


def _valid_values(values: Any, shape: tuple[int, int], nodata: float | None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != shape:
        raise ValueError(f"raster has shape {v.shape}, the zones were built for {shape}")
    bad = ~np.isfinite(v)
    if nodata is not None and np.isfinite(nodata):
        bad |= v == nodata
    if bad.any():
        v = np.where(bad, 0.0, v)
    return v


class ZoneRaster:
    """Polygons rasterised once onto a raster's grid, with fractional edge pixels.

    Parameters
    ----------
    polygons : array of shapely Polygon/MultiPolygon (EPSG:4326), e.g. ``tambons.geometry``
    transform, shape : the raster's affine transform and (rows, cols)
    supersample : sub-pixels per side used to split edge pixels (4 -> 1/16 pixel steps)
    locator : optional TambonLocator over the same polygons; reused to locate sub-pixels
    """

    def __init__(self, polygons: Any, transform: Affine, shape: tuple[int, int], *,
                 supersample: int = 4, locator: TambonLocator | None = None) -> None:
        started = time.perf_counter()
        geoms = np.asarray(getattr(polygons, "values", polygons), dtype=object)
        if not 1 <= int(supersample) <= 32:
            raise ValueError(f"supersample must be 1-32, not {supersample!r}")
        self.n_zones = len(geoms)
        self.shape = (int(shape[0]), int(shape[1]))
        self.transform = transform
        self.supersample = s = int(supersample)
        spec = GridSpec.from_transform(transform, self.shape)
        index = CellIndex.build(geoms, spec)
        self.zone = np.asarray(index.grid).astype(np.int32)  # -1 none, -2 edge
        edge = index.edge_cells
        # sub-pixel centres of every edge pixel
        rows, cols = np.divmod(edge, spec.nx)
        k = (np.arange(s) + 0.5) / s
        sub_c = (cols[:, None, None] + k[None, None, :]).repeat(s, axis=1)
        sub_r = (rows[:, None, None] + k[None, :, None]).repeat(s, axis=2)
        sx = (spec.west + sub_c * spec.dx).reshape(-1)
        sy = (spec.north - sub_r * spec.dy).reshape(-1)
        pix = np.repeat(edge, s * s)
        if locator is not None:
            if len(locator) != self.n_zones:
                raise ValueError("locator was built over other polygons")
            zone_of_sub = locator.locate(sx, sy)
        else:
            fine = self._fine_index(geoms, spec, s)
            zone_of_sub = fine.lookup(sx, sy)
        inside = zone_of_sub >= 0
        key = pix[inside] * self.n_zones + zone_of_sub[inside]
        uniq, counts = np.unique(key, return_counts=True)
        self.edge_pix = uniq // self.n_zones
        self.edge_zone = (uniq % self.n_zones).astype(np.int32)
        self.edge_frac = counts / float(s * s)
        self.build_seconds = time.perf_counter() - started
        log.info("zone raster: %s zones on %s x %s pixels, %s edge pixels, %.2f s",
                 f"{self.n_zones:,}", f"{self.shape[1]:,}", f"{self.shape[0]:,}",
                 f"{len(edge):,}", self.build_seconds)

    @staticmethod
    def _fine_index(geoms: np.ndarray, spec: GridSpec, s: int) -> CellIndex:
        """Index at sub-pixel size (capped in memory) over the polygons' extent."""
        bounds = shapely.total_bounds(geoms)
        area = max((bounds[2] - bounds[0]) * (bounds[3] - bounds[1]), 1e-12)
        cell = max(min(spec.dx, spec.dy) / s, math.sqrt(area / _MAX_FINE_CELLS))
        return CellIndex.build(geoms, GridSpec.covering(bounds, cell))

    def sums(self, values: Any, *, nodata: float | None = None,
             whole_pixels: bool = False) -> np.ndarray:
        """Sum of the raster's values per zone (float64, one per polygon).

        Edge pixels are split by the area share of each zone. With ``whole_pixels`` the
        shares of a pixel are scaled to sum to 1, so a coastal or border pixel's value goes
        wholly to the zones it touches: right for counts that only lie inside the zones (a
        country's population raster against all its tambons), wrong for a subset of zones.
        NaN and ``nodata`` pixels count as 0.
        """
        v = _valid_values(values, self.shape, nodata)
        z = self.zone.reshape(-1)
        flat = v.reshape(-1)
        pure = z >= 0
        out = np.bincount(z[pure], weights=flat[pure], minlength=self.n_zones)
        frac = self.edge_frac
        if whole_pixels and len(frac):
            # edge_pix is sorted: total share per pixel via its run
            starts = np.flatnonzero(np.r_[True, self.edge_pix[1:] != self.edge_pix[:-1]])
            total = np.add.reduceat(frac, starts)
            frac = frac / np.repeat(total, np.diff(np.r_[starts, len(frac)]))
        out += np.bincount(self.edge_zone, weights=flat[self.edge_pix] * frac,
                           minlength=self.n_zones)
        return out

    def coverage(self) -> np.ndarray:
        """Pixels (fractional) per zone: the zone's area in pixel units."""
        return self.sums(np.ones(self.shape))


def naive_zonal_sums(polygons: Any, values: Any, transform: Affine, *,
                     all_touched: bool = False, nodata: float | None = None) -> np.ndarray:
    """Reference method: one mask per polygon (``rasterio.features.geometry_mask`` over the
    polygon's window), summing the pixels whose centre is inside (``all_touched=False``) or
    that the polygon touches (``all_touched=True``: edge pixels count in every neighbour)."""
    geoms = np.asarray(getattr(polygons, "values", polygons), dtype=object)
    v = _valid_values(values, np.shape(values), nodata)
    spec = GridSpec.from_transform(transform, v.shape)
    out = np.zeros(len(geoms))
    for i, g in enumerate(geoms):
        minx, miny, maxx, maxy = g.bounds
        c0 = max(int(math.floor((minx - spec.west) / spec.dx)) - 1, 0)
        c1 = min(int(math.ceil((maxx - spec.west) / spec.dx)) + 1, spec.nx)
        r0 = max(int(math.floor((spec.north - maxy) / spec.dy)) - 1, 0)
        r1 = min(int(math.ceil((spec.north - miny) / spec.dy)) + 1, spec.ny)
        if c1 <= c0 or r1 <= r0:
            continue
        win_t = transform @ Affine.translation(c0, r0)
        mask = rasterio.features.geometry_mask([g], out_shape=(r1 - r0, c1 - c0),
                                               transform=win_t, invert=True,
                                               all_touched=all_touched)
        out[i] = v[r0:r1, c0:c1][mask].sum()
    return out


def centre_zonal_sums(polygons: Any, values: Any, transform: Affine, *,
                      nodata: float | None = None) -> np.ndarray:
    """Centre-only zone raster + bincount (no edge treatment): the fast, inexact method."""
    geoms = np.asarray(getattr(polygons, "values", polygons), dtype=object)
    v = _valid_values(values, np.shape(values), nodata)
    zone = rasterio.features.rasterize(
        ((geoms[i], i) for i in range(len(geoms) - 1, -1, -1)), out_shape=v.shape,
        transform=transform, fill=-1, dtype=np.int32)
    keep = zone >= 0
    return np.bincount(zone[keep], weights=v[keep], minlength=len(geoms))


def auto_supersample(pixel_deg: float, res: int) -> int:
    """Sub-pixels per side so a sub-pixel is at most one H3 edge long (1-16): a few
    sub-pixel centres per cell, enough for sums that match the cell's share of the pixel."""
    edge_deg = h3.average_hexagon_edge_length(res, unit="km") / 111.32
    return int(min(max(math.ceil(pixel_deg / edge_deg), 1), 16))


def h3_sums(values: Any, transform: Affine, res: int, *, supersample: int | None = None,
            nodata: float | None = None,
            chunk_points: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Sum of a raster per H3 cell at ``res``: each pixel is split into ``supersample``²
    sub-pixels whose centres pick the cell. Returns ``(cells uint64, sums float64)`` for cells
    with a non-zero sum, cells sorted. ``supersample`` defaults to :func:`auto_supersample`
    (a 0.01° raster at r8: 4 per side; r9: 7).

    Compute the finest resolution once and roll coarser ones up with :func:`rollup`, as the
    household cells are (hexgrid.cell_columns), so both follow the same hierarchy.
    """
    v = _valid_values(values, np.shape(values), nodata)
    spec = GridSpec.from_transform(transform, v.shape)
    s = supersample or auto_supersample(max(spec.dx, spec.dy), res)
    k = (np.arange(s) + 0.5) / s
    # bound memory: about chunk_points sub-pixels per block of rows
    chunk_rows = max(1, chunk_points // max(1, spec.nx * s * s))
    parts = []
    for r0 in range(0, spec.ny, chunk_rows):
        block = v[r0:r0 + chunk_rows]
        rows, cols = np.nonzero(block)
        if not len(rows):
            continue
        share = block[rows, cols] / (s * s)
        sub_c = (cols[:, None, None] + k[None, None, :]).repeat(s, axis=1).reshape(-1)
        sub_r = (rows[:, None, None] + r0 + k[None, :, None]).repeat(s, axis=2).reshape(-1)
        cell = hexgrid.cells(spec.west + sub_c * spec.dx, spec.north - sub_r * spec.dy, res)
        parts.append(pl.DataFrame({"cell": cell, "value": np.repeat(share, s * s)})
                     .group_by("cell").agg(pl.col("value").sum()))
    if not parts:
        return np.array([], np.uint64), np.array([], np.float64)
    total = (pl.concat(parts).group_by("cell").agg(pl.col("value").sum())
             .filter(pl.col("cell") != 0).sort("cell"))
    return (total["cell"].to_numpy().astype(np.uint64),
            total["value"].to_numpy().astype(np.float64))


def rollup(cell_ids: Any, sums: Any, res: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums per parent cell at ``res`` (cells sorted)."""
    frame = pl.DataFrame({"cell": hexgrid.parents(cell_ids, res),
                          "value": np.asarray(sums, dtype=np.float64)})
    out = frame.group_by("cell").agg(pl.col("value").sum()).sort("cell")
    return out["cell"].to_numpy().astype(np.uint64), out["value"].to_numpy()


class SurveyGap(NamedTuple):
    """``gap`` = 1 - surveyed/raster population (NaN where the raster has < ``min_pop``);
    ``flag`` = gap >= threshold: far fewer people surveyed than live there (ตกหล่น?)."""

    gap: np.ndarray
    flag: np.ndarray


def survey_gap(n_persons: Any, pop_raster: Any, threshold: float = 0.5, *,
               min_pop: float = 100.0) -> SurveyGap:
    """Flag areas where the surveyed persons are far below the raster's population.

    ``threshold`` is the share of the raster population missing from the survey (0.5 =
    fewer than half surveyed). Areas with a raster population under ``min_pop`` are not
    judged (gap NaN, flag False): a small denominator gives noisy ratios.
    """
    n = np.asarray(n_persons, dtype=np.float64)
    pop = np.asarray(pop_raster, dtype=np.float64)
    if n.shape != pop.shape:
        raise ValueError(f"n_persons has {n.shape} values, pop_raster {pop.shape}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")
    judged = np.isfinite(pop) & (pop >= min_pop)
    gap = np.full(n.shape, np.nan)
    gap[judged] = 1.0 - np.nan_to_num(n[judged]) / pop[judged]
    flag = judged & (gap >= threshold)
    return SurveyGap(gap, flag)
