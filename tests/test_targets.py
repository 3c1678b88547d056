"""Target lists: village list content and order; household list nearest to exit first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from service.analysis.rank import rank_areas
from service.analysis.targets import (
    household_list,
    names_from_areas,
    village_list,
    village_needs,
)


def persons_fixture() -> pl.DataFrame:
    # hh A (village 01): 2 members, poor, deprived in ind22 and ind8 (one each)
    # hh B (village 01): 1 member, poor, deprived in ind22 only, excluded from elderly allowance
    # hh C (village 02): 1 member, not poor, deprived in ind9
    # hh D (village 02): 3 members, poor, deprived in ind22, ind9, ind27
    rows = [
        ("A", "TH10010101", 0.40, True, {"ind22": 1}, False),
        ("A", "TH10010101", 0.30, True, {"ind8": 1}, False),
        ("B", "TH10010101", 0.35, True, {"ind22": 1}, True),
        ("C", "TH10010102", 0.10, False, {"ind9": 1}, False),
        ("D", "TH10010102", 0.60, True, {"ind22": 1, "ind9": 1}, False),
        ("D", "TH10010102", 0.55, True, {"ind27": 1}, False),
        ("D", "TH10010102", 0.00, False, {}, False),
    ]
    inds = ["ind8", "ind9", "ind22", "ind27"]
    data: dict[str, list] = {k: [] for k in ["hh_id", "village_id", "tambon_code",
                                             "amphoe_code", "province_code", "mpi_c",
                                             "mpi_poor", "elig_elderly_allowance",
                                             "cov_elderly_allowance"]}
    for ind in inds:
        data[f"dep_{ind}"] = []
    for hh, village, c, poor, deps, excluded in rows:
        data["hh_id"].append(hh)
        data["village_id"].append(village)
        data["tambon_code"].append(village[:8])
        data["amphoe_code"].append(village[:6])
        data["province_code"].append(village[:4])
        data["mpi_c"].append(c)
        data["mpi_poor"].append(poor)
        data["elig_elderly_allowance"].append(excluded)
        data["cov_elderly_allowance"].append(False)
        for ind in inds:
            data[f"dep_{ind}"].append(deps.get(ind, 0))
    df = pl.DataFrame(data)
    # TPMAP target poor: hh C (not MPI poor) and hh D
    df = df.with_columns(pl.col("hh_id").is_in(["C", "D"]).alias("tpmap_target_poor"))
    return df.with_columns(pl.col("mpi_poor").any().over("hh_id").alias("hh_mpi_poor"),
                           *[pl.col(f"dep_{i}").cast(pl.Int8) for i in inds])


def test_village_needs_counts_poor_households_per_indicator():
    needs = village_needs(persons_fixture()).set_index("code")
    assert needs.loc["TH10010101", "n_hh_poor"] == 2
    assert needs.loc["TH10010101", "n_hh_cdep_ind22"] == 2
    assert needs.loc["TH10010101", "n_hh_cdep_ind8"] == 1
    # hh C is not poor: its ind9 deprivation does not count
    assert needs.loc["TH10010102", "n_hh_cdep_ind9"] == 1
    assert needs.loc["TH10010102", "n_hh_cdep_ind27"] == 1
    # target-poor households: C and D both deprived in ind9; none in village 01
    assert needs.loc["TH10010102", "n_hh_tdep_ind9"] == 2
    assert needs.loc["TH10010102", "n_hh_target_poor"] == 2
    assert needs.loc["TH10010101", "n_hh_target_poor"] == 0


def test_household_list_nearest_to_exit_first_with_plans():
    out = household_list(persons_fixture())
    # C is not MPI-poor but has a TPMAP target-poor member, so it is listed too:
    # 1 (C, c 0.10), 1 (B, c 0.35), 2 (A), 3 (D) deprivations
    assert out["hh_id"].tolist() == ["C", "B", "A", "D"]
    assert out["listed_by"].tolist() == ["tpmap", "mpi", "mpi", "both"]
    assert out["visit_order"].tolist() == [1, 2, 3, 4]
    out = out[out["hh_id"] != "C"].reset_index(drop=True)
    b = out.iloc[0]
    assert b["failing_indicators"] == "ind22" and b["missed_programmes"] == "elderly_allowance"
    assert "rights:elderly_allowance" in b["plan_urgent"] and b["plan_medium"] == "ind22"
    a = out.iloc[1]
    assert a["plan_long"] == "ind8" and a["n_members"] == 2 and a["n_poor_members"] == 2
    d = out.iloc[2]
    assert set(d["plan_urgent"].split(", ")) == {"ind9", "ind27"}
    assert "person_id" not in out.columns
    only = household_list(persons_fixture(), area="TH10010102")
    assert only["hh_id"].tolist() == ["C", "D"]


def test_household_list_ties_broken_by_score_then_id():
    df = persons_fixture().with_columns(
        pl.when(pl.col("hh_id") == "A").then(pl.lit(0)).otherwise(pl.col("dep_ind8"))
        .cast(pl.Int8).alias("dep_ind8"))
    out = household_list(df)
    # C, B and A now all fail one indicator: C (c 0.10), B (c 0.35), A (max c 0.40)
    assert out["hh_id"].tolist()[:3] == ["C", "B", "A"]


def test_village_list_columns_order_and_top_indicators():
    villages = pd.DataFrame({
        "level": "village", "code": ["TH10010101", "TH10010102", "TH10020101"],
        "name_th": ["บ้านหนึ่ง", "บ้านสอง", "บ้านสาม"], "n_households": [40, 30, 20],
        "n_persons": [100, 80, 50], "n_poor": [10, 20, 5], "sum_c_poor": [4.0, 9.0, 2.0],
        "n_cdep_ind22": [8, 3, 0], "n_cdep_ind8": [2, 15, 0], "n_excl_child_grant": [1, 0, 2],
    })
    names = names_from_areas(pd.DataFrame({"code": ["TH1001", "TH10"],
                                           "name_th": ["อำเภอก", "จังหวัดข"]}))
    ranking = rank_areas(villages)
    out = village_list(villages, ranking=ranking, names=names)
    assert out["village_id"].tolist() == ranking["code"].tolist()
    assert out["priority_rank"].tolist() == [1, 2, 3]
    first = out.set_index("village_id").loc["TH10010101"]
    assert first["amphoe_name"] == "อำเภอก" and first["province_name"] == "จังหวัดข"
    assert first["top_failing_indicators"].startswith("ind22")
    assert "(8)" in first["top_failing_indicators"]
    assert out.set_index("village_id").loc["TH10020101", "top_failing_indicators"] == ""
    plain = village_list(villages)
    assert plain["village_id"].tolist() == ["TH10010102", "TH10010101", "TH10020101"]
    assert np.all(plain["n_excl_child_grant"].to_numpy() == [0, 1, 2])


def test_household_list_follows_located_area_like_the_aggregation():
    df = persons_fixture()
    # hh A's record carries no village/tambon code (a municipal record); the pipeline located
    # it by its point in tambon TH100102. hh B's point fell in TH100201, another amphoe.
    located = (pl.when(pl.col("hh_id") == "A").then(pl.lit("TH100102"))
               .when(pl.col("hh_id") == "B").then(pl.lit("TH100201"))
               .otherwise(pl.col("tambon_code")))
    df = df.with_columns(
        tambon_located=located,
        village_id=pl.when(pl.col("hh_id") == "A").then(None).otherwise(pl.col("village_id")),
        tambon_code=pl.when(pl.col("hh_id") == "A").then(None).otherwise(pl.col("tambon_code")),
    )
    assert set(household_list(df, area="TH100102")["hh_id"]) == {"A"}
    assert set(household_list(df, area="TH1001")["hh_id"]) == {"A", "C", "D"}
    assert set(household_list(df, area="TH1002")["hh_id"]) == {"B"}
    assert set(household_list(df, area="TH10")["hh_id"]) == {"A", "B", "C", "D"}
