"""Master-plan KPIs: pro-rated -10 % per five years, coverage milestones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from service.analysis.kpi import kpi_table, mpi_target
from service.errors import InvalidInput


def province(m0, m0_child, cov_child):
    return pd.DataFrame({"code": ["TH10", "TH11"], "name_th": ["กรุงเทพ", "สมุทรปราการ"],
                         "m0": m0, "m0_child": m0_child, "cov_child_grant": cov_child})


def test_mpi_target_pro_rated():
    assert mpi_target(0.2, 5) == pytest.approx(0.18)
    assert mpi_target(0.2, 0) == pytest.approx(0.2)
    assert mpi_target(0.2, 10) == pytest.approx(0.16)


def test_kpi_statuses_across_rounds():
    rounds = [
        (2566, province([0.095, 0.10], [0.2, np.nan], [0.91, 0.5])),
        (2561, province([0.10, 0.10], [0.2, 0.1], [0.85, 0.79])),
    ]
    out = kpi_table(rounds)
    key = out.set_index(["province_code", "round", "kpi"])
    assert key.loc[("TH10", 2561, "m0"), "status"] == "baseline"
    # 0.095 <= 0.10 * 0.9 = 0.09? no -> behind
    assert key.loc[("TH10", 2566, "m0"), "status"] == "behind"
    assert key.loc[("TH10", 2566, "m0"), "target_value"] == pytest.approx(0.09)
    assert key.loc[("TH10", 2566, "m0"), "change_pct"] == pytest.approx(-5.0)
    assert key.loc[("TH11", 2566, "m0_child"), "status"] == "no_data"
    assert key.loc[("TH10", 2566, "cov_child_grant"), "status"] == "met_90"
    assert key.loc[("TH10", 2561, "cov_child_grant"), "status"] == "met_80"
    assert key.loc[("TH11", 2561, "cov_child_grant"), "status"] == "below_80"
    assert key.loc[("TH11", 2561, "cov_child_grant"), "status_th"] == "ต่ำกว่า 80 %"
    on_track = kpi_table([(2561, province([0.1, 0.1], [0.2, 0.1], [1, 1])),
                          (2566, province([0.09, 0.2], [0.1, 0.1], [1, 1]))])
    k2 = on_track.set_index(["province_code", "round", "kpi"])
    assert k2.loc[("TH10", 2566, "m0"), "status"] == "on_track"
    assert k2.loc[("TH11", 2566, "m0"), "status"] == "behind"
    assert k2.loc[("TH10", 2566, "cov_child_grant"), "status"] == "met_100"


def test_kpi_bad_input():
    with pytest.raises(InvalidInput):
        kpi_table([])
    with pytest.raises(InvalidInput, match="baseline") as err:
        kpi_table([(2561, province([0.1, 0.1], [0.1, 0.1], [1, 1]))], baseline_round=2500)
    assert "รอบฐาน 2500" in str(err.value) and "(2561)" in str(err.value)
