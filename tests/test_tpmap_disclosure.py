"""Units of the published-table disclosure rules (service.analysis.disclosure_published)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from service.analysis.disclosure import complementary
from service.analysis.disclosure_published import (
    INCIDENCE,
    apply_hidden,
    atoms,
    choose_masks,
    complementary_matrix,
    count_columns,
    encode_hidden,
)


def test_atoms_invert_union_counts():
    rng = np.random.default_rng(7)
    exact = rng.integers(0, 20, size=(50, 31)).astype(float)  # persons per exact set T
    unions = exact @ INCIDENCE.T                                  # U(S) = sum over T hit by S
    assert np.allclose(atoms(unions), exact)


def test_masks_that_would_reveal_a_small_combination_are_left_out():
    exact = np.zeros((1, 31))
    exact[0, 16 - 1] = 40   # 40 deprived in health only
    exact[0, 8 - 1] = 30    # 30 in living only
    exact[0, 24 - 1] = 3    # 3 in health and living together: must stay hidden
    unions = exact @ INCIDENCE.T
    chosen = choose_masks([unions], np.ones((1, 31), dtype=bool), min_households=10)[0]
    shown = [s for s in range(1, 32) if chosen[s - 1]]
    assert 31 in shown and 16 in shown and 8 in shown  # all, health, living
    rows = INCIDENCE[[s - 1 for s in shown]]
    projection = np.linalg.pinv(rows) @ rows
    assert abs(projection[24 - 1, 24 - 1] - 1) > 1e-6  # the 3 are not determined
    # no two published nested masks differ by 1-9
    u = unions[0]
    for a in shown:
        for b in shown:
            if a != b and a & b == a:
                assert not 0 < u[b - 1] - u[a - 1] < 10


@given(st.integers(0, 10_000), st.integers(1, 60), st.integers(1, 8))
def test_complementary_matrix_matches_the_reference_rule(seed, n, g):
    rng = np.random.default_rng(seed)
    groups = pd.factorize(rng.integers(0, g, n))[0]
    values = rng.integers(0, 30, (n, 3)).astype(float)
    hidden = rng.random((n, 3)) < 0.2
    parent = (rng.random((groups.max() + 1, 3)) < 0.2)[groups]
    got = complementary_matrix(values, hidden, groups, min_households=10,
                               parent_hidden=parent)
    for j in range(3):
        want = complementary(pd.Series(values[:, j]), pd.Series(hidden[:, j]),
                             pd.Series(groups), min_households=10,
                             parent_suppressed=pd.Series(parent[:, j]))
        assert (want.to_numpy() == got[:, j]).all()


def test_hidden_bitmaps_round_trip_and_null_only_their_items():
    cols = count_columns()
    hidden = np.zeros((3, len(cols)), dtype=bool)
    hidden[0, cols.index("n_elderly")] = True
    hidden[2, cols.index("n_tp_m01010")] = True
    frame = pd.DataFrame({"code": ["a", "b", "c"], "n_elderly": [3, 40, 50],
                          "n_tp_m01010": [20, 30, 4], "dc_hidden": encode_hidden(hidden)})
    assert encode_hidden(hidden)[1] is None
    out = apply_hidden(frame)
    assert "dc_hidden" not in out
    assert out["n_elderly"].isna().tolist() == [True, False, False]
    assert out["n_tp_m01010"].isna().tolist() == [False, False, True]
    plain = frame.drop(columns="dc_hidden")
    assert apply_hidden(plain) is plain  # person datasets: untouched
