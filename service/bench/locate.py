"""`chipao bench locate --points N`: the spatial stages against their naive versions, measured
in the same run.

* point -> tambon: rasterised id grid + exact tests in edge cells (service.geo.locate) vs
  ``geopandas.sjoin`` (shapely Points + R-tree); the answers are compared point by point.
* point -> H3 r8: polars-h3 (service.geo.hexgrid.cells) vs a per-point ``h3.latlng_to_cell``
  loop; compared cell by cell.
* zonal sums of a population raster per tambon: cached zone raster + numpy.bincount
  (service.geo.zonal.ZoneRaster) vs ``rasterio.mask.mask`` per polygon, the naive one timed on
  a subset of tambons and extrapolated linearly (said so in the output).

Points come from the national demo persons (``--persons-dir``, default
/tmp/chipao-national/persons when present: real village clusters) or uniformly at random
over Thailand's bounding box (``--uniform``). Run heavy sizes one at a time:
``flock /tmp/chipao-heavy.lock chipao bench locate --points 5000000``.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

log = logging.getLogger(__name__)

DEFAULT_PERSONS = Path("/tmp/chipao-national/persons")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _points(n: int, persons_dir: Path | None, bounds: np.ndarray, seed: int
            ) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(seed)
    if persons_dir is not None and any(persons_dir.glob("*.parquet")):
        import polars as pl

        frame = (pl.scan_parquet(str(persons_dir / "*.parquet")).select("lon", "lat")
                 .drop_nulls().collect())
        idx = rng.choice(frame.height, size=n, replace=frame.height < n)
        lon = frame["lon"].to_numpy()[idx]
        lat = frame["lat"].to_numpy()[idx]
        return lon, lat, f"sampled from {frame.height:,} demo persons in {persons_dir}"
    minx, miny, maxx, maxy = bounds
    return (rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n),
            "uniform over Thailand's bounding box (about a third fall in no tambon)")


def _naive_sjoin(tambons: Any, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    import geopandas as gpd

    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(pts, tambons[["geometry"]], how="left", predicate="intersects")
    right = joined["index_right"].fillna(-1).astype(np.int64)
    # a point on a shared border matches both tambons: keep the lowest index, as locate does
    out = right.groupby(level=0).min().reindex(range(len(lon))).to_numpy()
    return out


def _naive_h3(lon: np.ndarray, lat: np.ndarray, res: int) -> np.ndarray:
    import h3

    return np.array([h3.str_to_int(h3.latlng_to_cell(y, x, res))
                     for x, y in zip(lon.tolist(), lat.tolist(), strict=True)], dtype=np.uint64)


def _naive_mask_sums(path: Path, geoms: Any) -> np.ndarray:
    import rasterio
    import rasterio.mask

    out = np.zeros(len(geoms))
    with rasterio.open(path) as src, warnings.catch_warnings():
        # rasterio.mask multiplies affine transforms with `*` (affine >= 2.4 warns)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        nodata = src.nodata
        for i, g in enumerate(geoms):
            try:
                data, _ = rasterio.mask.mask(src, [g], crop=True, filled=False)
            except ValueError:  # polygon outside the raster
                continue
            band = data[0]
            valid = ~np.ma.getmaskarray(band) & (band.data != nodata)
            out[i] = float(band.data[valid].sum())
    return out


def _ratio(naive: float, ours: float) -> str:
    return f"{naive / ours:,.1f}×" if ours > 0 else "n/a"


@click.command("locate")
@click.option("--points", "n_points", type=int, default=1_000_000, show_default=True,
              help="Number of points to locate.")
@click.option("--persons-dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Directory of person Parquet files to sample lon/lat from "
              "(default: /tmp/chipao-national/persons when present).")
@click.option("--uniform", is_flag=True, help="Uniform random points instead of persons.")
@click.option("--cell-deg", type=float, default=0.001, show_default=True)
@click.option("--h3-res", type=int, default=8, show_default=True)
@click.option("--naive-h3-limit", type=int, default=0,
              help="Run the per-point h3 loop on at most this many points and extrapolate "
              "(0 = all points).")
@click.option("--raster", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Population GeoTIFF (default: build the demo raster).")
@click.option("--zonal-subset", type=int, default=400, show_default=True,
              help="Tambons the naive rasterio.mask loop is timed on (then extrapolated).")
@click.option("--seed", type=int, default=1, show_default=True)
def command(n_points: int, persons_dir: Path | None, uniform: bool, cell_deg: float,
            h3_res: int, naive_h3_limit: int, raster: Path | None, zonal_subset: int,
            seed: int) -> None:
    """Locate / H3 / zonal: Chipao vs naive, same run, ratios printed."""
    import rasterio

    from service.demo.raster import build_population_raster
    from service.geo import hexgrid
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator
    from service.geo.zonal import ZoneRaster, h3_sums
    from service.settings import settings_from_env

    if n_points < 1:
        raise click.BadParameter("must be at least 1", param_hint="--points")
    settings = settings_from_env()
    tambons = load_level(settings.boundaries_dir, "tambon")
    if persons_dir is None and not uniform and DEFAULT_PERSONS.is_dir():
        persons_dir = DEFAULT_PERSONS
    lon, lat, origin = _points(n_points, None if uniform else persons_dir,
                               tambons.total_bounds, seed)
    click.echo(f"{n_points:,} points, {origin}; {len(tambons):,} tambons")
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="chipao-bench-") as tmp:
        cache = Path(tmp) / "cache"
        locator, t_build = _timed(lambda: TambonLocator(tambons, cell_deg=cell_deg,
                                                        cache_dir=cache))
        _, t_load = _timed(lambda: TambonLocator(tambons, cell_deg=cell_deg, cache_dir=cache))
        _, t_first = _timed(lambda: locator.locate(lon, lat))  # first touch of the grid pages
        idx, t_locate = _timed(lambda: locator.locate(lon, lat))
        naive_idx, t_sjoin = _timed(lambda: _naive_sjoin(tambons, lon, lat))
        mismatch = int((idx != naive_idx).sum())
        flat, ok = locator.index.spec.flat_index(lon, lat)
        edge_share = float((ok & (locator.index.grid.reshape(-1)[flat] == -2)).mean())
        rows += [
            ("locator grid build (once; cached as .npy)", f"{t_build:.2f} s", "", ""),
            ("locator grid load from cache (memory-mapped)", f"{t_load:.3f} s", "", ""),
            (f"point -> tambon, {n_points:,} points, first call", f"{t_first:.2f} s",
             f"sjoin {t_sjoin:.2f} s", _ratio(t_sjoin, t_first)),
            (f"point -> tambon, {n_points:,} points, second call", f"{t_locate:.2f} s",
             f"sjoin {t_sjoin:.2f} s", _ratio(t_sjoin, t_locate)),
        ]
        click.echo(f"locate: {int((idx >= 0).sum()):,} inside a tambon; "
                   f"{edge_share:.1%} in edge cells (exact test); "
                   f"{mismatch:,} differ from geopandas.sjoin")
        del naive_idx
        gc.collect()

        ours_h3, t_h3 = _timed(lambda: hexgrid.cells(lon, lat, h3_res))
        m = n_points if naive_h3_limit <= 0 else min(naive_h3_limit, n_points)
        naive_h3, t_loop = _timed(lambda: _naive_h3(lon[:m], lat[:m], h3_res))
        h3_mismatch = int((naive_h3 != ours_h3[:m]).sum())
        t_loop_full = t_loop * n_points / m
        loop_note = "" if m == n_points else f" (measured on {m:,}, extrapolated)"
        rows.append((f"point -> H3 r{h3_res} (polars-h3)", f"{t_h3:.2f} s",
                     f"h3 loop {t_loop_full:.2f} s{loop_note}", _ratio(t_loop_full, t_h3)))
        cols, t_cols = _timed(lambda: hexgrid.cell_columns(lon, lat))
        rows.append(("H3 r6-r9 columns (r9 + bitwise parents)", f"{t_cols:.2f} s", "", ""))
        click.echo(f"H3: {h3_mismatch:,} cells differ from the per-point loop")
        del naive_h3, cols, ours_h3
        gc.collect()

        if raster is None:
            raster = Path(tmp) / "population.tif"
            summary, t_raster = _timed(lambda: build_population_raster(
                tambons, raster, res_deg=0.01, locator=locator))
            rows.append((f"demo population raster {summary.width:,}×{summary.height:,} px",
                         f"{t_raster:.2f} s", "", ""))
        with rasterio.open(raster) as src:
            values, transform, nodata = src.read(1), src.transform, src.nodata
        zr, t_zr = _timed(lambda: ZoneRaster(tambons.geometry.values, transform, values.shape,
                                             locator=locator))
        sums, t_sums = _timed(lambda: zr.sums(values, nodata=nodata))
        k = min(zonal_subset, len(tambons))
        pick = np.random.default_rng(seed).choice(len(tambons), size=k, replace=False)
        naive_sums, t_mask = _timed(
            lambda: _naive_mask_sums(raster, tambons.geometry.values[pick]))
        t_mask_full = t_mask * len(tambons) / k
        rows += [
            ("zone raster build (once per raster grid)", f"{t_zr:.2f} s", "", ""),
            (f"zonal sums, {len(tambons):,} tambons", f"{t_sums:.3f} s",
             f"rasterio.mask {t_mask_full:.1f} s (timed on {k:,}, extrapolated)",
             _ratio(t_mask_full, t_sums)),
            ("zonal incl. zone build", f"{t_zr + t_sums:.2f} s",
             f"rasterio.mask {t_mask_full:.1f} s", _ratio(t_mask_full, t_zr + t_sums)),
        ]
        diff = np.abs(sums[pick] - naive_sums).sum() / max(naive_sums.sum(), 1.0)
        click.echo(f"zonal: fractional edges vs centre-only mask differ by {diff:.2%} "
                   f"(sum of |difference| over the {k:,} tambons)")
        (cells, _), t_h3z = _timed(lambda: h3_sums(values, transform, 8, nodata=nodata))
        rows.append((f"raster -> H3 r8 sums ({len(cells):,} cells)", f"{t_h3z:.2f} s", "", ""))

    width = max(len(r[0]) for r in rows)
    click.echo("")
    click.echo(f"{'stage'.ljust(width)}  {'chipao':>9}  naive  (ratio)")
    for name, ours, naive, ratio in rows:
        tail = f"  {naive}  ({ratio})" if naive else ""
        click.echo(f"{name.ljust(width)}  {ours:>9}{tail}")
    if mismatch or h3_mismatch:
        raise click.ClickException(
            f"results differ from the naive method: {mismatch:,} tambons, "
            f"{h3_mismatch:,} H3 cells")
