"""A plausible demo population GeoTIFF (WorldPop-like, people per pixel) for Thailand.

Built from the tambon boundaries and TPMAP 2561's surveyed people per tambon
(service/demo/data/tpmap2561_tambol_summary.csv):

* each tambon's population = its surveyed people / a survey share drawn per tambon
  (TPMAP surveyed 36.6 M of ~66 M people); ~4 % of tambons get a low share (0.15-0.35) so
  that survey-coverage gaps (ตกหล่น) show up in the demo; the country is then scaled to the
  registered population (≈ 66.4 M, end of 2018);
* municipal pseudo-tambons (DOPA tt ≥ 51) and codes missing from the boundaries are spread
  over their amphoe's tambons by area; Bangkok (not surveyed) gets ~3,500 people/km²;
* inside a tambon people follow a smooth log-normal field (clusters like villages and towns),
  split at tambon edges with the same fractional zones as :class:`service.geo.zonal.ZoneRaster`,
  so the raster's zonal sums give back each tambon's population.

Everything is seeded: the same seed and resolution give the same file.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import rasterio
import shapely
from scipy import ndimage

from service.geo.boundaries import from_dopa, load_level
from service.geo.locate import GridSpec
from service.geo.zonal import ZoneRaster

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
TPMAP_TAMBON_CSV = DATA_DIR / "tpmap2561_tambol_summary.csv"
NODATA = -99999.0
MEAN_SHARE = 0.58
LOW_SHARE_FRACTION = 0.04
BANGKOK_DENSITY_KM2 = 3_500.0
#: DOPA registered population at the end of 2018 (the TPMAP 2561 round), ≈ 66.4 M
TARGET_POPULATION = 66_400_000.0


@dataclass(frozen=True)
class RasterSummary:
    path: Path
    width: int
    height: int
    res_deg: float
    total_population: float
    seconds: float


def _area_km2(tambons: Any) -> np.ndarray:
    return tambons.geometry.to_crs(6933).area.to_numpy() / 1e6


def population_by_tambon(tambons: Any, *, seed: int = 2561,
                         target_population: float | None = None,
                         tpmap_csv: Path = TPMAP_TAMBON_CSV) -> pd.DataFrame:
    """Per boundary tambon: ``code``, ``surveyed`` (TPMAP people, municipal units spread by
    area), ``share`` (survey share, NaN in Bangkok) and ``population`` (float).

    ``target_population`` (for the whole country: :data:`TARGET_POPULATION`) scales the
    surveyed provinces so that the total matches it."""
    raw = pd.read_csv(tpmap_csv, usecols=["tumbol_ID", "HOUSEMEMBER_CNT"],
                      dtype={"tumbol_ID": str})
    if raw["HOUSEMEMBER_CNT"].isna().any():
        row = int(np.flatnonzero(raw["HOUSEMEMBER_CNT"].isna())[0]) + 2
        raise ValueError(f"{tpmap_csv.name}: row {row}: HOUSEMEMBER_CNT is empty")
    raw["code"] = raw["tumbol_ID"].map(from_dopa)
    codes = tambons["code"].to_numpy().astype(str)
    area = _area_km2(tambons)
    frame = pd.DataFrame({"code": codes, "amphoe_code": [c[:6] for c in codes],
                          "area_km2": area})
    direct = raw["code"].isin(set(codes)) & (raw["tumbol_ID"].str[4:6].astype(int) < 51)
    surveyed = raw[direct].groupby("code")["HOUSEMEMBER_CNT"].sum()
    frame["surveyed"] = frame["code"].map(surveyed).fillna(0.0).astype(float)
    # municipal / unknown units: spread over the amphoe's tambons by area
    pool = raw[~direct].assign(amphoe_code=lambda d: d["code"].str[:6])
    pool = pool.groupby("amphoe_code")["HOUSEMEMBER_CNT"].sum()
    amphoe_area = frame.groupby("amphoe_code")["area_km2"].transform("sum")
    extra = frame["amphoe_code"].map(pool).fillna(0.0) * frame["area_km2"] / amphoe_area
    frame["surveyed"] += extra.to_numpy()
    lost = float(pool[~pool.index.isin(set(frame["amphoe_code"]))].sum())
    if lost:
        log.warning("%s surveyed people in amphoes missing from the boundaries are left out",
                    f"{lost:,.0f}")
    rng = np.random.default_rng([seed, 7_301])
    share = np.clip(rng.normal(MEAN_SHARE, 0.08, len(frame)), 0.3, 0.9)
    low = rng.random(len(frame)) < LOW_SHARE_FRACTION
    share[low] = rng.uniform(0.15, 0.35, int(low.sum()))
    bangkok = frame["code"].str.startswith("TH10").to_numpy()
    share[bangkok] = np.nan
    pop = frame["surveyed"].to_numpy() / np.where(bangkok, 1.0, share)
    pop[bangkok] = BANGKOK_DENSITY_KM2 * area[bangkok] * rng.lognormal(0, 0.3, bangkok.sum())
    # calibrate the surveyed provinces so the country totals the registered population
    rest = (target_population or 0.0) - pop[bangkok].sum()
    if target_population and pop[~bangkok].sum() > 0 and rest > frame["surveyed"].sum():
        pop[~bangkok] *= rest / pop[~bangkok].sum()
        share[~bangkok] = np.divide(frame["surveyed"].to_numpy()[~bangkok], pop[~bangkok],
                                    out=np.full(int((~bangkok).sum()), np.nan),
                                    where=pop[~bangkok] > 0)
    frame["share"] = share
    frame["population"] = pop
    return frame.drop(columns="amphoe_code")


def _cluster_field(shape: tuple[int, int], rng: np.random.Generator, res_deg: float) -> np.ndarray:
    """Smooth positive weights: log-normal blobs a few km wide (settlements), plus a floor."""
    sigma = max(1.0, 0.02 / res_deg)  # ~2 km
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    noise /= noise.std() or 1.0
    return 0.15 + np.exp(1.3 * noise)


def build_population_raster(tambons: Any, out_path: str | Path, *, res_deg: float = 0.01,
                            seed: int = 2561, supersample: int = 4, locator: Any = None,
                            population: pd.DataFrame | None = None) -> RasterSummary:
    """Write the demo population GeoTIFF (float32 people per pixel, EPSG:4326, nodata
    -99999 outside the tambons) and return a summary. ``population`` (from
    :func:`population_by_tambon`) gives the per-tambon totals; by default they are drawn
    with ``seed`` and, when ``tambons`` is the whole country (> 7,000 tambons), scaled to
    :data:`TARGET_POPULATION`."""
    started = time.perf_counter()
    out_path = Path(out_path)
    target = TARGET_POPULATION if len(tambons) > 7_000 else None
    pop_table = population if population is not None else population_by_tambon(
        tambons, seed=seed, target_population=target)
    pop = pd.Series(pop_table["population"].to_numpy(), index=pop_table["code"])
    pop = pop.reindex(tambons["code"].to_numpy()).fillna(0.0).to_numpy()
    geoms = tambons.geometry.values
    spec = GridSpec.covering(tambons.total_bounds, res_deg)
    zones = ZoneRaster(geoms, spec.transform, spec.shape, supersample=supersample,
                       locator=locator)
    rng = np.random.default_rng([seed, 7_302])
    weight = _cluster_field(spec.shape, rng, res_deg)
    wsum = zones.sums(weight)
    n = zones.n_zones
    # per-pixel people = population of its zone x the pixel's share of the zone's weight
    scale = np.divide(pop, wsum, out=np.zeros(n), where=wsum > 0)
    z = zones.zone.reshape(-1)
    w = weight.reshape(-1)
    values = np.zeros(z.size)
    pure = z >= 0
    values[pure] = w[pure] * scale[z[pure]]
    np.add.at(values, zones.edge_pix, w[zones.edge_pix] * zones.edge_frac
              * scale[zones.edge_zone])
    covered = np.zeros(z.size, dtype=bool)
    covered[pure] = True
    covered[zones.edge_pix] = True
    # tambons too small to hold a sub-pixel: their people go to their representative point
    empty = np.flatnonzero((wsum <= 0) & (pop > 0))
    if len(empty):
        pts = shapely.point_on_surface(np.asarray(geoms, dtype=object)[empty])
        row, col, ok = spec.cell_of(shapely.get_x(pts), shapely.get_y(pts))
        flat = (row * spec.nx + col)[ok]
        np.add.at(values, flat, pop[empty][ok])
        covered[flat] = True
    values[~covered] = NODATA
    band = values.reshape(spec.shape).astype(np.float32)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    profile = {
        "driver": "GTiff", "width": spec.nx, "height": spec.ny, "count": 1,
        "dtype": "float32", "crs": "EPSG:4326", "transform": spec.transform,
        "nodata": NODATA, "compress": "deflate", "predictor": 3, "tiled": True,
        "blockxsize": 256, "blockysize": 256,
    }
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(band, 1)
        dst.update_tags(
            description="Chipao demo population (people per pixel), synthetic: TPMAP 2561 "
                        "surveyed people / drawn survey share, spread over tambons",
            units="people per pixel", seed=str(seed), res_deg=str(res_deg))
        dst.set_band_description(1, "population")
    tmp.replace(out_path)
    total = float(band[band != NODATA].sum())
    seconds = time.perf_counter() - started
    log.info("demo population raster %s: %s x %s px at %s°, %s people, %.1f s", out_path,
             f"{spec.nx:,}", f"{spec.ny:,}", res_deg, f"{total:,.0f}", seconds)
    return RasterSummary(out_path, spec.nx, spec.ny, res_deg, total, seconds)


def raster_path(data_dir: str | Path, *, res_deg: float = 0.01, seed: int = 2561) -> Path:
    return Path(data_dir) / "demo-source" / f"population-seed{seed}-{res_deg:g}deg.tif"


def ensure_population_raster(data_dir: str | Path, boundaries_dir: str | Path, *,
                             res_deg: float = 0.01, seed: int = 2561,
                             locator: Any = None) -> Path:
    """Path of the demo population GeoTIFF under ``<data_dir>/demo-source/``, built on first
    use (the pipeline hook: pass it as ``population_raster`` to build_version)."""
    path = raster_path(data_dir, res_deg=res_deg, seed=seed)
    if not path.exists():
        tambons = load_level(boundaries_dir, "tambon")
        build_population_raster(tambons, path, res_deg=res_deg, seed=seed, locator=locator)
    return path


@click.command("demo-raster")
@click.option("--res", "res_deg", default=0.01, show_default=True, type=float,
              help="Pixel size in degrees (0.01° ≈ 1.1 km).")
@click.option("--seed", default=2561, show_default=True, type=int)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Output GeoTIFF (default: <data_dir>/demo-source/population-….tif).")
def command(res_deg: float, seed: int, out: str | None) -> None:
    """Build the demo population raster / สร้างแรสเตอร์ประชากรสาธิต."""
    from service.settings import settings_from_env

    settings = settings_from_env()
    if not 0.0005 <= res_deg <= 0.1 or math.isnan(res_deg):
        raise click.BadParameter("resolution must be between 0.0005° and 0.1°", param_hint="--res")
    tambons = load_level(settings.boundaries_dir, "tambon")
    path = Path(out) if out else raster_path(settings.data_dir, res_deg=res_deg, seed=seed)
    summary = build_population_raster(tambons, path, res_deg=res_deg, seed=seed)
    click.echo(f"{summary.path}: {summary.width:,} x {summary.height:,} px, "
               f"{summary.total_population:,.0f} people / คน ({summary.seconds:,.1f} s)")
