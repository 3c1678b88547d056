"""Panel measures in the pipeline (service.analysis.panel): three rounds of the demo panel of
Samut Songkhram built into one store; the identities hold at every level, H3 included."""

from __future__ import annotations

import polars as pl
import pytest

from service.analysis.panel import PanelAggregator

LEVELS = ("country", "province", "amphoe", "tambon", "village", "h3_r6", "h3_r7", "h3_r8",
          "h3_r9")


@pytest.fixture(scope="module")
def panel_store(demo_panel_store):
    return demo_panel_store


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


@pytest.fixture(scope="module")
def panel_client(panel_store):
    from service import create_app

    store, _ = panel_store
    app = create_app({"testing": True, "data_dir": str(store.data_dir),
                      "secret_key": "t", "pseudonym_key": "k"})
    return app.test_client()


def test_panel_columns_in_area_api_map_values_and_exports(panel_client, panel_store):
    _, v = panel_store
    body = panel_client.get("/api/v1/areas/province/TH75?dataset=demo").get_json()
    assert body["round"] == 2565
    area = body["area"]
    assert area["pnl_hh_exited"] > 0 and 0 < area["pnl_exit_rate"] < 1
    assert "pnl_hh_moved_in" in body["children"][0]
    # a map measure of the change family, for provinces and for a target group
    vals = panel_client.get("/maps/values/amphoe.json?dataset=demo&measure=pnl_exit_rate"
                            "&scope=TH75")
    assert vals.status_code == 200, vals.get_data(as_text=True)[:300]
    text = vals.get_data(as_text=True)
    assert "pnl_exit_rate" in text or "exit" in text.lower()
    grp = panel_client.get("/maps/values/amphoe.json?dataset=demo&measure=pnl_p_exited"
                           "&group=child&scope=TH75")
    assert grp.status_code == 200
    csv = panel_client.get("/api/v1/exports/areas/amphoe.csv?dataset=demo&province=TH75")
    assert csv.status_code == 200
    header = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()[0]
    assert "pnl_hh_exited" in header and "pnl_excl_elderly_allowance_exited" in header
    # the first round has no panel: the measure is "not available", not zero
    first = panel_client.get("/maps/values/amphoe.json?dataset=demo&round=2561"
                             "&measure=pnl_exit_rate&scope=TH75")
    assert first.status_code == 200
    assert first.get_json()["available"] is False


def test_kpi_progress_api(panel_client):
    body = panel_client.get("/api/v1/kpi/progress?dataset=demo&province=TH75&limit=500")
    assert body.status_code == 200, body.get_data(as_text=True)[:400]
    data = body.get_json()
    assert data["rounds"] == [2561, 2562, 2565]
    items = {(i["code"], i["kpi"]): i for i in data["items"]}
    m0 = items[("TH", "m0")]
    assert m0["baseline_round"] == 2561 and m0["latest_round"] == 2565
    assert [p["round"] for p in m0["trend"]] == [2561, 2562, 2565]
    assert m0["change"] != 0 and m0["status_th"] and m0["status_en"]
    assert ("TH75", "cov_elderly_allowance") in items


def test_household_with_members_in_two_tambons_counts_in_both():
    """As in aggregate: a household counts in every area where a member is (the level by
    level path, taken when a household has more than one location)."""
    agg = PanelAggregator()
    before = _batch(["e1", "e2", "f1"], ["e", "e", "f"], ["TH500101", "TH500102", "TH500101"],
                    [True, True, False])
    now = _batch(["e1", "e2", "f1"], ["e", "e", "f"], ["TH500101", "TH500102", "TH500101"],
                 [False, False, False])
    agg.add(now, before)
    out = agg.finish()
    country = out["country"].row(0, named=True)
    assert country["pnl_hh_matched"] == 2 and country["pnl_hh_exited"] == 1
    tambon = {r["code"]: r for r in out["tambon"].iter_rows(named=True)}
    assert tambon["TH500101"]["pnl_hh_matched"] == 2
    assert tambon["TH500102"]["pnl_hh_matched"] == 1
    assert tambon["TH500102"]["pnl_hh_exited"] == 1
    assert country["pnl_p_matched"] == 3 and country["pnl_p_exited"] == 2


def test_change_map_moves_on_the_demo_panel(panel_client):
    """The change map (measure now minus the previous round) is not flat on the panel."""
    body = panel_client.get("/maps/values/amphoe.json?dataset=demo&measure=target_poor_rate"
                            "&change=1&scope=TH75").get_json()
    assert body["change"] is True
    values = [v for v in body["columns"]["value"] if v is not None]
    assert values and any(abs(v) > 0 for v in values)


def test_chronic_column_poor_now_and_chronic_before():
    from service.analysis.panel import chronic_column

    now = pl.DataFrame({"hh_id": ["a", "a", "b", "c", "d", "e"],
                        "hh_mpi_poor": [True, True, True, False, None, True]})
    before = pl.DataFrame({"hh_id": ["a", "a", "b", "c", "d", "x"],
                           "pnl_chronic": [None, True, False, True, True, True]})
    # a: a member's row says chronic; b: not chronic before; c, d: not poor now; e: new
    assert chronic_column(now, before).to_list() == [True, True, False, False, False, False]
    assert chronic_column(now, None).to_list() == [True, True, True, False, False, True]
    older = before.rename({"pnl_chronic": "hh_mpi_poor"})  # a previous round without it
    assert chronic_column(now, older).to_list() == [True, True, False, False, False, False]
