"""Budget selection: the MILP equals brute force on small instances; greedy is the fallback."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analysis.select import (
    greedy_knapsack,
    select_villages,
    solve_knapsack,
    top_of_ranking,
)
from service.errors import InvalidInput


def brute_force(value, cost, budget, groups=None):
    best = None
    n = len(value)
    for combo in itertools.product([False, True], repeat=n):
        mask = np.array(combo, dtype=bool)
        if cost[mask].sum() > budget + 1e-9:
            continue
        useful = value > 0
        if groups is not None and any(not (mask & useful)[groups == g].any()
                                      for g in np.unique(groups[useful])):
            continue
        total = value[mask].sum()
        if best is None or total > best:
            best = total
    return best


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 10), per_group=st.booleans(),
       budget_share=st.floats(0.0, 1.0))
def test_milp_equals_brute_force(seed, n, per_group, budget_share):
    rng = np.random.default_rng(seed)
    value = rng.integers(0, 50, n).astype(float)
    cost = rng.integers(1, 100, n).astype(float)
    budget = float(np.round(cost.sum() * budget_share))
    groups = rng.integers(0, 3, n) if per_group else None
    best = brute_force(value, cost, budget, groups)
    if best is None:
        with pytest.raises(InvalidInput, match="amphoe"):
            solve_knapsack(value, cost, budget, groups)
        return
    chosen, method, _, _ = solve_knapsack(value, cost, budget, groups)
    assert method == "milp"
    assert cost[chosen].sum() <= budget + 1e-9
    if groups is not None:
        assert all((chosen & (value > 0))[groups == g].any() for g in np.unique(groups[value > 0]))
    assert not (chosen & (value <= 0)).any()
    assert value[chosen].sum() == pytest.approx(best)
    greedy = greedy_knapsack(value, cost, budget, groups)
    assert cost[greedy].sum() <= budget + 1e-9 or groups is not None
    assert value[greedy].sum() <= best + 1e-9


def test_greedy_is_worse_on_a_classic_instance():
    value = np.array([60.0, 100.0, 120.0])
    cost = np.array([10.0, 20.0, 30.0])
    assert value[greedy_knapsack(value, cost, 50)].sum() == 160
    chosen, method, _, _ = solve_knapsack(value, cost, 50)
    assert value[chosen].sum() == 220 and method == "milp"


def test_top_of_ranking_takes_what_fits_in_order():
    cost = np.array([50.0, 60.0, 10.0, 40.0])
    chosen = top_of_ranking(cost, 100, np.array([1, 0, 2, 3]))
    assert chosen.tolist() == [False, True, True, False]


def villages_fixture():
    return pd.DataFrame({
        "code": ["TH10010101", "TH10010102", "TH10010201", "TH10020101", "TH10020102"],
        "amphoe_code": ["TH1001", "TH1001", "TH1001", "TH1002", "TH1002"],
        "n_persons": [100, 80, 60, 90, 50],
        "n_poor": [30, 10, 12, 5, 8],
        "sum_c_poor": [12.0, 4.0, 6.0, 2.0, 3.0],
        "n_hh_cdep_ind22": [10, 3, 2, 2, 3],
        "n_hh_cdep_ind8": [5, 1, 0, 1, 0],
    })


def test_select_villages_reports_baseline_and_amphoe_rule():
    v = villages_fixture()
    costs = {"ind22": 10_000, "8": 50_000}
    sel = select_villages(v, budget=200_000, costs=costs)
    # costs: 350k, 80k, 20k, 70k, 30k
    assert sel.method == "milp"
    assert set(sel.selected["code"]) == {"TH10010102", "TH10010201", "TH10020101",
                                         "TH10020102"}
    assert sel.people_lifted == 35
    assert sel.total_cost <= 200_000
    # the top of the ranking by poor people (30 costs 350k: skipped) gets the same here
    assert sel.baseline["people_lifted"] <= sel.people_lifted
    assert sel.baseline["people_lifted_difference"] == sel.people_lifted - sel.baseline[
        "people_lifted"]
    amph = select_villages(v, budget=60_000, costs=costs, per_amphoe=True)
    assert set(amph.selected["code"].str[:6]) == {"TH1001", "TH1002"}
    with pytest.raises(InvalidInput, match="amphoe"):
        select_villages(v, budget=10_000, costs=costs, per_amphoe=True)
    tp = v.assign(n_target_poor=[0, 0, 0, 40, 0], n_hh_tdep_ind22=[1, 1, 1, 30, 1],
                  n_hh_tdep_ind8=0)
    sel_tp = select_villages(tp, budget=300_000, costs=costs, objective="target_poor")
    assert sel_tp.selected["code"].tolist() == ["TH10020101"] and sel_tp.people_lifted == 40
    assert sel_tp.total_cost == 300_000
    # money is not spent on villages that lift nobody
    spare = select_villages(tp, budget=10_000_000, costs=costs, objective="target_poor")
    assert spare.selected["code"].tolist() == ["TH10020101"]
    m0 = select_villages(v, budget=200_000, costs=costs, objective="m0")
    assert m0.m0_fall == pytest.approx(m0.selected["sum_c_poor"].sum() / 380)


def test_select_villages_rejects_bad_input():
    v = villages_fixture()
    with pytest.raises(InvalidInput, match="ind99"):
        select_villages(v, budget=1, costs={"ind99": 1})
    with pytest.raises(InvalidInput, match="objective"):
        select_villages(v, budget=1, costs={}, objective="votes")
    with pytest.raises(InvalidInput, match="budget"):
        select_villages(v, budget=-5, costs={})


def test_cli_summary_numbers_are_formatted_for_people():
    from service.commands.rank import human

    assert human("budget_thb", 20_000_000.0) == "20,000,000 THB"
    assert human("total_cost_thb", 1_234_567.89) == "1,234,568 THB"
    assert human("m0_fall", 0.0014228939063367434) == "0.0014"
    assert human("people_lifted", 12345) == "12,345"
    assert human("total_benefit", 1234.0) == "1,234"
    assert human("seconds", 1.23456) == "1.23"
    assert human("round", 2566) == "2566"
    assert human("mip_gap", 0.0) == "0"
    assert human("per_amphoe", True) == "yes / ใช่"
    for empty in (None, "", "  ", [], float("nan")):
        assert human("note", empty) is None
    assert human("notes", ["a", "b"]) == "a; b"
