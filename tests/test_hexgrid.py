"""H3 assignment must equal h3-py's per-point answer; parents/children consistent."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import shapely

from service.geo import hexgrid


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(7)
    n = 3_000
    return rng.uniform(97.3, 105.6, n), rng.uniform(5.6, 20.5, n)


@pytest.mark.parametrize("res", hexgrid.RESOLUTIONS)
def test_cells_equal_per_point_h3(points, res):
    lon, lat = points
    got = hexgrid.cells(lon, lat, res)
    want = [h3.str_to_int(h3.latlng_to_cell(b, a, res)) for a, b in zip(lon, lat, strict=True)]
    assert got.dtype == np.uint64
    assert got.tolist() == want
    assert (hexgrid.resolution(got) == res).all()


def test_missing_and_invalid_coordinates_give_zero():
    got = hexgrid.cells([100.5, np.nan, 100.0, 200.0, 100.0], [13.7, 13.7, np.nan, 10.0, 95.0], 8)
    assert got[0] != 0 and got[1:].tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="resolution"):
        hexgrid.cells([100.5], [13.7], 16)
    with pytest.raises(ValueError, match="length"):
        hexgrid.cells([100.5, 1.0], [13.7], 8)


def test_parents_match_h3_and_are_consistent(points):
    lon, lat = points
    r9 = hexgrid.cells(lon, lat, 9)
    for res in (6, 7, 8):
        p = hexgrid.parents(r9, res)
        want = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), res)) for c in r9]
        assert p.tolist() == want
        # H3 children do not tile their parent: the parent of a point's r9 cell is the
        # point's own cell at that resolution for most points, not all
        same = (p == hexgrid.cells(lon, lat, res)).mean()
        assert same > 0.9
    assert (hexgrid.parents(hexgrid.parents(r9, 8), 6) == hexgrid.parents(r9, 6)).all()
    assert hexgrid.parents(np.array([0], np.uint64), 6).tolist() == [0]
    with pytest.raises(ValueError, match="resolution 6 < 8"):
        hexgrid.parents(hexgrid.parents(r9[:3], 6), 8)


def test_cell_columns_hierarchy_is_consistent(points):
    lon, lat = points
    cols = hexgrid.cell_columns(lon, lat)
    assert list(cols) == ["h3_r6", "h3_r7", "h3_r8", "h3_r9"]
    assert (cols["h3_r9"] == hexgrid.cells(lon, lat, 9)).all()
    for coarse in ("h3_r6", "h3_r7", "h3_r8"):
        res = int(coarse[-1])
        assert (hexgrid.parents(cols["h3_r9"], res) == cols[coarse]).all()
        assert (hexgrid.resolution(cols[coarse]) == res).all()


def test_float_cells_refused():
    with pytest.raises(TypeError, match="uint64"):
        hexgrid.parents(np.array([6.1e17]), 6)


def test_children_contain_cell_and_map_back(points):
    lon, lat = points
    r9 = hexgrid.cells(lon[:20], lat[:20], 9)
    r7 = hexgrid.parents(r9, 7)
    for parent, cell in zip(r7, r9, strict=True):
        kids = hexgrid.children(parent, 9)
        assert len(kids) == 49 and cell in kids
        assert (hexgrid.parents(kids, 7) == parent).all()


def test_cell_polygons_cover_their_points(points):
    lon, lat = points
    c = hexgrid.cells(lon[:500], lat[:500], 8)
    frame = hexgrid.cell_polygons(np.concatenate([c, c, np.array([0], np.uint64)]))
    assert len(frame) == len(np.unique(c)) and frame.crs.to_epsg() == 4326
    assert shapely.is_valid(frame.geometry.values).all()
    by_code = dict(zip(frame["h3"].tolist(), frame.geometry.values, strict=True))
    inside = [shapely.intersects_xy(by_code[int(ci)], x, y)
              for ci, x, y in zip(c, lon[:500], lat[:500], strict=True)]
    assert all(inside)
    assert frame["code"].tolist() == [h3.int_to_str(int(v)) for v in frame["h3"]]
    assert len(hexgrid.cell_polygons(np.array([0], np.uint64))) == 0


def test_string_roundtrip_and_errors():
    c = hexgrid.cells([100.5, 99.0], [13.75, 18.8], 7)
    s = hexgrid.to_str(c)
    assert s == [h3.int_to_str(int(v)) for v in c]
    assert (hexgrid.to_int(s) == c).all()
    assert hexgrid.to_str(np.array([0], np.uint64)) == [""]
    with pytest.raises(ValueError, match="position 1"):
        hexgrid.to_int([s[0], "zzz"])
