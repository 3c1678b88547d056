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


# -- progress over the real sequence of rounds ---------------------------------------------
def _areas(m0, cov, excl):
    return pd.DataFrame({"code": ["TH", "TH58"], "name_th": ["ประเทศไทย", "แม่ฮ่องสอน"],
                         "name_en": ["Thailand", "Mae Hong Son"], "m0": m0,
                         "cov_child_grant": cov, "n_excl_child_grant": excl})


def test_progress_statuses_and_pace():
    from service.analysis.kpi import kpi_progress, progress_target

    assert progress_target("mpi", 0.2, 5) == pytest.approx(0.18)
    assert progress_target("coverage", 0.8, 2.5) == pytest.approx(0.9)
    assert progress_target("excluded", 100, 1) == pytest.approx(80)
    assert progress_target("excluded", 100, 9) == pytest.approx(0)
    rounds = [(2561, _areas([0.10, 0.20], [0.80, 0.80], [100, 100])),
              (2562, _areas([0.099, 0.21], [0.84, 0.81], [90, 100])),
              (2565, _areas([0.0915, 0.22], [0.88, 0.80], [10, 120]))]
    out = kpi_progress(rounds).set_index(["code", "kpi"])
    th = out.loc[("TH", "m0")]
    # 4 years: the straight path is 0.10 * (1 - 0.1 * 4/5) = 0.092; 0.0915 is below it
    assert th["expected_now"] == pytest.approx(0.092)
    assert th["target_value"] == pytest.approx(0.09) and th["target_round"] == 2566
    assert th["status"] == "on_track" and th["status_en"] == "falling on track"
    assert not th["behind"]
    # pace needed: from 0.0915 to 0.09 in the one year left
    assert th["pace_needed"] == pytest.approx(-0.0015)
    assert th["pace_observed"] < 0
    assert [p["round"] for p in th["trend"]] == [2561, 2562, 2565]
    # a measure that should fall but rose: "rising, against the target", behind
    mhs = out.loc[("TH58", "m0")]
    assert mhs["status"] == "wrong_way" and mhs["behind"]
    assert mhs["status_th"] == "เพิ่มขึ้น สวนทางเป้า"
    # coverage rising, but slower than 0.80 -> 1.00 in five years (expected 0.96 at 4 years)
    cov = out.loc[("TH", "cov_child_grant")]
    assert cov["expected_now"] == pytest.approx(0.96)
    assert cov["status"] == "slow" and cov["status_en"] == "rising, too slowly"
    assert cov["pace_needed"] == pytest.approx(0.12)
    assert out.loc[("TH58", "cov_child_grant"), "status"] == "flat"
    # excluded people should fall to 0 in five years: 10 <= 100 * (1 - 4/5) = 20
    assert out.loc[("TH", "n_excl_child_grant"), "status"] == "on_track"
    assert out.loc[("TH58", "n_excl_child_grant"), "status"] == "wrong_way"
    assert out.loc[("TH58", "n_excl_child_grant"), "status_en"] == "rising, against the target"
    # the baseline round alone: baseline, and a later baseline leaves earlier rounds out
    first = kpi_progress(rounds[:1])
    assert set(first["status"]) == {"baseline"}
    later = kpi_progress(rounds, baseline_round=2562).set_index(["code", "kpi"])
    assert later.loc[("TH", "m0"), "baseline_value"] == pytest.approx(0.099)
    assert len(later.loc[("TH", "m0"), "trend"]) == 2
    achieved = kpi_progress([(2561, _areas([0.1, 0.1], [0.5, 0.5], [5, 5])),
                             (2563, _areas([0.08, 0.1], [1.0, 0.5], [0, 5]))])
    a = achieved.set_index(["code", "kpi"])
    assert a.loc[("TH", "m0"), "status"] == "achieved"
    assert a.loc[("TH", "cov_child_grant"), "status_en"] == "target reached"
    assert a.loc[("TH", "n_excl_child_grant"), "status"] == "achieved"
    with pytest.raises(InvalidInput, match="2500"):
        kpi_progress(rounds, baseline_round=2500)


def test_progress_on_the_demo_panel_moves(panel_store_kpi):
    """Three rounds of the demo panel: the KPIs of the country and the province move."""
    from service.analysis.kpi import kpi_progress

    out = kpi_progress(panel_store_kpi)
    assert set(out["code"]) == {"TH", "TH75"}
    moving = out[out["change"].abs() > 0]
    assert len(moving) >= 0.8 * len(out)
    assert set(out["status"]) - {"no_data"} <= {"achieved", "on_track", "slow", "wrong_way",
                                                  "flat"}
    assert (out["latest_round"] == 2565).all() and (out["baseline_round"] == 2561).all()
    # elderly allowance coverage rises in the panel (the excluded gain cover)
    cov = out.set_index(["code", "kpi"]).loc[("TH", "cov_elderly_allowance")]
    assert cov["change"] > 0 and cov["pace_observed"] > 0


@pytest.fixture(scope="module")
def panel_store_kpi(demo_panel_store):
    store, versions = demo_panel_store
    return [(r, pd.concat([store.read_areas("demo", lvl, version=v.id)
                           for lvl in ("country", "province")], ignore_index=True))
            for r, v in sorted(versions.items())]
