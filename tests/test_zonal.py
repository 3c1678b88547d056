"""Zonal sums: fractional edge pixels beat centre-only and all-touched against exact areas."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from affine import Affine

from service.geo import hexgrid
from service.geo.locate import TambonLocator
from service.geo.zonal import (
    ZoneRaster,
    centre_zonal_sums,
    h3_sums,
    naive_zonal_sums,
    rollup,
    survey_gap,
)

PIX = 0.1
TRANSFORM = Affine(PIX, 0, 100.0, 0, -PIX, 15.0)
SHAPE = (24, 30)  # rows, cols: lon 100-103, lat 12.6-15


def coverage_polygons():
    """A coverage of the raster's extent with edges at odd angles (no pixel-aligned edges)."""
    extent = shapely.box(100.0, 12.6, 103.0, 15.0)
    disk = shapely.Point(101.23, 13.71).buffer(0.47, quad_segs=16)
    wedge = shapely.Polygon([(100.0, 12.6), (103.0, 14.37), (103.0, 12.6)])
    rest = extent.difference(disk).difference(wedge)
    west = rest.intersection(shapely.box(100.0, 12.6, 101.87, 15.0))
    east = rest.difference(west)
    return np.array([disk, shapely.normalize(wedge.difference(disk)), west, east], dtype=object)


def exact_sums(geoms, values):
    rows, cols = np.indices(SHAPE)
    x0 = TRANSFORM.c + cols.ravel() * PIX
    y1 = TRANSFORM.f - rows.ravel() * PIX
    boxes = shapely.box(x0, y1 - PIX, x0 + PIX, y1)
    return np.array([
        (shapely.area(shapely.intersection(boxes, g)) / PIX**2 * values.ravel()).sum()
        for g in geoms
    ])


@pytest.fixture(scope="module")
def values():
    return np.random.default_rng(11).gamma(2.0, 50.0, SHAPE)


def test_fractional_beats_centre_and_all_touched(values):
    geoms = coverage_polygons()
    exact = exact_sums(geoms, values)
    zr = ZoneRaster(geoms, TRANSFORM, SHAPE, supersample=8)
    frac = zr.sums(values)
    centre = centre_zonal_sums(geoms, values, TRANSFORM)
    touched = naive_zonal_sums(geoms, values, TRANSFORM, all_touched=True)
    err = {name: np.abs(a - exact).sum() / exact.sum()
           for name, a in (("frac", frac), ("centre", centre), ("touched", touched))}
    assert err["frac"] < 0.01, err
    assert err["frac"] * 3 < err["centre"], err
    assert err["frac"] * 10 < err["touched"], err
    # the polygons cover the raster: the split conserves the total exactly
    assert frac.sum() == pytest.approx(values.sum(), rel=1e-12)
    assert touched.sum() > values.sum() * 1.05  # edge pixels counted in every neighbour
    # centre-only agrees between the per-polygon mask and the zone raster
    assert np.allclose(centre, naive_zonal_sums(geoms, values, TRANSFORM))
    # finer sub-sampling converges
    coarse = ZoneRaster(geoms, TRANSFORM, SHAPE, supersample=2).sums(values)
    assert np.abs(frac - exact).sum() < np.abs(coarse - exact).sum()


def test_locator_gives_same_split_and_nodata_is_ignored(values):
    geoms = coverage_polygons()
    frame = gpd.GeoDataFrame({"code": [f"TH1001{i:02d}" for i in range(1, 5)]},
                             geometry=list(geoms), crs="EPSG:4326")
    loc = TambonLocator(frame, cell_deg=PIX / 4)
    a = ZoneRaster(geoms, TRANSFORM, SHAPE, supersample=4, locator=loc)
    b = ZoneRaster(geoms, TRANSFORM, SHAPE, supersample=4)
    assert np.allclose(a.sums(values), b.sums(values))
    holes = values.copy()
    holes[3, 4] = -99999.0
    holes[10, 10] = np.nan
    expected = values.copy()
    expected[3, 4] = expected[10, 10] = 0
    assert np.allclose(a.sums(holes, nodata=-99999.0), a.sums(expected))
    assert a.coverage().sum() == pytest.approx(SHAPE[0] * SHAPE[1])
    with pytest.raises(ValueError, match="shape"):
        a.sums(values[:-1])
    with pytest.raises(ValueError, match="other polygons"):
        ZoneRaster(geoms[:2], TRANSFORM, SHAPE, locator=loc)


def test_polygons_beyond_raster_and_outside_pixels():
    # a polygon half outside the raster and one wholly outside
    geoms = np.array([shapely.box(102.55, 14.0, 103.55, 14.5), shapely.box(110, 10, 111, 11)],
                     dtype=object)
    ones = np.ones(SHAPE)
    sums = ZoneRaster(geoms, TRANSFORM, SHAPE, supersample=4).sums(ones)
    assert sums[0] == pytest.approx(0.45 * 0.5 / PIX**2, rel=1e-9)
    assert sums[1] == 0


def test_h3_sums_conserve_and_follow_area():
    ones = np.ones(SHAPE)
    cells, sums = h3_sums(ones, TRANSFORM, 5, supersample=16)
    assert sums.sum() == pytest.approx(ones.sum())
    assert (hexgrid.resolution(cells) == 5).all() and (np.diff(cells.astype(np.int64)) > 0).all()
    # a cell well inside the raster holds about its own area in pixel units
    inner = hexgrid.cells([101.5], [13.8], 5)[0]
    pixel_km2 = (PIX * 111.32) * (PIX * 111.32 * np.cos(np.radians(13.8)))
    expected = h3.cell_area(h3.int_to_str(int(inner)), unit="km^2") / pixel_km2
    assert sums[cells == inner][0] == pytest.approx(expected, rel=0.05)
    parent_cells, parent_sums = rollup(cells, sums, 4)
    assert parent_sums.sum() == pytest.approx(ones.sum())
    assert (hexgrid.resolution(parent_cells) == 4).all()
    assert h3_sums(np.zeros(SHAPE), TRANSFORM, 6)[0].size == 0


def test_survey_gap():
    gap = survey_gap([50, 900, 10, 0, 5], [1000.0, 1000.0, 40.0, 500.0, np.nan], 0.5)
    assert gap.flag.tolist() == [True, False, False, True, False]
    assert gap.gap[0] == pytest.approx(0.95) and gap.gap[1] == pytest.approx(0.1)
    assert np.isnan(gap.gap[2]) and np.isnan(gap.gap[4])  # too few people / no raster
    with pytest.raises(ValueError, match="threshold"):
        survey_gap([1], [1000.0], 0)
    with pytest.raises(ValueError, match="n_persons"):
        survey_gap([1, 2], [1000.0], 0.5)


def test_whole_pixels_give_coastal_pixels_to_the_land():
    geoms = np.array([shapely.box(102.55, 14.0, 103.55, 14.5),
                      shapely.box(100.03, 13.02, 100.54, 13.33)], dtype=object)
    ones = np.ones(SHAPE)
    zr = ZoneRaster(geoms, TRANSFORM, SHAPE, supersample=4)
    # every pixel the first box touches (cols 25-29, rows 5-9) goes to it wholly
    assert zr.sums(ones, whole_pixels=True)[0] == pytest.approx(25)
    assert zr.sums(ones, whole_pixels=True)[1] == pytest.approx(6 * 4)
    assert zr.sums(ones)[1] == pytest.approx(0.51 * 0.31 / PIX**2, rel=0.05)


# demo population raster ------------------------------------------------------------------

@pytest.fixture(scope="module")
def province_tambons():
    from service.geo.boundaries import load_level
    from service.settings import REPO_ROOT

    t = load_level(REPO_ROOT / "boundaries", "tambon")
    return t[t["province_code"] == "TH12"].reset_index(drop=True)  # Nonthaburi


def test_demo_population_raster(tmp_path, province_tambons):
    import pandas as pd
    import rasterio

    from service.demo.raster import TPMAP_TAMBON_CSV, build_population_raster, population_by_tambon

    pop = population_by_tambon(province_tambons, seed=5)
    raw = pd.read_csv(TPMAP_TAMBON_CSV, dtype={"tumbol_ID": str})
    in_province = raw["tumbol_ID"].str[:2] == "12"
    # every surveyed person of the province (municipal units included) is placed once
    assert pop["surveyed"].sum() == pytest.approx(raw.loc[in_province, "HOUSEMEMBER_CNT"].sum())
    assert ((pop["share"] > 0.1) & (pop["share"] <= 0.9)).all()
    summary = build_population_raster(province_tambons, tmp_path / "pop.tif", res_deg=0.005,
                                      seed=5, population=pop)
    with rasterio.open(summary.path) as src:
        assert src.crs.to_epsg() == 4326 and src.dtypes[0] == "float32"
        band, transform, nodata = src.read(1), src.transform, src.nodata
    assert nodata == -99999.0 and (band == nodata).any()
    people = band[band != nodata]
    assert (people >= 0).all()
    assert people.sum() == pytest.approx(pop["population"].sum(), rel=1e-5)
    assert summary.total_population == pytest.approx(pop["population"].sum(), rel=1e-5)
    # zonal sums give back the per-tambon populations (edge pixels mix tambons)
    zr = ZoneRaster(province_tambons.geometry.values, transform, band.shape)
    got = zr.sums(band, nodata=nodata, whole_pixels=True)
    assert got.sum() == pytest.approx(pop["population"].sum(), rel=1e-5)
    assert np.corrcoef(got, pop["population"])[0, 1] > 0.95
    gap = survey_gap(pop["surveyed"].to_numpy(), got, 0.5)
    low = (pop["share"] < 0.4).to_numpy()
    assert gap.flag[low].mean() > gap.flag[~low].mean()
    # same seed, same file contents
    again = build_population_raster(province_tambons, tmp_path / "again.tif", res_deg=0.005,
                                    seed=5, population=pop)
    with rasterio.open(again.path) as src:
        assert np.array_equal(src.read(1), band)
