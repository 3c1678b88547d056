"""Fast locate must equal the exact point-in-polygon answer (lowest covering index)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import polars as pl
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from service.geo.boundaries import load_level
from service.geo.locate import CellIndex, TambonLocator, assign_tambon
from service.settings import REPO_ROOT


def exact(geoms, x, y):
    """Reference answer: lowest index whose closed polygon contains the point, else -1."""
    tree = shapely.STRtree(geoms)
    pts = shapely.points(np.nan_to_num(x, nan=1e9), np.nan_to_num(y, nan=1e9))
    i, j = tree.query(pts, predicate="intersects")
    out = np.full(len(x), np.iinfo(np.int64).max)
    np.minimum.at(out, i, j)
    out[out == np.iinfo(np.int64).max] = -1
    return out


@pytest.fixture(scope="module")
def tambons():
    t = load_level(REPO_ROOT / "boundaries", "tambon")
    # two neighbouring provinces: Bangkok (dense, small tambons) and Nonthaburi
    return t[t["province_code"].isin(["TH10", "TH12"])].reset_index(drop=True)


@pytest.fixture(scope="module")
def locator(tambons):
    return TambonLocator(tambons, cell_deg=0.001)


def near_boundary_points(geoms, rng, n):
    """Points on and within a few metres / a few cells of the polygon boundaries."""
    bnd = shapely.boundary(geoms)
    lengths = shapely.length(bnd)
    which = rng.integers(0, len(geoms), n)
    pts = shapely.line_interpolate_point(bnd[which], rng.uniform(0, 1, n) * lengths[which])
    xy = shapely.get_coordinates(pts)
    scale = rng.choice([0.0, 1e-9, 1e-6, 1e-4, 2e-3], size=(n, 1))
    return xy + rng.normal(size=(n, 2)) * scale


def test_equals_exact_point_in_polygon(tambons, locator):
    rng = np.random.default_rng(42)
    geoms = tambons.geometry.values
    minx, miny, maxx, maxy = tambons.total_bounds
    uniform = np.column_stack([rng.uniform(minx - 0.05, maxx + 0.05, 60_000),
                               rng.uniform(miny - 0.05, maxy + 0.05, 60_000)])
    vertices = shapely.get_coordinates(geoms)[::7]
    xy = np.concatenate([uniform, near_boundary_points(geoms, rng, 60_000), vertices])
    got = locator.locate(xy[:, 0], xy[:, 1])
    want = exact(geoms, xy[:, 0], xy[:, 1])
    assert got.dtype == np.int32
    mismatch = np.flatnonzero(got != want)
    assert len(mismatch) == 0, f"{len(mismatch)} mismatches, e.g. {xy[mismatch[:3]]}"
    # the test is not vacuous: many points sit in edge cells, inside and outside
    assert (got >= 0).sum() > 50_000 and (got == -1).sum() > 5_000
    flat_edge = (locator.index.grid.reshape(-1) == -2).sum()
    assert flat_edge > 1000


def test_codes_and_missing(tambons, locator):
    c = tambons.geometry.values[5].representative_point()
    got = locator.locate_codes([c.x, np.nan, 0.0], [c.y, 13.7, 0.0])
    assert got[0] == tambons["code"].iloc[5]
    assert got[1] is None and got[2] is None
    assert len(locator.codes) == len(tambons) == len(locator)


# hand-made coverage: two unit squares sharing an edge, a donut and an island in its hole.
# Edges fall exactly on grid lines to exercise the floor() corner cases.
SQUARES = [
    shapely.box(0, 0, 1, 1),
    shapely.box(1, 0, 2, 1),
    shapely.box(0, 1, 2, 2).difference(shapely.box(0.5, 1.25, 1.5, 1.75)),
    shapely.box(0.75, 1.5, 1.25, 1.7),
]


@pytest.fixture(scope="module")
def small():
    frame = gpd.GeoDataFrame({"code": ["TH100101", "TH100102", "TH100103", "TH100104"]},
                             geometry=SQUARES, crs="EPSG:4326")
    return frame, TambonLocator(frame, cell_deg=0.25)


def test_shared_edge_goes_to_lowest_index(small):
    _, loc = small
    x = np.array([1.0, 1.0, 0.5, 2.0, 2.0001, 1.0, 0.75, 0.6])
    y = np.array([0.5, 1.0, 1.0, 2.0, 1.0, 1.6, 1.5, 1.3])
    assert loc.locate(x, y).tolist() == [0, 0, 0, 2, -1, 3, 3, -1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.3, 2.3), st.floats(-0.3, 2.3)), min_size=1,
                max_size=60))
def test_property_exact_on_hand_made_coverage(small, pts):
    frame, loc = small
    xy = np.array(pts)
    assert loc.locate(xy[:, 0], xy[:, 1]).tolist() == exact(
        frame.geometry.values, xy[:, 0], xy[:, 1]).tolist()


def test_cache_roundtrip(tmp_path, tambons, locator):
    first = TambonLocator(tambons, cell_deg=0.001, cache_dir=tmp_path)
    again = TambonLocator(tambons, cell_deg=0.001, cache_dir=tmp_path)
    assert not first.cache_hit and again.cache_hit
    rng = np.random.default_rng(3)
    x, y = near_boundary_points(tambons.geometry.values, rng, 5_000).T
    assert (again.locate(x, y) == locator.locate(x, y)).all()
    other = TambonLocator(tambons.iloc[:50], cell_deg=0.001, cache_dir=tmp_path)
    assert not other.cache_hit  # other geometries -> other key
    assert len(list(tmp_path.iterdir())) == 2


def test_rejects_bad_input():
    bad = gpd.GeoDataFrame({"code": ["TH100101"]}, geometry=[shapely.Point(0, 0)],
                           crs="EPSG:4326")
    with pytest.raises(ValueError, match="row 0"):
        TambonLocator(bad)
    utm = gpd.GeoDataFrame({"code": ["TH100101"]}, geometry=[shapely.box(0, 0, 1, 1)],
                           crs="EPSG:32647")
    with pytest.raises(ValueError, match="EPSG:4326"):
        TambonLocator(utm)


def test_assign_tambon_fallback_and_report(small):
    _, loc = small
    lon = [0.5, np.nan, 50.0, None, 0.5, np.nan, 1.5]
    lat = [0.5, np.nan, 50.0, None, 0.5, np.nan, 0.5]
    village = ["TH10010201", "TH10010301", "TH10010201", None, "TH10010201", "TH99999901",
               None]
    record = ["TH100102", "TH100102", "TH100104", "TH100104", None, "TH999999", "TH100101"]
    assigned = assign_tambon(pl.Series(lon), lat, village, record, loc)
    tambon, source = assigned
    assert tambon.to_list() == ["TH100101", "TH100103", "TH100102", "TH100104", "TH100101",
                                None, "TH100102"]
    assert source.to_list() == ["point", "village", "village", "tambon", "point",
                                "unlocated", "point"]
    r = assigned.report
    assert r.by_source == {"point": 3, "village": 2, "tambon": 1, "unlocated": 1}
    assert r.coords_missing == 3 and r.coords_outside == 1
    assert r.outside_rows_sample == [2]
    assert r.point_disagrees_with_record == 2  # rows 0 and 6
    text = r.describe()
    assert "นอกประเทศไทย" in text and "outside Thailand 1" in text


def test_assign_tambon_length_mismatch(small):
    _, loc = small
    with pytest.raises(ValueError, match="village_id"):
        assign_tambon([0.5], [0.5], ["a", "b"], ["c"], loc)


def test_assign_tambon_first_rows_outside(small):
    # no coordinate falls in a tambon at the start (regression: object-array cast)
    _, loc = small
    n = 5_000
    lon = np.full(n, 50.0)
    lon[-1] = 0.5
    lat = np.full(n, 0.5)
    codes = ["TH100102"] * n
    tambon, source = assign_tambon(lon, lat, [None] * n, codes, loc)
    assert tambon[:-1].unique().to_list() == ["TH100102"]
    assert tambon[-1] == "TH100101" and source[-1] == "point"
    assert (source[:-1] == "tambon").all()


def test_cache_save_race_keeps_first(tmp_path, small):
    frame, loc = small
    loc.index.save(tmp_path, "k")
    loc.index.save(tmp_path, "k")  # second writer loses the rename, leaves no debris
    assert [p.name for p in tmp_path.iterdir()] == ["k"]
    index = CellIndex.load(tmp_path / "k", frame.geometry.values)
    assert (np.asarray(index.grid) == loc.index.grid).all()
    assert (index.lookup(np.array([1.0, 0.6]), np.array([1.0, 1.3])) == [0, -1]).all()


@pytest.mark.slow
def test_bench_locate_command_runs_and_agrees(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from service.bench.locate import command

    monkeypatch.setenv("CHIPAO_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(command, ["--points", "3000", "--uniform",
                                          "--zonal-subset", "5"])
    assert result.exit_code == 0, result.output
    assert "0 differ from geopandas.sjoin" in result.output
    assert "0 cells differ from the per-point loop" in result.output
    assert "point -> tambon, 3,000 points" in result.output and "×" in result.output
