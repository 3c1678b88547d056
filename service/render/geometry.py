"""Map geometry payloads, simplified once and cached.

Admin polygons are simplified topologically with :func:`shapely.coverage_simplify` (shared
edges stay shared, so no slivers or gaps appear between neighbours), rounded to 4 decimals
(~11 m) and written as a bare GeoJSON FeatureCollection whose feature ``id`` is the area code.
Values and names travel separately (service.render.builders), so the browser downloads the
geometry once per level and caches it, whatever the measure shown.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from service.geo import boundaries
from service.vocabulary import BOUNDARY_LEVELS

log = logging.getLogger(__name__)

#: coverage_simplify tolerance (degrees) per (level, scope): the national view of 7,425
#: tambons is drawn at ~1 km per pixel, a province view at ~100 m.
TOLERANCE = {
    ("province", "all"): 0.01,
    ("amphoe", "all"): 0.005,
    ("tambon", "all"): 0.005,
    ("province", "province"): 0.002,
    ("amphoe", "province"): 0.001,
    ("tambon", "province"): 0.0005,
    ("tambon", "amphoe"): 0.0002,
}
DECIMALS = 4
#: bump when the payload format or simplification changes: it is part of every cache key
FORMAT = 2
ADMIN_LEVELS = BOUNDARY_LEVELS  # the levels drawn from the boundary files


def tolerance_for(level: str, scope: str | None) -> float:
    """Simplification tolerance for a level drawn nationally (scope None) or in an area."""
    kind = "all" if not scope else boundaries.level_of(scope)
    return TOLERANCE.get((level, kind), 0.0002)


def _round(geoms: np.ndarray, decimals: int) -> np.ndarray:
    """Round coordinates; the rare ring that rounding makes self-touching is repaired."""
    out = shapely.transform(geoms, lambda c: np.round(c, decimals))
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad], method="structure", keep_collapsed=False)
    return out


@functools.lru_cache(maxsize=8)
def simplified_level(boundaries_dir: str, level: str, tolerance: float) -> gpd.GeoDataFrame:
    """Whole-country boundaries of a level, coverage-simplified at ``tolerance`` degrees."""
    frame = boundaries.load_level(boundaries_dir, level)
    geoms = frame.geometry.values
    if tolerance > 0:
        geoms = shapely.coverage_simplify(np.asarray(geoms), tolerance)
    geoms = _round(np.asarray(geoms), DECIMALS)
    out = gpd.GeoDataFrame(
        {"code": frame["code"].to_numpy()}, geometry=geoms, crs=frame.crs
    )
    log.debug("simplified %s at %s: %d vertices", level, tolerance,
              int(shapely.get_num_coordinates(geoms).sum()))
    return out


def feature_collection(codes: Sequence[str], geojson_geoms: Iterable[str]) -> bytes:
    """Assemble a FeatureCollection from geometry GeoJSON strings without re-parsing them."""
    parts = [
        '{"type":"Feature","id":' + json.dumps(code) + ',"geometry":' + g + "}"
        for code, g in zip(codes, geojson_geoms, strict=True)
    ]
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}").encode()


def admin_geojson(boundaries_dir: str, level: str, scope: str | None = None) -> bytes:
    """GeoJSON of every ``level`` area inside ``scope`` (a province/amphoe code, or None)."""
    if level not in ADMIN_LEVELS:
        raise ValueError(f"level must be one of {ADMIN_LEVELS}, not {level!r}")
    frame = simplified_level(str(boundaries_dir), level, tolerance_for(level, scope))
    if scope:
        frame = frame[frame["code"].str.startswith(scope)]
    return feature_collection(
        frame["code"].tolist(), shapely.to_geojson(frame.geometry.values).tolist()
    )


def bounds_of(boundaries_dir: str, code: str | None) -> list[list[float]]:
    """[[south, west], [north, east]] of an area (or the whole country) for fitBounds."""
    level = "province" if code is None else boundaries.level_of(code)
    frame = simplified_level(str(boundaries_dir), level, tolerance_for(level, None))
    if code is not None:
        frame = frame[frame["code"] == code]
        if frame.empty:
            raise KeyError(code)
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    return [[miny, minx], [maxy, maxx]]


def h3_geojson(cells: Sequence[str]) -> bytes:
    """Hexagon polygons of H3 cells (hex strings), rounded like the admin polygons."""
    import h3

    parts = []
    for cell in cells:
        ring = h3.cell_to_boundary(cell)  # ((lat, lng), ...)
        coords = ",".join(f"[{lng:.{DECIMALS + 1}f},{lat:.{DECIMALS + 1}f}]" for lat, lng in ring)
        first = ring[0]
        coords += f",[{first[1]:.{DECIMALS + 1}f},{first[0]:.{DECIMALS + 1}f}]"
        parts.append('{"type":"Polygon","coordinates":[[' + coords + "]]}")
    return feature_collection(list(cells), parts)


def admin_rings(boundaries_dir: str, level: str, codes: Sequence[str], scope: str | None
                ) -> list[tuple[str, list[tuple[float, float]]]]:
    """(code, exterior ring as (lng, lat) pairs) of every polygon part of the ``codes`` areas,
    simplified as the ``level`` map of ``scope`` is, for :func:`h3_compact`'s ``rings``."""
    frame = simplified_level(str(boundaries_dir), level, tolerance_for(level, scope))
    frame = frame[frame["code"].isin(set(codes))].sort_values("code")
    out: list[tuple[str, list[tuple[float, float]]]] = []
    for code, geom in zip(frame["code"], frame.geometry.values, strict=True):
        parts = getattr(geom, "geoms", [geom])
        for part in parts:
            if part.geom_type != "Polygon" or part.is_empty:
                continue
            ring = list(part.exterior.coords)[:-1]  # open ring: the layer closes it
            if len(ring) >= 3:
                out.append((str(code), [(float(x), float(y)) for x, y in ring]))
    return out


def h3_compact(cells: Sequence[str], scale: int = 100_000, *,
               cover_groups: Sequence[int] = (),
               rings: Sequence[tuple[str, Sequence[tuple[float, float]]]] = ()) -> bytes:
    """H3 cell outlines in a compact form for the browser's canvas cell layer.

    ``{"type": "chipao.cells", "scale": s, "codes": [...], "nverts": [...],
    "xy": [cx, cy, dx1, dy1, ...]}``: per cell its centre (integer degrees x scale) then each
    vertex as an offset from the centre (``cover_groups``: sizes of the leading groups of
    coarser cells drawn beneath). About a fifth of the GeoJSON size, and the browser
    draws it without creating a Leaflet layer per cell.
    """
    import h3

    nverts: list[int] = []
    xy: list[int] = []
    # ``rings`` (code, [(lng, lat), ...]): outlines of other areas, first (the r6 map's
    # amphoe cover, counted in the first cover group by the caller)
    for _code, ring in rings:
        cx = round(sum(x for x, _ in ring) / len(ring) * scale)
        cy = round(sum(y for _, y in ring) / len(ring) * scale)
        nverts.append(len(ring))
        xy.append(cx)
        xy.append(cy)
        for lng, lat in ring:
            xy.append(round(lng * scale) - cx)
            xy.append(round(lat * scale) - cy)
    for cell in cells:
        lat0, lng0 = h3.cell_to_latlng(cell)
        cx, cy = round(lng0 * scale), round(lat0 * scale)
        ring = h3.cell_to_boundary(cell)
        nverts.append(len(ring))
        xy.append(cx)
        xy.append(cy)
        for lat, lng in ring:
            xy.append(round(lng * scale) - cx)
            xy.append(round(lat * scale) - cy)
    payload: dict = {"type": "chipao.cells", "scale": scale,
                     "codes": [c for c, _ in rings] + list(cells),
                     "nverts": nverts, "xy": xy}
    if cover_groups:
        # the first sum(cover_groups) cells are coarser parents drawn beneath the others,
        # coarsest group first (service.usecases.map_values.cells_with_cover)
        payload["cover_groups"] = list(cover_groups)
    return json.dumps(payload, separators=(",", ":")).encode()


def point_geojson(codes: Sequence[str], lons: Sequence[float], lats: Sequence[float]) -> bytes:
    parts = [
        f'{{"type":"Point","coordinates":[{x:.{DECIMALS}f},{y:.{DECIMALS}f}]}}'
        for x, y in zip(lons, lats, strict=True)
    ]
    return feature_collection(list(codes), parts)


class GeometryCache:
    """Gzipped geometry payloads kept on disk under ``<data_dir>/cache/maps`` and in memory.

    Keys must identify the content (level, scope, tolerance, source file version); callers
    build them with :func:`cache_key`.
    """

    def __init__(self, directory: str | Path, max_items: int = 64):
        self.directory = Path(directory)
        self.max_items = max_items
        self._memory: dict[str, bytes] = {}

    def get_or_build(self, key: str, build) -> bytes:
        hit = self._memory.get(key)
        if hit is not None:
            return hit
        path = self.directory / f"{key}.geojson.gz"
        if path.exists():
            data = path.read_bytes()
        else:
            data = gzip.compress(build(), compresslevel=6, mtime=0)
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)  # atomic: a concurrent reader never sees half a file
        if len(self._memory) >= self.max_items:
            self._memory.pop(next(iter(self._memory)))
        self._memory[key] = data
        return data


def cache_key(*parts: object) -> str:
    """Short stable key: readable prefix + hash of every part."""
    text = "|".join(str(p) for p in (FORMAT, *parts))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    prefix = "-".join(str(p) for p in parts[:2] if p)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in prefix)
    return f"{safe}-{digest}"


def source_version(boundaries_dir: str, level: str) -> str:
    """Changes when the boundary file changes (mtime + size), so caches follow the data."""
    path = Path(boundaries_dir) / boundaries.FILES[level]
    st = path.stat()
    return f"{int(st.st_mtime)}-{st.st_size}"
