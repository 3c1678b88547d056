"""Property tests (hypothesis): Alkire-Foster identities hold for any data and weights."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analysis.mpi import area_counts, ratios_from_counts, score_persons, summarize
from service.analysis.spec import parse_spec


@st.composite
def problems(draw):
    m = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    raw_w = draw(st.lists(st.integers(1, 9), min_size=m, max_size=m))
    dims = draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
    dim_names = sorted({f"d{d}" for d in dims})
    total = sum(raw_w)
    spec = parse_spec({
        "name": "prop", "k": draw(st.sampled_from([0.1, 0.2, 0.26, 1 / 3, 0.5, 0.75, 1.0])),
        "dimensions": dim_names, "union": {"require_column": None},
        "indicators": [{"name": f"i{j}", "dimension": f"d{dims[j]}", "weight": raw_w[j] / total}
                       for j in range(m)],
    })
    data = {f"i{j}": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
            for j in range(m)}
    data["grp"] = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    data["w"] = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    return spec, pl.DataFrame(data)


@settings(max_examples=60, deadline=None)
@given(problems(), st.booleans())
def test_m0_identities(problem, weighted):
    spec, df = problem
    weight = "w" if weighted else None
    s = summarize(df, spec, by="grp", weight=weight)
    overall = next(r for r in s["results"] if r["group"] is None)
    groups = [r for r in s["results"] if r["group"] is not None]
    m0 = overall["m0"]
    # M0 = Σ_j w_j h_j(k)  (censored headcount ratios)
    assert m0 == pytest.approx(sum(i.weight * overall["censored_headcount"][i.name]
                                   for i in spec.indicators), abs=1e-9)
    # M0 = H · A
    if overall["q"]:
        assert m0 == pytest.approx(overall["h"] * overall["a"], abs=1e-9)
        assert sum(overall["contribution"]["indicators"].values()) == pytest.approx(1)
    else:
        assert m0 == 0 and overall["a"] is None
    # subgroup decomposition: M0 = Σ_l (n_l/n) M0_l, shares sum to 1
    assert sum(g["population_share"] for g in groups) == pytest.approx(1)
    assert m0 == pytest.approx(sum(g["population_share"] * g["m0"] for g in groups), abs=1e-9)
    # censored <= uncensored, ratios in [0, 1]
    for i in spec.indicators:
        assert overall["censored_headcount"][i.name] <= overall["uncensored_headcount"][i.name]
    assert 0 <= overall["h"] <= 1 and 0 <= m0 <= overall["h"]


@settings(max_examples=40, deadline=None)
@given(problems())
def test_ratios_from_summed_group_counts_equal_direct(problem):
    spec, df = problem
    scored = score_persons(df, spec, require_all=False)
    per_group = area_counts(scored, spec, by="grp", weight="w")
    summed = ratios_from_counts(per_group.drop("grp").sum())
    direct = ratios_from_counts(area_counts(scored, spec, weight="w"))
    for col in ("h", "m0", "a"):
        if direct[col][0] is None:
            assert summed[col][0] is None
        else:
            assert summed[col][0] == pytest.approx(direct[col][0], abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(problems())
def test_headcount_falls_as_k_rises(problem):
    spec, df = problem
    ks = [0.05, 0.2, 0.4, 0.6, 0.8, 1.0]
    s = summarize(df, spec, k_values=ks)
    hs = [r["h"] for r in s["results"]]
    m0s = [r["m0"] for r in s["results"]]
    assert all(a >= b for a, b in zip(hs, hs[1:], strict=False))
    assert all(a >= b - 1e-12 for a, b in zip(m0s, m0s[1:], strict=False))
