"""Demo panel (service.demo.panel): the same households over rounds 2561, 2562, 2565 of
Samut Songkhram; calibration to the published totals; transitions; invariants."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from service.cli import main
from service.demo.calibration import IND
from service.demo.households import APPLIES
from service.demo.panel import (
    generate_panel,
    national_totals,
    parse_rounds,
    ratios,
    round_dir,
    target_poor,
)

ROUNDS = (2561, 2562, 2565)


def _read(out, rnd):
    return pl.read_parquet(round_dir(out, rnd) / "persons" / "TH75.parquet")


def _dep():
    return pl.any_horizontal([pl.col(f"ind{i}").fill_null(0) == 1 for i in IND])


def _households(frame):
    return frame.group_by("hh_id").agg(
        _dep().any().alias("deprived"),
        (_dep() & pl.col("welfare_card")).any().alias("target"),
        pl.col("tambon_code").first(), pl.len().alias("size"))


@pytest.fixture(scope="module")
def rounds(demo_panel_dir):
    return {r: _read(demo_panel_dir, r) for r in ROUNDS}


def test_published_totals_and_interpolation():
    assert national_totals(2561)["persons"] == 36_647_817
    assert national_totals(2562)["target_poor"] == 983_316
    t = national_totals(2562)
    # 2562 has no published surveyed total: a quarter of the way from 2561 to 2565
    assert t["persons"] == round(36_647_817 + (36_103_806 - 36_647_817) / 4)
    assert t["persons_source"] == "interpolated 2561-2565"
    assert national_totals(2563)["target_poor"] == round(983_316 + (1_025_782 - 983_316) / 3)
    assert national_totals(2570)["target_poor_source"] == "carried from 2565"
    with pytest.raises(ValueError, match="2560"):
        parse_rounds("2560,2562")
    with pytest.raises(ValueError, match="Buddhist"):
        parse_rounds("2561,abc")


def test_each_round_matches_the_scaled_published_counts(demo_panel_dir, rounds):
    base = rounds[2561]
    base_tp = target_poor(base)
    assert base.height == 125_464 and base_tp == 903  # TPMAP 2561, exactly
    for rnd in ROUNDS[1:]:
        r_people, r_target = ratios(rnd)
        frame = rounds[rnd]
        assert frame.height == round(base.height * r_people)  # people: exact
        want = round(base_tp * r_target)
        got = target_poor(frame)
        # target poor: within one household (cards or exits household by household)
        assert 0 <= got - want <= 10, (rnd, got, want)
        assert abs(got / want - 1) < 0.01
        manifest = json.loads((round_dir(demo_panel_dir, rnd) / "manifest.json").read_text())
        assert manifest["previous_round"] == ROUNDS[ROUNDS.index(rnd) - 1]
        assert manifest["per_province"]["TH75"]["n_target_poor"] == got


def test_a_household_followed_across_three_rounds(rounds):
    hh = [_households(rounds[r]).rename(lambda c, r=r: c if c == "hh_id" else f"{c}_{r}")
          for r in ROUNDS]
    both = hh[0].join(hh[1], on="hh_id").join(hh[2], on="hh_id")
    # most households are followed through all three rounds (2 %/year leave the survey)
    assert both.height > 0.85 * hh[0].height
    # one that was deprived in 2561 and 2562 and left deprivation by 2565
    pick = both.filter(pl.col("deprived_2561") & pl.col("deprived_2562")
                       & ~pl.col("deprived_2565") & (pl.col("size_2561") >= 2)).sort("hh_id")
    assert pick.height > 0
    hh_id = pick["hh_id"][0]
    people = [rounds[r].filter(pl.col("hh_id") == hh_id).select(
        "person_id", pl.col("age").alias(f"age_{r}"), _dep().alias(f"dep_{r}")) for r in ROUNDS]
    followed = people[0].join(people[1], on="person_id").join(people[2], on="person_id")
    assert followed.height >= 1
    # people age by the years between rounds
    assert (followed["age_2562"] - followed["age_2561"] == 1).all()
    assert (followed["age_2565"] - followed["age_2561"] == 4).all()
    assert followed["dep_2561"].any() and not followed["dep_2565"].any()
    # and someone entered deprivation: a household not deprived in 2561 but in 2562
    assert both.filter(~pl.col("deprived_2561") & pl.col("deprived_2562")).height > 0


def test_poor_households_far_more_likely_to_stay_poor(rounds):
    a, b = _households(rounds[2561]), _households(rounds[2562])
    m = a.join(b, on="hh_id", suffix="_next")
    stay = m.filter(pl.col("deprived"))["deprived_next"].mean()
    enter = m.filter(~pl.col("deprived"))["deprived_next"].mean()
    assert 0.5 < stay < 0.95  # persistence with exits
    assert 0 < enter < 0.05
    assert stay > 10 * enter


def test_demography_moves_and_identifiers(rounds):
    r1, r2, r3 = rounds[2561], rounds[2562], rounds[2565]
    for f in rounds.values():
        assert f["person_id"].is_unique().all()
        assert f.schema == r1.schema
    ids1, ids2, ids3 = (set(f["person_id"].to_list()) for f in (r1, r2, r3))
    births = ids2 - ids1
    assert any("-B2562-" in i for i in births)
    assert r2.filter(pl.col("person_id").str.contains("-B2562-"))["age"].max() == 0
    deaths = ids1 - ids2
    assert 0.005 < len(deaths) / len(ids1) < 0.05  # deaths and households leaving
    assert not ((ids1 & ids3) - ids2)  # an identifier never comes back
    # households move between tambons (same hh_id, another tambon) and new ones appear
    t1 = r1.group_by("hh_id").agg(pl.col("tambon_code").first())
    t2 = r2.group_by("hh_id").agg(pl.col("tambon_code").first())
    moved = t1.join(t2, on="hh_id", suffix="_2").filter(
        pl.col("tambon_code") != pl.col("tambon_code_2"))
    assert moved.height > 0.003 * t1.height
    new_hh = set(t2["hh_id"].to_list()) - set(t1["hh_id"].to_list())
    assert any("-R2562-" in h for h in new_hh) and any("-S2562-" in h for h in new_hh)
    # a young adult who formed a household keeps their person_id
    split = r2.filter(pl.col("hh_id").str.contains("-S2562-"))
    assert split["person_id"].is_in(r1["person_id"].implode()).all()


def test_invariants_of_every_round(rounds):
    for rnd, f in rounds.items():
        # BMN 22 is the income rule; validated cards are registered; indicators apply by age
        assert ((f["ind22"] == 1) == (f["income_per_person_thb"] < 38_000)).all(), rnd
        assert not (f["welfare_card"] & ~f["welfare_card_registered"]).any()
        # (2561 keeps the few out-of-range indicators the TPMAP counts force: calibration.md)
        for ind, (lo, hi) in APPLIES.items() if rnd > 2561 else ():
            out = f.filter((pl.col("age") < lo) | (pl.col("age") > hi))
            assert out[f"ind{ind}"].null_count() == out.height, (rnd, ind)
        assert f.filter(~pl.col("disabled"))["ind28"].null_count() == (~f["disabled"]).sum()
        assert (f["province_code"] == "TH75").all()
        assert (f["amphoe_code"] == f["tambon_code"].str.slice(0, 6)).all()
        assert not f.filter(pl.col("child_grant") & (pl.col("age") >= 6)).height
        assert not f.filter(pl.col("elderly_allowance") & (pl.col("age") < 60)).height
    # exclusion falls: more elderly covered over time
    cov = [f.filter(pl.col("age") >= 60)["elderly_allowance"].mean() for f in rounds.values()]
    assert cov[0] < cov[1] < cov[2]


def test_deterministic_and_reused(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    for out in (a, b):
        generate_panel([2561, 2563], seed=7, out=out, amphoes=["TH7502"])
    fa = pl.read_parquet(round_dir(a, 2563) / "persons" / "TH75.parquet")
    fb = pl.read_parquet(round_dir(b, 2563) / "persons" / "TH75.parquet")
    assert fa.equals(fb)
    # a longer list reuses the rounds on disk (their files are left untouched)
    path = round_dir(a, 2563) / "persons" / "TH75.parquet"
    mtime = path.stat().st_mtime_ns
    summary = generate_panel([2561, 2563, 2564], seed=7, out=a, amphoes=["TH7502"])
    assert path.stat().st_mtime_ns == mtime
    assert summary["rounds"] == [2561, 2563, 2564]
    # another seed gives other transitions
    generate_panel([2561, 2563], seed=8, out=tmp_path / "c", amphoes=["TH7502"])
    fc = pl.read_parquet(round_dir(tmp_path / "c", 2563) / "persons" / "TH75.parquet")
    assert not fc.equals(fa)


def test_cli_rounds(tmp_path):
    out = tmp_path / "panel"
    result = CliRunner().invoke(main, ["demo-data", "--amphoes", "TH7502", "--rounds",
                                       "2561,2562", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2562" in result.output
    assert (out / "r2562" / "persons" / "TH75.parquet").exists()
    bad = CliRunner().invoke(main, ["demo-data", "--amphoes", "TH7502", "--rounds", "2550",
                                    "--out", str(out)])
    assert bad.exit_code != 0 and "2561" in bad.output
    assert np.isfinite(json.loads((out / "manifest.json").read_text())["seconds"])


def test_rounds_derived_side_by_side_write_the_same_files(tmp_path):
    """Provinces derived by two processes (the default on two cores) give the same files and
    manifests, byte for byte, as one process deriving them one after the other."""
    amphoes = ["TH7502", "TH5801"]
    for n in (1, 2):
        generate_panel([2561, 2562, 2565], seed=7, out=tmp_path / str(n), amphoes=amphoes,
                       processes=n)
    for rnd in (2561, 2562, 2565):
        one, two = round_dir(tmp_path / "1", rnd), round_dir(tmp_path / "2", rnd)
        for code in ("TH58", "TH75"):
            assert ((one / "persons" / f"{code}.parquet").read_bytes()
                    == (two / "persons" / f"{code}.parquet").read_bytes()), (rnd, code)
        m1 = json.loads((one / "manifest.json").read_text())
        m2 = json.loads((two / "manifest.json").read_text())
        m1.pop("seconds", None), m2.pop("seconds", None)
        assert m1 == m2
