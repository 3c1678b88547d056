"""The evaluation recovers a simulated effect of help on exit from poverty."""

from __future__ import annotations

import polars as pl
import pytest

from service.followup.evaluate import build_panel, evaluate, persistent_never_helped
from service.followup.simulate import scored_households, simulate_round

EFFECT = 0.25


@pytest.fixture(scope="module")
def simulated(make_demo_persons):
    d = make_demo_persons(provinces=["TH58"])
    raw = pl.concat([pl.read_parquet(f) for f in sorted((d / "persons").glob("*.parquet"))])
    nxt, help_ = simulate_round(raw, effect=EFFECT, seed=7)
    panel = build_panel(scored_households(raw), scored_households(nxt))
    return panel, help_


def test_evaluation_recovers_the_simulated_effect(simulated):
    panel, help_ = simulated
    res = evaluate(panel, help_, by="all", n_boot=400).iloc[0]
    assert res["n_helped"] > 1000 and res["n_matched"] / res["n_helped"] > 0.9
    assert res["effect_lo"] <= EFFECT <= res["effect_hi"], res.to_dict()
    assert res["effect_hi"] - res["effect_lo"] < 0.1
    # selection on the profile biases the naive comparison: matching is what fixes it
    assert res["naive_effect"] > res["effect_hi"]


def test_no_effect_gives_an_interval_around_zero(make_demo_persons):
    d = make_demo_persons(provinces=["TH58"])
    raw = pl.concat([pl.read_parquet(f) for f in sorted((d / "persons").glob("*.parquet"))])
    nxt, help_ = simulate_round(raw, effect=0.0, seed=11)
    panel = build_panel(scored_households(raw), scored_households(nxt))
    res = evaluate(panel, help_, n_boot=400).iloc[0]
    assert res["effect_lo"] <= 0 <= res["effect_hi"], res.to_dict()


def test_per_area_and_action_and_persistent_poor(simulated):
    panel, help_ = simulated
    areas = evaluate(panel, help_, by="area", n_boot=200)
    assert len(areas) == panel.frame["area"].n_unique()
    est = areas.dropna(subset=["effect"])
    assert len(est) >= 5
    # each amphoe's interval holds the true effect (95 % intervals: allow one miss)
    assert ((est["effect_lo"] <= EFFECT) & (est["effect_hi"] >= EFFECT)).sum() >= len(est) - 1
    by_action = evaluate(panel, help_, by="action", n_boot=100)
    assert by_action["key"].tolist() == ["job_training"]
    pers = persistent_never_helped(panel, help_)
    f = panel.frame.filter(pl.col("eligible_poverty") & ~pl.col("exited_poverty"))
    assert pers["n_persistent"].sum() == f.height
    never = f.filter(~pl.col("hh_id").is_in(help_["hh_id"].implode())).height
    assert pers["n_persistent_never_helped"].sum() == never
