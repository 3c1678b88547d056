"""Points -> tambon, fast and exact.

A naive ``geopandas.sjoin`` builds one shapely Point per household and walks an R-tree for
each; for 5 M points that takes ~15 s here. Instead the polygons are rasterised once into a
grid of polygon ids (``cell_deg`` = 0.001° ≈ 110 m by default). A grid cell that no polygon
boundary crosses lies wholly inside one polygon (or outside all), so its id is the answer for
every point in it. Only points in cells that a boundary crosses ("edge cells") are tested
exactly, against the few candidate polygons of their cell, with ``shapely.intersects_xy``.

Exactness: the result equals the point-in-polygon answer "lowest polygon index whose closed
polygon (boundary included) contains the point, else -1", for polygons that do not overlap one
another (a coverage, as admin boundaries are). Edge cells are found conservatively by sampling
every ring segment at steps under one cell and marking the 1-2 cells spanned in each axis by
consecutive samples (plus a tiny epsilon), so a crossing can never be missed.

Pure functions and classes: no Flask, no file paths other than an optional cache directory the
caller passes in, no module state.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import rasterio.features
import shapely
from affine import Affine

log = logging.getLogger(__name__)

#: bump when the on-disk cache layout or the build algorithm changes
CACHE_VERSION = 1
#: tolerance (in cell units) when marking the cells a boundary segment spans
_EPS = 1e-7
#: sampling step along a segment, in cells: with step + 2 * _EPS < 1, the piece between two
#: consecutive samples spans at most 2 cells per axis, floor(min - eps) and floor(max + eps).
#: 0.5 rather than 0.9: fewer pieces straddle a cell corner, so ~8 % fewer edge cells (and
#: exact tests per query) for a slightly longer one-off build.
_STEP = 0.5

SOURCES = ("point", "village", "tambon", "unlocated")


@dataclass(frozen=True)
class GridSpec:
    """A north-up grid: ``west``/``north`` corner, cell size ``dx``/``dy`` (> 0), ``nx`` x ``ny``."""

    west: float
    north: float
    dx: float
    dy: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, bounds: Sequence[float], cell: float) -> GridSpec:
        """Smallest grid of ``cell``-sized cells covering ``bounds`` (minx, miny, maxx, maxy),
        with one spare cell around so boundary vertices never sit on the grid's rim."""
        minx, miny, maxx, maxy = (float(b) for b in bounds)
        if not cell > 0:
            raise ValueError(f"cell size must be positive, not {cell!r}")
        west = math.floor(minx / cell) * cell - cell
        north = math.ceil(maxy / cell) * cell + cell
        nx = int(math.ceil((maxx - west) / cell)) + 1
        ny = int(math.ceil((north - miny) / cell)) + 1
        return cls(west, north, cell, cell, nx, ny)

    @classmethod
    def from_transform(cls, transform: Affine, shape: tuple[int, int]) -> GridSpec:
        if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
            raise ValueError("only north-up rasters without rotation are supported")
        return cls(transform.c, transform.f, transform.a, -transform.e, shape[1], shape[0])

    @property
    def transform(self) -> Affine:
        return Affine(self.dx, 0.0, self.west, 0.0, -self.dy, self.north)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row, column and validity (finite and inside the grid) of each point."""
        u = np.subtract(x, self.west)
        u /= self.dx
        v = np.subtract(self.north, y)
        v /= self.dy
        ok = u >= 0  # NaN compares False
        ok &= u < self.nx
        ok &= v >= 0
        ok &= v < self.ny
        if not ok.all():
            bad = ~ok
            u[bad] = 0
            v[bad] = 0
        # truncation equals floor on [0, n)
        return v.astype(np.int64), u.astype(np.int64), ok

    def flat_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat cell index (row * nx + col) and validity of each point."""
        row, col, ok = self.cell_of(x, y)
        row *= self.nx
        row += col
        return row, ok


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values (numpy's hash-based ``np.unique`` is ~10x slower here)."""
    a = np.sort(a, kind="stable" if a.dtype.kind == "O" else None)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _boundary_cells(geoms: np.ndarray, spec: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """(flat cell index, polygon index) pairs covering every cell a polygon boundary touches.

    Conservative by construction: samples along each segment are under a cell apart (per axis),
    so the segment between two consecutive samples stays inside the bounding box of their
    cells; all cells of that box (widened by ``_EPS``) are emitted.
    """
    parts, part_idx = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    poly_of_coord = part_idx[ring_part[ring_idx]]
    same = ring_idx[1:] == ring_idx[:-1]
    a = coords[:-1][same]
    b = coords[1:][same]
    poly = poly_of_coord[:-1][same]
    # work in cell units: u = column coordinate, v = row coordinate
    au = (a[:, 0] - spec.west) / spec.dx
    av = (spec.north - a[:, 1]) / spec.dy
    bu = (b[:, 0] - spec.west) / spec.dx
    bv = (spec.north - b[:, 1]) / spec.dy
    n = np.maximum(np.ceil(np.maximum(np.abs(bu - au), np.abs(bv - av)) / _STEP), 1).astype(
        np.int64
    )
    seg = np.repeat(np.arange(len(n)), n)
    start = np.cumsum(n) - n
    j = np.arange(len(seg)) - np.repeat(start, n)
    t0 = j / n[seg]
    t1 = (j + 1) / n[seg]
    du = bu - au
    dv = bv - av
    u0 = au[seg] + du[seg] * t0
    u1 = au[seg] + du[seg] * t1
    v0 = av[seg] + dv[seg] * t0
    v1 = av[seg] + dv[seg] * t1
    c_lo = np.floor(np.minimum(u0, u1) - _EPS).astype(np.int64)
    c_hi = np.floor(np.maximum(u0, u1) + _EPS).astype(np.int64)
    r_lo = np.floor(np.minimum(v0, v1) - _EPS).astype(np.int64)
    r_hi = np.floor(np.maximum(v0, v1) + _EPS).astype(np.int64)
    p = poly[seg]
    del u0, u1, v0, v1, t0, t1, j
    cols = [c_lo, c_hi, c_lo, c_hi]
    rows = [r_lo, r_lo, r_hi, r_hi]
    keep = [np.ones(len(p), bool), c_hi != c_lo, r_hi != r_lo, (c_hi != c_lo) & (r_hi != r_lo)]
    out_cell = []
    out_poly = []
    for c, r, k in zip(cols, rows, keep, strict=True):
        k = k & (c >= 0) & (c < spec.nx) & (r >= 0) & (r < spec.ny)
        out_cell.append(r[k] * spec.nx + c[k])
        out_poly.append(p[k])
    return np.concatenate(out_cell), np.concatenate(out_poly)


@dataclass
class CellIndex:
    """Polygon ids on a grid: ``grid`` holds the polygon index of pure cells, -1 outside,
    -2 in edge cells; ``edge_cells`` (sorted flat indices) with candidate polygons
    ``cand_poly[cand_ptr[e]:cand_ptr[e + 1]]`` (sorted ascending) for edge cell ``e``."""

    spec: GridSpec
    grid: np.ndarray
    edge_cells: np.ndarray
    cand_ptr: np.ndarray
    cand_poly: np.ndarray
    geoms: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, geoms: np.ndarray, spec: GridSpec) -> CellIndex:
        geoms = np.asarray(geoms, dtype=object)
        n = len(geoms)
        if n == 0:
            raise ValueError("no polygons to index")
        types = shapely.get_type_id(geoms)
        if not np.isin(types, (3, 6)).all():
            bad = int(np.flatnonzero(~np.isin(types, (3, 6)))[0])
            raise ValueError(f"geometry at row {bad} is not a Polygon/MultiPolygon")
        dtype = np.int16 if n < 32_000 else np.int32
        # reversed order: later shapes overwrite, so the lowest index wins where shapes overlap
        order = range(n - 1, -1, -1)
        grid = rasterio.features.rasterize(
            ((geoms[i], i) for i in order if not shapely.is_empty(geoms[i])),
            out_shape=spec.shape, transform=spec.transform, fill=-1, dtype=dtype,
            all_touched=False,
        )
        cell, poly = _boundary_cells(geoms, spec)
        keys = cell * n + poly
        # consecutive samples mostly repeat a cell: drop those before the sort
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        keys = _sorted_unique(keys)
        edge = _sorted_unique(keys // n)
        # the polygon holding the cell centre is a candidate too (it may contain the cell's
        # part that no crossing boundary belongs to)
        centre = grid.reshape(-1)[edge].astype(np.int64)
        has = centre >= 0
        keys = _sorted_unique(np.concatenate([keys, edge[has] * n + centre[has]]))
        cand_cell = keys // n
        cand_poly = (keys % n).astype(dtype)
        starts = np.searchsorted(cand_cell, edge, side="left")
        cand_ptr = np.append(starts, len(keys)).astype(np.int64)
        grid.reshape(-1)[edge] = -2
        shapely.prepare(geoms)
        return cls(spec, grid, edge, cand_ptr, cand_poly, geoms)

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Exact polygon index of each point (-1 outside every polygon or non-finite)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"lon and lat differ in length: {x.shape} vs {y.shape}")
        flat, ok = self.spec.flat_index(x, y)
        out = np.take(self.grid.reshape(-1), flat).astype(np.int32)
        out[~ok] = -1
        idx = np.flatnonzero(out == -2)
        if len(idx):
            out[idx] = self._exact(x[idx], y[idx], flat[idx])
        return out

    def _exact(self, x: np.ndarray, y: np.ndarray, flat: np.ndarray) -> np.ndarray:
        e = np.searchsorted(self.edge_cells, flat)
        start = self.cand_ptr[e]
        count = self.cand_ptr[e + 1] - start
        res = np.full(len(x), -1, dtype=np.int32)
        todo = np.arange(len(x))
        r = 0
        # candidates ascending: the first that covers the point is the lowest index
        while len(todo):
            todo = todo[count[todo] > r]
            if not len(todo):
                break
            poly = self.cand_poly[start[todo] + r]
            hit = shapely.intersects_xy(self.geoms[poly], x[todo], y[todo])
            res[todo[hit]] = poly[hit]
            todo = todo[~hit]
            r += 1
        return res

    # cache -------------------------------------------------------------------------------
    def save(self, directory: Path, key: str) -> None:
        """Write ``<directory>/<key>/`` atomically (a private temporary directory renamed)."""
        directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=directory))
        try:
            np.save(tmp / "grid.npy", self.grid)
            np.savez(tmp / "edges.npz", edge_cells=self.edge_cells, cand_ptr=self.cand_ptr,
                     cand_poly=self.cand_poly,
                     spec=np.array([self.spec.west, self.spec.north, self.spec.dx,
                                    self.spec.dy, self.spec.nx, self.spec.ny],
                                   dtype=np.float64))
            try:
                tmp.rename(directory / key)
            except OSError:  # another process won the race: keep theirs
                if not (directory / key / "edges.npz").exists():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, geoms: np.ndarray) -> CellIndex:
        grid = np.load(directory / "grid.npy", mmap_mode="r")
        with np.load(directory / "edges.npz") as z:
            s = z["spec"]
            spec = GridSpec(float(s[0]), float(s[1]), float(s[2]), float(s[3]), int(s[4]),
                            int(s[5]))
            geoms = np.asarray(geoms, dtype=object)
            shapely.prepare(geoms)
            return cls(spec, grid, z["edge_cells"], z["cand_ptr"], z["cand_poly"], geoms)


def _geometry_key(geoms: np.ndarray, extra: str) -> str:
    h = hashlib.sha256()
    h.update(f"v{CACHE_VERSION}|{extra}|{len(geoms)}|".encode())
    for wkb in shapely.to_wkb(geoms, output_dimension=2):
        h.update(wkb)
    return h.hexdigest()[:24]


class TambonLocator:
    """Locate points in polygons (tambons) through a cached id grid.

    Parameters
    ----------
    tambons : GeoDataFrame
        Polygons in EPSG:4326 with a ``code`` column (e.g. boundaries' tambons.parquet).
    cell_deg : float
        Grid cell size in degrees; 0.001° (~110 m) keeps ~5 % of points in edge cells.
    cache_dir : path, optional
        Directory where the grid is cached (``locator-<hash>/grid.npy``), keyed by a hash of
        the geometries and the cell size; reused (memory-mapped) by later builds.
    """

    def __init__(self, tambons: Any, *, cell_deg: float = 0.001,
                 cache_dir: str | Path | None = None) -> None:
        if "code" not in tambons.columns:
            raise ValueError("tambons need a 'code' column")
        crs = getattr(tambons, "crs", None)
        if crs is not None and crs.to_epsg() != 4326:
            raise ValueError(f"tambons must be in EPSG:4326 (lon/lat), not {crs}")
        geoms = np.asarray(tambons.geometry.values, dtype=object)
        self.codes: np.ndarray = tambons["code"].to_numpy().astype(str)
        self.cell_deg = float(cell_deg)
        started = time.perf_counter()
        spec = GridSpec.covering(shapely.total_bounds(geoms), self.cell_deg)
        self.cache_hit = False
        if cache_dir is not None:
            key = "locator-" + _geometry_key(geoms, f"{self.cell_deg!r}")
            path = Path(cache_dir) / key
            if (path / "edges.npz").exists():
                try:
                    self.index = CellIndex.load(path, geoms)
                    self.cache_hit = True
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("locator cache %s unreadable (%s); rebuilding", path, exc)
            if not self.cache_hit:
                self.index = CellIndex.build(geoms, spec)
                try:
                    self.index.save(Path(cache_dir), key)
                except OSError as exc:
                    log.warning("could not cache the locator grid in %s: %s", cache_dir, exc)
        else:
            self.index = CellIndex.build(geoms, spec)
        self.build_seconds = time.perf_counter() - started
        log.info(
            "tambon locator: %s polygons, grid %s x %s at %s°, %s edge cells, %.2f s (%s)",
            f"{len(geoms):,}", f"{self.index.spec.nx:,}", f"{self.index.spec.ny:,}",
            self.cell_deg, f"{len(self.index.edge_cells):,}", self.build_seconds,
            "cache" if self.cache_hit else "built",
        )

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lon: Any, lat: Any) -> np.ndarray:
        """Index into ``tambons`` (int32) of each point; -1 = outside every polygon / NaN."""
        return self.index.lookup(np.asarray(lon, dtype=np.float64),
                                 np.asarray(lat, dtype=np.float64))

    def locate_codes(self, lon: Any, lat: Any) -> np.ndarray:
        """Tambon code of each point (None outside)."""
        idx = self.locate(lon, lat)
        out = np.full(len(idx), None, dtype=object)
        inside = idx >= 0
        out[inside] = self.codes[idx[inside]]
        return out


@dataclass(frozen=True)
class LocateReport:
    """Counts of how rows were located (no personal data, only counts and row numbers)."""

    n_rows: int
    by_source: dict[str, int]
    coords_missing: int
    coords_outside: int
    point_disagrees_with_record: int
    outside_rows_sample: list[int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "by_source": dict(self.by_source),
            "coords_missing": self.coords_missing,
            "coords_outside": self.coords_outside,
            "point_disagrees_with_record": self.point_disagrees_with_record,
            "outside_rows_sample": list(self.outside_rows_sample),
        }

    def describe(self) -> str:
        """One line in Thai and English for logs and validation reports."""
        s = self.by_source
        return (
            f"ระบุตำบลจากพิกัด {s.get('point', 0):,} แถว, จากรหัสหมู่บ้าน {s.get('village', 0):,}, "
            f"จากรหัสตำบล {s.get('tambon', 0):,}, ระบุไม่ได้ {s.get('unlocated', 0):,}; "
            f"ไม่มีพิกัด {self.coords_missing:,}, พิกัดนอกประเทศไทย {self.coords_outside:,} / "
            f"located by point {s.get('point', 0):,} rows, by village code "
            f"{s.get('village', 0):,}, by tambon code {s.get('tambon', 0):,}, unlocated "
            f"{s.get('unlocated', 0):,}; missing coordinates {self.coords_missing:,}, "
            f"outside Thailand {self.coords_outside:,}"
        )


class Assignment(tuple):
    """``(tambon_located, locate_source)`` polars Series, with ``.report`` (LocateReport)."""

    report: LocateReport

    def __new__(cls, tambon: pl.Series, source: pl.Series, report: LocateReport) -> Assignment:
        obj = super().__new__(cls, (tambon, source))
        obj.report = report
        return obj


def assign_tambon(lon: Any, lat: Any, village_id: Any, tambon_code: Any,
                  locator: TambonLocator, *, sample_rows: int = 20) -> Assignment:
    """Tambon of each row: from the point when it falls in a tambon, else from the village
    code (its first 8 characters), else from the record's tambon code.

    Returns ``(tambon_located, locate_source)`` as polars Series (String; source is one of
    ``point``, ``village``, ``tambon``, ``unlocated``) and ``.report`` with the counts,
    rows whose coordinates are missing or outside every tambon (outside Thailand).
    """
    lon_a = np.asarray(pl.Series(lon, dtype=pl.Float64).fill_null(np.nan).to_numpy(),
                       dtype=np.float64)
    lat_a = np.asarray(pl.Series(lat, dtype=pl.Float64).fill_null(np.nan).to_numpy(),
                       dtype=np.float64)
    n = len(lon_a)
    village = pl.Series("village_id", village_id, dtype=pl.String)
    record = pl.Series("tambon_code", tambon_code, dtype=pl.String)
    for name, s in (("lat", lat_a), ("village_id", village), ("tambon_code", record)):
        if len(s) != n:
            raise ValueError(f"column {name} has {len(s):,} rows, lon has {n:,}")
    idx = locator.locate(lon_a, lat_a)
    known = pl.Series(locator.codes.tolist(), dtype=pl.String)
    inside = idx >= 0
    # gather with null indices gives null codes (no Python objects per row)
    gather_idx = pl.Series(np.where(inside, idx, 0)).scatter(np.flatnonzero(~inside), None)
    df = pl.DataFrame({
        "point": known.gather(gather_idx),
        "village": village.str.slice(0, 8),
        "record": record,
    }).with_columns(
        pl.when(pl.col("village").is_in(known.implode())).then(pl.col("village")).alias("village"),
        pl.when(pl.col("record").is_in(known.implode())).then(pl.col("record")).alias("record"),
    )
    out = df.select(
        pl.coalesce("point", "village", "record").alias("tambon_located"),
        pl.when(pl.col("point").is_not_null()).then(pl.lit("point"))
        .when(pl.col("village").is_not_null()).then(pl.lit("village"))
        .when(pl.col("record").is_not_null()).then(pl.lit("tambon"))
        .otherwise(pl.lit("unlocated")).alias("locate_source"),
        (pl.col("point").is_not_null() & pl.col("record").is_not_null()
         & (pl.col("point") != pl.col("record"))).alias("disagree"),
    )
    missing = ~(np.isfinite(lon_a) & np.isfinite(lat_a))
    outside = ~missing & ~inside
    counts = out["locate_source"].value_counts()
    by_source = dict.fromkeys(SOURCES, 0)
    for s, c in counts.iter_rows():
        by_source[s] = int(c)
    report = LocateReport(
        n_rows=n,
        by_source=by_source,
        coords_missing=int(missing.sum()),
        coords_outside=int(outside.sum()),
        point_disagrees_with_record=int(out["disagree"].sum()),
        outside_rows_sample=[int(i) for i in np.flatnonzero(outside)[:sample_rows]],
    )
    if report.coords_outside:
        log.warning("%s rows have coordinates outside every tambon (first rows: %s)",
                    f"{report.coords_outside:,}", report.outside_rows_sample[:5])
    return Assignment(out["tambon_located"], out["locate_source"], report)
