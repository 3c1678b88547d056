"""The column-wise explanation builder gives exactly the per-row text of ``_explain``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_rank import make_areas

from service.analysis.rank import Component, _explain, explanations, load_config, rank_areas


def _row_by_row(ranked: pd.DataFrame, comps: list[Component],
                small: dict[str, np.ndarray], lang: str) -> list[str]:
    """The old builder: one ``_explain`` call per area, values looked up cell by cell."""
    out = []
    for i in range(len(ranked)):
        row = [(c, ranked.at[i, f"raw_{c.id}"], ranked.at[i, f"contrib_{c.id}"],
                not np.isfinite(ranked.at[i, f"raw_{c.id}"]),
                bool(small[c.id][i]) if c.id in small else False) for c in comps]
        out.append(_explain(row, lang))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_vectorised_explanations_equal_row_by_row(seed):
    rng = np.random.default_rng(seed)
    areas = make_areas(rng, 300)
    # holes and ties: missing values, tiny areas, equal contributions, all-zero rows
    areas.loc[rng.choice(300, 30, replace=False), "pop_raster"] = np.nan
    areas.loc[rng.choice(300, 20, replace=False), "n_persons"] = 0
    areas.loc[:9, [c for c in areas.columns if c.startswith(("n_", "sum_"))]] = 0
    areas.loc[10:19, [c for c in areas.columns if c.startswith("n_excl_")]] = 3
    prev = areas[["code", "sum_c_poor", "n_persons"]].sample(frac=0.7, random_state=seed)
    prev["sum_c_poor"] = prev["sum_c_poor"] * rng.uniform(0.5, 1.5, len(prev))
    ranked = rank_areas(areas, previous=prev, explain=True)
    config = load_config()
    comps = [c for c in config.components if f"raw_{c.id}" in ranked]
    assert len(comps) == len(config.components)
    small = {}
    for c in comps:
        if c.min_denominator is not None and c.denominator is not None:
            den = areas.set_index("code").loc[ranked["code"], c.denominator].to_numpy("float64")
            small[c.id] = ~(den >= c.min_denominator)
    assert any(s.any() for s in small.values())
    for lang in ("en", "th"):
        expected = _row_by_row(ranked, comps, small, lang)
        assert ranked[f"explanation_{lang}"].tolist() == expected
        got = explanations(comps, {c.id: ranked[f"raw_{c.id}"].to_numpy() for c in comps},
                           {c.id: ranked[f"contrib_{c.id}"].to_numpy() for c in comps},
                           small, lang)
        assert got == expected
    assert ranked["explanation_en"].str.contains("(fewer than 50 people)", regex=False).any()
    assert ranked["explanation_th"].str.contains("(ไม่มีข้อมูล)", regex=False).any()


def test_exact_explanation_text():
    comps = [Component("a", 1.0, "x", label_en="A", label_th="เอ", format="count"),
             Component("b", 1.0, "y", "z", min_denominator=50, label_en="B", label_th="บี",
                       format="ratio")]
    raw = {"a": np.array([1234.0, 0.0, 5.0]), "b": np.array([0.12345, np.nan, np.nan])}
    contrib = {"a": np.array([10.0, 0.0, 20.0]), "b": np.array([30.04, 0.0, 20.0])}
    small = {"b": np.array([False, False, True])}
    assert explanations(comps, raw, contrib, small, "en") == [
        "B 0.1235: +30.0; A 1,234: +10.0",
        "B n/a (no data): +0.0",
        "A 5: +20.0; B n/a (fewer than 50 people): +20.0",
    ]
    assert explanations(comps, raw, contrib, small, "th")[2] == (
        "เอ 5: +20.0; บี n/a (น้อยกว่า 50 คน): +20.0")
    zero = {"a": np.zeros(1), "b": np.zeros(1)}
    assert explanations(comps, zero, zero, {}, "th") == ["ไม่มีองค์ประกอบใดให้คะแนน"]
