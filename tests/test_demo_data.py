"""Calibrated demo-data generator: fit to TPMAP 2561 recomputed from the Parquet output,
determinism, subset == national rows, places, ages vs indicators, coverage seeds, identifiers."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analysis.coverage import load_programmes, programme_exprs
from service.analysis.mpi import area_counts, ratios_from_counts, score_persons
from service.analysis.spec import load_spec
from service.cli import main
from service.demo.calibration import DIMS, IND, TARGETS, poor_household_excess, tpmap
from service.demo.fit import province_fit, read_persons, recount
from service.demo.generate import (
    calibration_plan,
    generate,
    generate_province,
)
from service.demo.households import APPLIES, HH_IND, target_poor
from service.demo.identifiers import is_valid_national_id
from service.geo.boundaries import load_level
from service.settings import REPO_ROOT

BOUNDARIES = str(REPO_ROOT / "boundaries")
#: four small provinces from four regions (Samut Songkhram, Ranong, Trat, Sing Buri)
FIT_PROVINCES = ["TH17", "TH23", "TH75", "TH85"]
SEED = 7


@pytest.fixture(scope="module")
def fit_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-fit")
    generate(FIT_PROVINCES, seed=SEED, out=out, boundaries_dir=BOUNDARIES)
    return out


@pytest.fixture(scope="module")
def persons(fit_dir):
    return read_persons(fit_dir).collect()


def test_province_fit_within_one_percent(fit_dir):
    table = province_fit(fit_dir)
    assert sorted(table["code"]) == FIT_PROVINCES
    # the published TPMAP 2561 province file, not the generator's targets
    assert table["err_persons_pct"].abs().max() <= 1.0
    assert table["err_target_pct"].abs().max() <= 1.0
    # in fact exact: every unit is matched exactly and nothing is lost in the roll-up
    assert (table["persons"] == table["pub_persons"]).all()
    assert (table["target"] == table["pub_target"]).all()


def test_amphoe_counts_match_published_exactly(persons):
    got = recount(persons, "amphoe")
    pub = tpmap("amphoe").filter(pl.col("code").str.slice(0, 4).is_in(FIT_PROVINCES))
    # the documented exception: +1 poor household where one cannot hold both incomes
    excess = tpmap("tambon").group_by(pl.col("code").str.slice(0, 6).alias("code")).agg(
        poor_household_excess().sum().alias("excess"))
    assert excess["excess"].sum() == 13
    pub = pub.join(excess, on="code", how="left").with_columns(
        pl.col("poor_households") + pl.col("excess").fill_null(0))
    pub = pub.select("code", *TARGETS).sort("code")
    assert got.select(pub.columns).equals(pub)


def test_tambon_counts_exact_where_no_municipal_households_arrive(persons):
    plan, _ = calibration_plan(BOUNDARIES)
    plan = plan.filter(pl.col("province_code").is_in(FIT_PROVINCES))
    tambons = load_level(BOUNDARIES, "tambon")
    listed = set(plan["tambon_code"].drop_nulls())
    muni_amphoes = set(plan.filter(pl.col("kind") != "tambon")["amphoe_code"])
    # municipal households go to unlisted tambons of the amphoe when there are some
    absent = {a for a in muni_amphoes
              if set(tambons.loc[tambons.amphoe_code == a, "code"]) - listed}
    exact = plan.filter((pl.col("kind") == "tambon")
                        & (~pl.col("amphoe_code").is_in(list(muni_amphoes - absent))))
    assert exact.height > 50
    got = recount(persons, "tambon").filter(pl.col("code").is_in(exact["code"].to_list()))
    want = exact.with_columns(pl.col("poor_households") + poor_household_excess())
    want = want.select("code", *TARGETS).sort("code")
    assert got.select(want.columns).equals(want)
    # receiving tambons only gain people
    recv = recount(persons, "tambon").join(plan.select("code", pl.col("persons").alias("pub")),
                                           on="code", how="inner")
    assert (recv["persons"] >= recv["pub"]).all()


def test_national_plan_reproduces_tpmap_totals_and_reports_moves():
    plan, report = calibration_plan(BOUNDARIES)
    nat = plan.filter(pl.col("kind") != "bangkok")
    assert int(nat["persons"].sum()) == 36_647_817
    assert int(nat["target"].sum()) == 1_032_987
    muni = tpmap("tambon").filter(pl.col("tpmap_code").str.slice(4, 2).cast(pl.Int32) >= 51)
    assert report["moved_people"] == int(muni["persons"].sum()) > 3_000_000
    assert report["left_out_people"] == 0
    assert [a["code"] for a in report["adjustments"]] == ["TH700102"]


def test_bangkok_is_plausible():
    plan, _ = calibration_plan(BOUNDARIES)
    bkk = plan.filter(pl.col("kind") == "bangkok")
    khwaeng = load_level(BOUNDARIES, "tambon").query("province_code == 'TH10'")
    assert sorted(bkk["code"]) == sorted(khwaeng["code"])
    assert (bkk["households"] >= 1).all()
    donors = plan.filter(pl.col("province_code").is_in(["TH11", "TH12", "TH13"]))
    # surveyed share of the registered population as in the donor provinces (documented)
    expected = donors["persons"].sum() / (1_311_000 + 1_255_000 + 1_146_000) * 5_677_000
    assert abs(bkk["persons"].sum() / expected - 1) < 0.05
    rates = donors.group_by("province_code").agg(
        (pl.col("target").sum() / pl.col("persons").sum()).alias("r"))["r"]
    bkk_rate = bkk["target"].sum() / bkk["persons"].sum()
    assert rates.min() * 0.8 <= bkk_rate <= rates.max() * 1.2


def test_deterministic_and_seed_sensitive():
    a = generate_province("TH75", seed=SEED, boundaries_dir=BOUNDARIES, amphoes=["TH7502"])
    b = generate_province("TH75", seed=SEED, boundaries_dir=BOUNDARIES, amphoes=["TH7502"])
    c = generate_province("TH75", seed=SEED + 1, boundaries_dir=BOUNDARIES, amphoes=["TH7502"])
    assert a.equals(b)
    assert not a.equals(c)
    assert a.height == c.height  # the counts are calibrated, the draws are not


def test_subset_rows_equal_national_rows(persons, tmp_path):
    sub = generate_province("TH75", seed=SEED, boundaries_dir=BOUNDARIES, amphoes=["TH7503"])
    full = persons.filter(pl.col("amphoe_code") == "TH7503")
    assert sub.equals(full)
    generate(["TH23"], seed=SEED, out=tmp_path, boundaries_dir=BOUNDARIES)
    alone = pl.read_parquet(tmp_path / "persons" / "TH23.parquet")
    assert alone.equals(persons.filter(pl.col("province_code") == "TH23"))


def test_schema_ids_and_households(persons):
    expected = ["person_id", "hh_id", "village_id", "tambon_code", "amphoe_code",
                "province_code", "lon", "lat", "age", "sex", "disabled", "chronic",
                "welfare_card_registered", "welfare_card", "elderly_allowance",
                "disability_allowance", "child_grant", "social_security", "informal_worker",
                "income_per_person_thb", *[f"ind{i}" for i in IND]]
    assert persons.columns == expected
    assert persons.schema["age"] == pl.Int16 and persons.schema["ind1"] == pl.Int8
    assert persons.schema["income_per_person_thb"] == pl.Float32
    assert persons["person_id"].n_unique() == persons.height
    assert set(persons["sex"].unique()) == {"F", "M"}
    hh = persons.group_by("hh_id").agg(
        pl.col("village_id", "lon", "lat", "income_per_person_thb").n_unique(),
        (pl.col("age") >= 18).any().alias("has_adult"))
    assert (hh.select(pl.exclude("hh_id", "has_adult")).max_horizontal() == 1).all()
    assert hh["has_adult"].mean() > 0.97
    assert (persons["village_id"].str.slice(0, 8) == persons["tambon_code"]).all()
    # moo numbers 1..n without gaps in each tambon; about 150 households a village
    v = persons.group_by("tambon_code").agg(
        pl.col("village_id").str.slice(8, 2).cast(pl.Int32).unique().sort().alias("moo"),
        pl.col("hh_id").n_unique().alias("hh"))
    assert all(list(m) == list(range(1, len(m) + 1)) for m in v["moo"])
    per_village = (v["hh"] / v["moo"].list.len()).median()
    assert 100 <= per_village <= 200


def test_households_placed_inside_their_tambon(persons):
    tambons = load_level(BOUNDARIES, "tambon").set_index("code")
    hh = persons.unique("hh_id").select("tambon_code", "lon", "lat")
    assert hh["lon"].null_count() == 0
    for (code,), part in hh.group_by("tambon_code"):
        inside = shapely.contains_xy(tambons.geometry[code], part["lon"].to_numpy(),
                                     part["lat"].to_numpy())
        assert inside.all(), code
    # clustered into villages: households sit much closer to their village centre than to
    # the tambon centre
    c = persons.unique("hh_id").group_by("village_id").agg(
        pl.col("lon").std().alias("sx"), pl.len().alias("n")).filter(pl.col("n") > 20)
    t = persons.unique("hh_id").group_by("tambon_code").agg(pl.col("lon").std().alias("sx"))
    assert c["sx"].median() < t["sx"].median()


def test_ages_consistent_with_indicators(persons):
    age = persons["age"].to_numpy()
    fails = 0
    conflicts = 0
    for ind in IND:
        col = persons[f"ind{ind}"]
        applies = np.ones(len(age), dtype=bool)
        if ind in APPLIES:
            lo, hi = APPLIES[ind]
            applies = (age >= lo) & (age <= hi)
        elif ind == 28:
            applies = persons["disabled"].to_numpy()
        value = col.fill_null(-1).to_numpy()
        # null = not applicable; a result wherever it applies
        assert ((value == -1) == (~applies & (value != 1))).all(), ind
        n_fail = int((value == 1).sum())
        n_conflict = int(((value == 1) & ~applies).sum())
        fails += n_fail
        conflicts += n_conflict
        if ind in (1, 15, 16, 17, 21, 27):  # never forced by the data in these provinces
            assert n_conflict <= 0.01 * n_fail, ind
    assert conflicts / fails < 0.01
    assert (persons["age"] >= 0).all() and persons["age"].max() <= 105


def test_income_rule_and_distribution(persons):
    inc = persons["income_per_person_thb"]
    assert ((inc < 38_000) == (persons["ind22"] == 1)).all()
    assert inc.min() > 0 and 50_000 < inc.median() < 120_000


def test_coverage_rates_near_seeds(persons):
    p = persons
    old = p.filter(pl.col("age") >= 60)
    assert abs(old["elderly_allowance"].mean() - 0.817) < 0.01
    dis = p.filter(pl.col("disabled"))
    assert abs(dis["disability_allowance"].mean() - 0.756) < 0.03
    kids = p.filter((pl.col("age") < 6) & (pl.col("income_per_person_thb") < 100_000))
    assert abs(kids["child_grant"].mean() - 0.845) < 0.02
    informal = p.filter(pl.col("informal_worker"))
    assert abs(informal["social_security"].mean() - 0.207) < 0.015
    formal = p.filter(~pl.col("informal_worker") & (pl.col("age").is_between(15, 64))
                      & pl.col("social_security"))
    assert formal.height > 0  # formal workers are covered too
    assert not p.filter(pl.col("age") < 60)["elderly_allowance"].any()
    assert not p.filter(~pl.col("disabled"))["disability_allowance"].any()


def test_target_poor_recomputed_by_tpmap_rule(persons):
    """The union rule applied to the output gives the published per-dimension counts."""
    got = recount(persons, "province").sort("code")
    pub = tpmap("province").filter(pl.col("code").is_in(FIT_PROVINCES)).sort("code")
    for col in ["target", *[f"target_{d}" for d in DIMS], *[f"target_ind{i}" for i in IND]]:
        assert got[col].to_list() == pub[col].to_list(), col


def _deprived_any() -> pl.Expr:
    return pl.any_horizontal([pl.col(f"ind{i}").fill_null(0) == 1 for i in IND])


def test_deprivations_co_occur_and_households_share_them(persons):
    """Deprived people who are not target poor fail several indicators, correlated within
    households; household indicators (BMN 4, 5, 8-11) are shared by those members."""
    nt = persons.filter(_deprived_any() & ~pl.col("welfare_card"))
    n_ind = nt.select(pl.sum_horizontal([pl.col(f"ind{i}").fill_null(0) for i in IND]))
    n_ind = n_ind.to_series()
    assert (n_ind >= 2).mean() > 0.4  # one indicator each before the co-occurrence model
    assert (n_ind >= 5).mean() > 0.1
    assert not (nt["ind22"].fill_null(0) == 1).any()  # 22 follows income, target poor only
    g = nt.group_by("hh_id").agg(
        pl.len().alias("n"),
        *[pl.col(f"ind{i}").fill_null(0).sum().alias(f"s{i}") for i in HH_IND],
    ).filter(pl.col("n") >= 2)
    pairs = g.unpivot(index=["hh_id", "n"], on=[f"s{i}" for i in HH_IND]).filter(
        pl.col("value") > 0)
    assert pairs.height > 1000
    # independent draws per person would give mostly partial households
    assert (pairs["value"] == pairs["n"]).mean() > 0.85


def test_mpi_headcount_plausible(persons):
    """tpmap preset at k = 26 %: a few percent poor (an assumption, docs/calibration.md),
    not ~0 as with one indicator per deprived person."""
    spec = load_spec("tpmap")
    progs = load_programmes()
    r = ratios_from_counts(area_counts(score_persons(persons, spec, progs), spec, progs))
    h, a = r["h"][0], r["a"][0]
    deprived = persons.select(_deprived_any().mean()).item()
    assert 0.005 < h < 0.06
    assert 0.1 < h / deprived < 0.5
    assert 0.3 < a < 0.5
    assert r["m0"][0] == pytest.approx(h * a)


def test_welfare_card_rule_agrees_with_generator(persons):
    """The generator gives cards to households (TPMAP counts every member of a card household,
    children included, as a holder); the programme rule counts adults (18+) meeting the income
    test as eligible and adult holders as covered, so children are neither excluded nor
    inclusion errors, and the only inclusion errors are card households above 100,000
    THB/person/year (the generator's 5 %)."""
    progs = load_programmes()
    out = persons.with_columns(programme_exprs(progs)).select(
        "age", "welfare_card", "income_per_person_thb", "hh_id", "elig_welfare_card",
        "cov_welfare_card")
    assert (out.filter(pl.col("welfare_card"))["age"] < 18).sum() > 1000  # TPMAP's count
    children = out.filter(pl.col("age") < 18)
    assert not children["elig_welfare_card"].any() and not children["cov_welfare_card"].any()
    holders = out.filter(pl.col("cov_welfare_card"))
    assert (holders["age"] >= 18).all()
    errors = holders.filter(~pl.col("elig_welfare_card"))
    assert errors.height / holders.height < 0.05
    assert (errors["income_per_person_thb"] > 100_000).all()
    card_hh = holders.group_by("hh_id").agg(pl.col("income_per_person_thb").first())
    assert 0.01 < (card_hh["income_per_person_thb"] > 100_000).mean() < 0.05


def test_cli_subset_with_identifiers(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo-data", "--amphoes", "TH7502", "--seed", "3",
                                       "--out", str(out), "--with-identifiers"])
    assert result.exit_code == 0, result.output
    assert "people / คน" in result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 3 and manifest["provinces"] == ["TH75"]
    assert manifest["amphoes"] == ["TH7502"]
    frame = pl.read_parquet(out / "persons" / "TH75.parquet")
    assert manifest["n_persons"] == frame.height
    assert manifest["per_province"]["TH75"]["n_households"] == frame["hh_id"].n_unique()
    ids = frame["national_id"]
    assert ids.str.len_chars().eq(13).all()
    assert all(is_valid_national_id(x) for x in ids.sample(2000, seed=1))
    assert ids.n_unique() > 0.99 * frame.height
    assert frame["first_name"].str.contains(r"^[\u0E00-\u0E7F]+$").all()
    # the synthetic ids are not derived from the identifiers
    assert not frame["person_id"].str.contains(r"\d{13}").any()


def test_without_identifiers_no_personal_columns(persons):
    assert not {"national_id", "first_name", "last_name"} & set(persons.columns)


def test_cli_rejects_unknown_province(tmp_path):
    result = CliRunner().invoke(main, ["demo-data", "--provinces", "TH99", "--out",
                                       str(tmp_path)])
    assert result.exit_code != 0
    assert "TH99" in result.output


def test_shared_fixtures(demo_persons_dir, make_demo_persons):
    manifest = json.loads((demo_persons_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["n_persons"] == 125_464 and manifest["n_households"] == 43_535
    small = make_demo_persons(amphoes=["TH7502"])
    assert make_demo_persons(amphoes=["TH7502"]) == small
    frame = pl.read_parquet(small / "persons" / "TH75.parquet")
    assert set(frame["amphoe_code"]) == {"TH7502"}


def test_bangkok_khet_generates_its_plan():
    plan, _ = calibration_plan(BOUNDARIES)
    want = plan.filter(pl.col("amphoe_code") == "TH1001").with_columns(
        pl.col("poor_households") + poor_household_excess()).select("code", *TARGETS).sort("code")
    frame = generate_province("TH10", seed=SEED, boundaries_dir=BOUNDARIES, amphoes=["TH1001"])
    assert recount(frame, "tambon").select(want.columns).equals(want)


def test_cli_rejects_amphoe_outside_province(tmp_path):
    result = CliRunner().invoke(main, ["demo-data", "--provinces", "TH75", "--amphoes",
                                       "TH5001", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "TH5001" in result.output and "TH75" in result.output


@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_target_poor_layout_exact_for_any_consistent_counts(data):
    """Property: for any counts satisfying TPMAP's consistency rules, the layout gives exactly
    the requested number of target poor per dimension and per indicator, and everyone is
    deprived in at least one dimension."""
    n = data.draw(st.integers(0, 60))
    t: dict[str, int] = {"target": n}
    dims = list(DIMS)
    sizes = [data.draw(st.integers(0, n)) for _ in dims]
    if n and sum(sizes) < n:
        sizes[0] = n
    for d, size in zip(dims, sizes, strict=True):
        t[f"target_{d}"] = size
        inds = DIMS[d]
        counts = [data.draw(st.integers(0, size)) for _ in inds]
        if size and max(counts) == 0:
            counts[0] = size
        while sum(counts) < size:
            counts[counts.index(min(counts))] += 1
        for i, c in zip(inds, counts, strict=True):
            t[f"target_ind{i}"] = c
    fails, cls = target_poor(t, np.random.default_rng(data.draw(st.integers(0, 2**32))))
    col = {i: k for k, i in enumerate(IND)}
    assert fails.shape == (n, len(IND))
    if n:
        assert fails.any(axis=1).all()
    for d, inds in DIMS.items():
        assert int(fails[:, [col[i] for i in inds]].any(axis=1).sum()) == t[f"target_{d}"]
        for i in inds:
            assert int(fails[:, col[i]].sum()) == t[f"target_ind{i}"]


def test_provinces_generated_side_by_side_write_the_same_files(tmp_path):
    """Two processes (the default on a multi-core machine) write the same bytes, and the same
    manifest, as one process generating the provinces one after the other."""
    amphoes = ["TH7502", "TH5801", "TH2304"]
    one = generate(None, seed=SEED, out=tmp_path / "one", amphoes=amphoes,
                   boundaries_dir=BOUNDARIES, processes=1)
    two = generate(None, seed=SEED, out=tmp_path / "two", amphoes=amphoes,
                   boundaries_dir=BOUNDARIES, processes=2)
    assert one["per_province"] == two["per_province"]
    assert list(two["per_province"]) == ["TH23", "TH58", "TH75"]
    for code in ("TH23", "TH58", "TH75"):
        assert ((tmp_path / "one" / "persons" / f"{code}.parquet").read_bytes()
                == (tmp_path / "two" / "persons" / f"{code}.parquet").read_bytes())
