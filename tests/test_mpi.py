"""Alkire-Foster engine: worked examples computed by hand, missing values, weights,
scored columns of the contract, ratios from summed counts."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from mpi_fixtures import INDICATORS, persons

from service.analysis.coverage import load_programmes
from service.analysis.mpi import (
    area_counts,
    ratios_from_counts,
    score_persons,
    summarize,
    validate_values,
)
from service.analysis.spec import load_spec, parse_spec
from service.errors import InvalidInput

# Alkire & Foster (2011), J. Public Econ. 95: achievements of 4 persons in 4 dimensions
# (income, years of schooling, BMI-type health, water), cutoffs z = (13, 12, 3, 1).
AF_SPEC = {
    "name": "af2011", "k": 0.5,
    "dimensions": ["income", "education", "health", "water"],
    "indicators": [
        {"name": "income", "dimension": "income", "rule": {"type": "cutoff", "op": "<", "cutoff": 13}},
        {"name": "school", "dimension": "education", "rule": {"type": "cutoff", "op": "<", "cutoff": 12}},
        {"name": "bmi", "dimension": "health", "rule": {"type": "cutoff", "op": "<", "cutoff": 3}},
        {"name": "water", "dimension": "water", "rule": {"type": "cutoff", "op": "<", "cutoff": 1}},
    ],
    "union": {"require_column": None},
}
AF_DATA = pl.DataFrame({
    "income": [13.1, 15.2, 12.5, 20.0],
    "school": [14, 7, 10, 11],
    "bmi": [4, 5, 1, 3],
    "water": [1, 0, 0, 1],
    "region": ["n", "n", "s", "s"],
})


def _overall(summary, k=None):
    return next(r for r in summary["results"]
                if r["group"] is None and (k is None or r["k"] == k))


def test_alkire_foster_2011_worked_example():
    spec = parse_spec(AF_SPEC)
    s = summarize(AF_DATA, spec)
    r = _overall(s)
    # deprivation counts (0, 2, 4, 1): persons 2 and 3 are poor at k = 2 of 4
    assert (r["n"], r["q"]) == (4, 2)
    assert r["h"] == pytest.approx(0.5)
    assert r["a"] == pytest.approx(0.75)
    assert r["m0"] == pytest.approx(0.375)
    assert r["uncensored_headcount"] == pytest.approx(
        {"income": 0.25, "school": 0.75, "bmi": 0.25, "water": 0.5})
    # person 4 (only schooling) is censored away
    assert r["censored_headcount"] == pytest.approx(
        {"income": 0.25, "school": 0.5, "bmi": 0.25, "water": 0.5})
    contrib = r["contribution"]["indicators"]
    assert contrib == pytest.approx({"income": 1 / 6, "school": 1 / 3, "bmi": 1 / 6,
                                     "water": 1 / 3})
    assert sum(contrib.values()) == pytest.approx(1)
    scored = score_persons(AF_DATA, spec, require_all=False)
    assert scored["mpi_c"].to_list() == pytest.approx([0, 0.5, 1.0, 0.25])
    assert scored["mpi_severe"].to_list() == [False, True, True, False]


def test_several_k_values_by_hand():
    s = summarize(AF_DATA, parse_spec(AF_SPEC), k_values=[0.25, 1.0])
    union = _overall(s, 0.25)   # anyone deprived in one indicator: persons 2, 3, 4
    assert (union["q"], union["h"], union["a"]) == (3, 0.75, pytest.approx(7 / 12))
    assert union["m0"] == pytest.approx(7 / 16)
    inter = _overall(s, 1.0)    # intersection: person 3 only
    assert (inter["q"], inter["h"], inter["a"], inter["m0"]) == (1, 0.25, 1.0, 0.25)
    assert inter["severe"] == pytest.approx(0.5)  # c >= 0.5: persons 2 and 3
    # vulnerable 0.20 <= c < k: person 4 (0.25) and person 2 (0.5) at k = 1
    assert inter["vulnerable"] == pytest.approx(0.5)


def test_subgroup_decomposition_by_column():
    s = summarize(AF_DATA, parse_spec(AF_SPEC), by="region")
    total = _overall(s)
    groups = {r["group"]["value"]: r for r in s["results"] if r["group"]}
    assert groups["n"]["m0"] == pytest.approx(0.25) and groups["s"]["m0"] == pytest.approx(0.5)
    assert sum(g["population_share"] * g["m0"] for g in groups.values()) == pytest.approx(
        total["m0"])
    assert sum(g["contribution_to_m0"] for g in groups.values()) == pytest.approx(1)


def test_survey_weights_equal_duplicated_rows():
    spec = parse_spec(AF_SPEC)
    weighted = AF_DATA.with_columns(pl.Series("w", [1.0, 3.0, 1.0, 2.0]))
    duplicated = pl.concat([AF_DATA, AF_DATA[1], AF_DATA[1], AF_DATA[3]])
    rw = _overall(summarize(weighted, spec, weight="w"))
    rd = _overall(summarize(duplicated, spec))
    for key in ("n", "q", "h", "a", "m0", "vulnerable", "severe"):
        assert rw[key] == pytest.approx(rd[key]), key
    assert rw["h"] == pytest.approx(4 / 7)


def test_applicability_and_missing_rules():
    raw = {
        "name": "edu", "k": 0.5, "missing": "drop", "union": {"require_column": None},
        "dimensions": ["education", "income"],
        "indicators": [
            {"name": "ind16", "dimension": "education", "rule": {"type": "flag"},
             "applies": {"column": "age", "op": "between", "value": [6, 14]}},
            {"name": "ind22", "dimension": "income", "rule": {"type": "flag"}},
        ],
    }
    df = pl.DataFrame({"age": [10, 30, 10, 8, 40],
                       "ind16": [1, 1, None, 0, None],
                       "ind22": [1, 1, 1, None, 0]}, schema_overrides={"ind16": pl.Int8})
    s = summarize(df, parse_spec(raw))
    r = _overall(s)
    # person 2 (age 30) is outside ind16: not deprived; person 3 (applicable null) and
    # person 4 (ind22 null) are dropped; person 5's null ind16 is not applicable (age 40)
    assert s["n_dropped"] == 2 and r["n_dropped"] == 2
    assert s["missing_values"] == {"ind16": {"nulls": 1, "rule": "drop"},
                                   "ind22": {"nulls": 1, "rule": "drop"}}
    assert (r["n"], r["q"]) == (3, 2)  # k = 0.5: ind22 alone makes person 2 poor
    assert r["uncensored_headcount"]["ind16"] == pytest.approx(1 / 3)
    scored = score_persons(df, parse_spec(raw), require_all=False)
    assert scored["mpi_c"].to_list()[:2] == pytest.approx([1.0, 0.5])
    assert scored["mpi_c"].null_count() == 2
    assert scored["dep_ind16"].to_list() == [1, 0, None, 0, 0]

    deprived = _overall(summarize(df, parse_spec({**raw, "missing": "deprived"})))
    assert (deprived["n"], deprived["q"]) == (5, 4)  # person 3 and 4 count as deprived
    lenient = _overall(summarize(df, parse_spec({**raw, "missing": "not_deprived"})))
    assert (lenient["n"], lenient["q"]) == (5, 3)


def _household_fixture():
    return persons([
        # household a: child 5, woman 40 with welfare card; deprived in living + income
        {"hh_id": "a", "age": 5, "deprived": ["ind15", "ind8"], "income_per_person_thb": 20000},
        {"hh_id": "a", "age": 40, "sex": "F", "welfare_card": True,
         "deprived": ["ind8", "ind9", "ind20", "ind22", "ind4"],
         "income_per_person_thb": 20000},
        # household b: two elderly, not deprived; one receives the allowance
        {"hh_id": "b", "age": 70, "elderly_allowance": True},
        {"hh_id": "b", "age": 65, "disabled": True, "chronic": True},
        # household c: adults only, deprived in education, card holder not deprived elsewhere
        {"hh_id": "c", "age": 50, "deprived": ["ind19"], "welfare_card": True},
    ])


def test_score_persons_adds_exactly_the_contract_columns():
    df = _household_fixture()
    spec, progs = load_spec("tpmap"), load_programmes()
    out = score_persons(df, spec, progs)
    added = set(out.columns) - set(df.columns)
    expected = (
        {f"dep_{i}" for i in INDICATORS}
        | {"mpi_c", "mpi_poor", "mpi_vulnerable", "mpi_severe", "tpmap_deprived_any",
           "tpmap_target_poor", "hh_mpi_poor", "hh_crossgen"}
        | {f"tpmap_dim_{d}" for d in ("health", "living", "education", "income",
                                       "accessibility")}
        | {f"grp_{g}" for g in ("child", "woman", "elderly", "disabled", "chronic")}
        | {f"{x}_{p}" for x in ("elig", "cov") for p in (
            "welfare_card", "elderly_allowance", "disability_allowance", "child_grant",
            "social_security")}
    )
    assert added == expected
    assert out.columns[: len(df.columns)] == df.columns  # original columns kept, in order
    assert out.schema["mpi_c"] == pl.Float32 and out.schema["dep_ind1"] == pl.Int8
    # woman: health 1/20, living 2/20, income 2/15 -> 0.05 + 0.1 + 0.1333 = 0.2833 >= 0.26
    assert out["mpi_c"].to_list() == pytest.approx([0.1, 0.05 + 0.1 + 2 / 15, 0, 0, 0.05],
                                                   abs=1e-6)
    assert out["mpi_poor"].to_list() == [False, True, False, False, False]
    assert out["mpi_vulnerable"].to_list() == [False, False, False, False, False]
    assert out["tpmap_deprived_any"].to_list() == [True, True, False, False, True]
    assert out["tpmap_target_poor"].to_list() == [False, True, False, False, True]
    assert out["hh_mpi_poor"].to_list() == [True, True, False, False, False]
    # a has a child and living deprivation; c has no child; b has no deprivation
    assert out["hh_crossgen"].to_list() == [True, True, False, False, False]
    assert out["grp_child"].to_list() == [True, False, False, False, False]
    assert out["grp_woman"].to_list() == [False, True, False, False, False]
    assert out["grp_elderly"].to_list() == [False, False, True, True, False]
    assert out["elig_child_grant"].to_list() == [True, False, False, False, False]
    # lazy in, lazy out; same values
    lazy = score_persons(df.lazy(), spec, progs)
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().equals(out)


def test_score_persons_names_missing_columns():
    df = _household_fixture().drop("welfare_card", "ind22")
    with pytest.raises(InvalidInput, match="ind22"):
        score_persons(df, load_spec("tpmap"), load_programmes())
    partial = score_persons(_household_fixture().drop("hh_id"), load_spec("tpmap"),
                            require_all=False)
    assert "hh_crossgen" not in partial.columns and "mpi_c" in partial.columns


def test_ratios_from_summed_counts_not_mean_of_ratios():
    spec, progs = load_spec("tpmap"), load_programmes()
    scored = score_persons(_household_fixture(), spec, progs)
    per_hh = area_counts(scored, spec, progs, by="hh_id")
    per_hh_r = ratios_from_counts(per_hh)
    summed = per_hh.drop("hh_id").sum()
    total = ratios_from_counts(summed)
    direct = ratios_from_counts(area_counts(scored, spec, progs))
    for col in ("h", "a", "m0", "h_elderly", "m0_child", "cov_elderly_allowance"):
        if direct[col][0] is None:
            assert total[col][0] is None
        else:
            assert total[col][0] == pytest.approx(direct[col][0]), col
    assert total["h"][0] == pytest.approx(1 / 5)
    assert per_hh_r["h"].mean() != pytest.approx(total["h"][0])  # 1/2, 0, 0 -> 1/6
    assert total["cov_elderly_allowance"][0] == pytest.approx(0.5)
    # denominators of zero give null, not an error or infinity
    assert per_hh_r.filter(pl.col("hh_id") == "c")["a"][0] is None
    assert per_hh_r.filter(pl.col("hh_id") == "a")["cov_elderly_allowance"][0] is None
    # pandas in, pandas out
    pdf = ratios_from_counts(per_hh.to_pandas())
    assert isinstance(pdf, pd.DataFrame)
    assert pdf["m0"].tolist() == pytest.approx(per_hh_r["m0"].to_list(), nan_ok=True)


def test_target_groups_and_households_in_summary():
    s = summarize(_household_fixture(), load_spec("tpmap"), load_programmes())
    r = _overall(s)
    tg = {g["group"]: g for g in r["target_groups"]}
    assert (tg["woman"]["n"], tg["woman"]["q"], tg["woman"]["h"]) == (1, 1, 1.0)
    assert (tg["elderly"]["n"], tg["elderly"]["q"], tg["elderly"]["m0"]) == (2, 0, 0.0)
    assert tg["elderly"]["a"] is None
    assert r["households"] == {"n": 3, "poor": 1, "crossgen": 1}
    assert r["target_poor"] == pytest.approx(2 / 5)


def test_validate_values_names_row_and_column():
    df = pl.DataFrame({"ind1": [0, 1, 2], "w": [1.0, 1.0, 1.0]})
    spec = parse_spec({"name": "x", "k": 1, "dimensions": ["d"], "union": {"require_column": None},
                       "indicators": [{"name": "ind1", "dimension": "d"}]})
    with pytest.raises(InvalidInput, match="row 4.*column ind1"):
        validate_values(df, spec, file="f.csv")
    with pytest.raises(InvalidInput, match="row 3.*column w"):
        validate_values(df.with_columns(ind1=pl.lit(0), w=pl.Series([1.0, -1.0, 1.0])), spec,
                        weight="w")
    with pytest.raises(InvalidInput, match="row 3.*column ind1"):  # floats from a CSV
        validate_values(pl.DataFrame({"ind1": [1.0, 2.5, None]}), spec)
    validate_values(pl.DataFrame({"ind1": [1.0, 0.0, None]}), spec)
    with pytest.raises(InvalidInput, match="numeric"):
        validate_values(pl.DataFrame({"ind1": ["yes"]}), spec)


def test_decompose_by_scored_columns_and_age_group():
    spec, progs = load_spec("tpmap"), load_programmes()
    df = _household_fixture()
    s = summarize(df, spec, progs, by="grp_child")
    values = sorted(str(r["group"]["value"]) for r in s["results"] if r["group"])
    assert values == ["False", "True"]
    s = summarize(df, spec, progs, by="age_group")
    rows = {r["group"]["value"]: r for r in s["results"] if r["group"]}
    assert set(rows) == {"00-05", "18-59", "60+"}
    assert (rows["18-59"]["n"], rows["18-59"]["q"]) == (2, 1)
    assert sum(r["population_share"] * r["m0"] for r in rows.values()) == pytest.approx(
        _overall(s)["m0"])
    with pytest.raises(InvalidInput, match="column district"):
        summarize(df, spec, by="district")
