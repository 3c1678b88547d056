"""Panel measures in the pipeline (service.analysis.panel): three rounds of the demo panel of
Samut Songkhram built into one store; the identities hold at every level, H3 included."""

from __future__ import annotations

import polars as pl
import pytest

from service.analysis.panel import PanelAggregator
from service.demo.panel import round_dir
from service.settings import load_settings
from service.store import open_store

LEVELS = ("country", "province", "amphoe", "tambon", "village", "h3_r6", "h3_r7", "h3_r8",
          "h3_r9")


@pytest.fixture(scope="module")
def locator():
    from service.geo.boundaries import load_level
    from service.geo.locate import TambonLocator

    return TambonLocator(load_level(load_settings(environ={})["boundaries_dir"], "tambon"))


@pytest.fixture(scope="module")
def panel_store(tmp_path_factory, demo_panel_dir, locator):
    from service.pipeline import build_version

    settings = load_settings({"data_dir": str(tmp_path_factory.mktemp("var"))}, environ={})
    versions = {r: build_version(settings, dataset="demo", round=r,
                                 persons_dir=round_dir(demo_panel_dir, r), progress=False,
                                 locator=locator) for r in (2561, 2562, 2565)}
    return open_store(settings), versions


def _areas(store, version, level):
    return pl.from_pandas(store.read_areas("demo", level, version=version.id))


def test_meta_and_first_round(panel_store):
    store, v = panel_store
    assert "panel" not in v[2561].meta
    assert v[2562].meta["panel"] == {"previous_version": v[2561].id, "previous_round": 2561}
    assert v[2565].meta["panel"]["previous_round"] == 2562
    first = store.area_columns("demo", "tambon", version=v[2561].id)
    assert not [c for c in first if c.startswith("pnl_")]
    for level in LEVELS:
        cols = store.area_columns("demo", level, version=v[2562].id)
        for c in ("pnl_hh_matched", "pnl_hh_exited", "pnl_p_persistent", "pnl_exit_rate",
                  "pnl_p_exited_child", "pnl_excl_elderly_allowance_exited",
                  "pnl_tp_hh_entered", "pnl_hh_chronic"):
            assert c in cols, (level, c)


@pytest.mark.parametrize("level", LEVELS)
def test_identities_at_every_level(panel_store, level):
    store, v = panel_store
    for before, after in ((2561, 2562), (2562, 2565)):
        old = _areas(store, v[before], level)
        new = _areas(store, v[after], level)
        both = new.join(old.select("code", pl.col("n_households").alias("hh_before"),
                                   pl.col("n_persons").alias("p_before")), on="code")
        assert both.height > 0
        # every household / person now: matched + moved in + new
        assert (both["n_households"] == both["pnl_hh_matched"] + both["pnl_hh_moved_in"]
                + both["pnl_hh_new"]).all()
        assert (both["n_persons"] == both["pnl_p_matched"] + both["pnl_p_moved_in"]
                + both["pnl_p_new"]).all()
        # every household / person before: matched + moved out + left
        assert (both["hh_before"] == both["pnl_hh_matched"] + both["pnl_hh_moved_out"]
                + both["pnl_hh_left"]).all()
        assert (both["p_before"] == both["pnl_p_matched"] + both["pnl_p_moved_out"]
                + both["pnl_p_left"]).all()
        assert (both["pnl_hh_exited"] + both["pnl_hh_persistent"] <= both["pnl_hh_matched"]
                ).all()
        assert (both["pnl_hh_chronic"] <= both["n_poor_households"]).all()


def test_transition_identities_against_the_persons(panel_store):
    """exited + persistent = poor in round 1 among matched; entered + persistent = poor in
    round 2 among matched (recounted from the stored scored persons, by tambon)."""
    store, v = panel_store
    a = store.read_persons("demo", "TH75", version=v[2561].id)
    b = store.read_persons("demo", "TH75", version=v[2562].id)
    hh_a = a.group_by("hh_id").agg(pl.col("tambon_located").first(),
                                   pl.col("hh_mpi_poor").first())
    hh_b = b.group_by("hh_id").agg(pl.col("tambon_located").first(),
                                   pl.col("hh_mpi_poor").first())
    m = hh_a.join(hh_b, on=["hh_id", "tambon_located"], suffix="_2")
    want = m.group_by(pl.col("tambon_located").alias("code")).agg(
        pl.len().alias("matched"), pl.col("hh_mpi_poor").sum().alias("poor1"),
        pl.col("hh_mpi_poor_2").sum().alias("poor2"))
    got = _areas(store, v[2562], "tambon").join(want, on="code")
    assert got.height == want.height
    assert (got["pnl_hh_matched"] == got["matched"]).all()
    assert (got["pnl_hh_exited"] + got["pnl_hh_persistent"] == got["poor1"]).all()
    assert (got["pnl_hh_entered"] + got["pnl_hh_persistent"] == got["poor2"]).all()
    # persons, the same by target group at the country level
    pa = a.select("person_id", "mpi_poor", "grp_child")
    pb = b.select("person_id", "mpi_poor")
    pm = pa.join(pb, on="person_id", suffix="_2")  # the country: every move stays inside
    country = _areas(store, v[2562], "country").row(0, named=True)
    assert country["pnl_p_exited"] + country["pnl_p_persistent"] == pm["mpi_poor"].sum()
    assert country["pnl_p_entered"] + country["pnl_p_persistent"] == pm["mpi_poor_2"].sum()
    child = pm.filter(pl.col("grp_child"))
    assert (country["pnl_p_exited_child"] + country["pnl_p_persistent_child"]
            == child["mpi_poor"].sum())


def test_movement_is_not_zero_and_rates(panel_store):
    store, v = panel_store
    c = _areas(store, v[2562], "country").row(0, named=True)
    assert c["pnl_hh_exited"] > 0 and c["pnl_hh_entered"] > 0 and c["pnl_hh_persistent"] > 0
    assert c["pnl_hh_new"] > 0 and c["pnl_hh_left"] > 0 and c["pnl_p_new"] > 0
    assert c["pnl_hh_moved_in"] == c["pnl_hh_moved_out"] == 0  # country: nobody moves out
    assert c["pnl_exit_rate"] == pytest.approx(
        c["pnl_hh_exited"] / (c["pnl_hh_exited"] + c["pnl_hh_persistent"]))
    assert c["pnl_tp_hh_exited"] > 0 and c["pnl_excl_elderly_allowance_exited"] > 0
    t = _areas(store, v[2562], "tambon")
    assert t["pnl_hh_moved_in"].sum() > 0
    assert t["pnl_hh_moved_in"].sum() == t["pnl_hh_moved_out"].sum()  # within the province
    # chronic: poor in 2561, 2562 and 2565 <= poor in 2561 and 2562
    c3 = _areas(store, v[2565], "country").row(0, named=True)
    assert 0 < c3["pnl_hh_chronic"] <= c["pnl_hh_chronic"] <= c["pnl_hh_persistent"]
    assert c["pnl_hh_new_poor"] >= c["pnl_hh_entered"]


def test_public_view_suppresses_panel_columns_of_small_areas(panel_store):
    from service.analysis.disclosure import suppress

    store, v = panel_store
    frame = store.read_areas("demo", "h3_r9", version=v[2562].id)
    public = suppress(frame, min_households=10, level="h3_r9")
    small = public[public["suppressed"]]
    assert len(small) > 0
    assert small["pnl_hh_exited"].isna().all() and small["pnl_exit_rate"].isna().all()


def _batch(ids, hh, tambon, poor):
    return pl.DataFrame({"person_id": ids, "hh_id": hh, "tambon_located": tambon,
                         "village_id": [t + "01" for t in tambon], "mpi_poor": poor,
                         "hh_mpi_poor": poor, "tpmap_target_poor": [False] * len(ids)})


def test_moves_between_provinces_are_matched_at_finish():
    agg = PanelAggregator()
    # province A: households a (stays), b (moves to province B), c (leaves the survey)
    agg.add(_batch(["a1"], ["a"], ["TH500101"], [True]),
            _batch(["a1", "b1", "c1"], ["a", "b", "c"], ["TH500101"] * 3, [True, True, False]))
    # province B: b arrives, d is new
    agg.add(_batch(["b1", "d1"], ["b", "d"], ["TH580101", "TH580101"], [False, True]),
            None)
    out = agg.finish()
    country = out["country"].row(0, named=True)
    assert country["pnl_hh_matched"] == 2 and country["pnl_hh_new"] == 1
    assert country["pnl_hh_left"] == 1 and country["pnl_hh_exited"] == 1
    assert country["pnl_hh_persistent"] == 1 and country["pnl_hh_new_poor"] == 1
    prov = {r["code"]: r for r in out["province"].iter_rows(named=True)}
    assert prov["TH50"]["pnl_hh_moved_out"] == 1 and prov["TH50"]["pnl_hh_left"] == 1
    assert prov["TH58"]["pnl_hh_moved_in"] == 1 and prov["TH58"]["pnl_hh_new"] == 1
    assert prov["TH58"]["pnl_hh_matched"] == 0
