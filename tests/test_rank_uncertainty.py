"""Bootstrap of the ranking: reproducible, P(top N) sums to N, small areas are less certain."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import polars as pl
import pytest

from service.analysis.rank import parse_config, rank_areas
from service.analysis.uncertainty import bootstrap_ranking

CONFIG = parse_config({"components": [
    {"id": "m0", "weight": 1, "numerator": "sum_c_poor", "denominator": "n_persons"},
    {"id": "n_poor", "weight": 1, "numerator": "n_poor"},
]})


def make_persons(sizes: dict[str, tuple[int, float]], seed: int = 0) -> pl.DataFrame:
    """village -> (households, poverty rate); 3 members per household."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"hh_id": [], "village_id": [], "mpi_c": [], "mpi_poor": [],
                             "mpi_severe": []}
    for village, (n_hh, rate) in sizes.items():
        for h in range(n_hh):
            poor = rng.random() < rate
            c = rng.uniform(0.26, 0.7) if poor else rng.uniform(0, 0.2)
            for _ in range(3):
                rows["hh_id"].append(f"{village}-{h}")
                rows["village_id"].append(village)
                rows["mpi_c"].append(c)
                rows["mpi_poor"].append(poor)
                rows["mpi_severe"].append(c >= 0.5)
    return pl.DataFrame(rows)


SIZES = {f"TH100101{i:02d}": (n, r) for i, (n, r) in enumerate(
    [(400, 0.30), (400, 0.28), (6, 0.5), (300, 0.10), (250, 0.12), (8, 0.2), (500, 0.05),
     (200, 0.22), (350, 0.18), (5, 0.0), (150, 0.35), (120, 0.15)])}


def test_point_ranking_matches_rank_areas_and_probabilities_sum_to_n():
    persons = make_persons(SIZES)
    out = bootstrap_ranking(persons, config=CONFIG, n_boot=120, top_n=3, seed=7)
    # the point ranking is the ordinary one on the summed counts
    sums = persons.group_by("village_id").agg(
        pl.len().alias("n_persons"), pl.col("mpi_poor").sum().alias("n_poor"),
        (pl.col("mpi_c") * pl.col("mpi_poor")).sum().alias("sum_c_poor"),
    ).rename({"village_id": "code"}).to_pandas()
    plain = rank_areas(sums, CONFIG, explain=False)
    assert out["code"].tolist() == plain["code"].tolist()
    np.testing.assert_allclose(out["priority_score"], plain["priority_score"])
    assert out["p_top_n"].sum() == pytest.approx(3.0)
    assert ((out["p_top_n"] >= 0) & (out["p_top_n"] <= 1)).all()
    assert (out["rank_lo"] <= out["rank_hi"]).all()
    assert (out["score_lo"] <= out["score_hi"]).all()
    assert out.attrs["bootstrap"]["n_boot"] == 120
    # reproducible
    again = bootstrap_ranking(persons, config=CONFIG, n_boot=120, top_n=3, seed=7)
    pd.testing.assert_frame_equal(out, again)


def test_point_raw_values_are_person_counts_with_unequal_household_sizes():
    # households of 1 to 6 members: n_persons must count people, not households
    rng = np.random.default_rng(5)
    rows: dict[str, list] = {"hh_id": [], "village_id": [], "mpi_c": [], "mpi_poor": []}
    for v in range(6):
        for h in range(40):
            poor = bool(rng.random() < 0.1 * (v + 1))
            for _ in range(int(rng.integers(1, 7))):
                rows["hh_id"].append(f"TH100101{v:02d}-{h}")
                rows["village_id"].append(f"TH100101{v:02d}")
                rows["mpi_c"].append(0.4 if poor else 0.1)
                rows["mpi_poor"].append(poor)
    persons = pl.DataFrame(rows)
    out = bootstrap_ranking(persons, config=CONFIG, n_boot=5, top_n=2, seed=1)
    sums = persons.group_by("village_id").agg(
        pl.len().alias("n_persons"), pl.col("mpi_poor").sum().alias("n_poor"),
        (pl.col("mpi_c") * pl.col("mpi_poor")).sum().alias("sum_c_poor"),
    ).rename({"village_id": "code"}).to_pandas()
    plain = rank_areas(sums, CONFIG, explain=False).set_index("code")
    got = out.set_index("code").loc[plain.index]
    np.testing.assert_allclose(got["raw_m0"], plain["raw_m0"])
    np.testing.assert_allclose(got["raw_n_poor"], plain["raw_n_poor"])


def test_small_villages_have_wider_intervals():
    persons = make_persons(SIZES, seed=3)
    out = bootstrap_ranking(persons, config=CONFIG, n_boot=150, top_n=3, seed=1)
    out = out.set_index("code")
    width = out["rank_hi"] - out["rank_lo"]
    small = [c for c, (n, r) in SIZES.items() if n < 10 and r > 0]
    big = [c for c, (n, _) in SIZES.items() if n >= 400]
    assert width[small].mean() > width[big].mean()


def test_dominant_area_is_surely_on_top_and_fixed_columns_used():
    persons = make_persons({"TH10010101": (300, 0.9), "TH10010102": (300, 0.02),
                            "TH10010103": (300, 0.03)})
    areas = pd.DataFrame({"code": ["TH10010101", "TH10010102", "TH10010103"],
                          "name_th": ["ก", "ข", "ค"], "pop_raster": [950.0, 1800.0, 900.0]})
    config = parse_config({"components": [
        {"id": "n_poor", "weight": 1, "numerator": "n_poor"},
        {"id": "survey_gap", "weight": 1, "numerator": "n_persons", "denominator": "pop_raster",
         "transform": "one_minus", "clip": [0, 1]},
    ]})
    out = bootstrap_ranking(persons, config=config, areas=areas, n_boot=60, top_n=1)
    assert out.iloc[0]["code"] == "TH10010101"
    assert out.iloc[0]["p_top_n"] > 0.9
    assert "raw_survey_gap" in out and out["name_th"].notna().all()


def test_area_level_resampling_from_counts_only():
    from service.analysis.rank import load_config
    from service.analysis.uncertainty import resample_areas

    rng = np.random.default_rng(5)
    n = np.array([2000, 1800, 12, 1500, 9, 2500, 700, 15])
    rate = np.array([0.30, 0.28, 0.5, 0.10, 0.3, 0.05, 0.2, 0.0])
    poor = np.round(n * rate)
    areas = pd.DataFrame({
        "code": [f"TH1001{i:02d}" for i in range(len(n))], "n_persons": n, "n_poor": poor,
        "sum_c_poor": poor * 0.4, "n_severe": np.floor(poor / 4),
        "n_target_poor": np.round(n * rate * 1.5),
        "n_elig_child_grant": n // 5, "n_excl_child_grant": rng.integers(0, 3, len(n)),
    })
    # no min_denominator here: the tiny areas' ratios must be resampled to show their noise
    cfg = load_config()
    cfg = dataclasses.replace(cfg, components=tuple(
        dataclasses.replace(c, min_denominator=None) for c in cfg.components))
    out = resample_areas(areas, config=cfg, n_boot=150, top_n=3, seed=2)
    plain = rank_areas(areas, cfg)
    assert out["code"].tolist() == plain["code"].tolist()
    assert out["p_top_n"].sum() == pytest.approx(3.0)
    assert out.attrs["bootstrap"]["method"].startswith("binomial")
    again = resample_areas(areas, config=cfg, n_boot=150, top_n=3, seed=2)
    pd.testing.assert_frame_equal(out, again)
    width = (out["rank_hi"] - out["rank_lo"]).set_axis(out["code"])
    assert width[["TH100102", "TH100104"]].mean() > width[["TH100100", "TH100105"]].mean()
