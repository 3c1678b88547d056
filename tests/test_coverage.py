"""Programme eligibility, coverage, exclusion (ตกหล่น), inclusion errors, contingencies."""

from __future__ import annotations

import json

import polars as pl
import pytest
from mpi_fixtures import persons

from service.analysis.coverage import (
    DEFAULT_PROGRAMMES,
    NINE_CONTINGENCIES,
    contingency_table,
    coverage_table,
    load_programmes,
    parse_programmes,
    programme_exprs,
)
from service.analysis.mpi import area_counts, ratios_from_counts, score_persons
from service.analysis.spec import load_spec
from service.errors import InvalidSpec


def _people():
    return persons([
        {"age": 72, "elderly_allowance": True},                    # eligible, covered
        {"age": 61},                                              # eligible, excluded
        {"age": 59, "elderly_allowance": True},                   # inclusion error
        {"age": 30, "disabled": True, "disability_allowance": True,
         "informal_worker": True, "social_security": True},
        {"age": 45, "disabled": True, "informal_worker": True},   # two exclusions
        {"age": 2, "income_per_person_thb": 30000, "child_grant": True},
        {"age": 4, "income_per_person_thb": 30000},               # child grant excluded
        {"age": 4, "income_per_person_thb": 150000},              # not eligible: income
        {"age": 40, "income_per_person_thb": 90000, "welfare_card": True},
        {"age": 40, "income_per_person_thb": 120000, "welfare_card": True},  # inclusion err
    ])


def test_preset_has_five_programmes_and_nine_contingencies():
    p = load_programmes()
    assert p.names == ("welfare_card", "elderly_allowance", "disability_allowance",
                       "child_grant", "social_security")
    assert sorted(c[0] for c in p.contingencies) == sorted(NINE_CONTINGENCIES)
    assert all(th and en for _, th, en in p.contingencies)


def test_eligibility_coverage_exclusion_inclusion_by_hand():
    progs = load_programmes()
    out = _people().with_columns(programme_exprs(progs))
    assert out["elig_elderly_allowance"].to_list()[:3] == [True, True, False]
    assert out["elig_child_grant"].to_list()[5:8] == [True, True, False]
    assert out["elig_welfare_card"].to_list()[8:] == [True, False]
    assert out["elig_social_security"].to_list()[3:5] == [True, True]
    spec = load_spec("tpmap")
    counts = area_counts(score_persons(_people(), spec, progs), spec, progs)
    row = counts.row(0, named=True)
    table = {r["programme"]: r for r in coverage_table(row, progs)}
    ea = table["elderly_allowance"]
    assert (ea["eligible"], ea["covered"], ea["excluded"], ea["inclusion_errors"]) == (2, 2, 1, 1)
    assert ea["coverage"] == pytest.approx(0.5)
    assert ea["inclusion_error_rate"] == pytest.approx(0.5)
    da = table["disability_allowance"]
    assert (da["eligible"], da["excluded"], da["coverage"]) == (2, 1, 0.5)
    cg = table["child_grant"]
    assert (cg["eligible"], cg["covered_eligible"], cg["excluded"]) == (2, 1, 1)
    wc = table["welfare_card"]
    # adults (18+) meeting the income test: the children aged 2 and 4 are not eligible
    assert (wc["eligible"], wc["covered"], wc["inclusion_errors"]) == (6, 2, 1)
    ss = table["social_security"]
    assert (ss["eligible"], ss["covered"], ss["excluded"]) == (2, 1, 1)
    # the same formula through the shared ratio function
    ratios = ratios_from_counts(counts)
    assert ratios["cov_elderly_allowance"][0] == pytest.approx(0.5)
    assert ratios["cov_welfare_card"][0] == pytest.approx(1 / 6)


def test_rules_are_data(tmp_path):
    raw = json.loads(DEFAULT_PROGRAMMES.read_text(encoding="utf-8"))
    for p in raw["programmes"]:
        if p["name"] == "elderly_allowance":
            p["eligible"] = {"column": "age", "op": ">=", "value": 70}
    path = tmp_path / "programmes.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    out = _people().with_columns(programme_exprs(load_programmes(path)))
    assert out["elig_elderly_allowance"].to_list()[:3] == [True, False, False]


def test_contingencies_per_person():
    progs = load_programmes()
    scored = _people().with_columns(programme_exprs(progs))
    t = contingency_table(scored, progs)
    share = {c["contingency"]: c["covered"] for c in t["contingencies"]}
    # old age: elderly allowance x2 (persons 1, 3) + social security (person 4)
    assert share["old_age"] == 3
    assert share["invalidity"] == 1        # person 4: disability allowance and social security
    assert share["family"] == 2            # child grant (person 6) + social security (person 4)
    assert share["employment_injury"] == 0
    assert t["persons_by_number_covered"]["7"] == 1   # person 4: social security's seven
    assert sum(t["persons_by_number_covered"].values()) == t["n"] == 10


@pytest.mark.parametrize(("raw", "message"), [
    ({"programmes": {}}, "'programmes' list"),
    ({"programmes": [{"name": "x", "covered": {"column": "c"}}]}, "'eligible' rule"),
    ({"programmes": [{"name": "x", "eligible": {"column": "a", "op": "=", "value": 1},
                      "covered": True}]}, "op '='"),
    ({"programmes": [{"name": "x", "eligible": True, "covered": True},
                     {"name": "x", "eligible": True, "covered": True}]}, "duplicate"),
    ({"contingencies": [{"name": "sickness"}], "programmes": []}, "the nine"),
    ({"programmes": [{"name": "x", "eligible": True, "covered": True,
                      "contingencies": ["luck"]}]}, "contingencies"),
])
def test_invalid_programmes(raw, message):
    with pytest.raises(InvalidSpec, match=message):
        parse_programmes(raw, source="p.json")


def test_weighted_coverage_counts():
    progs = load_programmes()
    spec = load_spec("tpmap")
    df = _people().with_columns(pl.Series("w", [2.0, 1.0] + [1.0] * 8))
    row = area_counts(score_persons(df, spec, progs), spec, progs, weight="w").row(0, named=True)
    assert row["n_elig_elderly_allowance"] == pytest.approx(3.0)
    assert row["n_excl_elderly_allowance"] == pytest.approx(1.0)
    assert ratios_from_counts(pl.DataFrame([row]))["cov_elderly_allowance"][0] == pytest.approx(
        2 / 3)


def test_welfare_card_is_for_adults_meeting_the_income_test():
    """The state welfare card is issued to adults (18+) meeting its income test (household
    income per person, a household value here; the asset tests are not in the survey).
    Children of card households are neither eligible nor card holders, so they are neither
    excluded nor inclusion errors (before: every member of a low-income household, children
    included, counted as eligible)."""
    people = persons([
        {"hh_id": "a", "age": 40, "income_per_person_thb": 80000, "welfare_card": True},
        {"hh_id": "a", "age": 8, "income_per_person_thb": 80000, "welfare_card": True},
        {"hh_id": "b", "age": 35, "income_per_person_thb": 130000, "welfare_card": True},
        {"hh_id": "b", "age": 5, "income_per_person_thb": 130000, "welfare_card": True},
        {"hh_id": "c", "age": 12, "income_per_person_thb": 20000, "welfare_card": False},
        {"hh_id": "c", "age": 30, "income_per_person_thb": 20000, "welfare_card": False},
    ])
    progs = load_programmes()
    out = people.with_columns(programme_exprs(progs))
    assert out["elig_welfare_card"].to_list() == [True, False, False, False, False, True]
    assert out["cov_welfare_card"].to_list() == [True, False, True, False, False, False]
    spec = load_spec("tpmap")
    row = area_counts(score_persons(people, spec, progs), spec, progs).row(0, named=True)
    wc = {r["programme"]: r for r in coverage_table(row, progs)}["welfare_card"]
    assert (wc["eligible"], wc["covered_eligible"], wc["inclusion_errors"]) == (2, 1, 1)
    assert row["n_excl_welfare_card"] == 1  # the adult of household c, not the child
