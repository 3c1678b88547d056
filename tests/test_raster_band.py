"""The population raster's zonal sums over the rows of the provinces built only (the raster
stage costs in proportion to them): every tambon, amphoe, province and H3 value is the one
summed over the whole raster, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from service.settings import load_settings

AMPHOES = ["TH7502", "TH7601"]  # Samut Songkhram and Phetchaburi (neighbours)


@pytest.fixture(scope="module")
def tif(tmp_path_factory):
    """Uneven people per 0.01° pixel over 12.0-15.5 N, 99.0-101.0 E (350 rows)."""
    import rasterio
    from affine import Affine

    values = np.random.default_rng(5).gamma(2.0, 30.0, size=(350, 200)).astype(np.float32)
    values[::7, ::5] = -1  # nodata pixels
    path = tmp_path_factory.mktemp("raster") / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", height=350, width=200, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.01, 0, 99.0, 0, -0.01, 15.5), nodata=-1) as dst:
        dst.write(values, 1)
    return path


@pytest.fixture(scope="module")
def tambons_locator():
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    tambons = load_level(load_settings(environ={})["boundaries_dir"], "tambon")
    return tambons, TambonLocator(tambons)


def test_band_sums_equal_whole_raster_sums_bit_for_bit(tmp_path, tif, tambons_locator,
                                                        make_demo_persons, monkeypatch):
    from service.geo import zonal
    from service.pipeline import _raster_columns, build_version
    from service.store import open_store

    tambons, locator = tambons_locator
    shapes: list[tuple[int, int]] = []
    zone_raster = zonal.ZoneRaster

    def spy(polygons, transform, shape, **kw):
        shapes.append(tuple(shape))
        return zone_raster(polygons, transform, shape, **kw)

    monkeypatch.setattr(zonal, "ZoneRaster", spy)
    settings = load_settings({"data_dir": str(tmp_path / "var"), "population_raster": str(tif)},
                             environ={})
    version = build_version(settings, dataset="demo", round=2561, progress=False,
                            persons_dir=make_demo_persons(amphoes=AMPHOES), locator=locator)
    # the zones were built over the rows of the two provinces only (padded), not all 350
    assert len(shapes) == 1 and 60 < shapes[0][0] < 300, shapes
    store = open_store(settings)
    levels = ("country", "province", "amphoe", "tambon", "h3_r6", "h3_r7", "h3_r8", "h3_r9")
    stored = {lv: store.read_areas("demo", lv, version=version.id) for lv in levels}
    # the old path: the whole raster, every tambon of the country as zones
    whole = {lv: pd.DataFrame({"code": t["code"], "n_persons": t["n_persons"]})
             for lv, t in stored.items()}
    _raster_columns(whole, str(tif), tambons, locator, cache_dir=None, provinces=None)
    assert shapes[1] == (350, 200)
    for level in levels:
        if level == "country":
            continue  # the people of the provinces built, no longer of the whole raster
        mine = stored[level]["pop_raster"].to_numpy()
        old = whole[level]["pop_raster"].to_numpy()
        assert np.isfinite(mine).any(), level
        assert np.array_equal(mine, old, equal_nan=True), level
        assert np.array_equal(stored[level]["survey_gap"].to_numpy(),
                              whole[level]["survey_gap"].to_numpy(), equal_nan=True), level
    provinces = stored["province"].set_index("code")["pop_raster"]
    assert set(provinces.index) == {"TH75", "TH76"}
    assert stored["country"]["pop_raster"].iloc[0] == pytest.approx(provinces.sum())
    assert stored["country"]["pop_raster"].iloc[0] < whole["country"]["pop_raster"].iloc[0]
    # a later round of the same provinces reads the cached sums: the same numbers
    again = build_version(settings, dataset="demo", round=2562, progress=False,
                          persons_dir=make_demo_persons(amphoes=AMPHOES),
                          source_sha256="same persons, next round", locator=locator)
    assert len(shapes) == 2  # no zones built again
    for level in levels:
        after = store.read_areas("demo", level, version=again.id)
        assert np.array_equal(after["pop_raster"].to_numpy(),
                              stored[level]["pop_raster"].to_numpy(), equal_nan=True), level
